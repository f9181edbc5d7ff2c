package authorizer

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/keyformat"
	"github.com/aistats/edge/pkg/domain/limits"
	"github.com/aistats/edge/pkg/domain/usage"
	"github.com/aistats/edge/pkg/handler/authcontext"
)

// decide reaches the decision for one request, in the order that costs
// least: what the header and the warm cache settle needs no call; then the
// key's one conditional write; then, only for a request its key admitted,
// the workspace's.
func (h *Handler) decide(ctx context.Context, ev events.APIGatewayCustomAuthorizerRequestTypeRequest, req *request) (decision, error) {
	arn, err := parseMethodARN(ev.MethodArn)
	if err != nil {
		return decision{}, gateway.Internal(err)
	}
	req.arn = arn
	if d, done := h.checkCredential(ev, req); done {
		return d, nil
	}
	cached, known, ws, wsFresh := h.remembered(req.kid, req.now)
	// A kid's secret never changes, so a cached digest refuses a wrong
	// secret without any call.
	if known && subtle.ConstantTimeCompare(req.hash, cached.secretHash) != 1 {
		req.refused(cached.workspaceID, usage.RefusedWrongSecret)
		return denied(gateway.CodeInvalidKey, ""), nil
	}
	// The workspace kill switch, checked on every request from the cached
	// workspace (at most the cache TTL old), so it holds even for a key
	// whose state item the disable's fan-out missed. The secret was verified
	// above, so the reason may be told.
	if known {
		if wsFresh && ws.Status != gateway.WorkspaceActive {
			req.workspace = ws.ID
			req.refused(ws.ID, usage.RefusedWorkspaceDisabled)
			return denied(gateway.CodeWorkspaceDisabled, ""), nil
		}
		// A window seen full a moment ago is still full: refuse without a
		// call (cache.go says for how long, and why that is safe).
		if d, ok := h.refusedFromMemory(req); ok {
			return d, nil
		}
	}

	// The writer's kept withdrawals on this key come first, before the
	// request's store deadline begins (tickets.go).
	if err := h.settleKey(req); err != nil {
		return decision{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, h.storeTimeout)
	defer cancel()
	var stale []string
	if known {
		stale = cached.stale
	}
	d, keyState, err := h.admitKey(ctx, req, stale)
	if err != nil || d.outcome != outcomeAllow {
		return d, err
	}
	if !known { // a key's workspace never changes: a known key's was looked up above
		ws, wsFresh = h.freshWorkspace(keyState.WorkspaceID, req.now)
	}
	switch {
	case wsFresh && ws.Status != gateway.WorkspaceActive:
		h.release(req)
		req.refused(keyState.WorkspaceID, usage.RefusedWorkspaceDisabled)
		return denied(gateway.CodeWorkspaceDisabled, ""), nil
	case wsFresh && ws.Plan.RequestsPerMinute == 0:
		return h.allow(req, keyState, ws), nil
	}
	// The workspace is counted only once its key has admitted the request,
	// never in parallel with it: a request its key refuses must neither take
	// nor, for a moment, block the capacity its workspace shares with every
	// other key. It costs a second round trip, only for workspaces with a
	// limit of their own or when the cached plan is older than the TTL.
	return h.admitToWorkspace(ctx, req, keyState)
}

// checkCredential settles what the headers alone can: a missing or
// malformed key, a bad checksum, a key of the wrong kind for the route.
// Otherwise it fills in the token, kid and secret digest and returns false.
func (h *Handler) checkCredential(ev events.APIGatewayCustomAuthorizerRequestTypeRequest, req *request) (decision, bool) {
	text, cred := presentedKey(ev)
	switch cred {
	case credentialMissing:
		return denied(gateway.CodeMissingAuthorization, ""), true
	case credentialConflict:
		return denied(gateway.CodeInvalidKeyFormat, conflictMessage), true
	}
	tok, err := keyformat.Parse(text)
	if cred == credentialMalformed || err != nil {
		return denied(gateway.CodeInvalidKeyFormat, ""), true
	}
	req.token, req.kid = tok, tok.KID
	if !allows(tok.Kind, req.arn.method, req.arn.path) {
		return denied(gateway.CodeWrongKeyKind, wrongKindMessage(tok.Kind)), true
	}
	req.hash = keyformat.Hash(tok.Secret())
	req.free = spendsNothing(req.arn.method, req.arn.path)
	return decision{}, false
}

// admitToWorkspace counts a request its key admitted against the
// workspace, learning its plan and status in the same call. A refusal that
// the workspace's state does not explain (its minute rolled over between the
// write and the read) is tried once more rather than answered 503.
func (h *Handler) admitToWorkspace(ctx context.Context, req *request, key gateway.KeyState) (decision, error) {
	for attempt := 0; attempt < 2; attempt++ {
		ws, admitted, err := h.admitWorkspace(ctx, req, key.WorkspaceID)
		if err != nil {
			h.release(req)
			return decision{}, err
		}
		if admitted {
			return h.allow(req, key, ws), nil
		}
		if d, explained := h.workspaceRefusal(req, key, ws); explained {
			h.release(req)
			return d, nil
		}
	}
	h.release(req)
	return decision{}, gateway.Unavailable(fmt.Errorf("workspace %s refused a request twice for no visible reason", key.WorkspaceID))
}

// admitKey runs the key's conditional write. When it is refused, it finds out
// why; if nothing explains the refusal (a window rolled over between the
// write and the read), it tries once more.
func (h *Handler) admitKey(ctx context.Context, req *request, stale []string) (decision, gateway.KeyState, error) {
	if n := h.knownShards(req.kid); n > 0 {
		return h.admitSharded(ctx, req, n)
	}
	for attempt := 0; attempt < 2; attempt++ {
		auth, admitted, err := h.countKey(ctx, req, gateway.Admission{
			KID: req.kid, Kind: req.token.Kind, SecretHash: req.hash, Now: req.now, Stale: stale, Free: req.free,
		})
		if gateway.ErrorCode(err) == gateway.CodeKeyNotFound {
			return denied(gateway.CodeInvalidKey, ""), gateway.KeyState{}, nil
		}
		if errors.Is(err, gateway.ErrThrottled) {
			if n := h.shardOnThrottle(ctx, req); n > 0 {
				return h.admitSharded(ctx, req, n)
			}
		}
		if err != nil {
			return decision{}, gateway.KeyState{}, err
		}
		if admitted {
			h.rememberKey(auth)
			req.workspace = auth.WorkspaceID
			return decision{outcome: outcomeAllow}, auth, nil
		}
		if auth.KID == "" {
			req.calls.Add(1)
			auth, err = h.store.GetKeyState(ctx, req.kid, req.now)
			if gateway.ErrorCode(err) == gateway.CodeKeyNotFound {
				return denied(gateway.CodeInvalidKey, ""), gateway.KeyState{}, nil
			}
			if err != nil {
				return decision{}, gateway.KeyState{}, err
			}
		}
		if d, explained := h.keyRefusal(req, auth); explained {
			return d, auth, nil
		}
		if auth.Shards > 0 { // sharded since this container last saw it
			return h.admitSharded(ctx, req, auth.Shards)
		}
		stale = auth.Stale
	}
	return decision{}, gateway.KeyState{}, gateway.Unavailable(fmt.Errorf("admit key %s: refused twice for no visible reason", req.kid))
}

// keyRefusal explains a refused write from the key's state. The secret is
// checked first, so nothing about a key's state is told to a caller who
// does not hold it.
func (h *Handler) keyRefusal(req *request, auth gateway.KeyState) (decision, bool) {
	// The stored digest is the truth whoever asks, so remembering it lets
	// the next wrong secret for this kid be refused without a call.
	h.rememberKey(auth)
	if subtle.ConstantTimeCompare(req.hash, auth.SecretHash) != 1 {
		req.refused(auth.WorkspaceID, usage.RefusedWrongSecret)
		return denied(gateway.CodeInvalidKey, ""), true
	}
	if auth.Kind != req.token.Kind {
		req.refused(auth.WorkspaceID, usage.RefusedWrongKind)
		return denied(gateway.CodeInvalidKey, ""), true
	}
	req.workspace = auth.WorkspaceID
	switch {
	case auth.Status == gateway.KeyRevoked:
		req.refused(auth.WorkspaceID, usage.RefusedRevoked)
		return denied(gateway.CodeKeyRevoked, ""), true
	case auth.Status == gateway.KeyDisabled:
		req.refused(auth.WorkspaceID, usage.RefusedDisabled)
		return denied(gateway.CodeKeyDisabled, ""), true
	case auth.Status != gateway.KeyActive:
		req.refused(auth.WorkspaceID, usage.RefusedDisabled)
		return denied(gateway.CodeInvalidKey, ""), true
	case auth.WorkspaceDisabled:
		req.refused(auth.WorkspaceID, usage.RefusedWorkspaceDisabled)
		return denied(gateway.CodeWorkspaceDisabled, ""), true
	case auth.ExpiresAt != nil && !req.now.Before(*auth.ExpiresAt):
		req.refused(auth.WorkspaceID, usage.RefusedExpired)
		return denied(gateway.CodeKeyExpired, ""), true
	case !req.free && spentAt(auth, req.now):
		return h.budgetSpent(req, auth), true
	case auth.Shards > 0:
		// A hot key: its own item's counters are frozen, and a shard's
		// are its share; the caller looks at the shards.
		return decision{}, false
	}
	// The key is fine, so a limit refused it.
	var exhausted []limits.Status
	var buf [len(limits.Windows)]limits.Status
	for _, s := range keyStatuses(buf[:0], auth, req.now) {
		if s.Exhausted() {
			exhausted = append(exhausted, s)
		}
	}
	if len(exhausted) == 0 {
		return decision{}, false
	}
	return h.rateLimited(req, auth, exhausted), true
}

// countWorkspace runs one counting write of a workspace. It carries no
// ticket (tickets.go says why), so a write whose answer was lost is left
// to its minute.
func (h *Handler) countWorkspace(ctx context.Context, req *request, a gateway.WorkspaceAdmission) (gateway.WorkspaceState, bool, error) {
	req.calls.Add(1)
	return h.store.AdmitWorkspace(ctx, a)
}

func (h *Handler) admitWorkspace(ctx context.Context, req *request, id string) (gateway.WorkspaceState, bool, error) {
	if n := h.workspaceShards(id); n > 0 {
		return h.admitWorkspaceSharded(ctx, req, id, n)
	}
	auth, admitted, err := h.countWorkspace(ctx, req, gateway.WorkspaceAdmission{WorkspaceID: id, Now: req.now, Stale: h.workspaceStale(id)})
	if errors.Is(err, gateway.ErrThrottled) {
		if n := h.shardWorkspaceOnThrottle(ctx, req, id); n > 0 {
			return h.admitWorkspaceSharded(ctx, req, id, n)
		}
	}
	if err != nil {
		return gateway.WorkspaceState{}, false, err
	}
	if !admitted && auth.ID == "" {
		req.calls.Add(1)
		if auth, err = h.store.GetWorkspaceState(ctx, id, req.now); err != nil {
			return gateway.WorkspaceState{}, false, err
		}
	}
	h.rememberWorkspace(auth, req.now)
	if !admitted && auth.Shards > 0 && auth.Status == gateway.WorkspaceActive { // sharded since last seen
		return h.admitWorkspaceSharded(ctx, req, id, auth.Shards)
	}
	return auth, admitted, nil
}

// workspaceRefusal explains why the workspace refused a request the key
// admitted: it is disabled, or its own per-minute limit is reached.
func (h *Handler) workspaceRefusal(req *request, key gateway.KeyState, ws gateway.WorkspaceState) (decision, bool) {
	if ws.Status != gateway.WorkspaceActive {
		req.refused(key.WorkspaceID, usage.RefusedWorkspaceDisabled)
		return denied(gateway.CodeWorkspaceDisabled, ""), true
	}
	s := limits.Status{Window: limits.Minute, Scope: "workspace", Limit: ws.Plan.RequestsPerMinute, Used: ws.UsedMinute, Reset: limits.Minute.End(req.now)}
	if ws.Plan.RequestsPerMinute == 0 || !s.Exhausted() {
		return decision{}, false
	}
	return h.rateLimited(req, key, []limits.Status{s}), true
}

// keyStatuses appends the standing of each of the key's limits to out (a
// caller's buffer, so the hot path does not allocate a slice).
//
// On a hot key's shard the limit shown is the key's, and what is used is
// estimated from the shard: its share's remainder times the shards, since
// reading every shard would cost a call each. A refusal's headers are
// exact: every shard's share is used.
func keyStatuses(out []limits.Status, auth gateway.KeyState, now time.Time) []limits.Status {
	limitOf := [...]int64{auth.Limits.RequestsPerMinute, auth.Limits.RequestsPerDay, auth.Limits.RequestsPerMonth}
	keyLimit := [...]int64{auth.KeyLimits.RequestsPerMinute, auth.KeyLimits.RequestsPerDay, auth.KeyLimits.RequestsPerMonth}
	for _, w := range limits.Windows {
		switch {
		case auth.Shard > 0 && keyLimit[w] > 0:
			left := max(0, limitOf[w]-auth.Used[w]) * int64(auth.Shards)
			out = append(out, limits.Status{Window: w, Scope: "key", Limit: keyLimit[w], Used: max(0, keyLimit[w]-left), Reset: w.End(now)})
		case auth.Shard == 0 && limitOf[w] > 0:
			out = append(out, limits.Status{Window: w, Scope: "key", Limit: limitOf[w], Used: auth.Used[w], Reset: w.End(now)})
		}
	}
	return out
}

// rateLimited is an Allow marked rate limited: the integration answers 429
// with Retry-After set to when the last of the exhausted windows resets.
func (h *Handler) rateLimited(req *request, auth gateway.KeyState, exhausted []limits.Status) decision {
	worst := exhausted[0]
	for _, s := range exhausted[1:] {
		if s.Reset.After(worst.Reset) {
			worst = s
		}
	}
	c := baseContext(auth)
	c.RateLimited = true
	c.RateLimit = &authcontext.RateLimit{Name: worst.Window.Name(), Limit: worst.Limit, Remaining: 0, ResetSeconds: worst.ResetSeconds(req.now)}
	d := decision{outcome: outcomeRateLimited, code: gateway.CodeRateLimitExceeded, context: c}
	h.rememberFull(req.kid, d, worst, req.now)
	return d
}

func baseContext(auth gateway.KeyState) authcontext.Context {
	c := authcontext.Context{
		KID: auth.KID, WorkspaceID: auth.WorkspaceID, Kind: auth.Kind,
		Models: auth.Models, Providers: auth.Providers, Budget: auth.Limits.Limits,
	}
	if auth.Kind == gateway.KindManagement {
		c.Scopes = auth.Scopes
	}
	return c
}

func (h *Handler) allow(req *request, key gateway.KeyState, ws gateway.WorkspaceState) decision {
	c := baseContext(key)
	c.PlanModels, c.PlanProviders, c.WorkspaceBudget = ws.Plan.Models, ws.Plan.Providers, ws.Plan.Limits
	var buf [len(limits.Windows) + 1]limits.Status // the key's windows and the workspace's
	statuses := keyStatuses(buf[:0], key, req.now)
	if ws.Plan.RequestsPerMinute > 0 {
		statuses = append(statuses, limits.Status{Window: limits.Minute, Scope: "workspace", Limit: ws.Plan.RequestsPerMinute, Used: ws.UsedMinute, Reset: limits.Minute.End(req.now)})
	}
	if s, ok := limits.Tightest(statuses); ok {
		c.RateLimit = &authcontext.RateLimit{Name: s.Window.Name(), Limit: s.Limit, Remaining: s.Remaining(), ResetSeconds: s.ResetSeconds(req.now)}
	}
	return decision{outcome: outcomeAllow, context: c}
}
