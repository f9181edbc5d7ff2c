package management

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aistats/edge/pkg/adapter/emf"
	"github.com/aistats/edge/pkg/adapter/webhook"
	"github.com/aistats/edge/pkg/domain/findings"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/usage"
	"github.com/aistats/edge/pkg/handler/authcontext"
	"github.com/aistats/edge/pkg/handler/dashboard"
	"github.com/aistats/edge/pkg/handler/recording"
)

// LeakReportResource is the resource of the leaked-key report, which API
// Gateway serves without the authorizer.
const LeakReportResource = "/security/report-leaked-key"

// Config configures a Handler.
type Config struct {
	Store Store
	// Usage reads the rollups and records the requests this function
	// answers (see UsageStore).
	Usage  UsageStore
	Now    func() time.Time
	Logger *slog.Logger
	// Rand is the randomness for new keys; nil means crypto/rand.
	Rand io.Reader
	// Metrics counts usage events lost (recording.LostMetric); nil
	// counts nothing.
	Metrics *emf.Emitter

	// Budgets reads a key's standing against its budgets, for its record;
	// nil leaves budgets out of key records.
	Budgets BudgetReader
	// Findings lists and resolves findings (/v1/anomalies…).
	Findings findings.Store
	// Alerts keeps the workspace's webhook and auto_disable setting.
	Alerts AlertStore
	// WebhookRule is which webhook URLs PUT /v1/webhook accepts.
	WebhookRule webhook.Rule
	// Raiser raises the finding of a verified leak report.
	Raiser Raiser
	// Sources limits unsigned leak reports per source address.
	Sources SourceLimiter
	// GitHubKeys verify GitHub secret scanning reports; none refuses them.
	GitHubKeys []*ecdsa.PublicKey
	// LeakAnswerTime is the least time an unsigned leak report takes to
	// answer (0: DefaultLeakAnswerTime).
	LeakAnswerTime time.Duration
}

// Handler serves the management routes.
type Handler struct {
	svc      *Service
	usage    UsageStore
	recorder recording.Recorder
	now      func() time.Time
	log      *slog.Logger

	findings       findings.Store
	alerts         AlertStore
	budgets        BudgetReader
	webhookRule    webhook.Rule
	raiser         Raiser
	sources        SourceLimiter
	githubKeys     []*ecdsa.PublicKey
	leakAnswerTime time.Duration
}

// New returns a Handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Store == nil || cfg.Usage == nil {
		return nil, errors.New("management: store and usage store are required")
	}
	h := &Handler{usage: cfg.Usage, now: cfg.Now, log: cfg.Logger, findings: cfg.Findings, alerts: cfg.Alerts,
		webhookRule: cfg.WebhookRule, raiser: cfg.Raiser, sources: cfg.Sources, githubKeys: cfg.GitHubKeys,
		leakAnswerTime: cfg.LeakAnswerTime, budgets: cfg.Budgets}
	if h.leakAnswerTime <= 0 {
		h.leakAnswerTime = DefaultLeakAnswerTime
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.recorder = recording.Recorder{Store: cfg.Usage, Log: h.log, Metrics: cfg.Metrics}
	h.svc = NewService(cfg.Store, cfg.Rand, h.now)
	return h, nil
}

// KeyView is a key as the API shows it: never its secret or digest.
type KeyView struct {
	KID       string         `json:"kid"`
	Kind      string         `json:"kind"`
	Name      string         `json:"name"`
	Prefix    string         `json:"prefix"`
	Status    string         `json:"status"`
	Models    []string       `json:"models"`
	Providers []string       `json:"providers"`
	Scopes    []string       `json:"scopes,omitempty"`
	Limits    gateway.Limits `json:"limits"`
	// Budgets is the key's spend and tokens against each budget window;
	// only for a key with a token or money limit.
	Budgets    []BudgetView `json:"budgets,omitempty"`
	CreatedAt  time.Time    `json:"created_at"`
	ExpiresAt  *time.Time   `json:"expires_at"`
	LastUsedAt *time.Time   `json:"last_used_at"`
	RotatedTo  string       `json:"rotated_to,omitempty"`
	// Key is the full key text: only in the answer that creates it.
	Key string `json:"key,omitempty"`
}

// NewKeyView renders a key record with its last use. An active key whose
// expiry passed shows status "expired".
func NewKeyView(k gateway.Key, lastUsed *time.Time, now time.Time) KeyView {
	status := string(k.Status)
	if k.Status == gateway.KeyActive && k.ExpiredAt(now) {
		status = "expired"
	}
	v := KeyView{
		KID: k.KID, Kind: string(k.Kind), Name: k.Name, Prefix: k.Prefix, Status: status,
		Models: nonNil(k.Models), Providers: nonNil(k.Providers), Limits: k.Limits,
		CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt, LastUsedAt: lastUsed, RotatedTo: k.RotatedTo,
	}
	if k.Kind == gateway.KindManagement {
		v.Scopes = nonNil(k.Scopes)
	}
	return v
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// result is a handler's answer before rendering.
type result struct {
	status int
	body   any
	// headers are added to the answer's (a replayed rotation says so).
	headers map[string]string
}

// Handle serves one request.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	if resp, ok := dashboard.Serve(req); ok {
		// The dashboard's page and assets: no authorizer, no key, no usage.
		// The page holds no data; it reads the API with the key pasted in it.
		return resp, nil
	}
	if req.HTTPMethod == "POST" && req.Resource == LeakReportResource {
		// The one route with no authorizer: no key, no context, no usage.
		return h.handleLeakReport(ctx, req), nil
	}
	start := h.now()
	requestID := req.RequestContext.RequestID
	c, refused := authcontext.Check(req)
	route := req.HTTPMethod + " " + req.Resource
	if refused != nil {
		h.log.Log(ctx, levelFor(refused.StatusCode), "management", "request_id", requestID, "kid", c.KID,
			"workspace", c.WorkspaceID, "route", route, "status", refused.StatusCode)
		h.record(c, requestID, route, start, refused.StatusCode)
		return *refused, nil
	}
	resp := h.answer(ctx, c, req, start)
	h.record(c, requestID, route, start, resp.StatusCode)
	return resp, nil
}

// answer routes the request and renders its answer, logging it.
func (h *Handler) answer(ctx context.Context, c authcontext.Context, req events.APIGatewayProxyRequest, start time.Time) events.APIGatewayProxyResponse {
	requestID := req.RequestContext.RequestID
	actor := Actor{KID: c.KID, WorkspaceID: c.WorkspaceID, Scopes: c.Scopes}
	res, err := h.route(ctx, c, actor, req)
	headers := c.Headers(requestID)
	attrs := []any{"request_id", requestID, "kid", c.KID, "workspace", c.WorkspaceID, "route", req.HTTPMethod + " " + req.Resource,
		"target_kid", req.PathParameters["kid"], "latency_ms", float64(h.now().Sub(start).Microseconds()) / 1000}
	if err != nil {
		resp := authcontext.ErrorResponse(err, headers, requestID)
		h.log.Log(ctx, levelFor(resp.StatusCode), "management", append(attrs, "status", resp.StatusCode, "code", string(gateway.ErrorCode(err)), "error", err.Error())...)
		return resp
	}
	for k, v := range res.headers {
		headers[k] = v
	}
	if res.body == nil {
		h.log.Info("management", append(attrs, "status", res.status)...)
		return events.APIGatewayProxyResponse{StatusCode: res.status, Headers: headers}
	}
	raw, err := json.Marshal(res.body)
	if err != nil {
		err = gateway.Internal(fmt.Errorf("encode the answer: %w", err))
		resp := authcontext.ErrorResponse(err, headers, requestID)
		h.log.Error("management", append(attrs, "status", resp.StatusCode, "code", string(gateway.ErrorCode(err)), "error", err.Error())...)
		return resp
	}
	h.log.Info("management", append(attrs, "status", res.status)...)
	headers["Content-Type"] = "application/json"
	return events.APIGatewayProxyResponse{StatusCode: res.status, Headers: headers, Body: string(raw)}
}

// levelFor is the level of a request's log line: a 5xx is ours to fix, so
// it is an Error that alarms and log filters find; anything else is Info.
func levelFor(status int) slog.Level {
	if status >= 500 {
		return slog.LevelError
	}
	return slog.LevelInfo
}

// record adds an answered request to the calling key's usage, as the proxy
// does for the inference routes: the authorizer counted it against the
// key's limits (GET /v1/key included), so usage counts it too, and the two
// agree.
func (h *Handler) record(c authcontext.Context, requestID, route string, start time.Time, status int) {
	h.recorder.Record(requestID, usage.Event{Time: start, KID: c.KID, WorkspaceID: c.WorkspaceID, Route: route,
		Status: status, Class: usage.ClassOf(status, false), Latency: h.now().Sub(start)})
}

func (h *Handler) route(ctx context.Context, c authcontext.Context, actor Actor, req events.APIGatewayProxyRequest) (result, error) {
	kid := req.PathParameters["kid"]
	q := req.QueryStringParameters
	switch req.HTTPMethod + " " + req.Resource {
	case "GET /key":
		return h.ownKey(ctx, c)
	case "POST /keys":
		return h.createKey(ctx, actor, gateway.KindInference, ScopeKeysWrite, req)
	case "GET /keys":
		return h.listKeys(ctx, actor, gateway.KindInference, ScopeKeysRead, q)
	case "GET /keys/{kid}":
		if err := Require(actor, ScopeKeysRead); err != nil {
			return result{}, err
		}
		return h.keyAnswer(ctx, actor, gateway.KindInference, kid, 200)
	case "PATCH /keys/{kid}":
		return h.updateKey(ctx, actor, kid, req)
	case "DELETE /keys/{kid}":
		if err := Require(actor, ScopeKeysDelete); err != nil {
			return result{}, err
		}
		return result{status: 204}, h.svc.RevokeKey(ctx, actor, gateway.KindInference, kid)
	case "POST /keys/{kid}/rotate":
		return h.rotateKey(ctx, actor, kid, req)
	case "GET /keys/{kid}/usage":
		return h.keyUsage(ctx, actor, kid, q)
	case "GET /keys/{kid}/requests":
		return h.keyRequests(ctx, actor, kid)
	case "GET /keys/{kid}/analytics":
		return h.analytics(ctx, actor, kid, q)
	case "GET /analytics":
		return h.analytics(ctx, actor, "", q)
	case "GET /audit-events":
		return h.auditEvents(ctx, actor, q)
	case "GET /management-keys":
		return h.listKeys(ctx, actor, gateway.KindManagement, ScopeManagementKeysWrite, q)
	case "POST /management-keys":
		return h.createKey(ctx, actor, gateway.KindManagement, ScopeManagementKeysWrite, req)
	case "GET /anomalies":
		return h.listAnomalies(ctx, actor, q)
	case "POST /anomalies/{id}/resolve":
		return h.resolveAnomaly(ctx, actor, req.PathParameters["id"])
	case "PUT /webhook":
		return h.putWebhook(ctx, actor, req)
	case "GET /webhook":
		return h.getWebhook(ctx, actor)
	case "DELETE /webhook":
		return h.deleteWebhook(ctx, actor)
	case "GET /workspace":
		return h.getWorkspace(ctx, actor)
	case "PATCH /workspace":
		return h.patchWorkspace(ctx, actor, req)
	case "DELETE /management-keys/{kid}":
		if err := Require(actor, ScopeManagementKeysWrite); err != nil {
			return result{}, err
		}
		return result{status: 204}, h.svc.RevokeKey(ctx, actor, gateway.KindManagement, kid)
	}
	return result{}, gateway.Errorf(gateway.CodeNotFound, "No route %s %s.", req.HTTPMethod, req.Resource)
}

// ownKey is GET /v1/key: the calling key's own record.
func (h *Handler) ownKey(ctx context.Context, c authcontext.Context) (result, error) {
	return h.keyAnswer(ctx, Actor{KID: c.KID, WorkspaceID: c.WorkspaceID}, c.Kind, c.KID, 200)
}

func (h *Handler) keyAnswer(ctx context.Context, actor Actor, kind gateway.KeyKind, kid string, status int) (result, error) {
	k, err := h.svc.GetKey(ctx, actor, kind, kid)
	if err != nil {
		return result{}, err
	}
	return h.render(ctx, k, status)
}

// render answers with a key record and its last use.
func (h *Handler) render(ctx context.Context, k gateway.Key, status int) (result, error) {
	used, err := h.svc.LastUsed(ctx, []string{k.KID})
	if err != nil {
		return result{}, err
	}
	var last *time.Time
	if t, ok := used[k.KID]; ok {
		last = &t
	}
	v := NewKeyView(k, last, h.now())
	if v.Budgets, err = h.budgetViews(ctx, k); err != nil {
		return result{}, err
	}
	return result{status: status, body: map[string]any{"data": v}}, nil
}

// decodeStrict reads a JSON object into v, refusing unknown fields and
// naming the field at fault.
func decodeStrict(req events.APIGatewayProxyRequest, v any) error {
	body := strings.TrimSpace(req.Body)
	if body == "" {
		body = "{}"
	}
	if body[0] != '{' {
		// An array, string, number or null is valid JSON but not a request:
		// say so, rather than name an empty field.
		return gateway.Errorf(gateway.CodeInvalidJSON, "The request body must be one JSON object.")
	}
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("trailing data")
	}
	if err == nil {
		return nil
	}
	if fieldErr, ok := errors.AsType[*gateway.Error](err); ok {
		return fieldErr
	}
	if typeErr, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		return &gateway.Error{Code: gateway.CodeValidationError, Param: typeErr.Field,
			Message: fmt.Sprintf("%s must be a %s.", typeErr.Field, jsonTypeName(typeErr.Type.Kind().String()))}
	}
	if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name := strings.Trim(field, `"`)
		return &gateway.Error{Code: gateway.CodeValidationError, Param: name, Message: fmt.Sprintf("Unknown field %s.", name)}
	}
	return gateway.Errorf(gateway.CodeInvalidJSON, "The request body must be one JSON object.")
}

func jsonTypeName(kind string) string {
	switch {
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"):
		return "non-negative integer"
	case kind == "slice":
		return "list"
	case kind == "ptr", kind == "struct":
		return "object or value of the documented type"
	}
	return kind
}

// refuseNulls answers 400 for a PATCH field sent as null that has no null
// meaning. Decoding null into a pointer leaves it nil, which would silently
// read as "unchanged"; only expires_at is nullable (null: never expires).
// body has already been decoded as an object.
func refuseNulls(body string) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &fields); err != nil {
		return nil // an empty body: nothing sent, nothing null
	}
	for _, name := range []string{"name", "models", "providers", "limits", "disabled"} {
		if raw, ok := fields[name]; ok && string(raw) == "null" {
			return invalid(name, "%s cannot be null; leave it out to keep it unchanged.", name)
		}
	}
	var limits map[string]json.RawMessage
	if raw, ok := fields["limits"]; ok && json.Unmarshal(raw, &limits) == nil {
		for _, name := range limitNames {
			if raw, ok := limits[name]; ok && string(raw) == "null" {
				return invalid("limits."+name, "limits.%s cannot be null; 0 means unlimited, and leaving it out keeps it unchanged.", name)
			}
		}
	}
	return nil
}

// timeField is an RFC 3339 time that remembers whether it was sent and
// whether it was null.
type timeField struct {
	set  bool
	null bool
	t    time.Time
}

func (f *timeField) UnmarshalJSON(b []byte) error {
	f.set = true
	if bytes.Equal(b, []byte("null")) {
		f.null = true
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return &gateway.Error{Code: gateway.CodeValidationError, Param: "expires_at", Message: "expires_at must be an RFC 3339 time string."}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return &gateway.Error{Code: gateway.CodeValidationError, Param: "expires_at", Message: "expires_at must be an RFC 3339 time, such as 2027-01-31T12:00:00Z."}
	}
	f.t = t.UTC()
	return nil
}

type createInput struct {
	Name      string      `json:"name"`
	Models    []string    `json:"models"`
	Providers []string    `json:"providers"`
	Limits    LimitsPatch `json:"limits"`
	ExpiresAt timeField   `json:"expires_at"`
	Disabled  bool        `json:"disabled"`
	Scopes    []string    `json:"scopes"`
}

func (h *Handler) createKey(ctx context.Context, actor Actor, kind gateway.KeyKind, scope string, req events.APIGatewayProxyRequest) (result, error) {
	if err := Require(actor, scope); err != nil {
		return result{}, err
	}
	var in createInput
	if err := decodeStrict(req, &in); err != nil {
		return result{}, err
	}
	if kind == gateway.KindManagement && (in.Models != nil || in.Providers != nil || in.Limits != (LimitsPatch{}) || in.Disabled) {
		return result{}, invalid("models", "management keys take name, scopes and expires_at only.")
	}
	spec := KeySpec{Name: in.Name, Models: in.Models, Providers: in.Providers, Limits: in.Limits.Apply(gateway.Limits{}),
		Disabled: in.Disabled, Scopes: in.Scopes}
	if in.ExpiresAt.set && !in.ExpiresAt.null {
		spec.ExpiresAt = &in.ExpiresAt.t
	}
	k, text, err := h.svc.CreateKey(ctx, actor, kind, spec)
	if err != nil {
		return result{}, err
	}
	v := NewKeyView(k, nil, h.now())
	v.Key = text
	return result{status: 201, body: map[string]any{"data": v}}, nil
}

type updateInput struct {
	Name      *string      `json:"name"`
	Models    *[]string    `json:"models"`
	Providers *[]string    `json:"providers"`
	Limits    *LimitsPatch `json:"limits"`
	Disabled  *bool        `json:"disabled"`
	ExpiresAt timeField    `json:"expires_at"`
}

func (h *Handler) updateKey(ctx context.Context, actor Actor, kid string, req events.APIGatewayProxyRequest) (result, error) {
	if err := Require(actor, ScopeKeysWrite); err != nil {
		return result{}, err
	}
	var in updateInput
	if err := decodeStrict(req, &in); err != nil {
		return result{}, err
	}
	if err := refuseNulls(req.Body); err != nil {
		return result{}, err
	}
	change := KeyChange{Name: in.Name, Models: in.Models, Providers: in.Providers, Limits: in.Limits, Disabled: in.Disabled}
	if in.ExpiresAt.set {
		if in.ExpiresAt.null {
			change.ClearExpiry = true
		} else {
			change.ExpiresAt = &in.ExpiresAt.t
		}
	}
	k, err := h.svc.UpdateKey(ctx, actor, kid, change)
	if err != nil {
		return result{}, err
	}
	return h.render(ctx, k, 200)
}

func (h *Handler) rotateKey(ctx context.Context, actor Actor, kid string, req events.APIGatewayProxyRequest) (result, error) {
	if err := Require(actor, ScopeKeysWrite); err != nil {
		return result{}, err
	}
	var in struct {
		PreviousKeyExpiresIn *int64 `json:"previous_key_expires_in"`
	}
	if err := decodeStrict(req, &in); err != nil {
		return result{}, err
	}
	overlap := time.Duration(0)
	if in.PreviousKeyExpiresIn != nil {
		if *in.PreviousKeyExpiresIn < 0 || *in.PreviousKeyExpiresIn > int64(MaxOverlap.Seconds()) {
			return result{}, invalid("previous_key_expires_in", "previous_key_expires_in must be between 0 and %d seconds.", int(MaxOverlap.Seconds()))
		}
		overlap = time.Duration(*in.PreviousKeyExpiresIn) * time.Second
	}
	out, err := h.svc.RotateKey(ctx, actor, kid, overlap, header(req, "Idempotency-Key"))
	if err != nil {
		return result{}, err
	}
	if out.Replayed {
		// The successor's text was in the first answer and is stored
		// nowhere: a replay can only name the successor.
		res, err := h.render(ctx, out.Successor, 200)
		res.headers = map[string]string{"Idempotent-Replayed": "true"}
		return res, err
	}
	v := NewKeyView(out.Successor, nil, h.now())
	v.Key = out.Text
	return result{status: 201, body: map[string]any{"data": v}}, nil
}

// header returns a request header by name, in any letter case, as API
// Gateway passes headers as the client sent them.
func header(req events.APIGatewayProxyRequest, name string) string {
	for k, v := range req.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	for k, vs := range req.MultiValueHeaders {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return vs[0]
		}
	}
	return ""
}

func queryInt(q map[string]string, name string, def, lo, hi int) (int, error) {
	v, ok := q[name]
	if !ok || v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, invalid(name, "%s must be an integer from %d to %d.", name, lo, hi)
	}
	return n, nil
}

func (h *Handler) listKeys(ctx context.Context, actor Actor, kind gateway.KeyKind, scope string, q map[string]string) (result, error) {
	if err := Require(actor, scope); err != nil {
		return result{}, err
	}
	limit, err := queryInt(q, "limit", DefaultPageSize, 1, MaxPageSize)
	if err != nil {
		return result{}, err
	}
	unused, err := queryInt(q, "unused_for_days", 0, 0, 3650)
	if err != nil {
		return result{}, err
	}
	views, next, err := h.svc.ListKeys(ctx, actor, kind, limit, q["cursor"], unused)
	if err != nil {
		return result{}, err
	}
	var cursor any
	if next != "" {
		cursor = next
	}
	return result{status: 200, body: map[string]any{"data": views, "next_cursor": cursor}}, nil
}

func parseTimeParam(q map[string]string, name string, def time.Time) (time.Time, error) {
	v, ok := q[name]
	if !ok || v == "" {
		return def, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02", v); err == nil {
		return t, nil
	}
	return time.Time{}, invalid(name, "%s must be an RFC 3339 time or a date (YYYY-MM-DD).", name)
}

func (h *Handler) keyUsage(ctx context.Context, actor Actor, kid string, q map[string]string) (result, error) {
	if err := Require(actor, ScopeUsageRead); err != nil {
		return result{}, err
	}
	granularity := q["granularity"]
	if granularity == "" {
		granularity = "day"
	}
	now := h.now().UTC()
	defaultFrom := now.AddDate(0, 0, -6).Truncate(24 * time.Hour)
	defaultTo := now.Truncate(24 * time.Hour).Add(24 * time.Hour)
	if granularity == "hour" {
		defaultFrom, defaultTo = now.Add(-23*time.Hour).Truncate(time.Hour), now.Truncate(time.Hour).Add(time.Hour)
	}
	from, err := parseTimeParam(q, "from", defaultFrom)
	if err != nil {
		return result{}, err
	}
	to, err := parseTimeParam(q, "to", defaultTo)
	if err != nil {
		return result{}, err
	}
	buckets, err := h.svc.Usage(ctx, actor, h.usage, kid, granularity, from, to)
	if err != nil {
		return result{}, err
	}
	return result{status: 200, body: map[string]any{"data": buckets, "granularity": granularity, "kid": kid}}, nil
}

// AuditView is an audit event as the API shows it.
type AuditView struct {
	Time      time.Time      `json:"time"`
	ActorKID  string         `json:"actor_kid"`
	Action    string         `json:"action"`
	TargetKID string         `json:"target_kid"`
	Changes   map[string]any `json:"changes"`
}

func (h *Handler) auditEvents(ctx context.Context, actor Actor, q map[string]string) (result, error) {
	if err := Require(actor, ScopeKeysRead); err != nil {
		return result{}, err
	}
	limit, err := queryInt(q, "limit", DefaultPageSize, 1, MaxPageSize)
	if err != nil {
		return result{}, err
	}
	page, err := h.svc.Audit(ctx, actor, q["cursor"], limit)
	if err != nil {
		return result{}, err
	}
	views := make([]AuditView, 0, len(page.Events))
	for _, e := range page.Events {
		changes := e.Changes
		if changes == nil {
			changes = map[string]any{}
		}
		views = append(views, AuditView{Time: e.Time, ActorKID: e.ActorKID, Action: e.Action, TargetKID: e.TargetKID, Changes: changes})
	}
	var cursor any
	if page.NextCursor != "" {
		cursor = page.NextCursor
	}
	return result{status: 200, body: map[string]any{"data": views, "next_cursor": cursor}}, nil
}
