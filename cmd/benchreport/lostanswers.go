package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aistats/edge/internal/local/dynalite"
	"github.com/aistats/edge/internal/testing/ddbfault"
	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/handler/authorizer"
	"github.com/aistats/edge/pkg/handler/management"
)

// lostAnswers is issue 11's defect 5 under load: a 503 must not spend the
// key's limits. ddbfault stands between 8 authorizer containers and
// dynalite: of the key's counting writes, about one in four is applied and
// its answer lost, one in four reaches dynalite only after its caller gave
// up (each client then got 503). The workspace's writes carry no ticket and
// pass. 40 clients send 300 requests on one key (40 a
// minute) of a workspace with its own limit (60 a minute). Every trial
// must store exactly the requests admitted, on the key in each window and
// on the workspace, and then, with the faults off, admit the rest of the
// key's limit and no more.
func lostAnswers(ctx context.Context, endpoint string, trials int) ([]figure, error) {
	const (
		keyLimit       = 40
		workspaceLimit = 60
		clients        = 40
		requests       = 300
		containers     = 8
		storeTimeout   = 300 * time.Millisecond
	)
	var faulty atomic.Bool
	proxy, err := ddbfault.New(endpoint, ddbfault.KeyWritesMixed(&faulty))
	if err != nil {
		return nil, err
	}
	srv := httptest.NewServer(proxy)
	defer srv.Close()
	client := dynalite.NewClient(srv.URL)
	tables := dynamo.TablesWithPrefix("bench-lost-")
	if err := dynamo.CreateTables(ctx, client, tables); err != nil {
		return nil, err
	}
	noon := time.Now().UTC().Truncate(24 * time.Hour).Add(12 * time.Hour)
	var figs []figure
	exact := 0
	for trial := 1; trial <= trials; trial++ {
		now := startOfMinuteClock(noon.Add(time.Duration(30+trial) * time.Minute))
		store := dynamo.New(dynamo.Config{Client: client, Tables: tables, Now: now})
		wsID := fmt.Sprintf("lost-%d-%d", time.Now().Unix(), trial)
		if err := store.CreateWorkspace(ctx, gateway.Workspace{ID: wsID, Plan: gateway.Plan{Providers: []string{"*"}, Models: []string{"*"},
			RequestsPerMinute: workspaceLimit}}); err != nil {
			return nil, err
		}
		svc := management.NewService(store, rand.Reader, now)
		k, text, err := svc.CreateKey(ctx, management.Actor{KID: management.OperatorActor, WorkspaceID: wsID}, gateway.KindInference,
			management.KeySpec{Name: "lossy", Limits: gateway.Limits{RequestsPerMinute: keyLimit}})
		if err != nil {
			return nil, err
		}
		hs := make([]*authorizer.Handler, containers)
		for i := range hs {
			if hs[i], err = authorizer.New(authorizer.Config{Store: store, Now: now, StoreTimeout: storeTimeout}); err != nil {
				return nil, err
			}
		}
		before := proxy.Stats()
		faulty.Store(true)
		var out outcomes
		var sent atomic.Int64
		began := time.Now()
		var wg sync.WaitGroup
		for i := range clients {
			wg.Go(func() {
				for j := i; sent.Add(1) <= requests; j += clients {
					out.add(hs[j%containers].Handle(ctx, event("Bearer "+text)))
				}
			})
		}
		wg.Wait()
		proxy.Drain()
		faulty.Store(false)
		st := proxy.Stats()
		auth, err := store.GetKeyState(ctx, k.KID, now())
		if err != nil {
			return nil, err
		}
		ws, err := store.GetWorkspaceState(ctx, wsID, now())
		if err != nil {
			return nil, err
		}
		admitted := out.admitted.Load()
		// A container that saw the key full remembers that for up to
		// authorizer.RefusalRecheck, and the lost writes held their places
		// until withdrawn: the rest of the limit is asked of a fresh one.
		fresh, err := authorizer.New(authorizer.Config{Store: store, Now: now, StoreTimeout: storeTimeout})
		if err != nil {
			return nil, err
		}
		var rest outcomes
		for range 2 * keyLimit {
			rest.add(fresh.Handle(ctx, event("Bearer "+text)))
			if rest.limited.Load() > 0 {
				break
			}
		}
		if took := time.Since(began); took > 55*time.Second {
			return nil, fmt.Errorf("lost answers trial %d took %s, longer than its minute window allows", trial, took)
		}
		ok := auth.Used == [3]int64{admitted, admitted, admitted} && ws.UsedMinute == admitted && out.denied.Load() == 0 &&
			admitted+rest.admitted.Load() == keyLimit && rest.limited.Load() == 1 && st.HeldApplied == before.HeldApplied
		if ok {
			exact++
		}
		figs = append(figs, figure{
			Name:  fmt.Sprintf("503s under lost answers, trial %d of %d: stored counts", trial, trials),
			Value: float64(auth.Used[0]), Unit: "requests", Target: "= admitted", Met: met(ok),
			Note: fmt.Sprintf("admitted %d, 429 %d, 503 %d; stored: key %v (minute, day, month), workspace %d; answers lost %d, late writes refused %d, applied %d; afterwards %d more admitted, then 429",
				admitted, out.limited.Load(), out.unavailable.Load(), auth.Used, ws.UsedMinute,
				st.LostAnswers-before.LostAnswers, st.HeldRefused-before.HeldRefused, st.HeldApplied-before.HeldApplied, rest.admitted.Load()),
		})
	}
	return append(figs, figure{
		Name:  "503s under lost answers: trials whose stored counts are exactly the admitted requests",
		Value: float64(exact), Unit: fmt.Sprintf("of %d trials", trials), Target: fmt.Sprintf("%d of %d", trials, trials), Met: met(exact == trials),
		Note: fmt.Sprintf("key %d/min in a workspace of %d/min; %d clients, %d requests, %d containers, store timeout %s; about a quarter of the key's counting writes applied unanswered, a quarter applied after the caller gave up; the workspace's pass",
			keyLimit, workspaceLimit, clients, requests, containers, storeTimeout),
	}), nil
}
