package gateway

import "time"

// AuditEvent records one change to a key: who did what to which key, and
// the fields that changed (never a secret).
type AuditEvent struct {
	Time        time.Time
	WorkspaceID string
	// ActorKID is the management key that made the change, or "operator"
	// for the CLI.
	ActorKID  string
	Action    string
	TargetKID string
	Changes   map[string]any
}

// AuditPage is one page of a workspace's audit trail, newest first.
type AuditPage struct {
	Events     []AuditEvent
	NextCursor string
}
