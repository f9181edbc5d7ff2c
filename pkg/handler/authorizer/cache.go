package authorizer

import (
	"time"

	"github.com/aistats/edge/pkg/domain/gateway"
)

// What a warm container remembers between requests, and why each thing is
// safe to remember: a kid's secret digest and workspace never change, and a
// workspace's plan and status are trusted for at most the cache TTL.

// cachedKey is what a warm container remembers of a key: its digest, to
// refuse a wrong secret without a call, and the stale counters it saw.
type cachedKey struct {
	workspaceID string
	secretHash  []byte
	stale       []string
}

type cachedWorkspace struct {
	auth    gateway.WorkspaceAuth
	fetched time.Time
}

// maxCachedEntries bounds the caches of a long-lived container.
const maxCachedEntries = 10000

// cachedKey returns what is remembered of kid, if anything.
func (h *Handler) cachedKey(kid string) (cachedKey, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	k, ok := h.keys[kid]
	return k, ok
}

// freshWorkspace returns the remembered workspace if it was read less than
// the cache TTL before now.
func (h *Handler) freshWorkspace(id string, now time.Time) (gateway.WorkspaceAuth, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ws, ok := h.workspaces[id]
	if !ok || now.Sub(ws.fetched) >= h.ttl {
		return gateway.WorkspaceAuth{}, false
	}
	return ws.auth, true
}

// workspaceStale returns the stale counters last seen on a workspace's item.
func (h *Handler) workspaceStale(id string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.workspaces[id].auth.Stale
}

func (h *Handler) rememberKey(auth gateway.KeyAuth) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.keys) >= maxCachedEntries {
		clear(h.keys)
	}
	h.keys[auth.KID] = cachedKey{workspaceID: auth.WorkspaceID, secretHash: auth.SecretHash, stale: auth.Stale}
}

func (h *Handler) rememberWorkspace(auth gateway.WorkspaceAuth, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.workspaces) >= maxCachedEntries {
		clear(h.workspaces)
	}
	h.workspaces[auth.ID] = cachedWorkspace{auth: auth, fetched: now}
}
