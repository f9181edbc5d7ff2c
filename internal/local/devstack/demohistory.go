package devstack

import (
	"context"

	"crypto/rand"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/aistats/edge/internal/synthetic"
	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/domain/anomaly"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/usage"
	"github.com/aistats/edge/pkg/handler/detector"
	"github.com/aistats/edge/pkg/handler/management"
)

// Demo history: the demo workspace opens with keys that have 30 days of
// synthetic traffic and a few anomalies (the generator of the anomaly
// benchmark, internal/synthetic), so that a newcomer sees analytics and a
// dashboard with something on them. AISTATS_DEMO_HISTORY=0 turns it off.
const (
	demoHistoryPrefix = "demo history: "
	demoHistoryKeys   = 6
	demoHistorySeed   = 42
)

// seedDemoHistory creates the demo history keys and loads their history,
// once: a workspace that already has them is left alone, so a restart
// neither doubles the traffic nor moves it.
func seedDemoHistory(ctx context.Context, store *dynamo.Store, now time.Time) error {
	page, err := store.ListKeys(ctx, DemoWorkspace, gateway.ListKeysOptions{Kind: gateway.KindInference, Limit: 100})
	if err != nil {
		return fmt.Errorf("list demo keys: %w", err)
	}
	for _, k := range page.Keys {
		if strings.HasPrefix(k.Name, demoHistoryPrefix) {
			return nil
		}
	}
	series := synthetic.Demo(demoHistorySeed, now, demoHistoryKeys)
	var keys []string // the demo key of each series
	// dynalite answers one call at a time but overlaps their round trips:
	// a few writers at once load the history several times faster.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, s := range series {
		created := s.Hours[0].Start.Add(-24 * time.Hour)
		k, _, err := management.InsertKey(ctx, store, rand.Reader, gateway.Key{
			WorkspaceID: DemoWorkspace, Kind: gateway.KindInference, Name: demoHistoryPrefix + s.Profile,
			CreatedAt: created,
		})
		if err != nil {
			return fmt.Errorf("create demo history key: %w", err)
		}
		keys = append(keys, k.KID)
		for _, h := range s.Hours {
			for model, t := range demoTotals(h) {
				if t.Requests == 0 {
					continue
				}
				g.Go(func() error { return store.AddUsage(gctx, k.KID, DemoWorkspace, h.Start, model, t) })
			}
		}
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("load demo history: %w", err)
	}
	// The workspace rollups, as the rollup job writes them, a day at a
	// time: days are independent, so they are summed side by side.
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(8)
	for day := series[0].Hours[0].Start.Truncate(24 * time.Hour); !day.After(now); day = day.Add(24 * time.Hour) {
		g.Go(func() error {
			_, err := store.RollUp(gctx, day, day.Add(23*time.Hour))
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("roll up demo history: %w", err)
	}
	return openDemoFindings(ctx, store, series, keys)
}

// openDemoFindings replays the detector over the history's last 16 days,
// once an hour as its schedule would have run, and stores what it found
// (an open finding of a type is found once), so that the dashboard opens
// with anomalies to show. No alert is sent: this is history.
func openDemoFindings(ctx context.Context, store *dynamo.Store, series []synthetic.KeySeries, keys []string) error {
	for i, s := range series {
		for h := max(0, len(s.Hours)-16*24); h < len(s.Hours); h++ {
			at := s.Hours[h].Start.Add(59 * time.Minute)
			hist := anomaly.History{KID: keys[i], WorkspaceID: DemoWorkspace, Hours: s.Hours[max(0, h-28*24+1) : h+1],
				Now: at, LastUsedBefore: s.LastUsedBefore, KnownModels: s.KnownModels}
			for _, a := range anomaly.Detect(hist) {
				if _, _, err := store.Open(ctx, detector.Finding(a, DemoWorkspace, keys[i], at)); err != nil {
					return fmt.Errorf("store a demo finding: %w", err)
				}
			}
		}
	}
	return nil
}

// demoTotals spreads one synthetic hour over its models as rollups: the
// requests split evenly, refusals (model-less) apart, made-up but steady
// token counts and latencies, so that every chart has something to draw.
func demoTotals(h anomaly.Hour) map[string]usage.Totals {
	out := map[string]usage.Totals{}
	if h.AuthFailures > 0 {
		var t usage.Totals
		t.Requests, t.Classes[usage.Class401], t.Refusals[usage.RefusedWrongSecret] = h.AuthFailures, h.AuthFailures, h.AuthFailures
		t.Latency[usage.LatencyBucket(8*time.Millisecond)] = h.AuthFailures
		out[""] = t
	}
	models := h.Models
	if len(models) == 0 {
		models = []string{"local/echo"}
	}
	n := int64(len(models))
	for i, m := range models {
		share := func(v int64) int64 { return v/n + b2i(int64(i) < v%n) }
		var t usage.Totals
		t.Requests = share(h.Requests)
		t.Classes[usage.ClassUpstream5xx] = share(h.ServerErrors)
		t.Classes[usage.Class403] = share(h.AccessDenied)
		t.Classes[usage.Class429] = share(h.RateLimited)
		ok := max(0, t.Requests-t.Classes[usage.ClassUpstream5xx]-t.Classes[usage.Class403]-t.Classes[usage.Class429])
		t.Classes[usage.Class2xx] = ok
		t.CostMicroUSD = share(h.CostMicroUSD)
		t.PromptTokens, t.CompletionTokens = ok*420, ok*130
		t.LatencyMS = ok*650 + (t.Requests-ok)*40
		t.Latency[usage.LatencyBucket(400*time.Millisecond)] = ok * 6 / 10
		t.Latency[usage.LatencyBucket(900*time.Millisecond)] = ok - ok*6/10
		t.Latency[usage.LatencyBucket(30*time.Millisecond)] = t.Requests - ok
		out[m] = t
	}
	return out
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
