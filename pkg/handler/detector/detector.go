// Package detector is the scheduled function that keeps the workspace
// rollups current and looks for anomalies (docs/architecture.md §10). An
// EventBridge rule runs it every 5 minutes in AWS; `make dev` every minute,
// and `aistats detect --local` once.
//
// One run:
//  1. folds spilled usage events in and re-sums the workspace rollups of
//     the last two hours (the rollup job, pkg/adapter/dynamo RollUp);
//  2. for each key active in the last hour, and only those, so that the
//     cost follows traffic and not the number of keys, reads its hourly
//     history and asks the detector (pkg/domain/anomaly) what is wrong;
//  3. raises each finding: stored, deduplicated while open, alerted on.
package detector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/adapter/emf"
	"github.com/aistats/edge/pkg/domain/anomaly"
	"github.com/aistats/edge/pkg/domain/findings"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/usage"
)

// HistoryDays is how much of a key's past the detector reads: the 28 days
// its baselines use, and 3 more so that a key unused for 30 days is seen
// to be.
const (
	baselineDays = 28
	HistoryDays  = baselineDays + 3
)

// rollupWindow is how far back each run re-sums workspace rollups: the
// current hour and the two before, so that an hour is summed once more
// after it closes even if a run is missed.
const rollupWindow = 2 * time.Hour

// Store is what a run reads and writes.
type Store interface {
	RollUp(ctx context.Context, from, to time.Time) (dynamo.Rollup, error)
	KeyUsage(ctx context.Context, kid string, from, to time.Time) ([]usage.Rollup, error)
	GetKey(ctx context.Context, kid string) (gateway.Key, error)
}

// Raiser stores a finding and, when it is new, alerts on it.
type Raiser interface {
	Raise(ctx context.Context, f findings.Finding) (findings.Finding, bool, error)
}

// Config configures a Handler.
type Config struct {
	Store Store
	// Budgets, when set, has each run raise the 80 % and 100 % budget
	// findings of active keys and reclaim their dead holds (budget.go).
	Budgets BudgetStore
	Raiser  Raiser
	Now     func() time.Time
	Logger  *slog.Logger
	Metrics *emf.Emitter
}

// Handler runs the detector.
type Handler struct {
	store   Store
	budgets BudgetStore
	raiser  Raiser
	now     func() time.Time
	log     *slog.Logger
	metrics *emf.Emitter
}

// New returns a Handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Store == nil || cfg.Raiser == nil {
		return nil, errors.New("detector: store and raiser are required")
	}
	h := &Handler{store: cfg.Store, budgets: cfg.Budgets, raiser: cfg.Raiser, now: cfg.Now, log: cfg.Logger, metrics: cfg.Metrics}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	return h, nil
}

// Report is what one run did.
type Report struct {
	Folded     int `json:"spilled_events_folded"`
	ActiveKeys int `json:"active_keys"`
	Items      int `json:"rollup_items_written"`
	// Findings are those raised in this run, new or still open.
	Findings []findings.View `json:"findings"`
	New      int             `json:"new_findings"`
}

// Handle is the Lambda entry point for the scheduled event; the event's
// content does not matter, only that it came.
func (h *Handler) Handle(ctx context.Context, _ map[string]any) (Report, error) {
	return h.Run(ctx)
}

// Run does one run. A key whose history cannot be read, or a finding that
// cannot be raised, is logged and the run goes on to the next key; the run
// then fails, so that the schedule's error metric shows it.
func (h *Handler) Run(ctx context.Context) (Report, error) {
	now := h.now().UTC()
	var rep Report
	done, err := h.store.RollUp(ctx, now.Add(-rollupWindow), now)
	rep.Folded, rep.Items = done.Folded, done.Items
	if err != nil {
		return rep, fmt.Errorf("roll up usage: %w", err)
	}
	active := activeRecently(done.Active)
	rep.ActiveKeys = len(active)
	var failed []error
	for _, k := range active {
		found, err := h.examine(ctx, k, now)
		if err == nil {
			var spent []findings.Finding
			spent, err = h.budgetFindings(ctx, k, now)
			found = append(found, spent...)
		}
		if err != nil {
			h.log.Error("detect", "kid", k.KID, "workspace", k.WorkspaceID, "error", err.Error())
			failed = append(failed, err)
			continue
		}
		for _, f := range found {
			stored, isNew, err := h.raiser.Raise(ctx, f)
			if err != nil {
				h.log.Error("raise finding", "kid", f.KID, "workspace", f.WorkspaceID, "type", string(f.Type), "error", err.Error())
				failed = append(failed, err)
				continue
			}
			rep.Findings = append(rep.Findings, findings.NewView(stored))
			if isNew {
				rep.New++
				h.log.Info("finding", "id", stored.ID, "kid", f.KID, "workspace", f.WorkspaceID, "type", string(f.Type),
					"severity", f.Severity)
			}
		}
	}
	h.log.Info("detector run", "active_keys", rep.ActiveKeys, "folded", rep.Folded, "rollup_items", rep.Items,
		"findings", len(rep.Findings), "new", rep.New, "failed", len(failed))
	h.metrics.EmitTotal(emf.Metric{Name: "DetectorActiveKeys", Unit: "Count", Value: float64(rep.ActiveKeys)},
		emf.Metric{Name: "FindingsRaised", Unit: "Count", Value: float64(rep.New)})
	return rep, errors.Join(failed...)
}

// activeRecently lists each key of the rollup's active keys once.
func activeRecently(keys []dynamo.ActiveKey) []dynamo.ActiveKey {
	seen := map[string]bool{}
	var out []dynamo.ActiveKey
	for _, k := range keys {
		if !seen[k.KID] {
			seen[k.KID] = true
			out = append(out, k)
		}
	}
	return out
}

// examine reads a key's history and runs the detector on it.
func (h *Handler) examine(ctx context.Context, k dynamo.ActiveKey, now time.Time) ([]findings.Finding, error) {
	hist, err := h.history(ctx, k, now)
	if err != nil {
		return nil, err
	}
	var out []findings.Finding
	for _, a := range anomaly.Detect(hist) {
		out = append(out, Finding(a, k.WorkspaceID, k.KID, now))
	}
	return out, nil
}

// Finding is an anomaly as a finding of key kid, found at now.
func Finding(a anomaly.Finding, workspaceID, kid string, now time.Time) findings.Finding {
	return findings.Finding{
		WorkspaceID: workspaceID, KID: kid, Type: findings.Type(a.Type), Severity: a.Severity,
		Status: findings.Open, WindowStart: a.WindowStart, WindowEnd: a.WindowEnd,
		Observed: a.Observed, ExpectedLow: a.ExpectedLow, ExpectedHigh: a.ExpectedHigh,
		Sentence: a.Sentence, CreatedAt: now,
	}
}

// history builds what the detector reads: the last 28 days hour by hour,
// and from the 3 days before them the key's last use and models. A key
// created before all of that with no traffic in it was unused for at least
// that long: its creation stands in for its last use.
func (h *Handler) history(ctx context.Context, k dynamo.ActiveKey, now time.Time) (anomaly.History, error) {
	end := now.Truncate(time.Hour).Add(time.Hour)
	first := end.Add(-HistoryDays * 24 * time.Hour)
	baseline := end.Add(-baselineDays * 24 * time.Hour)
	rollups, err := h.store.KeyUsage(ctx, k.KID, first, end)
	if err != nil {
		return anomaly.History{}, err
	}
	hist := anomaly.History{KID: k.KID, WorkspaceID: k.WorkspaceID, Now: now,
		Hours: make([]anomaly.Hour, baselineDays*24)}
	for i := range hist.Hours {
		hist.Hours[i].Start = baseline.Add(time.Duration(i) * time.Hour)
	}
	known := map[string]bool{}
	for _, r := range rollups {
		if r.Start.Before(baseline) {
			if r.Requests > 0 && r.Start.After(hist.LastUsedBefore) {
				hist.LastUsedBefore = r.Start
			}
			if r.Model != "" {
				known[r.Model] = true
			}
			continue
		}
		hr := &hist.Hours[int(r.Start.Sub(baseline)/time.Hour)]
		addToHour(hr, r)
	}
	for m := range known {
		hist.KnownModels = append(hist.KnownModels, m)
	}
	slices.Sort(hist.KnownModels)
	if hist.LastUsedBefore.IsZero() {
		key, err := h.store.GetKey(ctx, k.KID)
		if err != nil {
			return anomaly.History{}, err
		}
		if key.CreatedAt.Before(first) {
			hist.LastUsedBefore = key.CreatedAt
		}
	}
	return hist, nil
}

// addToHour adds one model's hour to the detector's view of the hour. A
// refusal by the authorizer is an auth failure, not a request the proxy
// answered.
func addToHour(hr *anomaly.Hour, r usage.Rollup) {
	var refused int64
	for _, n := range r.Refusals {
		refused += n
	}
	hr.Requests += r.Requests - refused
	hr.AuthFailures += refused
	hr.ServerErrors += r.Classes[usage.Class5xx] + r.Classes[usage.ClassUpstream5xx]
	hr.AccessDenied += r.Classes[usage.Class403]
	hr.RateLimited += r.Classes[usage.Class429]
	hr.CostMicroUSD += r.CostMicroUSD
	if r.Model != "" && r.Requests-refused-r.Classes[usage.Class403] > 0 && !slices.Contains(hr.Models, r.Model) {
		hr.Models = append(hr.Models, r.Model)
		slices.Sort(hr.Models)
	}
}
