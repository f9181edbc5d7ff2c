package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aistats/edge/pkg/adapter/emf"
	"github.com/aistats/edge/pkg/adapter/webhook"
	"github.com/aistats/edge/pkg/domain/findings"
	"github.com/aistats/edge/pkg/domain/gateway"
)

// Workspaces reads a workspace's alert settings and keeps the outcome of
// its latest webhook delivery.
type Workspaces interface {
	GetWorkspace(ctx context.Context, id string) (gateway.Workspace, error)
	RecordDelivery(ctx context.Context, id, url string, d gateway.Delivery) error
}

// Publisher publishes to the stack's SNS topic (sns.Topic).
type Publisher interface {
	Publish(ctx context.Context, subject, kind string, body []byte) error
}

// Deliverer delivers to a webhook (webhook.Client).
type Deliverer interface {
	Deliver(ctx context.Context, url, secret, id string, body []byte) webhook.Result
}

// Disabler disables a finding's key when its workspace opted in
// (management.Service.AutoDisable); it reports whether it did.
type Disabler interface {
	AutoDisable(ctx context.Context, f findings.Finding) (bool, error)
}

// Config configures a Raiser.
type Config struct {
	Findings   findings.Store
	Workspaces Workspaces
	// Topic is the SNS topic; nil skips SNS (the local stack has none).
	Topic Publisher
	// Webhooks delivers to workspace webhooks; nil skips them.
	Webhooks Deliverer
	// Disabler applies auto_disable; nil never disables.
	Disabler Disabler
	Logger   *slog.Logger
	Metrics  *emf.Emitter
	Now      func() time.Time
}

// Raiser raises findings and alerts on the new ones.
type Raiser struct {
	cfg Config
	log *slog.Logger
}

// New returns a Raiser. Without a topic it says so once, here, rather than
// once per finding.
func New(cfg Config) (*Raiser, error) {
	if cfg.Findings == nil || cfg.Workspaces == nil {
		return nil, errors.New("alerts: findings and workspaces stores are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Topic == nil {
		log.Info("alerts: no SNS topic configured (FINDINGS_TOPIC_ARN is unset); findings are stored and sent to webhooks only")
	}
	return &Raiser{cfg: cfg, log: log}, nil
}

// Raise stores f unless a finding of its type is already open for its key,
// and for a new one applies auto_disable and then notifies (Notify). It
// returns the stored finding and whether it is new. The error is about
// storing f or disabling its key; a failed notification is not returned
// (the finding is stored and listed; the failure is logged at Error,
// counted as AlertDeliveryFailures, and shown on GET /v1/webhook).
func (r *Raiser) Raise(ctx context.Context, f findings.Finding) (findings.Finding, bool, error) {
	stored, isNew, err := r.cfg.Findings.Open(ctx, f)
	if err != nil || !isNew {
		return stored, isNew, err
	}
	var disabled bool
	var disableErr error
	if r.cfg.Disabler != nil && findings.AutoDisables(stored.Type) {
		disabled, disableErr = r.cfg.Disabler.AutoDisable(ctx, stored)
		if disableErr != nil {
			r.log.Error("auto_disable", "finding_id", stored.ID, "workspace", stored.WorkspaceID, "kid", stored.KID, "error", disableErr.Error())
			disableErr = fmt.Errorf("auto_disable key %s for finding %s: %w", stored.KID, stored.ID, disableErr)
		}
	}
	_ = r.notify(ctx, stored, disabled)
	return stored, true, disableErr
}

// Notify publishes f to the SNS topic and delivers it to its workspace's
// webhook, if either is configured. Every failure is logged at Error with
// the finding id and counted (AlertDeliveryFailures); a webhook's outcome
// is also kept on the workspace for GET /v1/webhook.
func (r *Raiser) Notify(ctx context.Context, f findings.Finding) error {
	return r.notify(ctx, f, false)
}

func (r *Raiser) notify(ctx context.Context, f findings.Finding, disabled bool) error {
	view := findings.NewView(f)
	view.Workspace = f.WorkspaceID
	body, err := json.Marshal(findings.Event{Event: findings.EventOpened, Data: view, KeyDisabled: disabled})
	if err != nil {
		return fmt.Errorf("encode finding %s: %w", f.ID, err)
	}
	var errs []error
	if r.cfg.Topic != nil {
		subject := fmt.Sprintf("aistats %s: %s on key %s", f.Severity, f.Type, f.KID)
		if err := r.cfg.Topic.Publish(ctx, subject, string(f.Type), body); err != nil {
			r.failed(ctx, f, "sns", 0, err)
			errs = append(errs, err)
		}
	}
	if r.cfg.Webhooks != nil {
		if err := r.deliver(ctx, f, body); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// deliver sends body to the workspace's webhook, if it has one, and keeps
// the outcome on the workspace.
func (r *Raiser) deliver(ctx context.Context, f findings.Finding, body []byte) error {
	ws, err := r.cfg.Workspaces.GetWorkspace(ctx, f.WorkspaceID)
	if err != nil {
		r.failed(ctx, f, "webhook", 0, err)
		return err
	}
	a := ws.Alerts
	if a.WebhookURL == "" {
		return nil
	}
	res := r.cfg.Webhooks.Deliver(ctx, a.WebhookURL, a.WebhookSecret, f.ID, body)
	d := gateway.Delivery{At: r.cfg.Now(), FindingID: f.ID, OK: res.Err == nil, Status: res.Status}
	if res.Err != nil {
		d.Error = fmt.Sprintf("%v (after %d attempts)", res.Err, res.Attempts)
		r.failed(ctx, f, "webhook", res.Status, res.Err)
	}
	// Recording is best effort: the delivery happened or failed either way.
	if err := r.cfg.Workspaces.RecordDelivery(context.WithoutCancel(ctx), f.WorkspaceID, a.WebhookURL, d); err != nil {
		r.log.Error("record webhook delivery", "finding_id", f.ID, "workspace", f.WorkspaceID, "error", err.Error())
	}
	if res.Err != nil {
		return fmt.Errorf("deliver finding %s to the webhook: %w", f.ID, res.Err)
	}
	r.log.Info("alert delivered", "channel", "webhook", "finding_id", f.ID, "workspace", f.WorkspaceID, "kid", f.KID,
		"status", res.Status, "attempts", res.Attempts)
	return nil
}

// failed logs one failed alert at Error, with its metric in the same line.
func (r *Raiser) failed(ctx context.Context, f findings.Finding, channel string, status int, err error) {
	attrs := []slog.Attr{slog.String("channel", channel), slog.String("finding_id", f.ID), slog.String("workspace", f.WorkspaceID),
		slog.String("kid", f.KID), slog.Int("status", status), slog.String("error", err.Error())}
	attrs = append(attrs, r.cfg.Metrics.Attrs(f.WorkspaceID, f.KID, emf.Metric{Name: "AlertDeliveryFailures", Unit: "Count", Value: 1})...)
	r.log.LogAttrs(ctx, slog.LevelError, "alert delivery failed", attrs...)
}
