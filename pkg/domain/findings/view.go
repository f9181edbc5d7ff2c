package findings

import "time"

// View is a finding as the API, the webhook and the SNS topic show it: one
// JSON shape everywhere, so a receiver and a dashboard read the same fields.
type View struct {
	ID           string     `json:"id"`
	KID          string     `json:"kid"`
	Type         Type       `json:"type"`
	Severity     string     `json:"severity"`
	Status       Status     `json:"status"`
	WindowStart  time.Time  `json:"window_start"`
	WindowEnd    time.Time  `json:"window_end"`
	Observed     float64    `json:"observed"`
	ExpectedLow  float64    `json:"expected_low"`
	ExpectedHigh float64    `json:"expected_high"`
	Sentence     string     `json:"sentence"`
	CreatedAt    time.Time  `json:"created_at"`
	ResolvedAt   *time.Time `json:"resolved_at"`
	ResolvedBy   string     `json:"resolved_by,omitempty"`
	// Workspace is shown to the webhook and SNS, which serve one workspace
	// or the whole stack; the API leaves it out (it is the caller's).
	Workspace string `json:"workspace,omitempty"`
}

// NewView renders f for the API.
func NewView(f Finding) View {
	v := View{ID: f.ID, KID: f.KID, Type: f.Type, Severity: f.Severity, Status: f.Status,
		WindowStart: f.WindowStart, WindowEnd: f.WindowEnd, Observed: f.Observed,
		ExpectedLow: f.ExpectedLow, ExpectedHigh: f.ExpectedHigh, Sentence: f.Sentence,
		CreatedAt: f.CreatedAt, ResolvedBy: f.ResolvedBy}
	if !f.ResolvedAt.IsZero() {
		at := f.ResolvedAt
		v.ResolvedAt = &at
	}
	return v
}

// Event is the body of an alert: a webhook delivery or an SNS message.
type Event struct {
	// Event is "finding.opened".
	Event string `json:"event"`
	Data  View   `json:"data"`
	// KeyDisabled is set when auto_disable disabled the key for it.
	KeyDisabled bool `json:"key_disabled"`
}

// EventOpened names the alert of a new finding.
const EventOpened = "finding.opened"

// AutoDisables reports whether a finding of type t may disable its key in
// a workspace that opted in to auto_disable: only the types that mean the
// key is being abused, not ones a legitimate change in traffic can cause.
func AutoDisables(t Type) bool { return t == AuthFailures || t == SpendSpike }
