package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/usage"
)

// KeyUsage reads a key's hour items from the hour of from to the hour
// before to, one rollup per hour and model, oldest first. These are the
// items each request writes, so the answer is exact at once. Days recorded
// before round two come back as their 24 hours, model "" and their errors
// in usage.ClassError. It reads 24 × days × models items, plus one per
// legacy day.
func (s *Store) KeyUsage(ctx context.Context, kid string, from, to time.Time) ([]usage.Rollup, error) {
	from, to = from.UTC().Truncate(time.Hour), to.UTC()
	var out []usage.Rollup
	err := s.queryUsage(ctx, usageKeyPK(kid), "h#"+from.Format(hourLayout), "h#"+to.Add(-time.Nanosecond).Format(hourLayout)+"#\uffff",
		func(r *itemReader, kind byte, at time.Time, rest string, _ bool) {
			out = append(out, usage.Rollup{Start: at, Model: rest, Totals: readTotals(r)})
		})
	if err != nil {
		return nil, err
	}
	var legacy []usage.Rollup
	err = s.queryUsage(ctx, usageKeyPK(kid), "d#"+from.Format(dayLayout), "d#"+to.Add(-time.Nanosecond).Format(dayLayout),
		func(r *itemReader, kind byte, at time.Time, rest string, isLegacy bool) {
			if !isLegacy {
				return
			}
			for h := range 24 {
				start := at.Add(time.Duration(h) * time.Hour)
				if start.Before(from) || !start.Before(to) {
					continue
				}
				if t := readLegacyHour(r, h); t.Requests > 0 {
					legacy = append(legacy, usage.Rollup{Start: start, Totals: t})
				}
			}
		})
	if err != nil {
		return nil, err
	}
	if len(legacy) > 0 {
		out = append(legacy, out...)
		sortRollups(out)
	}
	return out, nil
}

// WorkspaceUsage reads a workspace's rollups from the rollup job, by model
// (byKey false) or by key, in hours or days (day true), from the bucket of
// from to the one before to. It reads one item per bucket and model (or
// key) with traffic. They are as fresh as the job's last run.
func (s *Store) WorkspaceUsage(ctx context.Context, ws string, byKey, day bool, from, to time.Time) ([]usage.Rollup, error) {
	kind, layout, step := "h", hourLayout, time.Hour
	switch {
	case byKey && day:
		kind, layout, step = "j", dayLayout, 24*time.Hour
	case byKey:
		kind = "k"
	case day:
		kind, layout, step = "d", dayLayout, 24*time.Hour
	}
	from, to = from.UTC().Truncate(step), to.UTC()
	var out []usage.Rollup
	err := s.queryUsage(ctx, usageWorkspacePK(ws), kind+"#"+from.Format(layout), kind+"#"+to.Add(-time.Nanosecond).Format(layout)+"#\uffff",
		func(r *itemReader, _ byte, at time.Time, rest string, _ bool) {
			ru := usage.Rollup{Start: at, Totals: readTotals(r)}
			if byKey {
				ru.KID = rest
			} else {
				ru.Model = rest
			}
			out = append(out, ru)
		})
	return out, err
}

// queryUsage reads the items of pk with sort keys between lo and hi,
// inclusive, page by page, and hands each to visit with its parsed key.
func (s *Store) queryUsage(ctx context.Context, pk, lo, hi string, visit func(r *itemReader, kind byte, at time.Time, rest string, legacy bool)) error {
	var start item
	for {
		out, err := s.client.Query(ctx, &dynamodb.QueryInput{
			TableName:                 aws.String(s.tables.Usage),
			KeyConditionExpression:    aws.String(attrPK + " = :pk AND " + attrSK + " BETWEEN :lo AND :hi"),
			ExpressionAttributeValues: item{":pk": str(pk), ":lo": str(lo), ":hi": str(hi)},
			ExclusiveStartKey:         start,
		})
		if err != nil {
			return classify("query usage of "+pk, err)
		}
		for _, it := range out.Items {
			r := &itemReader{item: it}
			kind, at, rest, legacy, err := parseUsageSK(r.str(attrSK))
			if err != nil {
				return gateway.Internal(err)
			}
			visit(r, kind, at, rest, legacy)
			if r.err != nil {
				return gateway.Internal(fmt.Errorf("decode usage item of %s: %w", pk, r.err))
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return nil
		}
		start = out.LastEvaluatedKey
	}
}

// Attributes of a legacy day item: each total once for the day and once
// per hour, prefixed h<HH>_.
const (
	attrLegacyRequests         = "requests"
	attrLegacyErrors           = "errors"
	attrLegacyPromptTokens     = "prompt_tokens"
	attrLegacyCompletionTokens = "completion_tokens"
	attrLegacyLatencyMS        = "latency_ms"
)

// readLegacyHour reads one hour of a legacy day item. Its errors had no
// status, so they count in usage.ClassError, and its latency was a sum
// without a histogram, so it has no percentiles.
func readLegacyHour(r *itemReader, hour int) usage.Totals {
	p := fmt.Sprintf("h%02d_", hour)
	var t usage.Totals
	t.Requests = r.num(p + attrLegacyRequests)
	errs := r.num(p + attrLegacyErrors)
	t.Classes[usage.ClassError] = errs
	t.Classes[usage.Class2xx] = t.Requests - errs
	t.PromptTokens = r.num(p + attrLegacyPromptTokens)
	t.CompletionTokens = r.num(p + attrLegacyCompletionTokens)
	t.LatencyMS = r.num(p + attrLegacyLatencyMS)
	return t
}

// KeyTotals sums a key's usage from from to to (exclusive).
func (s *Store) KeyTotals(ctx context.Context, kid string, from, to time.Time) (usage.Totals, error) {
	rollups, err := s.KeyUsage(ctx, kid, from, to)
	var t usage.Totals
	for _, r := range rollups {
		t.Merge(r.Totals)
	}
	return t, err
}

// UsageHourKey is the primary key of a key's hour item of one model, for
// tests and benchmarks that look at the stored item itself.
func UsageHourKey(kid string, hour time.Time, model string) (pk, sk string) {
	return usageKeyPK(kid), hourSK(hour, model)
}
