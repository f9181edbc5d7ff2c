package detector_test

import (
	"context"
	"crypto/rand"
	"os"
	"testing"
	"time"

	"github.com/aistats/edge/internal/testing/dynamotest"
	"github.com/aistats/edge/internal/testing/testclock"
	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/domain/budget"
	"github.com/aistats/edge/pkg/domain/findings"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/keyformat"
	"github.com/aistats/edge/pkg/domain/usage"
	"github.com/aistats/edge/pkg/handler/detector"
)

func TestMain(m *testing.M) { os.Exit(dynamotest.Main(m)) }

// raised collects what a run raises.
type raised struct{ found []findings.Finding }

func (r *raised) Raise(_ context.Context, f findings.Finding) (findings.Finding, bool, error) {
	r.found = append(r.found, f)
	return f, true, nil
}

// TestBudgetCrossingsRaiseFindings: a run raises budget_80 for a key that
// settled 80 % of a budget and budget_100 once it settled all of it, and
// gives back a hold a dead request left, so the standing it reads is what
// was spent.
func TestBudgetCrossingsRaiseFindings(t *testing.T) {
	ctx := context.Background()
	clock := testclock.At(time.Date(2026, 11, 28, 12, 0, 10, 0, time.UTC))
	client := dynamotest.NewClient(t)
	store := dynamo.New(dynamo.Config{Client: client, Tables: dynamotest.NewTables(t, client), Now: clock.Now})
	if err := store.CreateWorkspace(ctx, gateway.Workspace{ID: "acme", Name: "acme", Plan: gateway.Plan{Providers: []string{"*"}, Models: []string{"*"}}}); err != nil {
		t.Fatal(err)
	}
	g, err := keyformat.Generate(rand.Reader, gateway.KindInference)
	if err != nil {
		t.Fatal(err)
	}
	limits := budget.Limits{CostPerDay: 1000}
	if err := store.CreateKey(ctx, gateway.Key{KID: g.Token.KID, WorkspaceID: "acme", Kind: gateway.KindInference, Name: "k",
		Prefix: g.Token.Prefix(), SecretHash: g.Hash, Limits: gateway.Limits{Limits: limits}}); err != nil {
		t.Fatal(err)
	}
	if err := store.RecordUsage(ctx, usage.Event{Time: clock.Now(), KID: g.Token.KID, WorkspaceID: "acme", Route: "POST /chat/completions",
		Model: "local/echo", Status: 200, Class: usage.Class2xx}); err != nil {
		t.Fatal(err)
	}
	acct := budget.Account{Scope: budget.ScopeKey, ID: g.Token.KID, Limits: limits}
	spend := func(cost budget.MicroUSD) {
		t.Helper()
		hold, _, err := store.Reserve(ctx, acct, budget.Amount{Cost: cost}, clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Settle(ctx, hold, budget.Amount{Cost: cost}, clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	r := &raised{}
	h, err := detector.New(detector.Config{Store: store, Budgets: store, Raiser: r, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	run := func() []findings.Type {
		t.Helper()
		r.found = nil
		if _, err := h.Run(ctx); err != nil {
			t.Fatal(err)
		}
		var types []findings.Type
		for _, f := range r.found {
			if f.Type == findings.BudgetWarning || f.Type == findings.BudgetExhausted {
				types = append(types, f.Type)
			}
		}
		return types
	}

	spend(500)
	if got := run(); len(got) != 0 {
		t.Errorf("at 50 %%: %v, want no budget finding", got)
	}
	spend(300)
	// A request dies holding 150: once expired, the run gives it back.
	if _, _, err := store.Reserve(ctx, acct, budget.Amount{Cost: 150}, clock.Now()); err != nil {
		t.Fatal(err)
	}
	clock.Advance(7 * time.Minute)
	if got := run(); len(got) != 1 || got[0] != findings.BudgetWarning {
		t.Errorf("at 80 %%: %v, want budget_80", got)
	}
	st, err := store.Standings(ctx, acct, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if day := st[budget.CostDay]; day.Settled != 800 || day.Reserved != 0 {
		t.Errorf("after the run: %+v, want 800 settled and the dead hold given back", day)
	}
	spend(200)
	if got := run(); len(got) != 1 || got[0] != findings.BudgetExhausted {
		t.Errorf("at 100 %%: %v, want budget_100", got)
	}
}
