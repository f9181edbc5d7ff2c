package authorizer_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aistats/edge/internal/local/dynalite"

	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/handler/authcontext"
	"github.com/aistats/edge/pkg/handler/authorizer"
)

func TestStateChangesTakeEffectOnTheNextRequest(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		change func(e *env, kid string)
		want   gateway.Code
	}{
		{"revoked", func(e *env, kid string) {
			if _, err := e.store.RevokeKey(ctx, kid); err != nil {
				t.Fatal(err)
			}
		}, gateway.CodeKeyRevoked},
		{"disabled", func(e *env, kid string) {
			off := true
			if _, err := e.store.UpdateKey(ctx, kid, gateway.KeyUpdate{Disabled: &off}); err != nil {
				t.Fatal(err)
			}
		}, gateway.CodeKeyDisabled},
		{"workspace disabled", func(e *env, kid string) {
			if _, err := e.store.SetWorkspaceStatus(ctx, "acme", gateway.WorkspaceDisabled); err != nil {
				t.Fatal(err)
			}
		}, gateway.CodeWorkspaceDisabled},
		{"expired", func(e *env, kid string) {
			at := e.clock.Now().Add(time.Second)
			if _, err := e.store.UpdateKey(ctx, kid, gateway.KeyUpdate{ExpiresAt: &at}); err != nil {
				t.Fatal(err)
			}
			e.clock.Set(at)
		}, gateway.CodeKeyExpired},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			key, kid := e.key("acme", gateway.KindInference, gateway.Limits{})
			wantAllow(t, e.authorize("chat_completions.json", key)) // the container is warm now
			tc.change(e, kid)
			wantDeny(t, e.authorize("chat_completions.json", key), tc.want)
		})
	}
	t.Run("workspace enabled again", func(t *testing.T) {
		e := newEnv(t)
		key, _ := e.key("acme", gateway.KindInference, gateway.Limits{})
		for _, status := range []gateway.WorkspaceStatus{gateway.WorkspaceDisabled, gateway.WorkspaceActive} {
			if _, err := e.store.SetWorkspaceStatus(ctx, "acme", status); err != nil {
				t.Fatal(err)
			}
		}
		wantAllow(t, e.authorize("chat_completions.json", key))
	})
}

// TestConcurrentCallersGetExactlyTheLimit is docs/architecture.md §5: with limit L and
// any number of concurrent callers, exactly min(attempts, L) are admitted,
// and the refused ones are not counted.
func TestConcurrentCallersGetExactlyTheLimit(t *testing.T) {
	e := newEnv(t)
	key, kid := e.key("acme", gateway.KindInference, gateway.Limits{RequestsPerDay: 20})
	var (
		wg                       sync.WaitGroup
		mu                       sync.Mutex
		admitted, limited, other int
	)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.authorize("chat_completions.json", key)
			c, err := authcontext.Decode(r.Context)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case r.Err != nil || r.Effect != "Allow" || err != nil:
				other++
			case c.RateLimited:
				limited++
			default:
				admitted++
			}
		}()
	}
	wg.Wait()
	if admitted != 20 || limited != 30 || other != 0 {
		t.Errorf("admitted %d, rate limited %d, other %d; want 20, 30, 0", admitted, limited, other)
	}
	auth, err := e.store.GetKeyState(context.Background(), kid, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if auth.Used[1] != 20 {
		t.Errorf("stored day count = %d, want 20: refused requests must not count", auth.Used[1])
	}
}

func TestRateLimitedContextAndHeaders(t *testing.T) {
	e := newEnv(t)
	key, _ := e.key("acme", gateway.KindInference, gateway.Limits{RequestsPerMinute: 2, RequestsPerDay: 100})
	first := wantAllow(t, e.authorize("chat_completions.json", key))
	if rl := first.RateLimit; rl == nil || rl.Name != "requests_per_minute" || rl.Limit != 2 || rl.Remaining != 1 || rl.ResetSeconds != 50 {
		t.Errorf("first request's limit = %+v, want requests_per_minute 2, 1 left, reset in 50 s", first.RateLimit)
	}
	wantAllow(t, e.authorize("chat_completions.json", key))
	r := e.authorize("chat_completions.json", key)
	c, err := authcontext.Decode(r.Context)
	if err != nil || r.Effect != "Allow" || !c.RateLimited {
		t.Fatalf("third request: %s %+v %v, want Allow marked rate limited", r.Effect, c, err)
	}
	if c.RateLimit.Name != "requests_per_minute" || c.RateLimit.Remaining != 0 || c.RateLimit.ResetSeconds != 50 {
		t.Errorf("rate limit = %+v", c.RateLimit)
	}
	// The next minute admits again.
	e.clock.Set(e.clock.Now().Add(time.Minute))
	wantAllow(t, e.authorize("chat_completions.json", key))
}

func TestDynamoDBCallsPerRequest(t *testing.T) {
	e := newEnv(t)
	e.workspace("limited", 100)
	plain, _ := e.key("acme", gateway.KindInference, gateway.Limits{RequestsPerMinute: 100})
	withWorkspaceLimit, _ := e.key("limited", gateway.KindInference, gateway.Limits{})
	for _, tc := range []struct {
		name       string
		key        string
		cold, warm int64
	}{
		{"workspace without its own limit", plain, 2, 1},
		{"workspace with its own limit", withWorkspaceLimit, 2, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.newHandler()
			if r := e.authorize("chat_completions.json", tc.key); r.Calls != tc.cold {
				t.Errorf("cold container: %d calls, want %d", r.Calls, tc.cold)
			}
			for range 3 {
				r := e.authorize("chat_completions.json", tc.key)
				wantAllow(t, r)
				if r.Calls != tc.warm {
					t.Errorf("warm container: %d calls, want %d", r.Calls, tc.warm)
				}
			}
		})
	}
	t.Run("bad checksum", func(t *testing.T) {
		r := e.authorize("chat_completions.json", plain[:len(plain)-7]+"0000000")
		if r.Calls != 0 {
			t.Errorf("malformed key cost %d calls, want 0", r.Calls)
		}
	})
	t.Run("wrong secret for a kid the container knows", func(t *testing.T) {
		wantAllow(t, e.authorize("chat_completions.json", plain)) // this container now knows the kid
		forged := forgedSecret(plain)
		r := e.authorize("chat_completions.json", forged)
		wantDeny(t, r, gateway.CodeInvalidKey)
		if r.Calls != 0 {
			t.Errorf("wrong secret cost %d calls in a warm container, want 0", r.Calls)
		}
	})
}

func TestWorkspaceLimitSpansItsKeys(t *testing.T) {
	e := newEnv(t)
	e.workspace("team", 3)
	a, kidA := e.key("team", gateway.KindInference, gateway.Limits{})
	b, _ := e.key("team", gateway.KindInference, gateway.Limits{})
	var admitted, limited int
	for i := range 6 {
		key := a
		if i%2 == 1 {
			key = b
		}
		r := e.authorize("chat_completions.json", key)
		c, _ := authcontext.Decode(r.Context)
		if r.Effect == "Allow" && !c.RateLimited {
			admitted++
		} else if c.RateLimited {
			limited++
			if c.RateLimit.Limit != 3 {
				t.Errorf("limit reported %d, want the workspace's 3", c.RateLimit.Limit)
			}
		}
	}
	if admitted != 3 || limited != 3 {
		t.Errorf("admitted %d, limited %d; want 3 and 3", admitted, limited)
	}
	if used := e.usedThisMinute(kidA); used != 2 {
		t.Errorf("key a counted %d this minute, want 2: refused requests are released", used)
	}
}

func TestStaleCountersAreRemoved(t *testing.T) {
	e := newEnv(t)
	key, kid := e.key("acme", gateway.KindInference, gateway.Limits{})
	wantAllow(t, e.authorize("chat_completions.json", key))
	e.clock.Set(e.clock.Now().Add(10 * time.Minute)) // skips over the previous-minute cleanup
	wantAllow(t, e.authorize("chat_completions.json", key))
	wantAllow(t, e.authorize("chat_completions.json", key))
	auth, err := e.store.GetKeyState(context.Background(), kid, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(auth.Stale) != 0 {
		t.Errorf("stale counters left on the item: %v", auth.Stale)
	}
	if auth.Used[0] != 2 {
		t.Errorf("minute count = %d, want 2", auth.Used[0])
	}
}

// TestUnreachableStoreFailsClosedAndFast: no DynamoDB means an error (503),
// never an Allow, within the store deadline.
func TestUnreachableStoreFailsClosedAndFast(t *testing.T) {
	e := newEnv(t)
	key, _ := e.key("acme", gateway.KindInference, gateway.Limits{})
	down := dynamo.New(dynamo.Config{Client: dynalite.NewClient("http://127.0.0.1:1"), Tables: dynamo.TablesWithPrefix("x-")})
	h, err := authorizer.New(authorizer.Config{Store: down, StoreTimeout: 300 * time.Millisecond, Logger: slog.New(slog.NewJSONHandler(e.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	e.handler = h
	e.invoke = lambdaHandler(h)
	wantErrorWithin(t, e, key, 5*time.Second)
}

func TestConfigRejectsLongCache(t *testing.T) {
	if _, err := authorizer.New(authorizer.Config{Store: &dynamo.Store{}, CacheTTL: time.Minute}); err == nil {
		t.Error("a 60 s cache TTL was accepted; the maximum is 30 s")
	}
}

// throttledStore answers as DynamoDB does when it throttles: the dynamo
// adapter turns ProvisionedThroughputExceeded into CodeServiceUnavailable.
type throttledStore struct{ memoryAdmitter }

func (*throttledStore) AdmitKey(context.Context, gateway.Admission) (gateway.KeyState, bool, error) {
	return gateway.KeyState{}, false, gateway.Unavailable(errors.New("ProvisionedThroughputExceededException"))
}

func TestThrottlingFailsClosed(t *testing.T) {
	e := newEnv(t)
	key, _ := e.key("acme", gateway.KindInference, gateway.Limits{})
	h, err := authorizer.New(authorizer.Config{Store: &throttledStore{}})
	if err != nil {
		t.Fatal(err)
	}
	e.handler, e.invoke = h, lambdaHandler(h)
	if r := e.authorize("chat_completions.json", key); r.Err == nil {
		t.Fatalf("throttled: %s, want an error (503), never Allow", r.Effect)
	}
}

// Every counting write leaves its container's ticket on the item
// (tickets.go); those of containers that stopped writing are removed once
// older than gateway.TicketHorizon, so the item does not grow with every
// container that ever served the key.
func TestTicketsOfIdleContainersAreRemoved(t *testing.T) {
	e := newEnv(t)
	key, kid := e.key("acme", gateway.KindInference, gateway.Limits{})
	for range 3 { // three cold containers, one request each
		e.newHandler()
		wantAllow(t, e.authorize("chat_completions.json", key))
	}
	e.clock.Set(e.clock.Now().Add(gateway.TicketHorizon + time.Minute))
	e.newHandler()
	wantAllow(t, e.authorize("chat_completions.json", key)) // sees the three stale
	wantAllow(t, e.authorize("chat_completions.json", key)) // removes them
	auth, err := e.store.GetKeyState(context.Background(), kid, e.clock.Now().Add(gateway.TicketHorizon+time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	var tickets []string
	for _, s := range auth.Stale {
		if strings.HasPrefix(s, "t_") {
			tickets = append(tickets, s)
		}
	}
	if len(tickets) != 1 {
		t.Errorf("tickets on the item = %v, want only the last container's", tickets)
	}
}
