package authorizer_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/handler/authcontext"
	"github.com/aistats/edge/pkg/handler/authorizer"
)

// tally counts the outcomes of many concurrent authorizations.
type tally struct {
	mu                     sync.Mutex
	allowed, limited, errs int
	denied                 map[string]int
}

func (t *tally) add(r result) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, err := authcontext.Decode(r.Context)
	switch {
	case r.Err != nil || err != nil:
		t.errs++
	case r.Effect == "Deny":
		if t.denied == nil {
			t.denied = map[string]int{}
		}
		t.denied[r.code()]++
	case c.RateLimited:
		t.limited++
	default:
		t.allowed++
	}
}

// containers builds n authorizers on one store, as n warm Lambda containers.
func (e *env) containers(n int) []*authorizer.Handler {
	e.t.Helper()
	hs := make([]*authorizer.Handler, n)
	for i := range hs {
		h, err := authorizer.New(authorizer.Config{Store: e.store, Now: e.clock.Now, Logger: slog.New(slog.NewJSONHandler(e.logs, nil))})
		if err != nil {
			e.t.Fatal(err)
		}
		hs[i] = h
	}
	return hs
}

// authorizeWith runs one authorization on h.
func (e *env) authorizeWith(h *authorizer.Handler, key string) result {
	e.t.Helper()
	e.handler, e.invoke = h, lambdaHandler(h)
	return e.authorize("chat_completions.json", key)
}

// A request refused by its own key's limit must neither take nor block its
// workspace's shared capacity. Two keys burst far past their limits while a
// third, unlimited key sends steadily, all in one minute, under a workspace
// limit of exactly what the three may have together: every request the
// steady key sends is admitted, each bursting key gets exactly its limit,
// and nothing answers 503. Counting the workspace in parallel with the key
// failed this: the bursts' refused requests held workspace capacity for a
// moment, and the steady key saw 429s and 503s.
func TestAKeyRefusedByItsLimitNeverBlocksItsWorkspace(t *testing.T) {
	e := newEnv(t)
	e.workspace("shared", 35)
	a, _ := e.key("shared", gateway.KindInference, gateway.Limits{RequestsPerMinute: 10})
	b, _ := e.key("shared", gateway.KindInference, gateway.Limits{RequestsPerMinute: 10})
	c, _ := e.key("shared", gateway.KindInference, gateway.Limits{})
	// Containers share nothing but the store, as in AWS; invoke directly,
	// not through e.invoke, which one goroutine owns at a time.
	hs := e.containers(8)
	var bursts, steady tally
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := range 40 {
		key := a
		if i%2 == 1 {
			key = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; ; j++ {
				select {
				case <-stop:
					return
				default:
				}
				bursts.add(invoke(t, hs[(i+j)%len(hs)], key))
			}
		}()
	}
	for i := range 15 {
		steady.add(invoke(t, hs[i%len(hs)], c))
	}
	close(stop)
	wg.Wait()
	if steady.allowed != 15 || steady.limited != 0 || steady.errs != 0 || len(steady.denied) != 0 {
		t.Errorf("steady key: %d allowed, %d rate limited, %d errors, denied %v; want all 15 allowed",
			steady.allowed, steady.limited, steady.errs, steady.denied)
	}
	if bursts.allowed != 20 || bursts.errs != 0 || len(bursts.denied) != 0 {
		t.Errorf("bursting keys: %d allowed, %d errors, denied %v; want exactly 20 allowed (10 each) and no error",
			bursts.allowed, bursts.errs, bursts.denied)
	}
	ws, err := e.store.GetWorkspaceState(context.Background(), "shared", e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if ws.UsedMinute != 35 {
		t.Errorf("workspace counted %d this minute, want 35: only admitted requests count", ws.UsedMinute)
	}
}

// invoke authorizes one chat completion on h, safe for concurrent use.
func invoke(t *testing.T, h *authorizer.Handler, key string) result {
	t.Helper()
	out, err := lambdaHandler(h).Invoke(context.Background(), []byte(fixture(t, "chat_completions.json", key)))
	return decodeResult(t, out, err)
}

// The kill switch does not depend on the disable's fan-out reaching every
// key's state item: a key the fan-out missed (a key created a moment before
// the disable, a GSI read that lagged, a fan-out that failed half way) is
// refused on every request once the container's view of the workspace is
// at most the cache TTL old, not just once per TTL.
func TestAKeyTheFanOutMissedIsRefusedOnEveryRequest(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	key, kid := e.key("acme", gateway.KindInference, gateway.Limits{})
	wantAllow(t, e.authorize("chat_completions.json", key)) // warm: workspace cached as active
	if _, err := e.store.SetWorkspaceStatus(ctx, "acme", gateway.WorkspaceDisabled); err != nil {
		t.Fatal(err)
	}
	// Undo the fan-out on this key's state item, as if it had been missed.
	_, err := e.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(e.tables.Counters),
		Key:                       map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: dynamo.KeyStatePK(kid)}},
		UpdateExpression:          aws.String("REMOVE workspace_disabled"),
		ConditionExpression:       aws.String("attribute_exists(pk)"),
		ExpressionAttributeValues: nil,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Set(e.clock.Now().Add(authorizer.MaxCacheTTL))
	for i := range 5 {
		r := e.authorize("chat_completions.json", key)
		if r.Effect != "Deny" || r.code() != string(gateway.CodeWorkspaceDisabled) {
			t.Fatalf("request %d after the disable: %s %q, want Deny workspace_disabled", i+1, r.Effect, r.code())
		}
		e.clock.Set(e.clock.Now().Add(time.Second))
	}
}

// failingWorkspace is the real store, except that counting against a
// workspace fails as a throttled or unreachable DynamoDB would.
type failingWorkspace struct{ *dynamo.Store }

func (failingWorkspace) AdmitWorkspace(context.Context, gateway.WorkspaceAdmission) (gateway.WorkspaceState, bool, error) {
	return gateway.WorkspaceState{}, false, gateway.Unavailable(errors.New("ProvisionedThroughputExceededException"))
}

// A 503 is logged at Error with the request id, kid and workspace, and the
// key's count of the failed request is given back.
func TestAFailedWorkspaceWriteIsLoggedWithKidAndWorkspaceAndReleased(t *testing.T) {
	e := newEnv(t)
	e.workspace("limited", 5)
	key, kid := e.key("limited", gateway.KindInference, gateway.Limits{RequestsPerMinute: 100})
	h, err := authorizer.New(authorizer.Config{Store: failingWorkspace{e.store}, Now: e.clock.Now, Logger: slog.New(slog.NewJSONHandler(e.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if r := e.authorizeWith(h, key); r.Err == nil {
		t.Fatalf("got %s, want an error (503)", r.Effect)
	}
	line := ""
	for _, l := range strings.Split(e.logs.String(), "\n") {
		if strings.Contains(l, `"level":"ERROR"`) {
			line = l
		}
	}
	for _, want := range []string{`"kid":"` + kid + `"`, `"workspace":"limited"`, `"request_id":"`} {
		if !strings.Contains(line, want) {
			t.Errorf("error log line %q lacks %s", line, want)
		}
	}
	if used := e.usedThisMinute(kid); used != 0 {
		t.Errorf("key counted %d this minute after a 503, want 0", used)
	}
}

// usedThisMinute reads how many requests the key's state item counts in
// the current minute.
func (e *env) usedThisMinute(kid string) int64 {
	e.t.Helper()
	auth, err := e.store.GetKeyState(context.Background(), kid, e.clock.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return auth.Used[0]
}

// wantErrorWithin authorizes key and wants an error (API Gateway's 503,
// AUTHORIZER_FAILURE) within bound: a DynamoDB in trouble fails closed, and
// fast.
func wantErrorWithin(t *testing.T, e *env, key string, bound time.Duration) {
	t.Helper()
	began := time.Now()
	if r := e.authorize("chat_completions.json", key); r.Err == nil {
		t.Fatalf("got %s, want an error (AUTHORIZER_FAILURE, 503)", r.Effect)
	}
	if took := time.Since(began); took > bound {
		t.Errorf("took %s; the store deadline should have ended it within %s", took, bound)
	}
}
