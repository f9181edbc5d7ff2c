package dynamo_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aistats/edge/internal/testing/dynamotest"
	"github.com/aistats/edge/internal/testing/testclock"
	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/domain/budget"
)

// TestReservationsNeverPassABudget races many reservations of random worst
// cases, settled at random real amounts, against one budget: whatever the
// interleaving, what settled stays within the limit, and every request that
// was refused was refused by a budget that could not hold its worst case.
func TestReservationsNeverPassABudget(t *testing.T) {
	store, clock := newStore(t)
	ctx := context.Background()
	acct := budget.Account{Scope: budget.ScopeKey, ID: "racekey00001", Limits: budget.Limits{CostPerDay: 2000, TokensPerMinute: 50_000}}
	var settled atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			worst := budget.Amount{Tokens: 100 + rand.Int64N(400), Cost: budget.MicroUSD(50 + rand.Int64N(150))}
			h, _, err := store.Reserve(ctx, acct, worst, clock.Now())
			if _, refused := errors.AsType[*budget.Exceeded](err); refused {
				return
			}
			if err != nil {
				t.Error(err)
				return
			}
			actual := budget.Amount{Tokens: rand.Int64N(worst.Tokens + 1), Cost: budget.MicroUSD(rand.Int64N(int64(worst.Cost) + 1))}
			if _, err := store.Settle(ctx, h, actual, clock.Now()); err != nil {
				t.Error(err)
				return
			}
			settled.Add(int64(actual.Cost))
		}()
	}
	wg.Wait()
	st, err := store.Standings(ctx, acct, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	day := st[budget.CostDay]
	if day.Settled != settled.Load() || day.Reserved != 0 {
		t.Errorf("cost_per_day standing %+v, want settled %d and nothing reserved", day, settled.Load())
	}
	if day.Settled > 2000 {
		t.Errorf("settled %d micro-dollars, over the 2000 budget", day.Settled)
	}
}

// TestAReservationLeftByADeadRequestIsReclaimed leaves a hold unsettled, as
// a request killed between reserve and settle would, and checks that its
// amount comes back once no request of its minute can still be alive, and
// that a refused reservation is what reclaims it.
func TestAReservationLeftByADeadRequestIsReclaimed(t *testing.T) {
	store, clock := newStore(t)
	ctx := context.Background()
	acct := budget.Account{Scope: budget.ScopeKey, ID: "deadkey00001", Limits: budget.Limits{CostLifetime: 1000}}
	if _, _, err := store.Reserve(ctx, acct, budget.Amount{Cost: 900}, clock.Now()); err != nil {
		t.Fatal(err)
	}
	// The request dies here. Another cannot fit while its hold is live.
	_, _, err := store.Reserve(ctx, acct, budget.Amount{Cost: 500}, clock.Now())
	var ex *budget.Exceeded
	if !errors.As(err, &ex) || ex.Window != budget.CostLifetime {
		t.Fatalf("reserve beside a live hold: %v, want cost_usd exceeded", err)
	}
	clock.Advance(time.Minute + 6*time.Minute)
	h, st, err := store.Reserve(ctx, acct, budget.Amount{Cost: 500}, clock.Now())
	if err != nil {
		t.Fatalf("reserve once the dead hold expired: %v", err)
	}
	if got := st[budget.CostLifetime]; got.Reserved != 500 || got.Settled != 0 {
		t.Errorf("standing after reclaim %+v, want only the new 500 reserved", got)
	}
	st, err = store.Settle(ctx, h, budget.Amount{Cost: 120}, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got := st[budget.CostLifetime]; got.Settled != 120 || got.Reserved != 0 {
		t.Errorf("standing after settle %+v, want 120 settled", got)
	}
}

// TestABudgetItemStaysUnderOneKB: an hour of a busy key, every limit set,
// each minute with requests settled and one request dying with its hold,
// leaves a budget item under 1 KB (one write unit per reserve and settle):
// past spans are removed and expired minutes reclaimed by the writes the
// requests make anyway.
func TestABudgetItemStaysUnderOneKB(t *testing.T) {
	clock := testclock.At(time.Date(2026, 11, 28, 23, 30, 10, 0, time.UTC)) // across midnight
	client := dynamotest.NewClient(t)
	tables := dynamotest.NewTables(t, client)
	store := dynamo.New(dynamo.Config{Client: client, Tables: tables, Now: clock.Now})
	ctx := context.Background()
	acct := budget.Account{Scope: budget.ScopeKey, ID: "busykey00001", Limits: budget.Limits{TokensPerMinute: 1e9, TokensPerDay: 1e12,
		CostPerDay: 1e12, CostPerMonth: 1e13, CostLifetime: 1e14}}
	for minute := 0; minute < 60; minute++ {
		if _, _, err := store.Reserve(ctx, acct, budget.Amount{Tokens: 5000, Cost: 9000}, clock.Now()); err != nil {
			t.Fatal(err) // this one dies
		}
		for range 3 {
			h, _, err := store.Reserve(ctx, acct, budget.Amount{Tokens: 123456, Cost: 654321}, clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := store.Settle(ctx, h, budget.Amount{Tokens: 23456, Cost: 54321}, clock.Now()); err != nil {
				t.Fatal(err)
			}
		}
		clock.Advance(time.Minute)
	}
	out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(tables.Counters),
		Key: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: dynamo.BudgetPK(budget.ScopeKey, acct.ID)}}})
	if err != nil {
		t.Fatal(err)
	}
	size := dynamo.ItemSize(out.Item)
	t.Logf("budget item after an hour: %d bytes, %d attributes", size, len(out.Item))
	if size >= 1024 {
		t.Errorf("budget item is %d bytes with %d attributes, want under 1 KB", size, len(out.Item))
	}
}
