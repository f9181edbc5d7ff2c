package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http/httptest"
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

// hotKeyBaseline measures today's design, one state item per key, behind
// the partition shim (ddbthrottle, 100 write units a second): one key
// offered five times that for a few seconds, once with a limit above the
// load and once with a limit below it. These are the figures a hot-key
// design must be compared with, side by side; they are not targets met.
func hotKeyBaseline(ctx context.Context, endpoint string, seconds int) ([]figure, error) {
	var figs []figure
	for _, c := range []struct {
		name  string
		limit int64 // requests per minute; 0 = above the load
	}{{"limit above the load", 0}, {"limit of 200 a minute", 200}} {
		o, throttled, err := runHotKey(ctx, endpoint, seconds, c.limit)
		if err != nil {
			return nil, err
		}
		sent := o.sent()
		want := sent
		if c.limit > 0 {
			want = min(sent, c.limit)
		}
		figs = append(figs, figure{
			Name:  "hot key, today's design, " + c.name + ": admitted",
			Value: float64(o.admitted.Load()), Unit: "requests", Target: "-",
			Note: fmt.Sprintf("of %d wanted (%d offered at %d/s for %d s): %d × 503, %d × 429, %d throttled DynamoDB calls; the baseline for issue 15, which asks >= 99 %% and 0 × 503",
				want, sent, hotKeyOffered, seconds, o.unavailable.Load(), o.limited.Load(), throttled),
		})
	}
	return figs, nil
}

// runHotKey offers one key hotKeyOffered requests a second through eight
// authorizers (warm containers) on a store behind the partition shim.
func runHotKey(ctx context.Context, endpoint string, seconds int, perMinute int64) (*outcomes, int64, error) {
	tables := dynamo.TablesWithPrefix(fmt.Sprintf("hot-%d-", time.Now().UnixNano()))
	if err := dynamo.CreateTables(ctx, dynalite.NewClient(endpoint), tables); err != nil {
		return nil, 0, err
	}
	shim, err := ddbthrottle.New(ddbthrottle.Config{Target: endpoint, PartitionKeys: ddbthrottle.PartitionKeysOf(tables)})
	if err != nil {
		return nil, 0, err
	}
	srv := httptest.NewServer(shim)
	defer srv.Close()
	// Two attempts per call, as the deployed authorizer makes.
	client := dynalite.NewClient(srv.URL, func(o *dynamodb.Options) { o.RetryMaxAttempts = 2 })
	store := dynamo.New(dynamo.Config{Client: client, Tables: tables})
	if err := store.CreateWorkspace(ctx, gateway.Workspace{ID: "hot", Plan: gateway.Plan{Providers: []string{"*"}, Models: []string{"*"}}}); err != nil {
		return nil, 0, err
	}
	g, err := keyformat.Generate(rand.Reader, gateway.KindInference)
	if err != nil {
		return nil, 0, err
	}
	if err := store.CreateKey(ctx, gateway.Key{KID: g.Token.KID, WorkspaceID: "hot", Kind: gateway.KindInference, Name: "hot",
		Prefix: g.Token.Prefix(), SecretHash: g.Hash, Limits: gateway.Limits{RequestsPerMinute: perMinute}}); err != nil {
		return nil, 0, err
	}
	now := startOfMinuteClock(time.Now().UTC().Truncate(time.Minute))
	containers := make([]*authorizer.Handler, 8)
	for i := range containers {
		if containers[i], err = authorizer.New(authorizer.Config{Store: store, Now: now}); err != nil {
			return nil, 0, err
		}
	}
	time.Sleep(time.Second) // the key's creation used its partition's units
	o := &outcomes{}
	var wg sync.WaitGroup
	inFlight := make(chan struct{}, 64)
	start, total := time.Now(), seconds*hotKeyOffered
	for i := range total {
		time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / hotKeyOffered)))
		inFlight <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-inFlight; wg.Done() }()
			o.add(containers[i%len(containers)].Handle(ctx, event("Bearer "+g.Text)))
		}()
	}
	wg.Wait()
	return o, shim.Throttled(), nil
}
