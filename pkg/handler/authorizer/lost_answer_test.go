package authorizer_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/aistats/edge/internal/local/dynalite"
	"github.com/aistats/edge/internal/testing/ddbfault"
	"github.com/aistats/edge/internal/testing/dynamotest"
	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/handler/authcontext"
	"github.com/aistats/edge/pkg/handler/authorizer"
)

// Defect 5 of the hardening issue: a counting write that times out (the
// client gets 503) may still be applied by DynamoDB, and must not spend the
// key's limits. These tests put ddbfault between the authorizer and
// dynalite, losing the answers of applied writes and holding writes until
// after their callers gave up.

// lossy is a set of authorizer containers whose DynamoDB is ddbfault.
type lossy struct {
	*env
	proxy      *ddbfault.Proxy
	containers []lambda.Handler
}

func newLossy(t *testing.T, e *env, containers int, storeTimeout time.Duration, decide func(n int64, pk string) ddbfault.Fault) *lossy {
	t.Helper()
	proxy, err := ddbfault.New(dynamotest.Endpoint(t), decide)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	t.Cleanup(proxy.Drain)
	store := dynamo.New(dynamo.Config{Client: dynalite.NewClient(srv.URL), Tables: e.tables, Now: e.clock.Now})
	l := &lossy{env: e, proxy: proxy}
	for range containers {
		h, err := authorizer.New(authorizer.Config{Store: store, Now: e.clock.Now, StoreTimeout: storeTimeout,
			Logger: slog.New(slog.NewJSONHandler(e.logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		l.containers = append(l.containers, lambda.NewHandler(h.Handle))
	}
	return l
}

type outcome int

const (
	admitted outcome = iota
	limited
	failed // 503
	deniedOutcome
)

func (l *lossy) authorize(container int, key string) outcome {
	l.t.Helper()
	return l.authorizeWithin(context.Background(), container, key)
}

// authorizeWithin invokes a container with ctx, which may carry the
// invocation's deadline as Lambda's does.
func (l *lossy) authorizeWithin(ctx context.Context, container int, key string) outcome {
	l.t.Helper()
	out, err := l.containers[container].Invoke(ctx, []byte(fixture(l.t, "chat_completions.json", key)))
	r := decodeResult(l.t, out, err)
	if r.Err != nil {
		return failed
	}
	if r.Effect != "Allow" {
		return deniedOutcome
	}
	c, err := authcontext.Decode(r.Context)
	if err != nil {
		l.t.Fatal(err)
	}
	if c.RateLimited {
		return limited
	}
	return admitted
}

// used reads the key's stored counts of the minute, day and month.
func (l *lossy) used(kid string) [3]int64 {
	l.t.Helper()
	auth, err := l.store.GetKeyState(context.Background(), kid, l.clock.Now())
	if err != nil {
		l.t.Fatal(err)
	}
	return auth.Used
}

// untilRefused sends requests on one container until one is rate limited,
// and returns how many were admitted; a 503 on a loaded machine is
// retried (it must not count either).
func (l *lossy) untilRefused(key string, most int) int {
	l.t.Helper()
	n := 0
	for range most {
		switch o := l.authorize(0, key); o {
		case admitted:
			n++
		case limited:
			return n
		case deniedOutcome:
			l.t.Fatalf("denied after %d admitted", n)
		}
	}
	l.t.Fatalf("no refusal in %d requests (%d admitted)", most, n)
	return n
}

// Ten requests whose counting writes DynamoDB applied but whose answers were
// lost (the clients got 503) cost the key nothing: every window's count is
// given back, and the key then admits its whole limit. The same for writes
// that reach DynamoDB only after their callers gave up, and for writes that
// land in the middle of their withdrawal.
func TestTenRequestsAnswered503CostTheKeyNothing(t *testing.T) {
	for _, c := range []struct {
		name  string
		fault ddbfault.Fault
	}{
		{"answer lost after the write applied", ddbfault.LoseAnswer},
		{"write applied after its caller gave up", ddbfault.Hold},
		{"write applied between its withdrawal's undo and fence", ddbfault.Interleave},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			key, kid := e.key("acme", gateway.KindInference, gateway.Limits{RequestsPerMinute: 10, RequestsPerDay: 100, RequestsPerMonth: 1000})
			l := newLossy(t, e, 10, 500*time.Millisecond, func(n int64, _ string) ddbfault.Fault {
				if n < 10 {
					return c.fault
				}
				return ddbfault.Pass
			})
			var wg sync.WaitGroup
			var failures atomic.Int64
			for i := range 10 { // ten containers at once, as ten Lambdas would
				wg.Go(func() {
					if l.authorize(i, key) == failed {
						failures.Add(1)
					}
				})
			}
			wg.Wait()
			l.proxy.Drain()
			st := l.proxy.Stats()
			if failures.Load() != 10 {
				t.Fatalf("%d of 10 requests failed, want all (503)", failures.Load())
			}
			if got := l.used(kid); got != [3]int64{} {
				t.Fatalf("after ten 503s: minute, day, month = %v, want nothing counted; proxy %+v", got, st)
			}
			switch c.fault {
			case ddbfault.LoseAnswer:
				if st.LostAnswers != 10 {
					t.Fatalf("stats %+v: want 10 answers lost", st)
				}
			case ddbfault.Hold:
				if st.HeldRefused != 10 || st.HeldApplied != 0 {
					t.Fatalf("stats %+v: want 10 late writes, each refused by its withdrawal", st)
				}
			case ddbfault.Interleave:
				if st.HeldApplied != 10 || st.HeldUnwithdrawn != 0 {
					t.Fatalf("stats %+v: want 10 writes landing during their withdrawals", st)
				}
			}
			if n := l.untilRefused(key, 40); n != 10 {
				t.Errorf("admitted %d before the first 429, want the whole limit of 10", n)
			}
			if got := l.used(kid); got != [3]int64{10, 10, 10} {
				t.Errorf("minute, day, month = %v, want 10, 10, 10", got)
			}
		})
	}
}

// Under real concurrency, with a quarter of the key's counting writes
// applied and unanswered and a quarter arriving after their callers gave
// up, the stored counts are exactly the requests admitted, on the key and
// on its workspace (which has a limit of its own, and whose writes pass),
// and the key's limit is reached exactly.
func TestCountsStayExactWhileAnswersAreLost(t *testing.T) {
	e := newEnv(t)
	e.workspace("counted", 1000)
	key, kid := e.key("counted", gateway.KindInference, gateway.Limits{RequestsPerMinute: 40})
	var faulty atomic.Bool
	faulty.Store(true)
	l := newLossy(t, e, 6, 500*time.Millisecond, ddbfault.KeyWritesMixed(&faulty))
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[outcome]int{}
	for i := range l.containers {
		wg.Go(func() {
			for range 12 {
				o := l.authorize(i, key)
				mu.Lock()
				counts[o]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	l.proxy.Drain()
	st := l.proxy.Stats()
	t.Logf("outcomes: %d admitted, %d rate limited, %d × 503; proxy: %+v", counts[admitted], counts[limited], counts[failed], st)
	if counts[deniedOutcome] != 0 || counts[admitted] > 40 {
		t.Fatalf("outcomes %v: want none denied and at most 40 admitted", counts)
	}
	want := int64(counts[admitted])
	if got := l.used(kid); got != [3]int64{want, want, want} {
		t.Errorf("key's minute, day, month = %v, want %d each: exactly the requests admitted", got, want)
	}
	ws, err := l.store.GetWorkspaceState(context.Background(), "counted", l.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if ws.UsedMinute != want {
		t.Errorf("workspace's minute = %d, want %d", ws.UsedMinute, want)
	}
	if counts[failed] == 0 || st.LostAnswers == 0 || st.HeldRefused == 0 {
		t.Fatalf("the faults did not happen: %v, %+v", counts, st)
	}
	if st.HeldApplied != 0 || st.HeldUnwithdrawn != 0 {
		t.Errorf("proxy %+v: every late write must come after its withdrawal and be refused", st)
	}
	faulty.Store(false)
	// A container that saw the key full (lost writes hold their places
	// until withdrawn) remembers it for RefusalRecheck.
	e.clock.Advance(authorizer.RefusalRecheck)
	if n := l.untilRefused(key, 80); int64(n)+want != 40 {
		t.Errorf("admitted %d more before the first 429, want %d: the key's limit is 40", n, 40-want)
	}
}

// A withdrawal that cannot reach DynamoDB (it went down right after
// applying the write whose answer it lost) is kept by the container. Its
// writer does not write that key again until the withdrawal is made: while
// it fails, that key's requests are answered 503 without a write.
func TestAWithdrawalThatCannotBeMadeAtOnceIsMadeBeforeTheNextWrite(t *testing.T) {
	e := newEnv(t)
	key, kid := e.key("acme", gateway.KindInference, gateway.Limits{RequestsPerMinute: 10})
	var l *lossy
	l = newLossy(t, e, 1, 500*time.Millisecond, func(n int64, _ string) ddbfault.Fault {
		if n == 0 {
			l.proxy.SetDown(true) // after this write, which applies
			return ddbfault.LoseAnswer
		}
		return ddbfault.Pass
	})
	if o := l.authorize(0, key); o != failed {
		t.Fatalf("first request: %v, want 503", o)
	}
	if !strings.Contains(e.logs.String(), `"msg":"withdrawal pending"`) {
		t.Fatalf("no pending withdrawal logged:\n%s", e.logs.String())
	}
	if o := l.authorize(0, key); o != failed {
		t.Fatalf("second request, DynamoDB still down: %v, want 503", o)
	}
	if n := l.proxy.Stats().CountingWrites; n != 1 {
		t.Fatalf("%d counting writes, want 1: a write on the key would replace the ticket its withdrawal looks for", n)
	}
	l.proxy.SetDown(false)
	if o := l.authorize(0, key); o != admitted {
		t.Fatalf("third request, DynamoDB back: %v, want admitted", o)
	}
	if st := l.proxy.Stats(); st.Withdrawals != 1 {
		t.Fatalf("stats %+v: want the kept withdrawal made", st)
	}
	if got := l.used(kid); got[0] != 1 || got[1] != 1 {
		t.Errorf("minute, day = %d, %d; want 1, 1: only the admitted request", got[0], got[1])
	}
}

// A withdrawal that has not reached DynamoDB within the ticket horizon is
// given up, loudly: its request may stay counted.
func TestAWithdrawalNotMadeWithinTheHorizonIsGivenUpLoudly(t *testing.T) {
	e := newEnv(t)
	key, kid := e.key("acme", gateway.KindInference, gateway.Limits{RequestsPerMinute: 10})
	var l *lossy
	l = newLossy(t, e, 1, 500*time.Millisecond, func(n int64, _ string) ddbfault.Fault {
		if n == 0 {
			l.proxy.SetDown(true)
			return ddbfault.LoseAnswer
		}
		return ddbfault.Pass
	})
	if o := l.authorize(0, key); o != failed {
		t.Fatalf("first request: %v, want 503", o)
	}
	e.clock.Advance(gateway.TicketHorizon + time.Second)
	if o := l.authorize(0, key); o != failed {
		t.Fatalf("second request, DynamoDB still down: %v, want 503", o)
	}
	if !strings.Contains(e.logs.String(), `"level":"ERROR","msg":"withdrawal given up; the request may stay counted"`) {
		t.Fatalf("no withdrawal given up at error level:\n%s", e.logs.String())
	}
	l.proxy.SetDown(false)
	if o := l.authorize(0, key); o != admitted {
		t.Fatalf("third request: %v, want admitted", o)
	}
	if got := l.used(kid); got[0] != 2 {
		t.Errorf("minute = %d, want 2: the given-up request stays counted, as documented", got[0])
	}
}

// A write whose answer is lost near the end of the invocation is not
// withdrawn past the invocation's deadline (Lambda would end the
// invocation, and the container with what it kept): the withdrawal is kept,
// the container serves another key meanwhile, and the withdrawal is made
// beside that request.
func TestAWithdrawalNeverRunsPastTheInvocationsDeadline(t *testing.T) {
	e := newEnv(t)
	key, kid := e.key("acme", gateway.KindInference, gateway.Limits{RequestsPerMinute: 10})
	other, _ := e.key("acme", gateway.KindInference, gateway.Limits{})
	l := newLossy(t, e, 1, 500*time.Millisecond, func(n int64, _ string) ddbfault.Fault {
		if n == 0 {
			return ddbfault.LoseAnswer
		}
		return ddbfault.Pass
	})
	ctx, cancel := context.WithTimeout(context.Background(), 550*time.Millisecond)
	defer cancel()
	began := time.Now()
	if o := l.authorizeWithin(ctx, 0, key); o != failed {
		t.Fatalf("first request: %v, want 503", o)
	}
	if took := time.Since(began); took > 550*time.Millisecond {
		t.Errorf("the request took %s, past its invocation's deadline of 550 ms", took)
	}
	if !strings.Contains(e.logs.String(), "no time left in this invocation") {
		t.Fatalf("the withdrawal was not kept for later:\n%s", e.logs.String())
	}
	if got := l.used(kid); got[0] != 1 {
		t.Fatalf("minute = %d before the kept withdrawal, want the lost write's 1", got[0])
	}
	if o := l.authorize(0, other); o != admitted {
		t.Fatalf("a request for another key: %v, want admitted", o)
	}
	if got := l.used(kid); got[0] != 0 {
		t.Errorf("minute = %d, want 0: the lost write withdrawn beside the other key's request", got[0])
	}
}

// A kept withdrawal made on a slow DynamoDB does not eat the time of the
// request's own write: it comes before the request's store deadline
// begins, so a request that each call alone would answer in time is
// admitted.
func TestAKeptWithdrawalDoesNotEatTheWritesDeadline(t *testing.T) {
	e := newEnv(t)
	key, kid := e.key("acme", gateway.KindInference, gateway.Limits{RequestsPerMinute: 10})
	var l *lossy
	var keyWrites atomic.Int64
	l = newLossy(t, e, 1, 500*time.Millisecond, func(_ int64, pk string) ddbfault.Fault {
		if strings.HasPrefix(pk, "key#") && keyWrites.Add(1) == 2 {
			l.proxy.SetDown(true)
			return ddbfault.LoseAnswer
		}
		return ddbfault.Pass
	})
	if o := l.authorize(0, key); o != admitted { // a warm container: one write per request
		t.Fatalf("first request: %v, want admitted", o)
	}
	if o := l.authorize(0, key); o != failed {
		t.Fatalf("second request: %v, want 503", o)
	}
	// A third while still down fails its try beside it, so the fourth (the
	// clock stands still) makes the withdrawal before its own write.
	if o := l.authorize(0, key); o != failed {
		t.Fatalf("third request: %v, want 503", o)
	}
	l.proxy.SetDown(false)
	l.proxy.SetDelay(300 * time.Millisecond) // each call in time, two in a row not
	if o := l.authorize(0, key); o != admitted {
		t.Fatalf("fourth request, on a slow DynamoDB: %v, want admitted:\n%s", o, e.logs.String())
	}
	l.proxy.SetDelay(0)
	if got := l.used(kid); got[0] != 2 {
		t.Errorf("minute = %d, want 2: the lost write withdrawn, the first and fourth counted", got[0])
	}
}
