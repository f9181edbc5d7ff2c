// Package recording records usage events for the handlers, and makes a
// lost one loud: the proxy, the management function and the authorizer all
// record the same way.
package recording

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/aistats/edge/pkg/adapter/emf"
	"github.com/aistats/edge/pkg/domain/usage"
)

// Timeout bounds the recording of one event, retries and fallback
// included. The client has its answer by then; only the function's own
// time is spent.
const Timeout = 2 * time.Second

// LostMetric counts events neither the rollup nor the spill took; the
// stack's UsageLostAlarm watches it.
const LostMetric = "UsageEventsLost"

// Recorder records events and reports a loss.
type Recorder struct {
	Store   usage.Recorder
	Log     *slog.Logger
	Metrics *emf.Emitter
}

// Record records e, giving it at most Timeout. An event that is lost is
// logged at Error with all its metadata, so it can be replayed from the
// log, and counted in LostMetric.
func (r Recorder) Record(requestID string, e usage.Event) { r.RecordBy(time.Time{}, requestID, e) }

// RecordBy is Record that also ends by deadline (zero: none): a function
// whose invocation would otherwise run into its Lambda timeout, which
// resets the container, loses the event loudly instead.
func (r Recorder) RecordBy(deadline time.Time, requestID string, e usage.Event) {
	if e.KID == "" {
		return // nothing to attribute it to
	}
	if by := time.Now().Add(Timeout); deadline.IsZero() || by.Before(deadline) {
		deadline = by
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	err := r.Store.RecordUsage(ctx, e)
	if err == nil {
		return
	}
	if errors.Is(err, usage.ErrSampleNotKept) {
		r.Log.LogAttrs(context.Background(), slog.LevelWarn, "failure not kept in the key's sample",
			slog.String("request_id", requestID), slog.String("kid", e.KID), slog.String("error", err.Error()))
		return
	}
	r.Log.LogAttrs(context.Background(), slog.LevelError, "usage event lost",
		slog.String("request_id", requestID), slog.String("kid", e.KID), slog.String("workspace", e.WorkspaceID),
		slog.Time("time", e.Time), slog.String("route", e.Route), slog.String("provider", e.Provider),
		slog.String("model", e.Model), slog.Int("status", e.Status), slog.String("class", e.Class.String()),
		slog.String("refusal", e.Refusal.String()),
		slog.Int64("prompt_tokens", e.PromptTokens), slog.Int64("completion_tokens", e.CompletionTokens),
		slog.Int64("cached_tokens", e.CachedTokens), slog.Int64("cost_micro_usd", e.CostMicroUSD),
		slog.Int64("latency_ms", e.Latency.Milliseconds()), slog.Bool("streamed", e.Streamed),
		slog.String("error", err.Error()))
	r.Metrics.EmitTotal(emf.Metric{Name: LostMetric, Unit: "Count", Value: 1})
}
