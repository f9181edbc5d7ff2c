package management

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aistats/edge/pkg/authcontext"
	"github.com/aistats/edge/pkg/gateway"
)

// KeyReader is what reading a key needs from the store.
type KeyReader interface {
	GetKey(ctx context.Context, kid string) (gateway.Key, error)
	GetKeyAuth(ctx context.Context, kid string, now time.Time) (gateway.KeyAuth, error)
}

// Config configures a Handler.
type Config struct {
	Keys   KeyReader
	Now    func() time.Time
	Logger *slog.Logger
}

// Handler serves the management routes.
type Handler struct {
	keys KeyReader
	now  func() time.Time
	log  *slog.Logger
}

// New returns a Handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Keys == nil {
		return nil, errors.New("management: no key store")
	}
	h := &Handler{keys: cfg.Keys, now: cfg.Now, log: cfg.Logger}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	return h, nil
}

// KeyView is a key as the API shows it: never its secret or digest.
type KeyView struct {
	KID        string         `json:"kid"`
	Kind       string         `json:"kind"`
	Name       string         `json:"name"`
	Prefix     string         `json:"prefix"`
	Status     string         `json:"status"`
	Models     []string       `json:"models"`
	Providers  []string       `json:"providers"`
	Scopes     []string       `json:"scopes,omitempty"`
	Limits     gateway.Limits `json:"limits"`
	CreatedAt  time.Time      `json:"created_at"`
	ExpiresAt  *time.Time     `json:"expires_at"`
	LastUsedAt *time.Time     `json:"last_used_at"`
}

// NewKeyView renders a key record, with its last use from the authorizer's
// state item. An expired key shows status "expired".
func NewKeyView(k gateway.Key, lastUsed *time.Time, now time.Time) KeyView {
	status := string(k.Status)
	if k.Status == gateway.KeyActive && k.ExpiredAt(now) {
		status = "expired"
	}
	v := KeyView{
		KID: k.KID, Kind: string(k.Kind), Name: k.Name, Prefix: k.Prefix, Status: status,
		Models: nonNil(k.Models), Providers: nonNil(k.Providers), Limits: k.Limits,
		CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt, LastUsedAt: lastUsed,
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

// Handle serves one request.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	start := h.now()
	requestID := req.RequestContext.RequestID
	c, refused := authcontext.Check(req)
	if refused != nil {
		h.log.Info("management", "request_id", requestID, "kid", c.KID, "route", req.HTTPMethod+" "+req.Resource, "status", refused.StatusCode)
		return *refused, nil
	}
	var (
		status = 200
		body   any
		err    error
	)
	switch req.HTTPMethod + " " + req.Resource {
	case "GET /key":
		body, err = h.ownKey(ctx, c)
	default:
		err = gateway.Errorf(gateway.CodeNotImplemented, "%s %s is not available in this version of the gateway yet.", req.HTTPMethod, req.Resource)
	}
	headers := c.Headers(requestID)
	attrs := []any{"request_id", requestID, "kid", c.KID, "workspace", c.WorkspaceID, "route", req.HTTPMethod + " " + req.Resource,
		"latency_ms", float64(h.now().Sub(start).Microseconds()) / 1000}
	if err != nil {
		resp := authcontext.ErrorResponse(err, headers, requestID)
		h.log.Info("management", append(attrs, "status", resp.StatusCode, "code", string(gateway.ErrorCode(err)), "error", err.Error())...)
		return resp, nil
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return authcontext.ErrorResponse(gateway.Internal(err), headers, requestID), nil
	}
	headers["Content-Type"] = "application/json"
	h.log.Info("management", append(attrs, "status", status)...)
	return events.APIGatewayProxyResponse{StatusCode: status, Headers: headers, Body: string(raw)}, nil
}

// ownKey is GET /v1/key: the calling key's own record.
func (h *Handler) ownKey(ctx context.Context, c authcontext.Context) (any, error) {
	k, err := h.keys.GetKey(ctx, c.KID)
	if err != nil {
		return nil, err
	}
	auth, err := h.keys.GetKeyAuth(ctx, c.KID, h.now())
	if err != nil {
		return nil, err
	}
	return map[string]any{"data": NewKeyView(k, auth.LastUsedAt, h.now())}, nil
}
