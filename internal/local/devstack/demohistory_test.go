package devstack

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aistats/edge/internal/local/dynalite"
	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/domain/findings"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/usage"
)

// TestDemoHistoryIsLoadedOnceWithAnalyticsToShow: the demo keys have 30
// days of traffic in their rollups and in the workspace's, and a second
// start adds nothing.
func TestDemoHistoryIsLoadedOnceWithAnalyticsToShow(t *testing.T) {
	ctx := context.Background()
	db, err := dynalite.Start(ctx, dynalite.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Stop()
	client := dynalite.NewClient(db.Endpoint())
	if err := dynamo.CreateTables(ctx, client, Tables); err != nil {
		t.Fatal(err)
	}
	store := dynamo.New(dynamo.Config{Client: client, Tables: Tables})
	if _, _, err := Seed(ctx, store, Credentials{}); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 27, 12, 30, 0, 0, time.UTC)
	if err := seedDemoHistory(ctx, store, now); err != nil {
		t.Fatal(err)
	}
	total := func() int64 {
		rollups, err := store.WorkspaceUsage(ctx, DemoWorkspace, true, true, now.Add(-31*24*time.Hour), now)
		if err != nil {
			t.Fatal(err)
		}
		var t usage.Totals
		for _, r := range rollups {
			t.Merge(r.Totals)
		}
		return t.Requests
	}
	first := total()
	page, err := store.ListKeys(ctx, DemoWorkspace, gateway.ListKeysOptions{Kind: gateway.KindInference})
	if err != nil {
		t.Fatal(err)
	}
	var keys int
	var keyRequests int64
	for _, k := range page.Keys {
		if strings.HasPrefix(k.Name, demoHistoryPrefix) {
			keys++
			kt, err := store.KeyTotals(ctx, k.KID, now.Add(-31*24*time.Hour), now)
			if err != nil {
				t.Fatal(err)
			}
			keyRequests += kt.Requests
		}
	}
	if keys != demoHistoryKeys || first == 0 || keyRequests != first {
		t.Fatalf("%d demo keys with %d requests, workspace rollup %d; want %d keys whose traffic the workspace sums", keys, keyRequests, first, demoHistoryKeys)
	}
	open, err := store.List(ctx, DemoWorkspace, findings.ListOptions{Status: findings.Open, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(open.Findings) < 3 {
		t.Errorf("%d open findings in the demo history, want its injected anomalies found", len(open.Findings))
	}
	if err := seedDemoHistory(ctx, store, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if again := total(); again != first {
		t.Errorf("a second start changed the workspace's requests from %d to %d", first, again)
	}
}
