package proxy

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aistats/edge/pkg/adapter/emf"
	"github.com/aistats/edge/pkg/adapter/upstream"
	"github.com/aistats/edge/pkg/domain/access"
	"github.com/aistats/edge/pkg/domain/budget"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/providers"
	metering "github.com/aistats/edge/pkg/domain/usage"
	"github.com/aistats/edge/pkg/handler/authcontext"
	"github.com/aistats/edge/pkg/handler/recording"
)

// MaxBodyBytes is the largest request body the proxy forwards (DESIGN §3:
// 413 body_too_large). The binding limit is not API Gateway's 10 MB but
// Lambda's: a synchronous invocation carries at most 6 MB (6,291,456 bytes)
// for the whole event, and the event holds the body JSON-escaped (each " and
// \ doubled) or base64-encoded (4/3 of its size), plus the headers twice
// (headers and multiValueHeaders) and the request context. 4 MiB leaves
// 2 MiB for that: a base64 body of 4 MiB takes 5,592,406 bytes, leaving
// 699,050 for the rest, and a JSON body may grow by half before the event
// no longer fits. A larger body that still fits the event gets this 413; one
// that does not is refused by Lambda before the proxy runs (README, "Request
// and response sizes").
const MaxBodyBytes = 4 << 20

// MaxBufferedResponseBytes is what a buffered Lambda response may carry: 6 MB
// for the whole response event, the body JSON-escaped inside it. A larger
// answer fails in AWS after the provider was paid, so the proxy refuses it
// with a clear error instead (and records it as one).
const MaxBufferedResponseBytes = 6 << 20

// maxUpstreamBody bounds an upstream answer read whole (not streamed).
const maxUpstreamBody = 32 << 20

// maxModelBytes bounds a model name: nothing longer is echoed or logged.
const maxModelBytes = 256

// Deadlines per route. API Gateway gives up on a buffered route at 29 s
// (504) and on the streaming route at its integration timeout (300 s in
// template.yaml), and Lambda stops the function at its Timeout (300 s); a
// deadline below each leaves time to answer the client, who is still there,
// and to record what happened. No retry starts past it.
const (
	DefaultBufferedDeadline = 25 * time.Second
	DefaultStreamDeadline   = 285 * time.Second
	// DefaultPreludeAfter is how long a streamed request waits for the
	// provider before the proxy commits to 200 and starts keep-alives:
	// long enough that a quick refusal keeps its own status, short enough
	// that no idle timeout comes near.
	DefaultPreludeAfter = 2 * time.Second
	// DefaultKeepAliveInterval is the silence after which a stream gets an
	// SSE comment; well under the 30 s an edge-optimized endpoint or a
	// client-side proxy allows.
	DefaultKeepAliveInterval = 10 * time.Second
	// functionReserve is kept back from the function's own deadline, to
	// answer and record usage before Lambda stops the function.
	functionReserve = 2 * time.Second
)

// Config configures a Handler.
type Config struct {
	Registry    *providers.Registry
	Upstream    *upstream.Client
	Credentials Credentials
	// BaseURLs overrides providers' base URLs by id; the local provider
	// has none of its own.
	BaseURLs map[string]string
	Usage    metering.Recorder
	// Budgets reserves and settles requests of keys and workspaces with
	// token or money limits; nil refuses such requests (503), never serves
	// them unlimited.
	Budgets budget.Ledger
	// BudgetTimeout bounds each budget write; zero means
	// DefaultBudgetTimeout.
	BudgetTimeout time.Duration
	// BudgetWait bounds how long a request refused only because of other
	// requests' reservations in flight waits for them to settle; zero
	// means DefaultBudgetWait.
	BudgetWait time.Duration
	Now        func() time.Time
	Logger     *slog.Logger
	// Metrics receives one EMF line per request; nil emits none.
	Metrics *emf.Emitter
	// BufferedDeadline bounds a request on a buffered route (/embeddings,
	// /models); zero means DefaultBufferedDeadline.
	BufferedDeadline time.Duration
	// StreamDeadline bounds a request on the streaming route
	// (/chat/completions, streamed or not); zero means DefaultStreamDeadline.
	StreamDeadline time.Duration
	// PreludeAfter and KeepAliveInterval shape a streamed answer; zero
	// means DefaultPreludeAfter and DefaultKeepAliveInterval.
	PreludeAfter      time.Duration
	KeepAliveInterval time.Duration
	// LogSuccessEvery samples the JSON log line of successful requests: one
	// in LogSuccessEvery is written (0 and 1 write every one). Failures
	// and refusals are always logged, and the EMF metrics line is written
	// for every request whatever this says, so metrics stay exact. Log
	// lines are billed per byte ingested; see README "Performance and cost".
	LogSuccessEvery int
}

// Handler serves the proxy routes.
type Handler struct {
	registry      *providers.Registry
	upstream      *upstream.Client
	creds         Credentials
	baseURLs      map[string]string
	recorder      recording.Recorder
	budgets       budget.Ledger
	budgetTimeout time.Duration
	budgetWait    time.Duration
	now           func() time.Time
	log           *slog.Logger
	metrics       *emf.Emitter

	bufferedDeadline, streamDeadline time.Duration
	preludeAfter, keepAlive          time.Duration
	logSuccessEvery                  uint64
	successes                        atomic.Uint64
}

// New returns a Handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Registry == nil || cfg.Upstream == nil || cfg.Credentials == nil || cfg.Usage == nil {
		return nil, errors.New("proxy: registry, upstream, credentials and usage are required")
	}
	h := &Handler{registry: cfg.Registry, upstream: cfg.Upstream, creds: cfg.Credentials, baseURLs: cfg.BaseURLs,
		recorder: recording.Recorder{Store: cfg.Usage, Log: cfg.Logger, Metrics: cfg.Metrics}, budgets: cfg.Budgets, now: cfg.Now, log: cfg.Logger, metrics: cfg.Metrics,
		bufferedDeadline: orDefault(cfg.BufferedDeadline, DefaultBufferedDeadline),
		streamDeadline:   orDefault(cfg.StreamDeadline, DefaultStreamDeadline),
		preludeAfter:     orDefault(cfg.PreludeAfter, DefaultPreludeAfter),
		keepAlive:        orDefault(cfg.KeepAliveInterval, DefaultKeepAliveInterval),
		logSuccessEvery:  uint64(max(cfg.LogSuccessEvery, 1)),
		budgetTimeout:    orDefault(cfg.BudgetTimeout, DefaultBudgetTimeout),
		budgetWait:       orDefault(cfg.BudgetWait, DefaultBudgetWait)}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	return h, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
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
	// x is how the route speaks to providers; nil outside the forwarding
	// routes.
	x        *exchange
	model    string
	provider string
	status   int
	attempts int
	usage    usage
	// estimated marks token counts the proxy estimated because the provider's
	// own never came (a stream cut off before its usage chunk).
	estimated bool
	// failed marks a request that failed without an error to log: a stream
	// cut off by the client.
	failed bool
	// streamed marks a request answered as a server-sent event stream.
	streamed bool
	// code is the error code answered, and client the caller's network,
	// for the sample of a key's recent failures.
	code, client string
	// readOnly marks a request that bills no tokens even though its answer
	// holds a usage object (reading a stored response).
	readOnly bool
	// candidates are the models that may answer (the model, its
	// fallback), for the price of the one that did.
	candidates []providers.Resolved
	// holds are the request's budget reservations, settled by record.
	holds []budget.Hold
	// retryAfter is the Retry-After of a budget refusal.
	retryAfter string
}

// Handle serves one request. It returns an events.APIGatewayProxyResponse,
// or for chat completions (a STREAM integration) an
// *events.APIGatewayProxyStreamingResponse.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayProxyRequest) (any, error) {
	c := &call{requestID: req.RequestContext.RequestID, start: h.now(), route: req.HTTPMethod + " " + req.Resource,
		client: metering.ClientNetwork(req.RequestContext.Identity.SourceIP)}
	c.x = exchanges[c.route]
	streamRoute := c.x != nil && c.x.streamRoute
	authCtx, refused := authcontext.Check(req)
	c.ctx = authCtx
	if refused != nil {
		c.status = refused.StatusCode
		if c.ctx.RateLimited {
			c.code = string(gateway.CodeRateLimitExceeded)
		}
		h.logCall(c, nil)
		h.record(c, nil) // a refusal is usage too: anomalies show up in the rollups
		return h.respond(streamRoute, c.x.errorShape(*refused)), nil
	}
	var resp any
	var err error
	switch {
	case c.x != nil:
		resp, err = h.forward(ctx, c, req, *c.x)
	case c.route == "GET /models":
		resp, err = h.models(ctx, c)
	case c.route == "GET /responses/{id}":
		resp, err = h.getResponse(ctx, c, req)
	default:
		err = gateway.Errorf(gateway.CodeNotFound, "No route %s.", clip(c.route))
	}
	if err != nil {
		r := authcontext.ErrorResponse(err, c.ctx.Headers(c.requestID), c.requestID)
		if c.retryAfter != "" {
			r.Headers["Retry-After"] = c.retryAfter
		}
		c.status, c.code = r.StatusCode, string(gateway.ErrorCode(err))
		h.logCall(c, err)
		h.record(c, nil)
		return h.respond(streamRoute, c.x.errorShape(r)), nil
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
	// A server-side failure is a 5xx answer, or one that a stream could
	// only report in an error event after its 200 prelude went out: both
	// count in ServerErrors and log at Error, so that an outage of a slow
	// provider still reaches the alarms. A client cutting a stream off
	// (failed, no error) is not one.
	serverFailed := c.status >= 500 || (err != nil && gateway.HTTPStatus(gateway.ErrorCode(err)) >= 500)
	upstreamFailed := 0.0
	if serverFailed {
		upstreamFailed = 1
	}
	metrics := []emf.Metric{
		{Name: "Requests", Unit: "Count", Value: 1},
		{Name: "ServerErrors", Unit: "Count", Value: upstreamFailed},
		{Name: "PromptTokens", Unit: "Count", Value: float64(c.usage.PromptTokens)},
		{Name: "CompletionTokens", Unit: "Count", Value: float64(c.usage.CompletionTokens)},
		{Name: "ProxyLatency", Unit: "Milliseconds", Value: latency},
	}
	if err == nil && !c.failed && c.status < 400 && h.logSuccessEvery > 1 && h.successes.Add(1)%h.logSuccessEvery != 1 {
		// Sampled out: a success whose details are not logged. Its metrics
		// still are, on a line of their own, so they stay exact.
		h.metrics.Emit(c.ctx.WorkspaceID, c.ctx.KID, metrics...)
		return
	}
	// One line per request: the log fields and, where metrics are on (in
	// AWS), the EMF metrics in the same JSON line, which CloudWatch reads as
	// both.
	attrs := []slog.Attr{slog.String("request_id", c.requestID), slog.String("kid", c.ctx.KID), slog.String("workspace", c.ctx.WorkspaceID),
		slog.String("route", clip(c.route)), slog.String("model", clip(c.model)), slog.String("provider", c.provider),
		slog.Int("status", c.status), slog.Int("attempts", c.attempts),
		slog.Int64("prompt_tokens", c.usage.PromptTokens), slog.Int64("completion_tokens", c.usage.CompletionTokens),
		slog.Float64("latency_ms", latency)}
	if c.estimated {
		attrs = append(attrs, slog.Bool("tokens_estimated", true))
	}
	if err != nil {
		attrs = append(attrs, slog.String("code", string(gateway.ErrorCode(err))), slog.String("error", clipTo(err.Error(), 1024)))
	}
	attrs = append(attrs, h.metrics.Attrs(c.ctx.WorkspaceID, c.ctx.KID, metrics...)...)
	// A 5xx is ours or a provider's to fix, so it is an Error that alarms
	// and log filters find; a refusal the client caused stays Info.
	level := slog.LevelInfo
	if serverFailed {
		level = slog.LevelError
	}
	h.log.LogAttrs(context.Background(), level, "proxy", attrs...)
}

// record adds the request's usage event to the key's rollups once the
// client has its answer. A 5xx after the provider was called is the
// provider's (upstream_5xx); one before it, ours. A stream that failed
// after its 200 went out is classed by the error its last event reported,
// or, cut off by the client, as 499 (a 4xx: nginx's "client closed
// request").
func (h *Handler) record(c *call, streamErr error) {
	status := c.status
	switch {
	case streamErr != nil && status < 400:
		status = gateway.HTTPStatus(gateway.ErrorCode(streamErr))
		c.code = string(gateway.ErrorCode(streamErr))
	case c.failed && status < 400:
		status = 499
	}
	cached := c.usage.PromptTokensDetails.CachedTokens
	event := metering.Event{
		Time: c.start, KID: c.ctx.KID, WorkspaceID: c.ctx.WorkspaceID,
		Route: c.route, Provider: c.provider, Model: c.model,
		Status: status, Class: metering.ClassOf(status, c.attempts > 0),
		PromptTokens: c.usage.PromptTokens, CompletionTokens: c.usage.CompletionTokens,
		CachedTokens: cached, CostMicroUSD: int64(c.answerPrice().Cost(c.usage.PromptTokens, c.usage.CompletionTokens, cached)),
		Latency: h.now().Sub(c.start), Streamed: c.streamed, Code: c.code, Client: c.client,
	}
	h.settleAndRecord(c, func() { h.recorder.Record(c.requestID, event) })
}

// models lists the models this key may use, in the OpenAI list shape.
func (h *Handler) models(ctx context.Context, c *call) (any, error) {
	type model struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
		// Routes lists the routes the model serves (/v1 left out).
		Routes []string `json:"routes"`
	}
	list := []model{}
	for _, m := range h.registry.All() {
		if !access.Allowed(c.ctx.Grant(), m) || !h.configured(ctx, m.Provider) {
			continue
		}
		list = append(list, model{ID: m.Name, Object: "model", OwnedBy: m.Provider.ID, Routes: routesServed(m.Provider)})
	}
	body, _ := json.Marshal(map[string]any{"object": "list", "data": list})
	c.status = 200
	h.logCall(c, nil)
	h.record(c, nil)
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
	// form is a multipart body's parts, for the routes that take one
	// (fields is then nil).
	form *multipartForm
}

// rawBody is the request body as the client sent it, within MaxBodyBytes.
func rawBody(req events.APIGatewayProxyRequest) ([]byte, error) {
	raw := []byte(req.Body)
	if req.IsBase64Encoded {
		var err error
		if raw, err = base64.StdEncoding.DecodeString(req.Body); err != nil {
			return nil, gateway.Errorf(gateway.CodeInvalidJSON, "The request body is not valid base64.")
		}
	}
	if len(raw) > MaxBodyBytes {
		return nil, gateway.Errorf(gateway.CodeBodyTooLarge, "The request body is larger than %d MiB.", MaxBodyBytes>>20)
	}
	return raw, nil
}

func parseBody(req events.APIGatewayProxyRequest) (requestBody, error) {
	raw, err := rawBody(req)
	if err != nil {
		return requestBody{}, err
	}
	var b requestBody
	if err := json.Unmarshal(raw, &b.fields); err != nil || b.fields == nil {
		return requestBody{}, gateway.Errorf(gateway.CodeInvalidJSON, "The request body must be a JSON object.")
	}
	if m, ok := b.fields["model"]; !ok || json.Unmarshal(m, &b.model) != nil || b.model == "" {
		return requestBody{}, &gateway.Error{Code: gateway.CodeModelRequired, Param: "model", Message: "The request must name a model."}
	}
	if !validModel(b.model) {
		// Not echoed: the name may be megabytes long.
		return requestBody{}, &gateway.Error{Code: gateway.CodeValidationError, Param: "model",
			Message: fmt.Sprintf("A model name is at most %d characters: letters, digits and . _ - : / @ +.", maxModelBytes)}
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

func (h *Handler) forward(ctx context.Context, c *call, req events.APIGatewayProxyRequest, x exchange) (any, error) {
	streamRoute := x.streamRoute
	body, err := x.parse(req)
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
	if err := x.check(resolved, body); err != nil {
		return nil, err
	}
	if body.stream && !streamRoute {
		return nil, &gateway.Error{Code: gateway.CodeValidationError, Param: "stream", Message: "This route does not stream."}
	}
	header := http.Header{"Content-Type": {"application/json"}}
	for _, name := range x.forwarded() {
		if v := headerValue(req, name); v != "" {
			header.Set(name, v)
		}
	}

	// The model first, then its fallback if the registry names one and the
	// key may use it.
	candidates := []providers.Resolved{resolved}
	if fb, ok := h.registry.Resolve(resolved.Fallback); ok && resolved.Fallback != "" && access.Allowed(c.ctx.Grant(), fb) && x.serves(fb.Provider) {
		candidates = append(candidates, fb)
	}
	c.candidates = candidates
	if raw, err := rawBody(req); err != nil {
		return nil, err
	} else if err := h.reserve(ctx, c, x, body, raw, candidates); err != nil {
		return nil, err
	}
	ctx, cancel := h.withDeadline(ctx, streamRoute)
	do := func() upstreamAnswer { return h.adapt(c, body, h.call(ctx, x, candidates, header, body, resolved)) }
	if body.stream {
		return h.stream(c, body, do, cancel)
	}
	if x.binary {
		return h.binary(c, do, cancel)
	}
	defer cancel()
	a := do()
	c.provider, c.attempts = a.provider, a.attempts
	if a.err != nil {
		return nil, a.err
	}
	return h.whole(c, a.resp, streamRoute)
}

// withDeadline bounds a request by its route's deadline, and by the
// function's own deadline less a reserve to answer and record usage.
func (h *Handler) withDeadline(ctx context.Context, streamRoute bool) (context.Context, context.CancelFunc) {
	d := h.bufferedDeadline
	if streamRoute {
		d = h.streamDeadline
	}
	if fnDeadline, ok := ctx.Deadline(); ok {
		d = min(d, max(time.Until(fnDeadline)-functionReserve, 0))
	}
	return context.WithTimeout(ctx, d)
}

// call asks each candidate in turn, with the upstream client's retries,
// until one answers with something other than a retryable failure. It starts
// nothing once ctx is done: no attempt outlives the route's deadline.
func (h *Handler) call(ctx context.Context, x exchange, candidates []providers.Resolved, header http.Header, body requestBody, resolved providers.Resolved) upstreamAnswer {
	var result upstream.Result
	var answer upstreamAnswer
	tried := false
	for _, m := range candidates {
		if ctx.Err() != nil {
			break
		}
		if !h.configured(ctx, m.Provider) {
			continue
		}
		if result.Response != nil {
			result.Response.Body.Close()
		}
		tried = true
		answer.provider = m.Provider.ID
		hdr := header.Clone()
		path, payload, translated := x.upstreamRequest(m, body, hdr)
		answer.translated = translated
		h.authorizeUpstream(ctx, m.Provider, hdr)
		r := h.upstream.Do(ctx, upstream.Request{Method: "POST", URL: h.baseURL(m.Provider) + path, Header: hdr, Body: payload})
		answer.attempts += r.Attempts
		result = r
		if r.Response != nil && !upstream.Retryable(r.Response.StatusCode) {
			break
		}
	}
	switch {
	case !tried && ctx.Err() != nil:
		answer.err = &gateway.Error{Code: gateway.CodeUpstreamTimeout, Message: "The provider did not answer in time.", Err: ctx.Err()}
	case !tried:
		answer.err = gateway.Errorf(gateway.CodeServiceUnavailable, "The provider %s is not configured on this gateway.", resolved.Provider.ID)
	case result.Response == nil || upstream.Retryable(result.Response.StatusCode):
		if result.Response != nil {
			result.Response.Body.Close()
		}
		if result.TimedOut || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			answer.err = &gateway.Error{Code: gateway.CodeUpstreamTimeout, Message: "The provider did not answer in time.", Err: result.Err}
		} else {
			answer.err = &gateway.Error{Code: gateway.CodeUpstreamError, Message: "The provider failed to answer; try again.", Err: result.Err}
		}
	default:
		answer.resp = result.Response
	}
	return answer
}

// stream answers a stream:true request. When the provider answers within
// preludeAfter, its status is the client's (a refusal keeps its 4xx); when
// it does not, the proxy sends the 200 prelude at once and keeps the
// connection alive with SSE comments until the first token, so that no idle
// timeout between client and proxy fires while a slow model thinks. Past
// that point a failure can only be told as an SSE error event.
func (h *Handler) stream(c *call, body requestBody, do func() upstreamAnswer, cancel context.CancelFunc) (any, error) {
	relay := newRelay(h.keepAlive, c.requestID, cancel, h.streamEnded(c, body), c.x.sse())
	answers := askInBackground(do, relay.closed)
	timer := time.NewTimer(h.preludeAfter)
	defer timer.Stop()
	headers := c.ctx.Headers(c.requestID)
	headers["Cache-Control"] = "no-cache"
	select {
	case a := <-answers:
		c.provider, c.attempts = a.provider, a.attempts
		if a.err != nil {
			cancel()
			return nil, a.err
		}
		if a.resp.StatusCode != http.StatusOK {
			defer cancel()
			return h.whole(c, a.resp, true)
		}
		if ct := a.resp.Header.Get("Content-Type"); ct != "" {
			headers["Content-Type"] = ct
		}
		relay.mu.Lock()
		relay.begin(a)
		relay.mu.Unlock()
	case <-timer.C:
		headers["Content-Type"] = "text/event-stream"
		relay.wait = answers
	}
	c.status = http.StatusOK
	return &events.APIGatewayProxyStreamingResponse{StatusCode: http.StatusOK, Headers: headers, Body: relay}, nil
}

// streamEnded returns what the relay calls once a stream is over, however it
// ended: the call takes the stream's outcome, and is logged and recorded.
func (h *Handler) streamEnded(c *call, body requestBody) func(streamOutcome) {
	return func(o streamOutcome) {
		c.provider, c.attempts, c.usage = o.provider, o.attempts, o.usage
		c.streamed = true
		if o.answered && !o.sawUsage {
			// The provider bills the whole prompt and what it sent, even
			// when the stream is cut off before its usage chunk.
			c.usage = usage{PromptTokens: estimatePromptTokens(body.fields), CompletionTokens: o.relayedTokens}
			c.estimated = true
		}
		c.failed = o.failed
		h.logCall(c, o.err)
		h.record(c, o.err)
	}
}

// askInBackground calls the provider without blocking, so that a prelude
// can go out while it thinks, and hands the answer to whoever waits for it:
// stream itself, or the relay once the prelude went out. An answer nobody
// waits for any more (the stream was closed) has its body closed.
func askInBackground(do func() upstreamAnswer, closed <-chan struct{}) <-chan upstreamAnswer {
	answers := make(chan upstreamAnswer)
	go func() {
		a := do()
		select {
		case answers <- a:
		case <-closed:
			if a.resp != nil {
				a.resp.Body.Close()
			}
		}
	}()
	return answers
}

// whole relays an answer read whole: a buffered route's, a stream:false
// one's, or a provider's refusal. On a buffered route an answer too large for
// a Lambda response is refused, and recorded as an error, rather than left to
// fail in AWS after the provider was paid.
func (h *Handler) whole(c *call, resp *http.Response, streamRoute bool) (any, error) {
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxUpstreamBody+1))
	if err != nil {
		return nil, &gateway.Error{Code: gateway.CodeUpstreamError, Message: "The provider's answer broke off.", Err: err}
	}
	if len(raw) > maxUpstreamBody {
		return nil, gateway.Errorf(gateway.CodeUpstreamError, "The provider's answer is larger than the %d MiB the gateway relays whole; ask for less in one request.", maxUpstreamBody>>20)
	}
	var parsed struct {
		Usage *usage `json:"usage"`
	}
	if !c.readOnly && json.Unmarshal(raw, &parsed) == nil && parsed.Usage != nil {
		c.usage = *parsed.Usage
	}
	c.status = resp.StatusCode
	headers := c.ctx.Headers(c.requestID)
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		headers["Content-Type"] = ct
	}
	out := events.APIGatewayProxyResponse{StatusCode: resp.StatusCode, Headers: headers, Body: string(raw)}
	if streamRoute {
		h.logCall(c, nil)
		h.record(c, nil)
		return h.respond(true, out), nil
	}
	if size := responseSize(out); size > MaxBufferedResponseBytes {
		return nil, gateway.Errorf(gateway.CodeUpstreamError,
			"The provider's answer takes %.1f MB, more than the %d MB a response on this route can carry; ask for less in one request (fewer inputs).",
			float64(size)/1e6, MaxBufferedResponseBytes>>20)
	}
	h.logCall(c, nil)
	h.record(c, nil)
	return out, nil
}

// responseSize is the size of r as the Lambda runtime sends it: JSON, with
// the body escaped inside. Answers well under the cap are not encoded twice.
func responseSize(r events.APIGatewayProxyResponse) int {
	if len(r.Body) < MaxBufferedResponseBytes/2 {
		return len(r.Body)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return math.MaxInt
	}
	return len(b)
}

// validModel reports whether name is a model name the gateway may echo: at
// most maxModelBytes of the characters model ids use.
func validModel(name string) bool {
	if len(name) > maxModelBytes {
		return false
	}
	for i := 0; i < len(name); i++ {
		switch b := name[i]; {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9':
		case strings.IndexByte("._-:/@+", b) >= 0:
		default:
			return false
		}
	}
	return true
}

// clip bounds a client-supplied string for a log line or an error message.
func clip(s string) string { return clipTo(s, maxModelBytes) }

func clipTo(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func headerValue(req events.APIGatewayProxyRequest, name string) string {
	for k, v := range req.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}
