package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http/httptest"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/aistats/edge/internal/local/ddbthrottle"
	"github.com/aistats/edge/internal/local/dynalite"
	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/keyformat"
	"github.com/aistats/edge/pkg/handler/authorizer"
)

// hotKeyOffered is five times a partition's time-scaled write rate: the
// load issue 15 asks one key to carry.
const hotKeyOffered = 5 * ddbthrottle.DefaultWriteUnitsPerSecond

// unshardedStore hides the store's KeySharder: the authorizer then keeps a
// key on its one item, as before hot keys, for the side-by-side baseline.
type unshardedStore struct{ gateway.Admitter }

// hotKeys measures one key offered five times a partition's time-scaled
// rate (ddbthrottle, 100 write units a second) for a few seconds, through
// sixteen authorizers (warm containers, one request at a time each), with
// a limit above the load and one below it, on today's design (a key
// sharded by its first throttle) and, side by side, on one item per key.
func hotKeys(ctx context.Context, endpoint string, seconds int) ([]figure, error) {
	var figs []figure
	for _, c := range []struct {
		name       string
		limit      int64 // the key's requests per minute; 0 = above the load
		workspace  int64 // the workspace's own limit
		keys       int
		designName string
	}{
		{"limit above the load", 0, 0, 1, "key"},
		{"limit of 600 a minute", 600, 0, 1, "key"},
		{"20 keys, workspace limit of 600 a minute", 0, 600, 20, "workspace"},
	} {
		for _, design := range []string{"one item per " + c.designName, "sharded"} {
			o, throttled, p99, err := runHotKey(ctx, endpoint, seconds, c.limit, c.workspace, c.keys, design == "sharded")
			if err != nil {
				return nil, err
			}
			sent := o.sent()
			want := sent
			if limit := max(c.limit, c.workspace); limit > 0 {
				want = min(sent, limit)
			}
			f := figure{
				Name:  "hot " + c.designName + ", " + design + ", " + c.name + ": admitted",
				Value: float64(o.admitted.Load()), Unit: "requests", Target: "-",
				Note: fmt.Sprintf("of %d wanted (%d offered at %d/s for %d s): %d × 503, %d × 429, %d throttled DynamoDB calls, p99 %.1f ms",
					want, sent, hotKeyOffered, seconds, o.unavailable.Load(), o.limited.Load(), throttled, p99),
			}
			if design == "sharded" {
				admitted := o.admitted.Load()
				ok := o.unavailable.Load() == 0 && admitted <= want && float64(admitted) >= 0.99*float64(want)
				f.Target, f.Met = fmt.Sprintf("≥ 99 %% of %d, never above, 0 × 503", want), met(ok)
			}
			figs = append(figs, f)
		}
	}
	return figs, nil
}

// runHotKey offers one key hotKeyOffered requests a second through sixteen
// authorizers on a store behind the partition shim, and reports what they
// answered, the throttled calls and the p99 latency in ms.
func runHotKey(ctx context.Context, endpoint string, seconds int, perMinute, workspacePerMinute int64, keys int, sharding bool) (*outcomes, int64, float64, error) {
	tables := dynamo.TablesWithPrefix(fmt.Sprintf("hot-%d-", time.Now().UnixNano()))
	if err := dynamo.CreateTables(ctx, dynalite.NewClient(endpoint), tables); err != nil {
		return nil, 0, 0, err
	}
	shim, err := ddbthrottle.New(ddbthrottle.Config{Target: endpoint, PartitionKeys: ddbthrottle.PartitionKeysOf(tables)})
	if err != nil {
		return nil, 0, 0, err
	}
	srv := httptest.NewServer(shim)
	defer srv.Close()
	// Two attempts per call, as the deployed authorizer makes.
	client := dynalite.NewClient(srv.URL, func(o *dynamodb.Options) { o.RetryMaxAttempts = 2 })
	store := dynamo.New(dynamo.Config{Client: client, Tables: tables})
	if err := store.CreateWorkspace(ctx, gateway.Workspace{ID: "hot", Plan: gateway.Plan{Providers: []string{"*"}, Models: []string{"*"},
		RequestsPerMinute: workspacePerMinute}}); err != nil {
		return nil, 0, 0, err
	}
	var texts []string
	for range keys {
		g, err := keyformat.Generate(rand.Reader, gateway.KindInference)
		if err != nil {
			return nil, 0, 0, err
		}
		if err := store.CreateKey(ctx, gateway.Key{KID: g.Token.KID, WorkspaceID: "hot", Kind: gateway.KindInference, Name: "hot",
			Prefix: g.Token.Prefix(), SecretHash: g.Hash, Limits: gateway.Limits{RequestsPerMinute: perMinute}}); err != nil {
			return nil, 0, 0, err
		}
		texts = append(texts, "Bearer "+g.Text)
	}
	var admitter gateway.Admitter = store
	if !sharding {
		admitter = unshardedStore{store}
	}
	now := startOfMinuteClock(time.Now().UTC().Truncate(time.Minute))
	containers := make([]*authorizer.Handler, 16)
	for i := range containers {
		if containers[i], err = authorizer.New(authorizer.Config{Store: admitter, Now: now}); err != nil {
			return nil, 0, 0, err
		}
	}
	time.Sleep(time.Second) // the keys' creation used their partitions' units
	o := &outcomes{}
	var mu sync.Mutex
	var latencies []float64
	var wg sync.WaitGroup
	start, total := time.Now(), seconds*hotKeyOffered
	next := make(chan int)
	go func() {
		for i := range total {
			time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / hotKeyOffered)))
			next <- i
		}
		close(next)
	}()
	// Each container answers one request at a time, as a Lambda container
	// does; a request waits for a free one, as API Gateway's would.
	for _, c := range containers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				began := time.Now()
				o.add(c.Handle(ctx, event(texts[i%len(texts)])))
				mu.Lock()
				latencies = append(latencies, float64(time.Since(began).Microseconds())/1000)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	sort.Float64s(latencies)
	return o, shim.Throttled(), latencies[len(latencies)*99/100], nil
}
