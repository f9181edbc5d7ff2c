package authorizer_test

import (
	"context"
	"testing"
	"time"

	"github.com/aistats/edge/pkg/domain/budget"
	"github.com/aistats/edge/pkg/domain/gateway"
)

// TestASpentBudgetIsRefusedInTheKeysOwnWrite: once the proxy's settle marks
// a key's budget spent, the authorizer refuses it in the one conditional
// write it makes anyway (AdmitKey's condition), as a 429 budget_exceeded
// with the budget's reset, and lets it through again when the day turns.
// The refusal costs what every refusal of that write costs: the write, and
// on dynalite (which returns no item with a failed condition) one read to
// explain it; on DynamoDB the write alone.
func TestASpentBudgetIsRefusedInTheKeysOwnWrite(t *testing.T) {
	e := newEnv(t)
	limits := gateway.Limits{Limits: budget.Limits{CostPerDay: 500_000}}
	text, kid := e.key("acme", gateway.KindInference, limits)

	r := e.authorize("chat_completions.json", text)
	if r.Effect != "Allow" || r.Context["budget"] != "0:0:500000:0:0" {
		t.Fatalf("first request: %s with context %v, want Allow carrying the budget", r.Effect, r.Context)
	}
	if r = e.authorize("chat_completions.json", text); r.Calls != 1 {
		t.Errorf("warm admitted request: %d calls, want 1 (a budget adds none here)", r.Calls)
	}

	dayEnd := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	acct := budget.Account{Scope: budget.ScopeKey, ID: kid, Limits: limits.Limits}
	if err := e.store.MarkExhausted(context.Background(), acct, budget.CostDay, dayEnd); err != nil {
		t.Fatal(err)
	}
	r = e.authorize("chat_completions.json", text)
	if r.Effect != "Allow" || r.Context["budget_spent"] != "cost_per_day_usd:43190" {
		t.Errorf("spent key: %s with context %v, want Allow marked budget_spent until the day's end", r.Effect, r.Context)
	}
	if r.Calls > 2 {
		t.Errorf("spent key cost %d calls, want the write and, on dynalite, one read", r.Calls)
	}

	e.clock.Set(dayEnd.Add(time.Second))
	if r = e.authorize("chat_completions.json", text); r.Effect != "Allow" || r.Context["budget_spent"] != nil {
		t.Errorf("next day: %s, context %v; want admitted", r.Effect, r.Context)
	}
}

// A key whose budget is used up may still read itself (GET /v1/key shows
// its budget) and list models: they spend nothing. Inference stays refused.
func TestASpentKeyMayStillReadItselfAndListModels(t *testing.T) {
	e := newEnv(t)
	limits := gateway.Limits{Limits: budget.Limits{CostPerDay: 500_000}}
	text, kid := e.key("acme", gateway.KindInference, limits)
	dayEnd := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	acct := budget.Account{Scope: budget.ScopeKey, ID: kid, Limits: limits.Limits}
	if err := e.store.MarkExhausted(context.Background(), acct, budget.CostDay, dayEnd); err != nil {
		t.Fatal(err)
	}
	admittedFree := func(route string) {
		t.Helper()
		r := e.authorize(route, text)
		wantAllow(t, r)
		if r.Context["budget_spent"] != nil {
			t.Errorf("%s of the spent key: marked budget_spent %v, want admitted", route, r.Context["budget_spent"])
		}
	}
	admittedFree("own_key.json")
	admittedFree("models.json")
	if r := e.authorize("chat_completions.json", text); r.Context["budget_spent"] != "cost_per_day_usd:43190" {
		t.Errorf("chat completions of the spent key: %s with context %v, want budget_spent", r.Effect, r.Context)
	}
	admittedFree("own_key.json") // and again, warm
}
