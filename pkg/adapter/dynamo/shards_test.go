package dynamo_test

import (
	"context"
	"testing"
	"time"

	"github.com/aistats/edge/pkg/domain/budget"
	"github.com/aistats/edge/pkg/domain/gateway"
)

// admitAll admits requests on one item (shard 0 = the key's own, i+1 =
// shard i) until it refuses, and counts them.
func admitAll(t *testing.T, s interface {
	AdmitKey(context.Context, gateway.Admission) (gateway.KeyState, bool, error)
}, k gateway.Key, shard int, now time.Time) int {
	t.Helper()
	n := 0
	for {
		_, ok, err := s.AdmitKey(context.Background(), gateway.Admission{KID: k.KID, Kind: k.Kind, SecretHash: k.SecretHash, Now: now, Shard: shard})
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return n
		}
		n++
	}
}

// TestAShardedKeyAdmitsExactlyItsLimit: what the key's own item counted
// before it was sharded is taken off the shards' shares, so the key admits
// exactly its limit across the switch; a raised limit, a revocation and a
// missing shard all reach the shards.
func TestAShardedKeyAdmitsExactlyItsLimit(t *testing.T) {
	s, clock := newStore(t)
	ctx := context.Background()
	createWorkspace(t, s, "acme")
	k := newKey(t, "acme", gateway.KindInference)
	k.Limits = gateway.Limits{RequestsPerMinute: 100}
	if err := s.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	now := clock.Now()
	for range 37 {
		if _, ok, err := s.AdmitKey(ctx, gateway.Admission{KID: k.KID, Kind: k.Kind, SecretHash: k.SecretHash, Now: now}); !ok || err != nil {
			t.Fatalf("before sharding: %v %v", ok, err)
		}
	}
	state, err := s.ShardKey(ctx, k.KID, 8, now)
	if err != nil || state.Shards != 8 {
		t.Fatalf("ShardKey: %+v %v", state, err)
	}
	if n := admitAll(t, s, k, 0, now); n != 0 {
		t.Errorf("the key's own item admitted %d after sharding, want 0", n)
	}
	total := 0
	for i := range 8 {
		total += admitAll(t, s, k, i+1, now)
	}
	if total != 63 {
		t.Errorf("the shards admitted %d, want the 63 the limit had left", total)
	}
	if again, err := s.ShardKey(ctx, k.KID, 8, now); err != nil || again.Shards != 8 {
		t.Errorf("sharding again: %+v %v", again, err)
	}

	// A raised limit reaches every shard: 100 more in the same minute.
	if _, err := s.UpdateKey(ctx, k.KID, gateway.KeyUpdate{Limits: &gateway.Limits{RequestsPerMinute: 200}}); err != nil {
		t.Fatal(err)
	}
	more := 0
	for i := range 8 {
		more += admitAll(t, s, k, i+1, now)
	}
	if more != 100 {
		t.Errorf("after raising the limit to 200 the shards admitted %d more, want 100", more)
	}
	// A new minute: the whole limit again, spread over the shards.
	next := now.Add(time.Minute)
	fresh := 0
	for i := range 8 {
		fresh += admitAll(t, s, k, i+1, next)
	}
	if fresh != 200 {
		t.Errorf("the next minute the shards admitted %d, want 200", fresh)
	}
	// Revocation reaches every shard before RevokeKey returns.
	if _, err := s.RevokeKey(ctx, k.KID); err != nil {
		t.Fatal(err)
	}
	later := next.Add(time.Minute)
	for i := range 8 {
		if n := admitAll(t, s, k, i+1, later); n != 0 {
			t.Errorf("shard %d admitted %d after revocation", i, n)
		}
		st, err := s.GetKeyShardState(ctx, k.KID, i, later)
		if err != nil || st.Status != gateway.KeyRevoked || st.KeyLimits.RequestsPerMinute != 200 {
			t.Errorf("shard %d: %+v %v", i, st, err)
		}
	}
}

func TestAKeyWithLimitsTooLowToShareIsNotSharded(t *testing.T) {
	s, clock := newStore(t)
	ctx := context.Background()
	createWorkspace(t, s, "acme")
	k := newKey(t, "acme", gateway.KindInference)
	k.Limits = gateway.Limits{RequestsPerMinute: 10}
	if err := s.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	state, err := s.ShardKey(ctx, k.KID, 8, clock.Now())
	if err != nil || state.Shards != 0 {
		t.Errorf("ShardKey with rpm 10 over 8 shards: %+v %v; want it left whole", state, err)
	}
	if n := admitAll(t, s, k, 0, clock.Now()); n != 10 {
		t.Errorf("the key admitted %d, want its 10", n)
	}
}

func TestAShardedWorkspaceAdmitsExactlyItsLimitAndIsDisabledEverywhere(t *testing.T) {
	s, clock := newStore(t)
	ctx := context.Background()
	if err := s.CreateWorkspace(ctx, gateway.Workspace{ID: "busy", Name: "busy",
		Plan: gateway.Plan{Providers: []string{"*"}, Models: []string{"*"}, RequestsPerMinute: 100}}); err != nil {
		t.Fatal(err)
	}
	now := clock.Now()
	admit := func(shard int) int {
		n := 0
		for {
			_, ok, err := s.AdmitWorkspace(ctx, gateway.WorkspaceAdmission{WorkspaceID: "busy", Now: now, Shard: shard})
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				return n
			}
			n++
		}
	}
	for range 21 {
		if _, ok, err := s.AdmitWorkspace(ctx, gateway.WorkspaceAdmission{WorkspaceID: "busy", Now: now}); !ok || err != nil {
			t.Fatalf("before sharding: %v %v", ok, err)
		}
	}
	if ws, err := s.ShardWorkspace(ctx, "busy", 8, now); err != nil || ws.Shards != 8 {
		t.Fatalf("ShardWorkspace: %+v %v", ws, err)
	}
	if n := admit(0); n != 0 {
		t.Errorf("the workspace's own item admitted %d after sharding", n)
	}
	total := 0
	for i := range 8 {
		total += admit(i + 1)
	}
	if total != 79 {
		t.Errorf("the shards admitted %d, want the 79 left of 100", total)
	}
	if _, err := s.SetWorkspaceStatus(ctx, "busy", gateway.WorkspaceDisabled); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	for i := range 8 {
		if n := admit(i + 1); n != 0 {
			t.Errorf("shard %d admitted %d after the workspace was disabled", i, n)
		}
	}
}

// TestASpentBudgetReachesAHotKeysShards: the proxy's mark that a key's
// budget is spent is copied to its shards, so whichever shard a request
// reaches refuses it in the authorizer's one write.
func TestASpentBudgetReachesAHotKeysShards(t *testing.T) {
	s, clock := newStore(t)
	ctx := context.Background()
	createWorkspace(t, s, "acme")
	k := newKey(t, "acme", gateway.KindInference)
	k.Limits = gateway.Limits{RequestsPerMinute: 100}
	if err := s.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	now := clock.Now()
	if _, err := s.ShardKey(ctx, k.KID, 4, now); err != nil {
		t.Fatal(err)
	}
	if n := admitAll(t, s, k, 1, now); n != 25 {
		t.Fatalf("shard 0 admitted %d, want its 25", n)
	}
	err := s.MarkExhausted(ctx, budget.Account{Scope: budget.ScopeKey, ID: k.KID}, budget.CostDay, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if n := admitAll(t, s, k, i+1, now.Add(time.Minute)); n != 0 {
			t.Errorf("shard %d admitted %d with the budget spent", i, n)
		}
	}
}
