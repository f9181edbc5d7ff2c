package management

import (
	"context"
	"net/url"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aistats/edge/pkg/adapter/webhook"
	"github.com/aistats/edge/pkg/domain/gateway"
)

// AlertStore keeps a workspace's alert settings (dynamo.Store).
type AlertStore interface {
	SetWebhook(ctx context.Context, id, url, secret string, at time.Time) (gateway.Workspace, error)
	DeleteWebhook(ctx context.Context, id string) (gateway.Workspace, error)
	SetAutoDisable(ctx context.Context, id string, on bool) (gateway.Workspace, error)
}

// DeliveryView is a webhook's latest delivery as the API shows it.
type DeliveryView struct {
	At        time.Time `json:"at"`
	FindingID string    `json:"finding_id"`
	OK        bool      `json:"ok"`
	Status    int       `json:"status"`
	Error     string    `json:"error,omitempty"`
}

// WebhookView is the workspace's webhook as the API shows it: never its
// secret, except in the one answer that sets it.
type WebhookView struct {
	URL          string        `json:"url"`
	CreatedAt    time.Time     `json:"created_at"`
	LastDelivery *DeliveryView `json:"last_delivery"`
	Secret       string        `json:"secret,omitempty"`
}

func newWebhookView(a gateway.AlertSettings) WebhookView {
	v := WebhookView{URL: a.WebhookURL, CreatedAt: a.WebhookCreatedAt}
	if d := a.LastDelivery; d != nil {
		v.LastDelivery = &DeliveryView{At: d.At, FindingID: d.FindingID, OK: d.OK, Status: d.Status, Error: d.Error}
	}
	return v
}

func noWebhook() error {
	return gateway.Errorf(gateway.CodeNotFound, "This workspace has no webhook; set one with PUT /v1/webhook.")
}

// putWebhook is PUT /v1/webhook {url}: it sets the workspace's webhook and
// answers a new signing secret, this once. A webhook set again gets a new
// secret, so PUT is also how a secret is rotated.
func (h *Handler) putWebhook(ctx context.Context, actor Actor, req events.APIGatewayProxyRequest) (result, error) {
	if err := Require(actor, ScopeWebhooksWrite); err != nil {
		return result{}, err
	}
	if h.alerts == nil {
		return result{}, gateway.Internal(errNotConfigured("alert settings store"))
	}
	var in struct {
		URL string `json:"url"`
	}
	if err := decodeStrict(req, &in); err != nil {
		return result{}, err
	}
	if err := h.webhookRule.Check(in.URL); err != nil {
		return result{}, invalid("url", "%s.", err.Error())
	}
	secret, err := webhook.NewSecret(nil)
	if err != nil {
		return result{}, gateway.Internal(err)
	}
	ws, err := h.alerts.SetWebhook(ctx, actor.WorkspaceID, in.URL, secret, h.now().UTC())
	if err != nil {
		return result{}, err
	}
	// The audit keeps the host only: a URL's path or query may hold a token.
	h.svc.audit(ctx, actor, "webhook.set", "", map[string]any{"host": hostOf(in.URL)})
	v := newWebhookView(ws.Alerts)
	v.Secret = secret
	return result{status: 200, body: map[string]any{"data": v}}, nil
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Host
}

// getWebhook is GET /v1/webhook: the URL, when it was set and how the last
// delivery went; never the secret.
func (h *Handler) getWebhook(ctx context.Context, actor Actor) (result, error) {
	if err := Require(actor, ScopeWebhooksWrite); err != nil {
		return result{}, err
	}
	ws, err := h.svc.store.GetWorkspace(ctx, actor.WorkspaceID)
	if err != nil {
		return result{}, err
	}
	if ws.Alerts.WebhookURL == "" {
		return result{}, noWebhook()
	}
	return result{status: 200, body: map[string]any{"data": newWebhookView(ws.Alerts)}}, nil
}

// deleteWebhook is DELETE /v1/webhook.
func (h *Handler) deleteWebhook(ctx context.Context, actor Actor) (result, error) {
	if err := Require(actor, ScopeWebhooksWrite); err != nil {
		return result{}, err
	}
	if h.alerts == nil {
		return result{}, gateway.Internal(errNotConfigured("alert settings store"))
	}
	ws, err := h.svc.store.GetWorkspace(ctx, actor.WorkspaceID)
	if err != nil {
		return result{}, err
	}
	if ws.Alerts.WebhookURL == "" {
		return result{}, noWebhook()
	}
	if _, err := h.alerts.DeleteWebhook(ctx, actor.WorkspaceID); err != nil {
		return result{}, err
	}
	h.svc.audit(ctx, actor, "webhook.deleted", "", map[string]any{"host": hostOf(ws.Alerts.WebhookURL)})
	return result{status: 204}, nil
}

// WorkspaceView is the calling workspace's settings.
type WorkspaceView struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Status      string `json:"status"`
	AutoDisable bool   `json:"auto_disable"`
	HasWebhook  bool   `json:"has_webhook"`
}

func newWorkspaceView(ws gateway.Workspace) WorkspaceView {
	return WorkspaceView{ID: ws.ID, Name: ws.Name, Status: string(ws.Status), AutoDisable: ws.Alerts.AutoDisable, HasWebhook: ws.Alerts.WebhookURL != ""}
}

// getWorkspace is GET /v1/workspace (keys:read).
func (h *Handler) getWorkspace(ctx context.Context, actor Actor) (result, error) {
	if err := Require(actor, ScopeKeysRead); err != nil {
		return result{}, err
	}
	ws, err := h.svc.store.GetWorkspace(ctx, actor.WorkspaceID)
	if err != nil {
		return result{}, err
	}
	return result{status: 200, body: map[string]any{"data": newWorkspaceView(ws)}}, nil
}

// patchWorkspace is PATCH /v1/workspace {auto_disable}. auto_disable is a
// setting of the workspace, not of its webhook: it works with no webhook
// at all, and removing a webhook must not silently turn it off. It takes
// keys:write because turning it on lets findings disable keys, which is
// what keys:write guards.
func (h *Handler) patchWorkspace(ctx context.Context, actor Actor, req events.APIGatewayProxyRequest) (result, error) {
	if err := Require(actor, ScopeKeysWrite); err != nil {
		return result{}, err
	}
	if h.alerts == nil {
		return result{}, gateway.Internal(errNotConfigured("alert settings store"))
	}
	var in struct {
		AutoDisable *bool `json:"auto_disable"`
	}
	if err := decodeStrict(req, &in); err != nil {
		return result{}, err
	}
	if in.AutoDisable == nil {
		return result{}, invalid("auto_disable", "auto_disable is required: true or false.")
	}
	ws, err := h.alerts.SetAutoDisable(ctx, actor.WorkspaceID, *in.AutoDisable)
	if err != nil {
		return result{}, err
	}
	h.svc.audit(ctx, actor, "workspace.updated", "", map[string]any{"auto_disable": *in.AutoDisable})
	return result{status: 200, body: map[string]any{"data": newWorkspaceView(ws)}}, nil
}
