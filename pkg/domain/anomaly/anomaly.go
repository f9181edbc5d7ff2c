package anomaly

import "time"

// Hour is one key's rollup for one UTC hour.
type Hour struct {
	Start        time.Time // UTC, on the hour
	Requests     int64     // requests answered by the proxy, any status
	ServerErrors int64     // 5xx answers (ours or upstream's)
	AuthFailures int64     // authorizer refusals of a real kid: wrong secret, revoked, disabled, expired
	AccessDenied int64     // 403: model/provider not allowed for the key
	RateLimited  int64     // 429
	CostMicroUSD int64     // spend, integer micro-dollars
	Models       []string  // models used in this hour, sorted
}

// Served is the work the key actually got done in the hour: requests
// answered other than refusals (429 and 403). Traffic spikes and drops are
// measured on it, so that a rate-limit storm or a probing burst is reported
// once, as what it is, and not a second time as a traffic spike.
func (h Hour) Served() int64 { return max(0, h.Requests-h.RateLimited-h.AccessDenied) }

// History is what Detect reads about one key.
type History struct {
	KID, WorkspaceID string
	// Hours are consecutive UTC hours, oldest first, up to 28 days, ending with the hour that contains Now
	// (that last hour is partial: Now - Start of it has elapsed). Hours without traffic are present with zeros.
	Hours []Hour
	Now   time.Time
	// LastUsedBefore is the key's last request before Hours[0] (zero if none / unknown), for dormant_key_active.
	LastUsedBefore time.Time
	// KnownModels are models the key used before Hours[0], for new_model.
	KnownModels []string
}

// Type is the kind of a finding, as stored and shown.
type Type string

// The finding types of docs/architecture.md §10.
const (
	TrafficSpike      Type = "traffic_spike"
	TrafficDrop       Type = "traffic_drop"
	ErrorRateSpike    Type = "error_rate_spike"
	AuthFailures      Type = "auth_failures"
	AccessDeniedBurst Type = "access_denied_burst"
	RateLimitStorm    Type = "rate_limit_storm"
	SpendSpike        Type = "spend_spike"
	NewModel          Type = "new_model"
	DormantKeyActive  Type = "dormant_key_active"
)

// Types lists every type Detect reports, in a stable order for reports.
var Types = []Type{
	TrafficSpike, TrafficDrop, ErrorRateSpike, AuthFailures, AccessDeniedBurst,
	RateLimitStorm, SpendSpike, NewModel, DormantKeyActive,
}

// The severities, from least to most urgent.
const (
	SeverityLow    = "low"
	SeverityMedium = "medium"
	SeverityHigh   = "high"
)

// Finding is one anomaly about one key.
type Finding struct {
	Type                   Type
	Severity               string // "low" | "medium" | "high"
	KID, WorkspaceID       string
	WindowStart, WindowEnd time.Time // the hour (or partial hour) that triggered it
	Observed               float64
	ExpectedLow            float64 // the expected range from the baseline
	ExpectedHigh           float64
	Sentence               string // one human sentence
}
