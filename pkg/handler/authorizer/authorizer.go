package authorizer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/aistats/edge/pkg/adapter/emf"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/usage"
	"github.com/aistats/edge/pkg/handler/recording"
)

// This file is the handler: configuration, one invocation, its log line and
// metric. decide.go reaches the decision, cache.go is what a warm container
// remembers, response.go renders the decision for API Gateway.

// MaxCacheTTL bounds how long a warm container trusts a cached workspace
// plan and status (docs/architecture.md, "Limits"). It is also the longest a
// disabled workspace's key can be admitted when the disable's fan-out missed
// the key's state item.
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
	// Metrics adds each decision's EMF metric to its log line; nil counts
	// nothing.
	Metrics *emf.Emitter
	// Usage counts refusals of real keys (a wrong secret for a real kid,
	// a revoked key, …) in the key's usage: one write per such refusal,
	// none on the admitted path. Nil counts none (unit tests only; the
	// wiring always sets it).
	Usage usage.Recorder
}

// Handler is the authorizer. It is safe for concurrent use.
type Handler struct {
	store        gateway.Admitter
	now          func() time.Time
	ttl          time.Duration
	storeTimeout time.Duration
	log          *slog.Logger
	metrics      *emf.Emitter
	recorder     *recording.Recorder

	mu         sync.Mutex
	keys       map[string]cachedKeyState
	workspaces map[string]cachedWorkspace
	full       map[string]fullWindow
	// throttled holds until when each shard of a hot key that DynamoDB
	// throttled is tried last (shards.go).
	throttled map[string]time.Time
	// shardStale holds the stale counters and tickets last seen on each
	// shard of a hot key or workspace, for its next write to remove.
	shardStale map[string][]string
	// resources caches the Allow policy's resources per API stage and key
	// kind: they never change in a container's life.
	resources map[resourcesKey][]string
	// sharding lets one request per key shard a hot key (shards.go).
	sharding singleflight.Group
	// writers are the container's writers of counting writes (tickets.go).
	writers *writers
}

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
		keys: map[string]cachedKeyState{}, workspaces: map[string]cachedWorkspace{}, full: map[string]fullWindow{}, shardStale: map[string][]string{}, throttled: map[string]time.Time{}, resources: map[resourcesKey][]string{},
	}
	if h.now == nil {
		h.now = time.Now
	}
	var err error
	if h.writers, err = newWriters(); err != nil {
		return nil, err
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
	if cfg.Usage != nil {
		h.recorder = &recording.Recorder{Store: cfg.Usage, Log: h.log, Metrics: cfg.Metrics}
	}
	return h, nil
}

// Handle authorizes one request.
func (h *Handler) Handle(ctx context.Context, ev events.APIGatewayCustomAuthorizerRequestTypeRequest) (Response, error) {
	start := h.now()
	req := &request{now: start, id: ev.RequestContext.RequestID, writer: h.writers.acquire()}
	defer h.writers.put(req.writer)
	if lc, ok := lambdacontext.FromContext(ctx); ok && req.id == "" {
		req.id = lc.AwsRequestID
	}
	req.deadline, _ = ctx.Deadline()
	req.waitRetry = h.retryPending(req)
	defer req.waitRetry()
	d, err := h.decide(ctx, ev, req)
	latency := float64(h.now().Sub(start).Microseconds()) / 1000
	// One line per request: the decision's log fields and, where metrics are
	// on (in AWS), its EMF metric in the same JSON line, which CloudWatch
	// reads as both (docs/architecture.md §10). LogAttrs, not Info(...any):
	// typed attributes are not boxed, which matters on every request.
	attrs := make([]slog.Attr, 0, 16)
	attrs = append(attrs, slog.String("request_id", req.id), slog.String("kid", req.kid), slog.String("workspace", req.workspace),
		slog.Int64("store_calls", int64(req.calls.Load())), slog.Float64("latency_ms", latency))
	if err != nil {
		// API Gateway answers any error with AUTHORIZER_FAILURE (503): the
		// one 5xx of this function, logged with everything known of it.
		attrs = append(attrs, slog.String("outcome", "error"), slog.String("reason", string(gateway.ErrorCode(err))), slog.String("error", err.Error()))
		attrs = append(attrs, h.metrics.Attrs(req.workspace, req.kid, emf.Metric{Name: "AuthorizerErrors", Unit: "Count", Value: 1})...)
		h.log.LogAttrs(ctx, slog.LevelError, "authorize", attrs...)
		return Response{}, errors.New("authorizer failed; see its log line for this request")
	}
	attrs = append(attrs, slog.String("outcome", d.outcome.String()), slog.String("reason", string(d.code)))
	attrs = append(attrs, h.metrics.Attrs(req.workspace, req.kid, emf.Metric{Name: d.outcome.metric(), Unit: "Count", Value: 1})...)
	h.log.LogAttrs(ctx, slog.LevelInfo, "authorize", attrs...)
	if req.refusal != usage.NoRefusal && h.recorder != nil {
		h.recorder.RecordBy(req.recordingDeadline(), req.id, usage.Event{Time: start, KID: req.kid, WorkspaceID: req.owner,
			Route: ev.HTTPMethod + " " + ev.Resource, Status: 401, Class: usage.Class401, Refusal: req.refusal,
			Latency: h.now().Sub(start), Code: string(d.code), Client: usage.ClientNetwork(ev.RequestContext.Identity.SourceIP)})
	}
	return h.response(d, req, ev.MethodArn), nil
}
