package dynamo

import (
	"context"
	"strconv"
	"time"

	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/limits"
)

// A workspace with its own per-minute limit is written by every admitted
// request of all its keys, so it is the first item to be hot. It is sharded
// as a key is (shards.go): ws#<id>#<i> holds the workspace's status and
// plan with share i of its limit, and what the workspace's own item counted
// in the current minute is taken off the shares.

var _ gateway.WorkspaceSharder = (*Store)(nil)

// WorkspaceShardPK is the Counters-table key of shard i of a workspace.
func WorkspaceShardPK(id string, i int) string { return WorkspaceStatePK(id) + "#" + strconv.Itoa(i) }

// ShardWorkspace splits an active workspace's limit over n shards.
func (s *Store) ShardWorkspace(ctx context.Context, id string, n int, now time.Time) (gateway.WorkspaceState, error) {
	// Only a workspace with a limit large enough to share is sharded.
	main, frozen, err := s.freeze(ctx, WorkspaceStatePK(id), n, string(gateway.WorkspaceActive),
		"#lm >= :min", map[string]string{"#lm": attrPlanRPM}, nil)
	if err != nil {
		return gateway.WorkspaceState{}, err
	}
	if main == nil {
		return gateway.WorkspaceState{}, gateway.Errorf(gateway.CodeWorkspaceNotFound, "Workspace %s does not exist.", id)
	}
	if frozen {
		if err := s.syncWorkspaceShards(ctx, main, now); err != nil {
			return gateway.WorkspaceState{}, err
		}
	}
	return decodeWorkspaceState(main, now.UTC())
}

// syncWorkspaceShards writes a workspace's own item's state to each of its
// shards, creating a missing one; an unsharded workspace needs nothing.
func (s *Store) syncWorkspaceShards(ctx context.Context, main item, now time.Time) error {
	return forEachShard(main, func(i int) error { return s.syncWorkspaceShard(ctx, main, i, now) })
}

func (s *Store) syncWorkspaceShard(ctx context.Context, main item, i int, now time.Time) error {
	now = now.UTC()
	state, err := decodeWorkspaceState(main, now)
	if err != nil {
		return err
	}
	n := state.Shards
	b := updateBuilder{names: map[string]string{}, values: item{}}
	for _, name := range []string{attrState, attrPlanProvs, attrPlanModels} {
		if v, ok := main[name]; ok {
			b.setValue(name, v)
		}
	}
	limit := state.Plan.RequestsPerMinute
	b.setValue(attrPlanRPM, num(share(limit, i, n)))
	b.setValue(attrKeyRPM, num(limit))
	if taken := takenOff(limit, state.UsedMinute, i, n); taken > 0 {
		b.setIfAbsent(counterAttr(limits.Minute, limits.Minute.ID(now)), num(taken))
	}
	b.setValue(attrShardOf, num(int64(n)))
	return s.writeShard(ctx, WorkspaceShardPK(state.ID, i), b, (&itemReader{item: main}).num(attrVersion))
}

// GetWorkspaceShardState reads shard i of a workspace, creating it from the
// workspace's own item if it is missing.
func (s *Store) GetWorkspaceShardState(ctx context.Context, id string, shard int, now time.Time) (gateway.WorkspaceState, error) {
	it, err := s.getOrCreateShard(ctx, WorkspaceStatePK(id), WorkspaceShardPK(id, shard), shard,
		func(main item) error { return s.syncWorkspaceShard(ctx, main, shard, now) })
	if err != nil {
		return gateway.WorkspaceState{}, err
	}
	if it == nil {
		return gateway.WorkspaceState{}, gateway.Errorf(gateway.CodeWorkspaceNotFound, "Workspace %s has no shard %d.", id, shard)
	}
	return decodeWorkspaceState(it, now.UTC())
}
