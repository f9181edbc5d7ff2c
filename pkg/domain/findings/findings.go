// Package findings holds what the gateway found wrong with a key: an anomaly
// the detector saw in its usage, a budget crossing, or a leaked-key report.
// A finding is stored, listed, resolved and alerted on (docs/architecture.md);
// while one is open, another of the same type for the same key is the same
// finding, not a new one.
package findings

import (
	"context"
	"time"
)

// Type names what was found. The detector's types come first; leaked_key is
// raised by a report (POST /v1/security/report-leaked-key), and the budget
// types by spend crossing 80 % and 100 % of a budget.
type Type string

// The types of finding.
const (
	TrafficSpike     Type = "traffic_spike"
	TrafficDrop      Type = "traffic_drop"
	ErrorRateSpike   Type = "error_rate_spike"
	AuthFailures     Type = "auth_failures"
	AccessDenied     Type = "access_denied_burst"
	RateLimitStorm   Type = "rate_limit_storm"
	SpendSpike       Type = "spend_spike"
	NewModel         Type = "new_model"
	DormantKeyActive Type = "dormant_key_active"
	LeakedKey        Type = "leaked_key"
	BudgetWarning    Type = "budget_80"
	BudgetExhausted  Type = "budget_100"
)

// Status is whether a finding still needs a person.
type Status string

// The statuses of a finding.
const (
	Open     Status = "open"
	Resolved Status = "resolved"
)

// Finding is one thing found about one key. It holds metadata only: never a
// request's body, and never a secret.
type Finding struct {
	ID          string
	WorkspaceID string
	KID         string
	Type        Type
	// Severity is "low", "medium" or "high".
	Severity string
	Status   Status
	// WindowStart and WindowEnd bound the traffic that triggered it.
	WindowStart time.Time
	WindowEnd   time.Time
	// Observed is the value seen; ExpectedLow and ExpectedHigh the range
	// the key's own baseline expected (both zero where none applies).
	Observed     float64
	ExpectedLow  float64
	ExpectedHigh float64
	// Sentence says it for a person, in one sentence.
	Sentence   string
	CreatedAt  time.Time
	ResolvedAt time.Time
	// ResolvedBy is the management key that resolved it.
	ResolvedBy string
}

// ListOptions narrows a listing to one key, to findings created at or after
// Since, and to one status; zero values do not narrow.
type ListOptions struct {
	KID    string
	Since  time.Time
	Status Status
	Cursor string
	Limit  int
}

// Page is one page of a listing, newest first; Cursor is empty on the last.
type Page struct {
	Findings []Finding
	Cursor   string
}

// Store keeps findings.
type Store interface {
	// Open stores f unless a finding of the same type for the same key is
	// still open; it reports whether f is new (and so must be alerted on),
	// and returns the stored finding either way.
	Open(ctx context.Context, f Finding) (Finding, bool, error)
	List(ctx context.Context, workspaceID string, opts ListOptions) (Page, error)
	// Resolve closes a finding of the workspace; another workspace's
	// finding is not found.
	Resolve(ctx context.Context, workspaceID, id, by string, at time.Time) (Finding, error)
}
