package authorizer

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/aistats/edge/pkg/adapter/emf"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/keyformat"
	"github.com/aistats/edge/pkg/domain/limits"
	"github.com/aistats/edge/pkg/handler/authcontext"
)

// MaxCacheTTL bounds how long a warm container trusts a cached workspace
// plan (DESIGN.md §1).
const MaxCacheTTL = 30 * time.Second

// Config configures a Handler.
type Config struct {
	Store gateway.Admitter
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// CacheTTL is how long a workspace's plan and status are reused before
	// the next request re-reads them; default and maximum MaxCacheTTL.
	CacheTTL time.Duration
	// StoreTimeout bounds the store calls of one request, so that an
	// unreachable or throttled DynamoDB gives a prompt 503 instead of a hang
	// until the Lambda timeout. Default 2 s.
	StoreTimeout time.Duration
	Logger       *slog.Logger
	// Metrics receives one EMF line per decision; nil emits none.
	Metrics *emf.Emitter
}

// Handler is the authorizer. It is safe for concurrent use.
type Handler struct {
	store        gateway.Admitter
	now          func() time.Time
	ttl          time.Duration
	storeTimeout time.Duration
	log          *slog.Logger
	metrics      *emf.Emitter

	mu         sync.Mutex
	keys       map[string]cachedKey
	workspaces map[string]cachedWorkspace
	// resources caches the Allow policy's resources per API stage and key
	// kind: they never change in a container's life.
	resources map[resourcesKey][]string
}

// resourcesKey is a struct, not a joined string, so a lookup allocates nothing.
type resourcesKey struct {
	stage string
	kind  gateway.KeyKind
}

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

// New returns a Handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Store == nil {
		return nil, errors.New("authorizer: no store")
	}
	if cfg.CacheTTL < 0 || cfg.CacheTTL > MaxCacheTTL {
		return nil, fmt.Errorf("authorizer: cache TTL %s is outside 0..%s", cfg.CacheTTL, MaxCacheTTL)
	}
	h := &Handler{
		store: cfg.Store, now: cfg.Now, ttl: cfg.CacheTTL, storeTimeout: cfg.StoreTimeout, log: cfg.Logger, metrics: cfg.Metrics,
		keys: map[string]cachedKey{}, workspaces: map[string]cachedWorkspace{}, resources: map[resourcesKey][]string{},
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.ttl == 0 {
		h.ttl = MaxCacheTTL
	}
	if h.storeTimeout == 0 {
		h.storeTimeout = 2 * time.Second
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	return h, nil
}

// Refusal messages. They are rendered into JSON by a Gateway Response
// template without escaping, so none may contain a quote or a backslash.
var refusalMessages = map[gateway.Code]string{
	gateway.CodeMissingAuthorization: "Send your API key in the Authorization header: Bearer aistats_v1_sk_...",
	gateway.CodeInvalidKeyFormat:     "The API key is malformed. Check that it was copied whole.",
	gateway.CodeInvalidKey:           "The API key is not valid.",
	gateway.CodeKeyExpired:           "The API key has expired.",
	gateway.CodeKeyDisabled:          "The API key is disabled.",
	gateway.CodeKeyRevoked:           "The API key was revoked.",
	gateway.CodeWorkspaceDisabled:    "The workspace of this API key is disabled.",
}

func wrongKindMessage(kind gateway.KeyKind) string {
	if kind == gateway.KindInference {
		return "This route needs a management key (aistats_v1_mk_...), not an inference key."
	}
	return "This route needs an inference key (aistats_v1_sk_...), not a management key."
}

// decision is what the handler concluded, for the response and the log.
type decision struct {
	outcome   string // allow, deny, rate_limited
	code      gateway.Code
	message   string
	kid       string
	workspace string
	context   authcontext.Context
}

// request carries one invocation's facts through the handler.
type request struct {
	now   time.Time
	arn   methodARN
	token keyformat.Token
	hash  []byte
	calls atomic.Int32
}

// Handle authorizes one request.
func (h *Handler) Handle(ctx context.Context, ev events.APIGatewayCustomAuthorizerRequestTypeRequest) (Response, error) {
	start := h.now()
	req := &request{now: start}
	d, err := h.decide(ctx, ev, req)
	requestID := ev.RequestContext.RequestID
	if lc, ok := lambdacontext.FromContext(ctx); ok && requestID == "" {
		requestID = lc.AwsRequestID
	}
	latency := float64(h.now().Sub(start).Microseconds()) / 1000
	if err != nil {
		h.log.LogAttrs(ctx, slog.LevelError, "authorize", slog.String("request_id", requestID), slog.String("kid", d.kid),
			slog.String("workspace", d.workspace), slog.Int64("store_calls", int64(req.calls.Load())), slog.Float64("latency_ms", latency),
			slog.String("outcome", "error"), slog.String("reason", string(gateway.ErrorCode(err))), slog.String("error", err.Error()))
		h.metrics.Emit(d.workspace, d.kid, emf.Metric{Name: "AuthorizerErrors", Unit: "Count", Value: 1})
		// API Gateway answers any error with AUTHORIZER_FAILURE (503).
		return Response{}, errors.New("authorizer failed; see its log line for this request")
	}
	// LogAttrs, not Info(...any): typed attributes are not boxed, which
	// matters on the path every request takes.
	h.log.LogAttrs(ctx, slog.LevelInfo, "authorize", slog.String("request_id", requestID), slog.String("kid", d.kid),
		slog.String("workspace", d.workspace), slog.Int64("store_calls", int64(req.calls.Load())), slog.Float64("latency_ms", latency),
		slog.String("outcome", d.outcome), slog.String("reason", string(d.code)))
	if h.metrics != nil {
		h.metrics.Emit(d.workspace, d.kid, emf.Metric{Name: outcomeMetric[d.outcome], Unit: "Count", Value: 1})
	}

	return h.response(d, req, ev.MethodArn), nil
}

// Response is API Gateway's authorizer response, in the JSON shape of
// events.APIGatewayCustomAuthorizerResponse but with the context a struct:
// a map would cost an allocation per entry on every request.
type Response struct {
	PrincipalID    string                                  `json:"principalId"`
	PolicyDocument events.APIGatewayCustomAuthorizerPolicy `json:"policyDocument"`
	Context        authcontext.Wire                        `json:"context,omitzero"`
}

// response renders a decision as API Gateway's authorizer response: a Deny
// of this method carrying the reason, or an Allow of every route of the
// key's kind carrying the context.
func (h *Handler) response(d decision, req *request, methodARN string) Response {
	if d.outcome == "deny" {
		principal := d.kid
		if principal == "" {
			principal = "anonymous"
		}
		return Response{
			PrincipalID: principal,
			PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
				Version: "2012-10-17",
				Statement: []events.IAMPolicyStatement{{
					Action: invokeAction, Effect: "Deny", Resource: []string{methodARN},
				}},
			},
			Context: authcontext.Refusal(d.code, d.message),
		}
	}
	return Response{
		PrincipalID: d.kid,
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
			Version: "2012-10-17",
			Statement: []events.IAMPolicyStatement{{
				Action: invokeAction, Effect: "Allow", Resource: h.allowedResources(req.arn, req.token.Kind),
			}},
		},
		Context: d.context.Wire(),
	}
}

// outcomeMetric names the EMF metric counted for each outcome.
var outcomeMetric = map[string]string{"allow": "Allowed", "deny": "Denied", "rate_limited": "RateLimited"}

// invokeAction is the one action a policy names; shared, never modified.
var invokeAction = []string{"execute-api:Invoke"}

// allowedResources returns the cached resources of an Allow for kind.
func (h *Handler) allowedResources(arn methodARN, kind gateway.KeyKind) []string {
	cacheKey := resourcesKey{stage: arn.base, kind: kind}
	h.mu.Lock()
	defer h.mu.Unlock()
	r, ok := h.resources[cacheKey]
	if !ok {
		if len(h.resources) >= 64 {
			clear(h.resources)
		}
		r = arn.resources(kind)
		h.resources[cacheKey] = r
	}
	return r
}

func deny(code gateway.Code, message string) decision {
	if message == "" {
		message = refusalMessages[code]
	}
	return decision{outcome: "deny", code: code, message: message}
}

// credential is what the Authorization header held.
type credential int

const (
	credentialMissing   credential = iota // no header, or an empty one
	credentialMalformed                   // not "Bearer <key>"
	credentialBearer
)

// bearerToken finds the Authorization header in any letter case, in the
// single- or multi-value headers, and returns the key it carries.
func bearerToken(ev events.APIGatewayCustomAuthorizerRequestTypeRequest) (string, credential) {
	value, found := "", false
	for name, v := range ev.Headers {
		if strings.EqualFold(name, "Authorization") {
			value, found = v, true
		}
	}
	if !found {
		for name, vs := range ev.MultiValueHeaders {
			if strings.EqualFold(name, "Authorization") && len(vs) > 0 {
				value, found = vs[len(vs)-1], true
			}
		}
	}
	value = strings.TrimSpace(value)
	if value == "" {
		return "", credentialMissing
	}
	scheme, rest, _ := strings.Cut(value, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", credentialMalformed // a bare key or another scheme
	}
	if rest = strings.TrimSpace(rest); rest == "" {
		return "", credentialMissing
	}
	return rest, credentialBearer
}

func (h *Handler) decide(ctx context.Context, ev events.APIGatewayCustomAuthorizerRequestTypeRequest, req *request) (decision, error) {
	arn, err := parseMethodARN(ev.MethodArn)
	if err != nil {
		return decision{}, gateway.Internal(err)
	}
	req.arn = arn
	text, cred := bearerToken(ev)
	if cred == credentialMissing {
		return deny(gateway.CodeMissingAuthorization, ""), nil
	}
	tok, err := keyformat.Parse(text)
	if cred == credentialMalformed || err != nil {
		return deny(gateway.CodeInvalidKeyFormat, ""), nil
	}
	req.token = tok
	if !allows(tok.Kind, arn.method, arn.path) {
		d := deny(gateway.CodeWrongKeyKind, wrongKindMessage(tok.Kind))
		d.kid = tok.KID
		return d, nil
	}
	req.hash = keyformat.Hash(tok.Secret())

	h.mu.Lock()
	cached, known := h.keys[tok.KID]
	var ws cachedWorkspace
	wsFresh := false
	if known {
		ws, wsFresh = h.workspaces[cached.workspaceID]
		wsFresh = wsFresh && req.now.Sub(ws.fetched) < h.ttl
	}
	h.mu.Unlock()
	// A kid's secret never changes, so a cached digest refuses a wrong
	// secret without any call.
	if known && subtle.ConstantTimeCompare(req.hash, cached.secretHash) != 1 {
		return decision{outcome: "deny", code: gateway.CodeInvalidKey, message: refusalMessages[gateway.CodeInvalidKey], kid: tok.KID}, nil
	}

	ctx, cancel := context.WithTimeout(ctx, h.storeTimeout)
	defer cancel()
	var stale []string
	if known {
		stale = cached.stale
	}
	if known && wsFresh && ws.auth.Plan.RequestsPerMinute > 0 {
		return h.admitBoth(ctx, req, stale, ws.auth)
	}
	d, keyAuth, err := h.admitKey(ctx, req, stale)
	if err != nil || d.outcome == "deny" || d.context.RateLimited {
		return d, err
	}
	wsAuth := ws.auth
	if !wsFresh {
		// Cold or stale: one more call learns the plan and re-checks the
		// workspace's status; it also counts toward its limit, if any.
		var admitted bool
		wsAuth, admitted, err = h.admitWorkspace(ctx, req, keyAuth.WorkspaceID)
		if err != nil {
			h.release(req, keyAuth.KID, "")
			return decision{}, err
		}
		if !admitted {
			h.release(req, keyAuth.KID, "")
			return h.workspaceRefusal(ctx, req, keyAuth, wsAuth)
		}
	}
	return h.allow(req, keyAuth, wsAuth), nil
}

// admitBoth counts the request against the key and its workspace in
// parallel: two calls, one round trip.
func (h *Handler) admitBoth(ctx context.Context, req *request, stale []string, ws gateway.WorkspaceAuth) (decision, error) {
	var (
		wg     sync.WaitGroup
		wsAuth gateway.WorkspaceAuth
		wsOK   bool
		wsErr  error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		wsAuth, wsOK, wsErr = h.admitWorkspace(ctx, req, ws.ID)
	}()
	d, keyAuth, keyErr := h.admitKey(ctx, req, stale)
	wg.Wait()
	keyCounted := keyErr == nil && d.outcome == "allow" && !d.context.RateLimited
	wsCounted := wsErr == nil && wsOK
	switch {
	case keyErr != nil || wsErr != nil:
		h.releaseCounted(req, keyCounted, wsCounted, keyAuth.KID, ws.ID)
		return decision{}, errors.Join(keyErr, wsErr)
	case !keyCounted:
		h.releaseCounted(req, false, wsCounted, "", ws.ID)
		return d, nil
	case !wsCounted:
		h.release(req, keyAuth.KID, "")
		return h.workspaceRefusal(ctx, req, keyAuth, wsAuth)
	}
	return h.allow(req, keyAuth, wsAuth), nil
}

func (h *Handler) releaseCounted(req *request, key, ws bool, kid, wsID string) {
	if !key {
		kid = ""
	}
	if !ws {
		wsID = ""
	}
	h.release(req, kid, wsID)
}

// release undoes counts of a request that was refused after all. It runs
// with its own short deadline: the request's may be spent.
func (h *Handler) release(req *request, kid, wsID string) {
	ctx, cancel := context.WithTimeout(context.Background(), h.storeTimeout)
	defer cancel()
	if kid != "" {
		req.calls.Add(1)
		if err := h.store.ReleaseKey(ctx, kid, req.now); err != nil {
			h.log.Warn("release key count", "kid", kid, "error", err.Error())
		}
	}
	if wsID != "" {
		req.calls.Add(1)
		if err := h.store.ReleaseWorkspace(ctx, wsID, req.now); err != nil {
			h.log.Warn("release workspace count", "workspace", wsID, "error", err.Error())
		}
	}
}

// admitKey runs the key's conditional write. When it is refused, it finds out
// why; if nothing explains the refusal (a window rolled over between the
// write and the read), it tries once more.
func (h *Handler) admitKey(ctx context.Context, req *request, stale []string) (decision, gateway.KeyAuth, error) {
	tok := req.token
	for attempt := 0; attempt < 2; attempt++ {
		req.calls.Add(1)
		auth, admitted, err := h.store.AdmitKey(ctx, gateway.Admission{
			KID: tok.KID, Kind: tok.Kind, SecretHash: req.hash, Now: req.now, Stale: stale,
		})
		if err != nil {
			return decision{}, gateway.KeyAuth{}, err
		}
		if admitted {
			h.rememberKey(auth)
			return decision{outcome: "allow", kid: auth.KID, workspace: auth.WorkspaceID}, auth, nil
		}
		if auth.KID == "" {
			req.calls.Add(1)
			auth, err = h.store.GetKeyAuth(ctx, tok.KID, req.now)
			if gateway.ErrorCode(err) == gateway.CodeKeyNotFound {
				return decision{outcome: "deny", code: gateway.CodeInvalidKey, message: refusalMessages[gateway.CodeInvalidKey], kid: tok.KID}, gateway.KeyAuth{}, nil
			}
			if err != nil {
				return decision{}, gateway.KeyAuth{}, err
			}
		}
		if d, explained := h.keyRefusal(req, auth); explained {
			return d, auth, nil
		}
		stale = auth.Stale
	}
	return decision{}, gateway.KeyAuth{}, gateway.Unavailable(fmt.Errorf("admit key %s: refused twice for no visible reason", tok.KID))
}

// keyRefusal explains a refused write from the key's state. The secret is
// checked first, so nothing about a key's state is told to a caller who
// does not hold it.
func (h *Handler) keyRefusal(req *request, auth gateway.KeyAuth) (decision, bool) {
	d := decision{outcome: "deny", kid: req.token.KID}
	// The stored digest is the truth whoever asks, so remembering it lets
	// the next wrong secret for this kid be refused without a call.
	h.rememberKey(auth)
	if auth.Kind != req.token.Kind || subtle.ConstantTimeCompare(req.hash, auth.SecretHash) != 1 {
		d.code = gateway.CodeInvalidKey
	} else {
		d.workspace = auth.WorkspaceID
		switch {
		case auth.Status == gateway.KeyRevoked:
			d.code = gateway.CodeKeyRevoked
		case auth.Status == gateway.KeyDisabled:
			d.code = gateway.CodeKeyDisabled
		case auth.Status != gateway.KeyActive:
			d.code = gateway.CodeInvalidKey
		case auth.WorkspaceDisabled:
			d.code = gateway.CodeWorkspaceDisabled
		case auth.ExpiresAt != nil && !req.now.Before(*auth.ExpiresAt):
			d.code = gateway.CodeKeyExpired
		}
	}
	if d.code != "" {
		d.message = refusalMessages[d.code]
		return d, true
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

func (h *Handler) rememberKey(auth gateway.KeyAuth) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.keys) >= maxCachedEntries {
		clear(h.keys)
	}
	h.keys[auth.KID] = cachedKey{workspaceID: auth.WorkspaceID, secretHash: auth.SecretHash, stale: auth.Stale}
}

func (h *Handler) admitWorkspace(ctx context.Context, req *request, id string) (gateway.WorkspaceAuth, bool, error) {
	h.mu.Lock()
	stale := h.workspaces[id].auth.Stale
	h.mu.Unlock()
	req.calls.Add(1)
	auth, admitted, err := h.store.AdmitWorkspace(ctx, gateway.WorkspaceAdmission{WorkspaceID: id, Now: req.now, Stale: stale})
	if err != nil {
		return gateway.WorkspaceAuth{}, false, err
	}
	if !admitted && auth.ID == "" {
		req.calls.Add(1)
		if auth, err = h.store.GetWorkspaceAuth(ctx, id, req.now); err != nil {
			return gateway.WorkspaceAuth{}, false, err
		}
	}
	h.mu.Lock()
	if len(h.workspaces) >= maxCachedEntries {
		clear(h.workspaces)
	}
	h.workspaces[id] = cachedWorkspace{auth: auth, fetched: req.now}
	h.mu.Unlock()
	return auth, admitted, nil
}

// workspaceRefusal explains why the workspace refused a request the key
// admitted.
func (h *Handler) workspaceRefusal(ctx context.Context, req *request, key gateway.KeyAuth, ws gateway.WorkspaceAuth) (decision, error) {
	if ws.Status != gateway.WorkspaceActive {
		d := deny(gateway.CodeWorkspaceDisabled, "")
		d.kid, d.workspace = key.KID, key.WorkspaceID
		return d, nil
	}
	s := limits.Status{Window: limits.Minute, Scope: "workspace", Limit: ws.Plan.RequestsPerMinute, Used: ws.UsedMinute, Reset: limits.Minute.End(req.now)}
	if ws.Plan.RequestsPerMinute == 0 || !s.Exhausted() {
		return decision{}, gateway.Unavailable(fmt.Errorf("workspace %s refused a request for no visible reason", ws.ID))
	}
	d := h.rateLimited(req, key, []limits.Status{s})
	d.context.PlanModels, d.context.PlanProviders = ws.Plan.Models, ws.Plan.Providers
	return d, nil
}

// keyStatuses appends the standing of each of the key's limits to out (a
// caller's buffer, so the hot path does not allocate a slice).
func keyStatuses(out []limits.Status, auth gateway.KeyAuth, now time.Time) []limits.Status {
	limitOf := [...]int64{auth.Limits.RequestsPerMinute, auth.Limits.RequestsPerDay, auth.Limits.RequestsPerMonth}
	for _, w := range limits.Windows {
		if limitOf[w] > 0 {
			out = append(out, limits.Status{Window: w, Scope: "key", Limit: limitOf[w], Used: auth.Used[w], Reset: w.End(now)})
		}
	}
	return out
}

// rateLimited is an Allow marked rate limited: the integration answers 429
// with Retry-After set to when the last of the exhausted windows resets.
func (h *Handler) rateLimited(req *request, auth gateway.KeyAuth, exhausted []limits.Status) decision {
	worst := exhausted[0]
	for _, s := range exhausted[1:] {
		if s.Reset.After(worst.Reset) {
			worst = s
		}
	}
	c := baseContext(auth)
	c.RateLimited = true
	c.RateLimit = &authcontext.RateLimit{Name: worst.Window.Name(), Limit: worst.Limit, Remaining: 0, ResetSeconds: worst.ResetSeconds(req.now)}
	return decision{outcome: "rate_limited", code: gateway.CodeRateLimitExceeded, kid: auth.KID, workspace: auth.WorkspaceID, context: c}
}

func baseContext(auth gateway.KeyAuth) authcontext.Context {
	c := authcontext.Context{
		KID: auth.KID, WorkspaceID: auth.WorkspaceID, Kind: auth.Kind,
		Models: auth.Models, Providers: auth.Providers,
	}
	if auth.Kind == gateway.KindManagement {
		c.Scopes = auth.Scopes
	}
	return c
}

func (h *Handler) allow(req *request, key gateway.KeyAuth, ws gateway.WorkspaceAuth) decision {
	c := baseContext(key)
	c.PlanModels, c.PlanProviders = ws.Plan.Models, ws.Plan.Providers
	var buf [len(limits.Windows) + 1]limits.Status // the key's windows and the workspace's
	statuses := keyStatuses(buf[:0], key, req.now)
	if ws.Plan.RequestsPerMinute > 0 {
		statuses = append(statuses, limits.Status{Window: limits.Minute, Scope: "workspace", Limit: ws.Plan.RequestsPerMinute, Used: ws.UsedMinute, Reset: limits.Minute.End(req.now)})
	}
	if s, ok := limits.Tightest(statuses); ok {
		c.RateLimit = &authcontext.RateLimit{Name: s.Window.Name(), Limit: s.Limit, Remaining: s.Remaining(), ResetSeconds: s.ResetSeconds(req.now)}
	}
	return decision{outcome: "allow", kid: key.KID, workspace: key.WorkspaceID, context: c}
}
