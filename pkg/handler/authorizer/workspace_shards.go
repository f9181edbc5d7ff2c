package authorizer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/limits"
)

// A workspace with its own per-minute limit is counted by every admitted
// request of all its keys, so its item is the first to be hot. It is
// sharded as a key is (shards.go), by the first throttle of its item.

// admitWorkspaceSharded counts a request on one of a hot workspace's n
// shards, trying the others while each is full. The state it returns is
// the workspace's as a whole: its whole limit, and what is used estimated
// from the shard (its share's remainder times the shards), or all of it
// when every shard is full, so that the caller's refusal and headers read
// it as they read an unsharded workspace.
func (h *Handler) admitWorkspaceSharded(ctx context.Context, req *request, id string, n int) (gateway.WorkspaceState, bool, error) {
	sharder, ok := h.store.(gateway.WorkspaceSharder)
	if !ok {
		return gateway.WorkspaceState{}, false, gateway.Internal(fmt.Errorf("workspace %s is sharded, but the store cannot shard", id))
	}
	start := rand.IntN(n)
	var last gateway.WorkspaceState
	var lastErr error
	full := 0
	for j := range n {
		i := (start + j) % n
		if _, known := h.shardFull("ws:"+id, i, req.now); known {
			full++
			continue
		}
		for attempt := 0; attempt < 2; attempt++ {
			auth, admitted, err := h.countWorkspace(ctx, req, gateway.WorkspaceAdmission{WorkspaceID: id, Now: req.now, Shard: i + 1,
				Stale: h.staleOnShard(shardKey("ws:"+id, i))})
			if err == nil && !admitted && auth.ID == "" {
				req.calls.Add(1)
				auth, err = sharder.GetWorkspaceShardState(ctx, id, i, req.now)
			}
			if err == nil {
				h.rememberStaleOnShard(shardKey("ws:"+id, i), auth.Stale)
			}
			if errors.Is(err, gateway.ErrThrottled) {
				lastErr = err
				break // this shard's partition is busy: the next one
			}
			if err != nil {
				return gateway.WorkspaceState{}, false, err
			}
			whole := wholeWorkspace(auth)
			if admitted || auth.Status != gateway.WorkspaceActive {
				h.rememberWorkspace(whole, req.now)
				return whole, admitted, nil
			}
			last = whole
			if auth.Share < 0 || auth.UsedMinute >= auth.Share {
				w := limits.Status{Window: limits.Minute, Scope: "workspace", Limit: auth.Plan.RequestsPerMinute,
					Used: auth.Plan.RequestsPerMinute, Reset: limits.Minute.End(req.now)}
				h.rememberShardFull("ws:"+id, i, w, req.now)
				full++
				break
			}
			// Neither admitted nor full: the shard was missing, or its
			// minute just rolled over. Once more.
		}
	}
	if full < n {
		return gateway.WorkspaceState{}, false, gateway.Unavailable(fmt.Errorf("admit request for hot workspace %s: %w", id, lastErr))
	}
	if last.ID == "" {
		req.calls.Add(1)
		auth, err := sharder.GetWorkspaceShardState(ctx, id, start, req.now)
		if err != nil {
			return gateway.WorkspaceState{}, false, err
		}
		last = wholeWorkspace(auth)
	}
	last.UsedMinute = last.Plan.RequestsPerMinute // every share is used
	return last, false, nil
}

// wholeWorkspace reads a shard's state as the workspace's.
func wholeWorkspace(shard gateway.WorkspaceState) gateway.WorkspaceState {
	if shard.Shard == 0 {
		return shard
	}
	w := shard
	left := max(0, shard.Share-shard.UsedMinute) * int64(shard.Shards)
	w.UsedMinute = max(0, shard.Plan.RequestsPerMinute-left)
	w.Stale = nil // the shard's own, not the workspace item's
	return w
}

// shardWorkspaceOnThrottle shards a workspace whose own item was throttled,
// one request per container doing it, and reports its shards (0: not
// sharded).
func (h *Handler) shardWorkspaceOnThrottle(ctx context.Context, req *request, id string) int {
	sharder, ok := h.store.(gateway.WorkspaceSharder)
	if !ok {
		return 0
	}
	v, err, _ := h.sharding.Do("ws:"+id, func() (any, error) {
		req.calls.Add(1)
		return sharder.ShardWorkspace(ctx, id, DefaultShards, req.now)
	})
	if err != nil {
		h.log.Warn("shard hot workspace", "request_id", req.id, "workspace", id, "error", err.Error())
		return 0
	}
	ws := v.(gateway.WorkspaceState)
	if ws.Shards > 0 {
		h.rememberWorkspace(ws, req.now)
		h.log.Info("hot workspace sharded", "workspace", id, "shards", ws.Shards)
	}
	return ws.Shards
}
