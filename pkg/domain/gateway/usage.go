package gateway

import (
	"context"
	"time"
)

// UsageRecord is one completed proxied request, as it is added to the key's
// hourly and daily rollups.
type UsageRecord struct {
	KID              string
	WorkspaceID      string
	Time             time.Time
	Error            bool
	PromptTokens     int64
	CompletionTokens int64
	Latency          time.Duration
}

// UsageRecorder adds completed requests to the rollups.
type UsageRecorder interface {
	RecordUsage(ctx context.Context, r UsageRecord) error
}

// UsageTotals are the sums of one rollup bucket.
type UsageTotals struct {
	Requests, Errors, PromptTokens, CompletionTokens, LatencyMS int64
}

// DayUsage is one UTC day's rollup of a key: the day's totals and each hour's.
type DayUsage struct {
	Day   time.Time
	Total UsageTotals
	Hours [24]UsageTotals
}
