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
