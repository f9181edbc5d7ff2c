package gateway

import "time"

// AlertSettings is how a workspace wants to hear of its findings: an
// optional webhook, and whether the gateway may disable a key on its own.
type AlertSettings struct {
	// WebhookURL is empty when the workspace has no webhook.
	WebhookURL string
	// WebhookSecret signs each delivery (HMAC-SHA256). It is shown once,
	// when the webhook is set, and must be stored in the clear to sign:
	// never log it or return it from a read.
	WebhookSecret    string
	WebhookCreatedAt time.Time
	// LastDelivery is the outcome of the latest delivery to the webhook;
	// nil before the first.
	LastDelivery *Delivery
	// AutoDisable lets an auth_failures or spend_spike finding disable its
	// key at once (undone with PATCH /v1/keys/{kid}).
	AutoDisable bool
}

// Delivery is the outcome of one webhook delivery, kept so that a failing
// webhook shows on GET /v1/webhook rather than only in the logs.
type Delivery struct {
	At        time.Time
	FindingID string
	OK        bool
	// Status is the receiver's last HTTP status; 0 when no answer came.
	Status int
	// Error says why it failed, for a person; never a secret.
	Error string
}
