package authorizer

import (
	"time"

	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/limits"
)

// What a warm container remembers between requests, and why each thing is
// safe to remember: a kid's secret digest and workspace never change, and a
// workspace's plan and status are trusted for at most the cache TTL.

// cachedKeyState is what a warm container remembers of a key: its digest, to
// refuse a wrong secret without a call, and the stale counters it saw.
type cachedKeyState struct {
	workspaceID string
	secretHash  []byte
	stale       []string
	// shards is how many shards the key is spread over; a key is never
	// unsharded, so this is safe to remember.
	shards int
}

type cachedWorkspace struct {
	auth    gateway.WorkspaceState
	fetched time.Time
}

// maxCachedEntries bounds the caches of a long-lived container.
const maxCachedEntries = 10000

// fullWindow remembers that a key's request was refused because a window
// was full, so that a client retrying in a loop is refused from memory
// instead of paying a DynamoDB call per refusal. A full window empties only
// when it resets or when its limit is raised; the memory ends at whichever
// comes first of the reset and RefusalRecheck, which bounds how late a
// raised limit (or a revocation, refused as 429 meanwhile) is seen.
type fullWindow struct {
	refusal decision
	window  limits.Status
	recheck time.Time
}

// RefusalRecheck is how long a warm container answers a full window from
// memory before asking DynamoDB again: the bound on how late it sees a
// raised limit, or answers a revoked key 401 instead of 429.
const RefusalRecheck = time.Second

// remembered returns, under one lock, what is remembered of kid and, when
// the key is known, of its workspace if that was read less than the cache
// TTL before now: all that the warm path needs before its one call.
func (h *Handler) remembered(kid string, now time.Time) (key cachedKeyState, known bool, ws gateway.WorkspaceState, wsFresh bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	key, known = h.keys[kid]
	if known {
		ws, wsFresh = h.freshWorkspaceLocked(key.workspaceID, now)
	}
	return key, known, ws, wsFresh
}

// freshWorkspace returns the remembered workspace if it was read less than
// the cache TTL before now.
func (h *Handler) freshWorkspace(id string, now time.Time) (gateway.WorkspaceState, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.freshWorkspaceLocked(id, now)
}

// freshWorkspaceLocked is freshWorkspace with mu held.
func (h *Handler) freshWorkspaceLocked(id string, now time.Time) (gateway.WorkspaceState, bool) {
	ws, ok := h.workspaces[id]
	if !ok || now.Sub(ws.fetched) >= h.ttl {
		return gateway.WorkspaceState{}, false
	}
	return ws.auth, true
}

// workspaceShards is how many shards a workspace was last seen to have.
func (h *Handler) workspaceShards(id string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.workspaces[id].auth.Shards
}

// workspaceStale returns the stale counters last seen on a workspace's item.
func (h *Handler) workspaceStale(id string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.workspaces[id].auth.Stale
}

func (h *Handler) rememberKey(auth gateway.KeyState) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.keys) >= maxCachedEntries {
		clear(h.keys)
	}
	c := cachedKeyState{workspaceID: auth.WorkspaceID, secretHash: auth.SecretHash, shards: auth.Shards}
	if auth.Shard == 0 { // a shard's stale counters are its own, not the key's item's
		c.stale = auth.Stale
	}
	h.keys[auth.KID] = c
}

// rememberFull records a rate-limited refusal of kid by the full window w.
func (h *Handler) rememberFull(kid string, d decision, w limits.Status, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.full) >= maxCachedEntries {
		clear(h.full)
	}
	h.full[kid] = fullWindow{refusal: d, window: w, recheck: now.Add(RefusalRecheck)}
}

// refusedFromMemory answers a request for a key whose window was seen full
// a moment ago, with the headers computed for now: the same limit, nothing
// remaining, the seconds left until the window resets.
func (h *Handler) refusedFromMemory(req *request) (decision, bool) {
	h.mu.Lock()
	fw, ok := h.full[req.kid]
	if ok && (!req.now.Before(fw.recheck) || !req.now.Before(fw.window.Reset)) {
		delete(h.full, req.kid)
		ok = false
	}
	h.mu.Unlock()
	if !ok {
		return decision{}, false
	}
	d := fw.refusal
	rl := *d.context.RateLimit
	rl.ResetSeconds = fw.window.ResetSeconds(req.now)
	d.context.RateLimit = &rl
	req.workspace = d.context.WorkspaceID
	return d, true
}

func (h *Handler) rememberWorkspace(auth gateway.WorkspaceState, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.workspaces) >= maxCachedEntries {
		clear(h.workspaces)
	}
	h.workspaces[auth.ID] = cachedWorkspace{auth: auth, fetched: now}
}

// staleOnShard returns what was last seen stale on a shard (its memory key
// is shardKey's).
func (h *Handler) staleOnShard(shard string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.shardStale[shard]
}

// rememberStaleOnShard records what a shard's write returned as stale, for
// the next write to that shard to remove: without it, the tickets of every
// container that ever wrote a hot key's shard would pile up on it.
func (h *Handler) rememberStaleOnShard(shard string, stale []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(stale) == 0 {
		delete(h.shardStale, shard)
		return
	}
	if len(h.shardStale) >= maxCachedEntries {
		clear(h.shardStale)
	}
	h.shardStale[shard] = stale
}
