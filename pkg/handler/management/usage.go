package management

import (
	"context"
	"time"

	"github.com/aistats/edge/pkg/domain/gateway"
)

// UsageStore reads the usage rollups, and adds this function's own
// requests to them: every request the authorizer counted against a key's
// limits is also counted in its usage, whichever function answers it.
type UsageStore interface {
	gateway.UsageRecorder
	QueryUsage(ctx context.Context, kid string, first, last time.Time) ([]gateway.DayUsage, error)
}

// Bucket is one hour or day of a key's usage.
type Bucket struct {
	Start            time.Time `json:"start"`
	Requests         int64     `json:"requests"`
	Errors           int64     `json:"errors"`
	PromptTokens     int64     `json:"prompt_tokens"`
	CompletionTokens int64     `json:"completion_tokens"`
	LatencyMS        int64     `json:"latency_ms"`
}

func bucket(start time.Time, t gateway.UsageTotals) Bucket {
	return Bucket{Start: start, Requests: t.Requests, Errors: t.Errors, PromptTokens: t.PromptTokens,
		CompletionTokens: t.CompletionTokens, LatencyMS: t.LatencyMS}
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
	days, err := reader.QueryUsage(ctx, kid, from, to.Add(-time.Nanosecond))
	if err != nil {
		return nil, err
	}
	byDay := map[time.Time]gateway.DayUsage{}
	for _, d := range days {
		byDay[d.Day] = d
	}
	var out []Bucket
	for t := from; t.Before(to); t = t.Add(step) {
		d := byDay[t.Truncate(24*time.Hour)]
		if step == time.Hour {
			out = append(out, bucket(t, d.Hours[t.Hour()]))
		} else {
			out = append(out, bucket(t, d.Total))
		}
	}
	return out, nil
}
