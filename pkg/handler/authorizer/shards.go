package authorizer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/limits"
)

// Hot keys (docs/architecture.md §5). A key whose own item DynamoDB
// throttles is spread over DefaultShards shard items (gateway.KeySharder),
// each holding a share of every limit: the shares add up to the limits, so
// admissions stay exact, and the key takes DefaultShards items' rate.
//
// A key becomes hot by measurement, with no operator: the first admission
// of a key that comes back throttled after the SDK's own retries shards it,
// and is then tried on a shard. Every container learns that a key is
// sharded from the key's item, which refuses all counting once sharded.
//
// An admission tries first the shard its container keeps to (so that a
// shard holds the tickets of few containers, tickets.go), then the others
// in turn while each is full: a request is refused only when every shard's share is
// used, so no request is refused while the key has room, and a shard seen
// full is skipped from memory until its window resets or RefusalRecheck
// passes. Revocation and every other change reach all shards before the
// management call answers, so they hold from the next request.

// DefaultShards is how many shards a hot key gets: eight items' write rate,
// for a target of five.
const DefaultShards = 8

// admitOnShard counts one call on a shard and reads it when the write did
// not return it (the shard is not written yet).
func (h *Handler) admitOnShard(ctx context.Context, req *request, sharder gateway.KeySharder, i int) (gateway.KeyState, bool, error) {
	auth, admitted, err := h.countKey(ctx, req, gateway.Admission{
		KID: req.kid, Kind: req.token.Kind, SecretHash: req.hash, Now: req.now, Shard: i + 1, Free: req.free,
		Stale: h.staleOnShard(shardKey(req.kid, i)),
	})
	if auth.KID != "" {
		h.rememberStaleOnShard(shardKey(req.kid, i), auth.Stale)
	}
	if err != nil || admitted || auth.KID != "" {
		return auth, admitted, err
	}
	req.calls.Add(1)
	auth, err = sharder.GetKeyShardState(ctx, req.kid, i, req.now)
	return auth, false, err
}

// admitSharded admits a request of a key spread over n shards.
func (h *Handler) admitSharded(ctx context.Context, req *request, n int) (decision, gateway.KeyState, error) {
	sharder, ok := h.store.(gateway.KeySharder)
	if !ok {
		return decision{}, gateway.KeyState{}, gateway.Internal(fmt.Errorf("key %s is sharded, but the store cannot shard", req.kid))
	}
	start := req.writer.shardAffinity(n)
	var exhausted []limits.Status
	var last gateway.KeyState
	var lastErr error
	for _, i := range h.shardOrder(req.kid, start, n, req.now) {
		if w, full := h.shardFull(req.kid, i, req.now); full {
			exhausted = append(exhausted, w)
			continue
		}
		auth, admitted, refusal, full, err := h.tryShard(ctx, req, sharder, i)
		if errors.Is(err, gateway.ErrThrottled) {
			h.rememberShardThrottled(req.kid, i, req.now)
			lastErr = err // this shard's partition is busy: the next one
			continue
		}
		if err != nil {
			return decision{}, gateway.KeyState{}, err
		}
		if admitted {
			h.rememberKey(auth)
			req.workspace = auth.WorkspaceID
			return decision{outcome: outcomeAllow}, auth, nil
		}
		if refusal != nil {
			return *refusal, auth, nil
		}
		h.rememberShardFull(req.kid, i, full, req.now)
		exhausted = append(exhausted, full)
		last = auth
	}
	if len(exhausted) < n {
		return decision{}, gateway.KeyState{}, gateway.Unavailable(fmt.Errorf("admit request for hot key %s: %w", req.kid, lastErr))
	}
	if last.KID == "" { // every shard was known full: the key's state from memory is enough
		req.calls.Add(1)
		auth, err := sharder.GetKeyShardState(ctx, req.kid, start, req.now)
		if err != nil {
			return decision{}, gateway.KeyState{}, err
		}
		last = auth
	}
	req.workspace = last.WorkspaceID
	return h.rateLimited(req, last, exhausted), last, nil
}

// tryShard admits a request on shard i, or says why not: the key's state
// refuses it (keyRefusal explains), or a window's share is full. A refusal
// that neither explains was the shard's absence (it is created from the
// key's item as it is read) or a window that just rolled over: tried once
// more, then a 503.
func (h *Handler) tryShard(ctx context.Context, req *request, sharder gateway.KeySharder, i int) (auth gateway.KeyState, admitted bool, refusal *decision, full limits.Status, err error) {
	for attempt := 0; attempt < 2; attempt++ {
		auth, admitted, err = h.admitOnShard(ctx, req, sharder, i)
		if err != nil || admitted {
			return auth, admitted, nil, limits.Status{}, err
		}
		if d, explained := h.keyRefusal(req, auth); explained {
			return auth, false, &d, limits.Status{}, nil
		}
		if w, ok := fullShareWindow(auth, req.now); ok {
			return auth, false, nil, w, nil
		}
	}
	return auth, false, nil, limits.Status{}, gateway.Unavailable(fmt.Errorf("shard %d of key %s refused a request twice for no visible reason", i, req.kid))
}

// fullShareWindow is the window whose share is used up on a shard, as the
// key's window: the key's whole limit, all of it used.
func fullShareWindow(shard gateway.KeyState, now time.Time) (limits.Status, bool) {
	shareOf := [...]int64{shard.Limits.RequestsPerMinute, shard.Limits.RequestsPerDay, shard.Limits.RequestsPerMonth}
	keyLimit := [...]int64{shard.KeyLimits.RequestsPerMinute, shard.KeyLimits.RequestsPerDay, shard.KeyLimits.RequestsPerMonth}
	var worst limits.Status
	found := false
	for _, w := range limits.Windows {
		if shareOf[w] == 0 || (shareOf[w] > 0 && shard.Used[w] < shareOf[w]) {
			continue
		}
		s := limits.Status{Window: w, Scope: "key", Limit: keyLimit[w], Used: keyLimit[w], Reset: w.End(now)}
		if !found || s.Reset.After(worst.Reset) {
			worst, found = s, true
		}
	}
	return worst, found
}

// shardOrder is the order in which a request tries a hot key's n shards:
// from start on, but those throttled a moment ago last, so that a container
// does not keep returning to its own shard while DynamoDB throttles it.
// When start itself is throttled, the others are tried from a random one,
// so that the containers of a busy shard spread out instead of all moving
// to its neighbour.
func (h *Handler) shardOrder(kid string, start, n int, now time.Time) []int {
	order := make([]int, 0, n)
	var busy []int
	h.mu.Lock()
	throttled := func(i int) bool {
		until, ok := h.throttled[shardKey(kid, i)]
		return ok && now.Before(until)
	}
	if throttled(start) {
		start = rand.IntN(n)
	}
	for j := range n {
		if i := (start + j) % n; throttled(i) {
			busy = append(busy, i)
		} else {
			order = append(order, i)
		}
	}
	h.mu.Unlock()
	return append(order, busy...)
}

// rememberShardThrottled records that shard i of kid was throttled, for
// RefusalRecheck.
func (h *Handler) rememberShardThrottled(kid string, i int, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.throttled) >= maxCachedEntries {
		clear(h.throttled)
	}
	h.throttled[shardKey(kid, i)] = now.Add(RefusalRecheck)
}

// shardKey is the memory's key for shard i of kid.
func shardKey(kid string, i int) string { return kid + "#" + strconv.Itoa(i) }

// rememberShardFull records that shard i of kid has used its share of w.
func (h *Handler) rememberShardFull(kid string, i int, w limits.Status, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.full) >= maxCachedEntries {
		clear(h.full)
	}
	h.full[shardKey(kid, i)] = fullWindow{window: w, recheck: now.Add(RefusalRecheck)}
}

// shardFull reports whether shard i of kid was seen full a moment ago.
func (h *Handler) shardFull(kid string, i int, now time.Time) (limits.Status, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	fw, ok := h.full[shardKey(kid, i)]
	if ok && (!now.Before(fw.recheck) || !now.Before(fw.window.Reset)) {
		delete(h.full, shardKey(kid, i))
		return limits.Status{}, false
	}
	return fw.window, ok
}

// shardOnThrottle shards a key whose own item was throttled, and reports
// how many shards it has now (0: it could not be sharded, for its limits
// are too low to share, or the store cannot shard).
func (h *Handler) shardOnThrottle(ctx context.Context, req *request) int {
	sharder, ok := h.store.(gateway.KeySharder)
	if !ok {
		return 0
	}
	// Every request of a hot key is throttled at once: one of them per
	// container shards it, and the others wait for that and share its
	// answer, rather than pile nine writes each onto a busy database.
	v, err, _ := h.sharding.Do(req.kid, func() (any, error) {
		req.calls.Add(1)
		return sharder.ShardKey(ctx, req.kid, DefaultShards, req.now)
	})
	if err != nil {
		h.log.Warn("shard hot key", "request_id", req.id, "kid", req.kid, "error", err.Error())
		return 0
	}
	auth := v.(gateway.KeyState)
	h.rememberKey(auth)
	if auth.Shards > 0 {
		h.log.Info("hot key sharded", "kid", req.kid, "workspace", auth.WorkspaceID, "shards", auth.Shards)
	}
	return auth.Shards
}

// knownShards is how many shards a warm container knows kid to have.
func (h *Handler) knownShards(kid string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.keys[kid].shards
}
