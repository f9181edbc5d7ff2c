package authorizer_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/handler/authcontext"
	"github.com/aistats/edge/pkg/handler/authorizer"
)

// hotItem is the store with the key's own state item always throttled, as
// DynamoDB throttles an item past its partition's rate; its shards are not.
type hotItem struct {
	*dynamo.Store
	throttled atomic.Int64
}

func (h *hotItem) AdmitKey(ctx context.Context, a gateway.Admission) (gateway.KeyState, bool, error) {
	if a.Shard == 0 {
		h.throttled.Add(1)
		return gateway.KeyState{}, false, gateway.Unavailable(fmt.Errorf("%w: %w", gateway.ErrThrottled,
			&ddbtypes.ProvisionedThroughputExceededException{Message: aws.String("throttled")}))
	}
	return h.Store.AdmitKey(ctx, a)
}

// TestAThrottledKeyIsShardedAndStaysExact: the first throttle shards the
// key with no operator; then four warm containers sending more than its
// limit at once admit exactly the limit, refuse the rest 429, and answer
// none 503; a full key is refused from memory; revocation holds from the
// next request on every container.
func TestAThrottledKeyIsShardedAndStaysExact(t *testing.T) {
	e := newEnv(t)
	key, kid := e.key("acme", gateway.KindInference, gateway.Limits{RequestsPerMinute: 200})
	store := &hotItem{Store: e.store}
	// A Lambda container answers one request at a time: eight of them side
	// by side, each in a loop. Their store timeout is long: this test is
	// about exactness, and a loaded machine (the race detector, two cores)
	// must not turn a slow call into a 503.
	containers := make([]lambda.Handler, 8)
	for i := range containers {
		h, err := authorizer.New(authorizer.Config{Store: store, Now: e.clock.Now, StoreTimeout: 20 * time.Second,
			Logger: slog.New(slog.NewJSONHandler(e.logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		containers[i] = lambda.NewHandler(h.Handle)
	}
	payload := []byte(fixture(t, "chat_completions.json", key))
	var admitted, limited, failed atomic.Int64
	var wg sync.WaitGroup
	for _, container := range containers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 300 / len(containers) {
				out, err := container.Invoke(context.Background(), payload)
				r := decodeResult(t, out, err)
				c, _ := authcontext.Decode(r.Context)
				switch {
				case r.Err != nil || r.Effect != "Allow":
					failed.Add(1)
				case c.RateLimited:
					limited.Add(1)
				default:
					admitted.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	sent := int64(300 / len(containers) * len(containers))
	if admitted.Load() != 200 || limited.Load() != sent-200 || failed.Load() != 0 {
		t.Errorf("admitted %d, rate limited %d, failed %d of %d; want exactly 200, the rest 429 and none failed", admitted.Load(), limited.Load(), failed.Load(), sent)
	}
	if failed.Load() > 0 {
		for _, l := range strings.Split(e.logs.String(), "\n") {
			if strings.Contains(l, "error") {
				t.Log(l)
			}
		}
	}
	state, err := e.store.GetKeyState(context.Background(), kid, e.clock.Now())
	if err != nil || state.Shards != authorizer.DefaultShards {
		t.Errorf("the key's own item: %+v, %v; want it sharded over %d", state, err, authorizer.DefaultShards)
	}
	before := e.calls.Load()
	out, err := containers[0].Invoke(context.Background(), payload)
	if c, _ := authcontext.Decode(decodeResult(t, out, err).Context); !c.RateLimited || c.RateLimit.Limit != 200 || c.RateLimit.Remaining != 0 {
		t.Errorf("a request on the full key: %+v, want 429 of the key's limit 200", c)
	}
	if calls := e.calls.Load() - before; calls != 0 {
		t.Errorf("a refusal of the full hot key cost %d DynamoDB calls, want 0", calls)
	}

	if _, err := e.store.RevokeKey(context.Background(), kid); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(authorizer.RefusalRecheck) // past the memory of the full window
	for i, c := range containers {
		out, err := c.Invoke(context.Background(), payload)
		if r := decodeResult(t, out, err); r.Effect != "Deny" || r.code() != string(gateway.CodeKeyRevoked) {
			t.Errorf("container %d after revocation: %s %s", i, r.Effect, r.code())
		}
	}
}

// hotWorkspace throttles the workspace's own item, as DynamoDB does when
// all its keys' requests write it; its shards are not.
type hotWorkspace struct{ *dynamo.Store }

func (h hotWorkspace) AdmitWorkspace(ctx context.Context, a gateway.WorkspaceAdmission) (gateway.WorkspaceState, bool, error) {
	if a.Shard == 0 {
		return gateway.WorkspaceState{}, false, gateway.Unavailable(fmt.Errorf("%w: %w", gateway.ErrThrottled,
			&ddbtypes.ProvisionedThroughputExceededException{Message: aws.String("throttled")}))
	}
	return h.Store.AdmitWorkspace(ctx, a)
}

// TestAThrottledWorkspaceIsShardedAndStaysExact: ten keys with no limit of
// their own share a workspace limit of 160 a minute; its item throttled, it
// is sharded, and eight containers admit exactly 160 between them.
func TestAThrottledWorkspaceIsShardedAndStaysExact(t *testing.T) {
	e := newEnv(t)
	e.workspace("busy", 160)
	var keys []string
	for range 10 {
		key, _ := e.key("busy", gateway.KindInference, gateway.Limits{})
		keys = append(keys, key)
	}
	store := hotWorkspace{e.store}
	var admitted, limited, failed atomic.Int64
	var wg sync.WaitGroup
	for c := range 8 {
		h, err := authorizer.New(authorizer.Config{Store: store, Now: e.clock.Now, StoreTimeout: 20 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		invoke := lambda.NewHandler(h.Handle)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 30 {
				out, err := invoke.Invoke(context.Background(), []byte(fixture(t, "chat_completions.json", keys[(c+i)%len(keys)])))
				r := decodeResult(t, out, err)
				ctx, _ := authcontext.Decode(r.Context)
				switch {
				case r.Err != nil || r.Effect != "Allow":
					failed.Add(1)
				case ctx.RateLimited:
					limited.Add(1)
				default:
					admitted.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if admitted.Load() != 160 || limited.Load() != 80 || failed.Load() != 0 {
		t.Errorf("admitted %d, rate limited %d, failed %d of 240; want exactly 160 and 80", admitted.Load(), limited.Load(), failed.Load())
	}
	ws, err := e.store.GetWorkspaceState(context.Background(), "busy", e.clock.Now())
	if err != nil || ws.Shards != authorizer.DefaultShards {
		t.Errorf("the workspace's own item: %+v %v; want it sharded", ws, err)
	}
}

// A hot key's shards are written by many containers: the tickets of
// containers that stopped writing are removed from each shard as from the
// key's own item, so a shard does not grow with every container that ever
// served the key. (Each container keeps to one shard first; a limit of 4
// per shard makes them spill over all eight.)
func TestTicketsOnAHotKeysShardsAreRemoved(t *testing.T) {
	e := newEnv(t)
	const limit = 4 * authorizer.DefaultShards
	key, kid := e.key("acme", gateway.KindInference, gateway.Limits{RequestsPerMinute: limit})
	store := &hotItem{Store: e.store}
	payload := []byte(fixture(t, "chat_completions.json", key))
	newContainer := func() lambda.Handler {
		h, err := authorizer.New(authorizer.Config{Store: store, Now: e.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		return lambda.NewHandler(h.Handle)
	}
	fill := func(containers ...lambda.Handler) (admitted int) {
		t.Helper()
		for i := range 2 * limit {
			out, err := containers[i%len(containers)].Invoke(context.Background(), payload)
			r := decodeResult(t, out, err)
			if r.Err != nil || r.Effect != "Allow" {
				t.Fatalf("%s %v", r.Effect, r.Err)
			}
			if c, _ := authcontext.Decode(r.Context); !c.RateLimited {
				admitted++
			}
		}
		return admitted
	}
	ticketsPerShard := func(at time.Time) (counts []int) {
		for i := range authorizer.DefaultShards {
			shard, err := e.store.GetKeyShardState(context.Background(), kid, i, at)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, s := range shard.Stale {
				if strings.HasPrefix(s, "t_") {
					n++
				}
			}
			counts = append(counts, n)
		}
		return counts
	}
	var six []lambda.Handler
	for range 6 {
		six = append(six, newContainer())
	}
	if admitted := fill(six...); admitted != limit { // six containers fill the key's minute in turns
		t.Fatalf("admitted %d, want %d", admitted, limit)
	}
	later := func() time.Time { return e.clock.Now().Add(gateway.TicketHorizon + time.Minute) }
	if counts := ticketsPerShard(later()); slices.Max(counts) < 2 {
		t.Fatalf("tickets per shard %v; the test needs several containers' on a shard", counts)
	}
	e.clock.Advance(gateway.TicketHorizon + time.Minute) // a new minute, and every ticket stale
	if n := fill(newContainer()); n != limit {
		t.Fatalf("the last container admitted %d, want the new minute's %d", n, limit)
	}
	for i, n := range ticketsPerShard(later()) {
		if n != 1 {
			t.Errorf("shard %d holds %d tickets, want the last container's alone", i, n)
		}
	}
}

// hotShard is hotItem with, besides, the first shard a request reaches
// always throttled: the shard a container keeps to first.
type hotShard struct {
	hotItem
	mu        sync.Mutex
	hot       int // shard index + 1; 0 until the first shard call
	throttled atomic.Int64
}

func (h *hotShard) AdmitKey(ctx context.Context, a gateway.Admission) (gateway.KeyState, bool, error) {
	h.mu.Lock()
	if a.Shard > 0 && h.hot == 0 {
		h.hot = a.Shard
	}
	hot := a.Shard > 0 && a.Shard == h.hot
	h.mu.Unlock()
	if hot {
		h.throttled.Add(1)
		return gateway.KeyState{}, false, gateway.Unavailable(fmt.Errorf("%w: %w", gateway.ErrThrottled,
			&ddbtypes.ProvisionedThroughputExceededException{Message: aws.String("throttled")}))
	}
	return h.hotItem.AdmitKey(ctx, a)
}

// A container whose own shard of a hot key is throttled admits on the
// others, and tries its own again only after RefusalRecheck, not on every
// request.
func TestAThrottledShardIsTriedLast(t *testing.T) {
	e := newEnv(t)
	key, _ := e.key("acme", gateway.KindInference, gateway.Limits{})
	store := &hotShard{hotItem: hotItem{Store: e.store}}
	h, err := authorizer.New(authorizer.Config{Store: store, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	container := lambda.NewHandler(h.Handle)
	payload := []byte(fixture(t, "chat_completions.json", key))
	for i := range 20 {
		out, err := container.Invoke(context.Background(), payload)
		if r := decodeResult(t, out, err); r.Err != nil || r.Effect != "Allow" {
			t.Fatalf("request %d: %s %v", i, r.Effect, r.Err)
		}
	}
	if n := store.throttled.Load(); n != 1 {
		t.Errorf("the throttled shard was tried %d times in 20 requests within a second, want once", n)
	}
	e.clock.Advance(authorizer.RefusalRecheck)
	out, err := container.Invoke(context.Background(), payload)
	if r := decodeResult(t, out, err); r.Err != nil || r.Effect != "Allow" {
		t.Fatalf("after RefusalRecheck: %s %v", r.Effect, r.Err)
	}
	if n := store.throttled.Load(); n != 2 {
		t.Errorf("the throttled shard was tried %d times, want once more after RefusalRecheck", n)
	}
}
