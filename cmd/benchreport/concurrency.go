package main

// The load cases of issue 11's concurrency defects, run against dynalite
// through the real handlers: several handler instances on one store stand
// for several warm Lambda containers, which share nothing but DynamoDB.

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aistats/edge/internal/local/dynalite"
	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/handler/authcontext"
	"github.com/aistats/edge/pkg/handler/authorizer"
	"github.com/aistats/edge/pkg/handler/management"
)

// outcomes tallies the authorizer's answers for one key, as a client sees
// them: admitted, 429 (an Allow marked rate limited), 503 (the handler
// returned an error, which API Gateway answers AUTHORIZER_FAILURE) or
// another refusal (a Deny).
type outcomes struct {
	admitted, limited, unavailable, denied atomic.Int64
}

func (o *outcomes) add(resp authorizer.Response, err error) {
	switch {
	case err != nil:
		o.unavailable.Add(1)
	case len(resp.PolicyDocument.Statement) != 1 || resp.PolicyDocument.Statement[0].Effect != "Allow":
		o.denied.Add(1)
	case resp.Context.RateLimited == "true":
		o.limited.Add(1)
	default:
		o.admitted.Add(1)
	}
}

func (o *outcomes) sent() int64 {
	return o.admitted.Load() + o.limited.Load() + o.unavailable.Load() + o.denied.Load()
}

// startOfMinuteClock returns a clock that runs at the real pace from one
// second past a whole minute, so that a trial stays in one minute window
// whenever it is run; workspaceSharing refuses a trial that took over 55 s.
func startOfMinuteClock(minute time.Time) func() time.Time {
	began, start := time.Now(), minute.Add(time.Second)
	return func() time.Time { return start.Add(time.Since(began)) }
}

// workspaceSharing is issue 11's workspace-sharing case (defect 1): a
// workspace whose plan allows 35 requests a minute; keys A and B, limited
// to 10 a minute each, burst together from 40 concurrent clients; key C,
// unlimited, sends 15 requests one after another while the burst runs; 8
// authorizer containers on one dynalite. Exactly the limits must be
// admitted, A 10, B 10, C 15 (the workspace's 35), with not one 503, and the
// stored counts must show only admitted requests: a request its key refuses
// never takes or blocks its workspace's capacity.
func workspaceSharing(ctx context.Context, endpoint string, trials int) ([]figure, error) {
	const (
		workspaceLimit = 35
		burstLimit     = 10
		steadyRequests = 15
		burstClients   = 40
		// The burst goes on until the steady key is done and at least this
		// many bursting requests were sent, so every steady request meets it.
		minBurst   = 1000
		containers = 8
	)
	client := dynalite.NewClient(endpoint)
	tables := dynamo.TablesWithPrefix("bench-sharing-")
	if err := dynamo.CreateTables(ctx, client, tables); err != nil {
		return nil, err
	}
	// Trials run in distinct minutes at noon UTC today, far from a day
	// boundary; each in a workspace of its own.
	noon := time.Now().UTC().Truncate(24 * time.Hour).Add(12 * time.Hour)
	var figs []figure
	exact := 0
	for trial := 1; trial <= trials; trial++ {
		now := startOfMinuteClock(noon.Add(time.Duration(trial) * time.Minute))
		// The trial's authorizers, its setup and its final reads share one
		// clock, so the counts are read in the trial's own minute.
		store := dynamo.New(dynamo.Config{Client: client, Tables: tables, Now: now})
		wsID := fmt.Sprintf("sharing-%d-%d", time.Now().Unix(), trial)
		if err := store.CreateWorkspace(ctx, gateway.Workspace{ID: wsID, Plan: gateway.Plan{Providers: []string{"*"}, Models: []string{"*"},
			RequestsPerMinute: workspaceLimit}}); err != nil {
			return nil, err
		}
		svc := management.NewService(store, rand.Reader, now)
		operator := management.Actor{KID: management.OperatorActor, WorkspaceID: wsID}
		var kids, texts [3]string
		for i, spec := range []management.KeySpec{
			{Name: "burst A", Limits: gateway.Limits{RequestsPerMinute: burstLimit}},
			{Name: "burst B", Limits: gateway.Limits{RequestsPerMinute: burstLimit}},
			{Name: "steady C"},
		} {
			k, text, err := svc.CreateKey(ctx, operator, gateway.KindInference, spec)
			if err != nil {
				return nil, err
			}
			kids[i], texts[i] = k.KID, text
		}
		hs := make([]*authorizer.Handler, containers)
		for i := range hs {
			h, err := authorizer.New(authorizer.Config{Store: store, Now: now})
			if err != nil {
				return nil, err
			}
			hs[i] = h
		}

		var per [3]outcomes
		var burstSent atomic.Int64
		steadyDone := make(chan struct{})
		began := time.Now()
		var wg sync.WaitGroup
		for i := range burstClients {
			wg.Go(func() {
				key := i % 2 // A and B alternate among the clients
				for j := i; ; j++ {
					select {
					case <-steadyDone:
						if burstSent.Load() >= minBurst {
							return
						}
					default:
					}
					burstSent.Add(1)
					per[key].add(hs[j%containers].Handle(ctx, event("Bearer "+texts[key])))
				}
			})
		}
		// The steady key starts once every bursting client has sent, and
		// the burst stops only after the steady key is done: each steady
		// request meets the burst.
		for burstSent.Load() < burstClients {
			time.Sleep(100 * time.Microsecond)
		}
		for i := range steadyRequests {
			per[2].add(hs[i%containers].Handle(ctx, event("Bearer "+texts[2])))
		}
		close(steadyDone)
		wg.Wait()
		took := time.Since(began)

		ws, err := store.GetWorkspaceState(ctx, wsID, now())
		if err != nil {
			return nil, err
		}
		var keyCounted [3]int64
		for i, kid := range kids {
			auth, err := store.GetKeyState(ctx, kid, now())
			if err != nil {
				return nil, err
			}
			keyCounted[i] = auth.Used[0]
		}
		if took > 55*time.Second {
			return nil, fmt.Errorf("workspace sharing trial %d took %s, longer than its minute window allows", trial, took)
		}
		var unavailable, denied int64
		for i := range per {
			unavailable += per[i].unavailable.Load()
			denied += per[i].denied.Load()
		}
		a, b, c := per[0].admitted.Load(), per[1].admitted.Load(), per[2].admitted.Load()
		ok := a == burstLimit && b == burstLimit && c == steadyRequests && unavailable == 0 && denied == 0 &&
			ws.UsedMinute == workspaceLimit && keyCounted == [3]int64{burstLimit, burstLimit, steadyRequests}
		if ok {
			exact++
		}
		figs = append(figs, figure{
			Name:  fmt.Sprintf("workspace sharing, trial %d of %d: admitted", trial, trials),
			Value: float64(a + b + c), Unit: "requests", Target: fmt.Sprintf("A %d, B %d, C %d; 0 × 503", burstLimit, burstLimit, steadyRequests), Met: met(ok),
			Note: fmt.Sprintf("admitted A %d, B %d, C %d; 429 A %d, B %d, C %d; 503 %d; other refusals %d; stored counts: workspace %d of %d, keys %d/%d/%d; %d requests in %.2f s",
				a, b, c, per[0].limited.Load(), per[1].limited.Load(), per[2].limited.Load(), unavailable, denied,
				ws.UsedMinute, workspaceLimit, keyCounted[0], keyCounted[1], keyCounted[2],
				per[0].sent()+per[1].sent()+per[2].sent(), took.Seconds()),
		})
	}
	return append(figs, figure{
		Name:  "workspace sharing: trials exactly at the limits, 0 × 503",
		Value: float64(exact), Unit: fmt.Sprintf("of %d trials", trials), Target: fmt.Sprintf("%d of %d", trials, trials), Met: met(exact == trials),
		Note: fmt.Sprintf("plan %d/min; A, B %d/min each from %d clients; C unlimited, %d sequential; %d authorizer containers on dynalite",
			workspaceLimit, burstLimit, burstClients, steadyRequests, containers),
	}), nil
}

// concurrentRotation is issue 11's defect 4 under load: 8 rotations of one
// key sent at once through 4 management containers on one dynalite. Each
// trial must leave exactly one active successor, answer one 201 and 409
// already_rotated to the rest, and the old key must name that successor.
func concurrentRotation(ctx context.Context, endpoint string, trials int) ([]figure, error) {
	const (
		racers     = 8
		containers = 4
	)
	client := dynalite.NewClient(endpoint)
	tables := dynamo.TablesWithPrefix("bench-rotation-")
	if err := dynamo.CreateTables(ctx, client, tables); err != nil {
		return nil, err
	}
	store := dynamo.New(dynamo.Config{Client: client, Tables: tables})
	wsID := fmt.Sprintf("rotation-%d", time.Now().Unix())
	if err := store.CreateWorkspace(ctx, gateway.Workspace{ID: wsID, Plan: gateway.Plan{Providers: []string{"*"}, Models: []string{"*"}}}); err != nil {
		return nil, err
	}
	svc := management.NewService(store, rand.Reader, nil)
	operator := management.Actor{KID: management.OperatorActor, WorkspaceID: wsID}
	// The callers hold a real management key with every scope, as the
	// authorizer would have found it.
	mk, _, err := svc.CreateKey(ctx, operator, gateway.KindManagement, management.KeySpec{Name: "rotator", Scopes: management.AllScopes})
	if err != nil {
		return nil, err
	}
	authz := authcontext.Context{KID: mk.KID, WorkspaceID: wsID, Kind: gateway.KindManagement, Scopes: mk.Scopes}.Encode()
	authz["principalId"] = mk.KID
	hs := make([]*management.Handler, containers)
	for i := range hs {
		if hs[i], err = management.New(management.Config{Store: store, Usage: store}); err != nil {
			return nil, err
		}
	}

	var figs []figure
	exact := 0
	for trial := 1; trial <= trials; trial++ {
		name := fmt.Sprintf("rotated %d", trial)
		old, _, err := svc.CreateKey(ctx, operator, gateway.KindInference, management.KeySpec{Name: name})
		if err != nil {
			return nil, err
		}
		answers := make([]events.APIGatewayProxyResponse, racers)
		errs := make([]error, racers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() {
				<-start
				answers[i], errs[i] = hs[i%containers].Handle(ctx, events.APIGatewayProxyRequest{
					HTTPMethod: "POST", Resource: "/keys/{kid}/rotate", PathParameters: map[string]string{"kid": old.KID},
					Body:           `{"previous_key_expires_in":600}`,
					RequestContext: events.APIGatewayProxyRequestContext{RequestID: fmt.Sprintf("rotate-%d-%d", trial, i), Authorizer: authz},
				})
			})
		}
		close(start)
		wg.Wait()
		var created []string
		refused, other := 0, 0
		for i, a := range answers {
			var body struct {
				Data  struct{ KID string }
				Error struct{ Code string }
			}
			_ = json.Unmarshal([]byte(a.Body), &body)
			switch {
			case errs[i] == nil && a.StatusCode == 201 && body.Data.KID != "":
				created = append(created, body.Data.KID)
			case errs[i] == nil && a.StatusCode == 409 && body.Error.Code == string(gateway.CodeAlreadyRotated):
				refused++
			default:
				other++
			}
		}
		active, err := activeSuccessors(ctx, svc, operator, name, old.KID)
		if err != nil {
			return nil, err
		}
		after, err := store.GetKey(ctx, old.KID)
		if err != nil {
			return nil, err
		}
		ok := len(active) == 1 && len(created) == 1 && active[0] == created[0] && after.RotatedTo == created[0] && other == 0
		if ok {
			exact++
		}
		figs = append(figs, figure{
			Name:  fmt.Sprintf("concurrent rotation, trial %d of %d: active successors", trial, trials),
			Value: float64(len(active)), Unit: "keys", Target: "1", Met: met(ok),
			Note: fmt.Sprintf("%d × 201, %d × 409 already_rotated, %d other; old key's rotated_to names the successor: %t",
				len(created), refused, other, len(created) == 1 && after.RotatedTo == created[0]),
		})
	}
	return append(figs, figure{
		Name:  "concurrent rotation: trials with exactly one successor",
		Value: float64(exact), Unit: fmt.Sprintf("of %d trials", trials), Target: fmt.Sprintf("%d of %d", trials, trials), Met: met(exact == trials),
		Note: fmt.Sprintf("%d rotate calls at once on one key, %d management containers on dynalite", racers, containers),
	}), nil
}

// activeSuccessors lists the active inference keys named name other than
// kid: a rotation's successors keep their key's name.
func activeSuccessors(ctx context.Context, svc *management.Service, actor management.Actor, name, kid string) ([]string, error) {
	var out []string
	cursor := ""
	for {
		page, next, err := svc.ListKeys(ctx, actor, gateway.KindInference, management.MaxPageSize, cursor, 0)
		if err != nil {
			return nil, err
		}
		for _, k := range page {
			if k.Name == name && k.KID != kid && k.Status == string(gateway.KeyActive) {
				out = append(out, k.KID)
			}
		}
		if next == "" {
			return out, nil
		}
		cursor = next
	}
}

// workspaceLimitLatency times the authorizer on dynalite, warm, for a key
// whose workspace has a per-minute limit of its own and for one whose
// workspace has none, interleaved. Since issue 11's defect 1 the workspace
// is counted only after its key admitted the request, so a limited
// workspace costs a second round trip after the first, not beside it.
func workspaceLimitLatency(ctx context.Context, endpoint string, runs int) ([]figure, error) {
	const perRun = 200
	var calls atomic.Int64
	client := dynalite.NewClient(endpoint, dynamo.CountCalls(&calls))
	tables := dynamo.TablesWithPrefix("bench-latency-")
	if err := dynamo.CreateTables(ctx, client, tables); err != nil {
		return nil, err
	}
	store := dynamo.New(dynamo.Config{Client: client, Tables: tables})
	svc := management.NewService(store, rand.Reader, nil)
	var keys [2]string // without, with a workspace limit
	for i, rpm := range []int64{0, 1 << 40} {
		id := fmt.Sprintf("latency-%d-%d", time.Now().Unix(), i)
		if err := store.CreateWorkspace(ctx, gateway.Workspace{ID: id, Plan: gateway.Plan{Providers: []string{"*"}, Models: []string{"*"},
			RequestsPerMinute: rpm}}); err != nil {
			return nil, err
		}
		_, text, err := svc.CreateKey(ctx, management.Actor{KID: management.OperatorActor, WorkspaceID: id}, gateway.KindInference,
			management.KeySpec{Name: "latency"})
		if err != nil {
			return nil, err
		}
		keys[i] = text
	}
	h, err := authorizer.New(authorizer.Config{Store: store})
	if err != nil {
		return nil, err
	}
	evs := [2]events.APIGatewayCustomAuthorizerRequestTypeRequest{event("Bearer " + keys[0]), event("Bearer " + keys[1])}
	var callsPer [2]int64
	for i, ev := range evs {
		_, _ = h.Handle(ctx, ev) // warm: key and workspace cached
		before := calls.Load()
		if _, err := h.Handle(ctx, ev); err != nil {
			return nil, err
		}
		callsPer[i] = calls.Load() - before
	}
	var without, with, ratio []float64
	for range runs {
		var t [2][]float64
		for range perRun {
			for i, ev := range evs {
				start := time.Now()
				if _, err := h.Handle(ctx, ev); err != nil {
					return nil, err
				}
				t[i] = append(t[i], float64(time.Since(start).Microseconds())/1000)
			}
		}
		m0, m1 := median(t[0]), median(t[1])
		without, with, ratio = append(without, m0), append(with, m1), append(ratio, m1/m0)
	}
	r := median(ratio)
	return []figure{
		{Name: "authorizer on dynalite, warm, no workspace limit (p50)", Value: median(without), Unit: "ms", Target: "-",
			Note: fmt.Sprintf("%d DynamoDB call(s) per request", callsPer[0])},
		{Name: "authorizer on dynalite, warm, workspace limit (p50)", Value: median(with), Unit: "ms", Target: "-",
			Note: fmt.Sprintf("%d DynamoDB calls per request, one after the other", callsPer[1])},
		{Name: "authorizer latency, workspace limit / none", Value: r, Unit: "×", Target: "-",
			Note: fmt.Sprintf("median of %d runs of %d interleaved pairs; the second round trip counts the workspace only after its key admitted", runs, perRun)},
		{Name: "DynamoDB calls, warm admitted request, workspace limit", Value: float64(callsPer[1]), Unit: "calls", Target: "2", Met: met(callsPer[1] == 2),
			Note: "sequential since issue 11 defect 1; docs/architecture.md §11 says so"},
	}, nil
}
