package proxy

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aistats/edge/pkg/adapter/emf"
	"github.com/aistats/edge/pkg/adapter/upstream"
	"github.com/aistats/edge/pkg/domain/access"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/providers"
	"github.com/aistats/edge/pkg/handler/authcontext"
)

// MaxBodyBytes is the largest request body the proxy forwards (DESIGN §3: 413).
const MaxBodyBytes = 6 << 20

// maxUpstreamBody bounds a buffered (non-streamed) upstream answer.
const maxUpstreamBody = 32 << 20

// Config configures a Handler.
type Config struct {
	Registry    *providers.Registry
	Upstream    *upstream.Client
	Credentials Credentials
	// BaseURLs overrides providers' base URLs by id; the local provider
	// has none of its own.
	BaseURLs map[string]string
	Usage    gateway.UsageRecorder
	Now      func() time.Time
	Logger   *slog.Logger
	// Metrics receives one EMF line per request; nil emits none.
	Metrics *emf.Emitter
}

// Handler serves the proxy routes.
type Handler struct {
	registry *providers.Registry
	upstream *upstream.Client
	creds    Credentials
	baseURLs map[string]string
	usage    gateway.UsageRecorder
	now      func() time.Time
	log      *slog.Logger
	metrics  *emf.Emitter
}

// New returns a Handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Registry == nil || cfg.Upstream == nil || cfg.Credentials == nil || cfg.Usage == nil {
		return nil, errors.New("proxy: registry, upstream, credentials and usage are required")
	}
	h := &Handler{registry: cfg.Registry, upstream: cfg.Upstream, creds: cfg.Credentials, baseURLs: cfg.BaseURLs,
		usage: cfg.Usage, now: cfg.Now, log: cfg.Logger, metrics: cfg.Metrics}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	return h, nil
}

// forwardedHeaders are the only client headers sent upstream: hop-by-hop
// headers, the client's credential and anything else never are.
var forwardedHeaders = []string{"Accept", "User-Agent", "OpenAI-Beta", "Idempotency-Key"}

// call is one request's state, for the response and its log line.
type call struct {
	requestID string
	ctx       authcontext.Context
	start     time.Time
	route     string
	model     string
	provider  string
	status    int
	attempts  int
	usage     usage
}

// Handle serves one request. It returns an events.APIGatewayProxyResponse,
// or for chat completions (a STREAM integration) an
// *events.APIGatewayProxyStreamingResponse.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayProxyRequest) (any, error) {
	c := &call{requestID: req.RequestContext.RequestID, start: h.now(), route: req.HTTPMethod + " " + req.Resource}
	streamRoute := req.Resource == "/chat/completions"
	authCtx, refused := authcontext.Check(req)
	c.ctx = authCtx
	if refused != nil {
		c.status = refused.StatusCode
		h.logCall(c, nil)
		h.record(c, true) // a refusal is usage too: anomalies show up in the rollups
		return h.respond(streamRoute, *refused), nil
	}
	var resp any
	var err error
	switch c.route {
	case "POST /chat/completions":
		resp, err = h.forward(ctx, c, req, "/chat/completions", true)
	case "POST /embeddings":
		resp, err = h.forward(ctx, c, req, "/embeddings", false)
	case "GET /models":
		resp, err = h.models(ctx, c)
	default:
		err = gateway.Errorf(gateway.CodeNotFound, "No route %s.", c.route)
	}
	if err != nil {
		r := authcontext.ErrorResponse(err, c.ctx.Headers(c.requestID), c.requestID)
		c.status = r.StatusCode
		h.logCall(c, err)
		h.record(c, true)
		return h.respond(streamRoute, r), nil
	}
	return resp, nil
}

// respond renders a buffered response in the form the route's integration
// expects.
func (h *Handler) respond(stream bool, r events.APIGatewayProxyResponse) any {
	if !stream {
		return r
	}
	return &events.APIGatewayProxyStreamingResponse{StatusCode: r.StatusCode, Headers: r.Headers, Body: strings.NewReader(r.Body)}
}

func (h *Handler) logCall(c *call, err error) {
	latency := float64(h.now().Sub(c.start).Microseconds()) / 1000
	upstreamFailed := 0.0
	if c.status >= 500 {
		upstreamFailed = 1
	}
	h.metrics.Emit(c.ctx.WorkspaceID, c.ctx.KID,
		emf.Metric{Name: "Requests", Unit: "Count", Value: 1},
		emf.Metric{Name: "ServerErrors", Unit: "Count", Value: upstreamFailed},
		emf.Metric{Name: "PromptTokens", Unit: "Count", Value: float64(c.usage.PromptTokens)},
		emf.Metric{Name: "CompletionTokens", Unit: "Count", Value: float64(c.usage.CompletionTokens)},
		emf.Metric{Name: "ProxyLatency", Unit: "Milliseconds", Value: latency})
	attrs := []any{"request_id", c.requestID, "kid", c.ctx.KID, "workspace", c.ctx.WorkspaceID, "route", c.route,
		"model", c.model, "provider", c.provider, "status", c.status, "attempts", c.attempts,
		"prompt_tokens", c.usage.PromptTokens, "completion_tokens", c.usage.CompletionTokens,
		"latency_ms", latency}
	if err != nil {
		attrs = append(attrs, "code", string(gateway.ErrorCode(err)), "error", err.Error())
	}
	h.log.Info("proxy", attrs...)
}

// record adds the request to the key's usage. A failure to record is logged,
// not returned: the client already has its answer.
func (h *Handler) record(c *call, failed bool) {
	if c.ctx.KID == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := h.usage.RecordUsage(ctx, gateway.UsageRecord{
		KID: c.ctx.KID, WorkspaceID: c.ctx.WorkspaceID, Time: c.start, Error: failed || c.status >= 400,
		PromptTokens: c.usage.PromptTokens, CompletionTokens: c.usage.CompletionTokens, Latency: h.now().Sub(c.start),
	})
	if err != nil {
		h.log.Error("record usage", "request_id", c.requestID, "kid", c.ctx.KID, "error", err.Error())
	}
}

// models lists the models this key may use, in the OpenAI list shape.
func (h *Handler) models(ctx context.Context, c *call) (any, error) {
	type model struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
	}
	list := []model{}
	for _, m := range h.registry.All() {
		if !access.Allowed(c.ctx.Grant(), m) || !h.configured(ctx, m.Provider) {
			continue
		}
		list = append(list, model{ID: m.Name, Object: "model", OwnedBy: m.Provider.ID})
	}
	body, _ := json.Marshal(map[string]any{"object": "list", "data": list})
	c.status = 200
	h.logCall(c, nil)
	h.record(c, false)
	headers := c.ctx.Headers(c.requestID)
	headers["Content-Type"] = "application/json"
	return events.APIGatewayProxyResponse{StatusCode: 200, Headers: headers, Body: string(body)}, nil
}

func (h *Handler) baseURL(p *providers.Provider) string {
	if u, ok := h.baseURLs[p.ID]; ok {
		return strings.TrimSuffix(u, "/")
	}
	if p.LocalOnly {
		return ""
	}
	return p.BaseURL
}

// configured reports whether the gateway can reach p: it has a base URL and,
// unless p needs none, a credential.
func (h *Handler) configured(ctx context.Context, p *providers.Provider) bool {
	if h.baseURL(p) == "" {
		return false
	}
	if p.Auth == providers.AuthNone {
		return true
	}
	cred, err := h.creds.Credential(ctx, p)
	return err == nil && cred != ""
}

// requestBody is the part of a request body the proxy reads.
type requestBody struct {
	fields map[string]json.RawMessage
	model  string
	stream bool
}

func parseBody(req events.APIGatewayProxyRequest) (requestBody, error) {
	raw := []byte(req.Body)
	if req.IsBase64Encoded {
		var err error
		if raw, err = base64.StdEncoding.DecodeString(req.Body); err != nil {
			return requestBody{}, &gateway.Error{Code: gateway.CodeInvalidJSON, Message: "The request body is not valid base64."}
		}
	}
	if len(raw) > MaxBodyBytes {
		return requestBody{}, gateway.Errorf(gateway.CodeBodyTooLarge, "The request body is larger than %d MB.", MaxBodyBytes>>20)
	}
	var b requestBody
	if err := json.Unmarshal(raw, &b.fields); err != nil || b.fields == nil {
		return requestBody{}, &gateway.Error{Code: gateway.CodeInvalidJSON, Message: "The request body must be a JSON object."}
	}
	if m, ok := b.fields["model"]; !ok || json.Unmarshal(m, &b.model) != nil || b.model == "" {
		return requestBody{}, &gateway.Error{Code: gateway.CodeModelRequired, Param: "model", Message: "The request must name a model."}
	}
	if s, ok := b.fields["stream"]; ok {
		if err := json.Unmarshal(s, &b.stream); err != nil {
			return requestBody{}, &gateway.Error{Code: gateway.CodeValidationError, Param: "stream", Message: "stream must be true or false."}
		}
	}
	return b, nil
}

// upstreamBody rewrites the body for a provider: its own model id and, for a
// stream, a request for usage in the last chunk.
func (b requestBody) upstreamBody(model string) []byte {
	fields := make(map[string]json.RawMessage, len(b.fields)+1)
	for k, v := range b.fields {
		fields[k] = v
	}
	fields["model"], _ = json.Marshal(model)
	if b.stream {
		opts := map[string]json.RawMessage{}
		_ = json.Unmarshal(fields["stream_options"], &opts)
		opts["include_usage"] = json.RawMessage("true")
		fields["stream_options"], _ = json.Marshal(opts)
	}
	out, _ := json.Marshal(fields)
	return out
}

func (h *Handler) forward(ctx context.Context, c *call, req events.APIGatewayProxyRequest, path string, streamRoute bool) (any, error) {
	body, err := parseBody(req)
	if err != nil {
		return nil, err
	}
	c.model = body.model
	resolved, ok := h.registry.Resolve(body.model)
	if !ok {
		return nil, &gateway.Error{Code: gateway.CodeModelNotFound, Param: "model", Message: "The model " + body.model + " does not exist on this gateway."}
	}
	if err := access.Check(c.ctx.Grant(), resolved); err != nil {
		return nil, err
	}
	if body.stream && !streamRoute {
		return nil, &gateway.Error{Code: gateway.CodeValidationError, Param: "stream", Message: "This route does not stream."}
	}
	header := http.Header{"Content-Type": {"application/json"}}
	for _, name := range forwardedHeaders {
		if v := headerValue(req, name); v != "" {
			header.Set(name, v)
		}
	}

	// The model first, then its fallback if the registry names one and the
	// key may use it.
	candidates := []providers.Resolved{resolved}
	if fb, ok := h.registry.Resolve(resolved.Fallback); ok && resolved.Fallback != "" && access.Allowed(c.ctx.Grant(), fb) {
		candidates = append(candidates, fb)
	}
	var result upstream.Result
	tried := false
	for _, m := range candidates {
		if !h.configured(ctx, m.Provider) {
			continue
		}
		if result.Response != nil {
			result.Response.Body.Close()
		}
		tried = true
		c.provider = m.Provider.ID
		hdr := header.Clone()
		if m.Provider.Auth == providers.AuthBearer {
			cred, _ := h.creds.Credential(ctx, m.Provider)
			hdr.Set("Authorization", "Bearer "+cred)
		}
		r := h.upstream.Do(ctx, upstream.Request{Method: "POST", URL: h.baseURL(m.Provider) + path, Header: hdr, Body: body.upstreamBody(m.Model)})
		c.attempts += r.Attempts
		result = r
		if r.Response != nil && !upstream.Retryable(r.Response.StatusCode) {
			break
		}
	}
	if !tried {
		return nil, gateway.Errorf(gateway.CodeServiceUnavailable, "The provider %s is not configured on this gateway.", resolved.Provider.ID)
	}
	if result.Response == nil || upstream.Retryable(result.Response.StatusCode) {
		if result.Response != nil {
			result.Response.Body.Close()
		}
		if result.TimedOut {
			return nil, &gateway.Error{Code: gateway.CodeUpstreamTimeout, Message: "The provider did not answer in time.", Err: result.Err}
		}
		return nil, &gateway.Error{Code: gateway.CodeUpstreamError, Message: "The provider failed to answer; try again.", Err: result.Err}
	}
	resp := result.Response
	c.status = resp.StatusCode
	headers := c.ctx.Headers(c.requestID)
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		headers["Content-Type"] = ct
	}
	if body.stream && resp.StatusCode == 200 {
		headers["Cache-Control"] = "no-cache"
		relay := &sseRelay{upstream: resp.Body, reqID: c.requestID, finish: func(u usage, failed bool) {
			c.usage = u
			h.logCall(c, nil)
			h.record(c, failed)
		}}
		return &events.APIGatewayProxyStreamingResponse{StatusCode: 200, Headers: headers, Body: relay}, nil
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxUpstreamBody))
	if err != nil {
		return nil, &gateway.Error{Code: gateway.CodeUpstreamError, Message: "The provider's answer broke off.", Err: err}
	}
	var parsed struct {
		Usage *usage `json:"usage"`
	}
	if json.Unmarshal(raw, &parsed) == nil && parsed.Usage != nil {
		c.usage = *parsed.Usage
	}
	h.logCall(c, nil)
	h.record(c, false)
	out := events.APIGatewayProxyResponse{StatusCode: resp.StatusCode, Headers: headers, Body: string(raw)}
	if streamRoute {
		return h.respond(true, out), nil
	}
	return out, nil
}

func headerValue(req events.APIGatewayProxyRequest, name string) string {
	for k, v := range req.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}
