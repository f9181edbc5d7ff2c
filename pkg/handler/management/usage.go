package management

import (
	"context"
	"time"

	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/usage"
)

// UsageStore reads the usage rollups, and adds this function's own
// requests to them: every request the authorizer counted against a key's
// limits is also counted in its usage, whichever function answers it.
type UsageStore interface {
	usage.Recorder
	// KeyUsage reads a key's hour rollups by model, exact at once.
	KeyUsage(ctx context.Context, kid string, from, to time.Time) ([]usage.Rollup, error)
	// WorkspaceUsage reads a workspace's rollups by model or by key, in
	// hours or days, as fresh as the rollup job's last run.
	WorkspaceUsage(ctx context.Context, ws string, byKey, day bool, from, to time.Time) ([]usage.Rollup, error)
	// KeySample reads a key's newest kept failures (non-2xx answers).
	KeySample(ctx context.Context, kid string, now time.Time) ([]usage.Sample, error)
}

// Bucket is one hour or day of a key's usage, in the shape GET
// /v1/keys/{kid}/usage has answered since round one.
type Bucket struct {
	Start            time.Time `json:"start"`
	Requests         int64     `json:"requests"`
	Errors           int64     `json:"errors"`
	PromptTokens     int64     `json:"prompt_tokens"`
	CompletionTokens int64     `json:"completion_tokens"`
	LatencyMS        int64     `json:"latency_ms"`
}

// Limits on one usage query, so that a request stays small.
const (
	maxHourRange = 7 * 24 * time.Hour
	maxDayRange  = 366 * 24 * time.Hour
)

// Usage returns a key's usage in buckets of granularity ("hour" or "day")
// from from (inclusive) to to (exclusive), every bucket present, zeros
// included. Revoked and rotated keys stay readable.
func (s *Service) Usage(ctx context.Context, actor Actor, reader UsageStore, kid, granularity string, from, to time.Time) ([]Bucket, error) {
	if _, err := s.GetKey(ctx, actor, gateway.KindInference, kid); err != nil {
		return nil, err
	}
	step := 24 * time.Hour
	limit := maxDayRange
	switch granularity {
	case "day", "":
		from = from.UTC().Truncate(24 * time.Hour)
	case "hour":
		step, limit = time.Hour, maxHourRange
		from = from.UTC().Truncate(time.Hour)
	default:
		return nil, invalid("granularity", "granularity must be hour or day.")
	}
	if !to.After(from) {
		return nil, invalid("to", "to must be after from.")
	}
	if to.Sub(from) > limit {
		return nil, invalid("from", "a %s query covers at most %d days.", map[bool]string{true: "hour", false: "day"}[step == time.Hour], int(limit.Hours()/24))
	}
	rollups, err := reader.KeyUsage(ctx, kid, from, to)
	if err != nil {
		return nil, err
	}
	_, series := usage.Summarize(rollups, usage.GroupNone, from, to, step)
	out := make([]Bucket, 0, len(series[0].Buckets))
	for _, b := range series[0].Buckets {
		out = append(out, Bucket{Start: b.Start, Requests: b.Requests, Errors: b.Errors(),
			PromptTokens: b.PromptTokens, CompletionTokens: b.CompletionTokens, LatencyMS: b.LatencyMS})
	}
	return out, nil
}

// keyRequests is GET /v1/keys/{kid}/requests: the key's recent failures
// (non-2xx answers), newest first, at most 100 of the last 7 days, metadata
// only. Another workspace's key is not found.
func (h *Handler) keyRequests(ctx context.Context, actor Actor, kid string) (result, error) {
	if err := Require(actor, ScopeUsageRead); err != nil {
		return result{}, err
	}
	if _, err := h.svc.GetKey(ctx, actor, gateway.KindInference, kid); err != nil {
		return result{}, err
	}
	samples, err := h.usage.KeySample(ctx, kid, h.now())
	if err != nil {
		return result{}, err
	}
	return result{status: 200, body: map[string]any{"kid": kid, "data": samples}}, nil
}
