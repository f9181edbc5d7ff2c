package management

import (
	"context"
	"time"

	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/usage"
)

// AnalyticsRange is how far back analytics reach.
const AnalyticsRange = 90 * 24 * time.Hour

// Metrics are one bucket's or one series' figures as the analytics API
// shows them. Percentiles are null where nothing was timed.
type Metrics struct {
	Requests         int64            `json:"requests"`
	Errors           int64            `json:"errors"`
	ByStatus         map[string]int64 `json:"by_status"`
	Refusals         map[string]int64 `json:"refusals,omitempty"`
	PromptTokens     int64            `json:"prompt_tokens"`
	CompletionTokens int64            `json:"completion_tokens"`
	CachedTokens     int64            `json:"cached_tokens"`
	CostMicroUSD     int64            `json:"cost_micro_usd"`
	CostUSD          float64          `json:"cost_usd"`
	Streamed         int64            `json:"streamed"`
	LatencyP50MS     *float64         `json:"latency_p50_ms"`
	LatencyP95MS     *float64         `json:"latency_p95_ms"`
}

func metricsOf(t usage.Totals) Metrics {
	m := Metrics{Requests: t.Requests, Errors: t.Errors(), ByStatus: map[string]int64{},
		PromptTokens: t.PromptTokens, CompletionTokens: t.CompletionTokens, CachedTokens: t.CachedTokens,
		CostMicroUSD: t.CostMicroUSD, CostUSD: float64(t.CostMicroUSD) / 1e6, Streamed: t.Streamed}
	for c, n := range t.Classes {
		if n != 0 {
			m.ByStatus[usage.Class(c).String()] = n
		}
	}
	for r, n := range t.Refusals {
		if n != 0 {
			if m.Refusals == nil {
				m.Refusals = map[string]int64{}
			}
			m.Refusals[usage.Refusal(r).String()] = n
		}
	}
	m.LatencyP50MS = quantileMS(t.Latency, 0.5)
	m.LatencyP95MS = quantileMS(t.Latency, 0.95)
	return m
}

func quantileMS(h usage.Histogram, q float64) *float64 {
	d, ok := h.Quantile(q)
	if !ok {
		return nil
	}
	ms := float64(d.Microseconds()) / 1000
	return &ms
}

// PointView is one bucket of a series.
type PointView struct {
	Start time.Time `json:"start"`
	Metrics
}

// SeriesView is one group's series.
type SeriesView struct {
	Group  string      `json:"group"`
	Totals Metrics     `json:"totals"`
	Data   []PointView `json:"data"`
}

// AnalyticsView is the answer of GET /v1/analytics and GET
// /v1/keys/{kid}/analytics.
type AnalyticsView struct {
	Object      string       `json:"object"`
	KID         string       `json:"kid,omitempty"`
	GroupBy     string       `json:"group_by"`
	Granularity string       `json:"granularity"`
	From        time.Time    `json:"from"`
	To          time.Time    `json:"to"`
	Totals      Metrics      `json:"totals"`
	Series      []SeriesView `json:"series"`
	// ItemsRead is how many stored items the answer summed: the bound
	// the README states, made visible.
	ItemsRead int `json:"items_read"`
}

// AnalyticsQuery is a parsed analytics request.
type AnalyticsQuery struct {
	GroupBy     usage.GroupBy
	Day         bool
	From, To    time.Time
	granularity string
}

// ParseAnalyticsQuery reads group_by, granularity, from and to; by default
// the last 7 days up to the end of the current hour or day.
func ParseAnalyticsQuery(q map[string]string, now time.Time) (AnalyticsQuery, error) {
	var a AnalyticsQuery
	switch g := usage.GroupBy(q["group_by"]); g {
	case usage.GroupNone, usage.GroupKey, usage.GroupModel, usage.GroupStatus:
		a.GroupBy = g
	default:
		return a, invalid("group_by", "group_by must be key, model or status.")
	}
	step := 24 * time.Hour
	switch q["granularity"] {
	case "", "day":
		a.Day, a.granularity = true, "day"
	case "hour":
		a.granularity, step = "hour", time.Hour
	default:
		return a, invalid("granularity", "granularity must be hour or day.")
	}
	now = now.UTC()
	end := now.Truncate(step).Add(step)
	from, err := parseTimeParam(q, "from", end.Add(-7*24*time.Hour))
	if err != nil {
		return a, err
	}
	to, err := parseTimeParam(q, "to", end)
	if err != nil {
		return a, err
	}
	a.From, a.To = from.UTC().Truncate(step), to.UTC()
	if !a.To.After(a.From) {
		return a, invalid("to", "to must be after from.")
	}
	if a.From.Before(now.Truncate(24*time.Hour).Add(-AnalyticsRange)) || a.To.Sub(a.From) > AnalyticsRange+24*time.Hour {
		return a, invalid("from", "analytics cover the last 90 days.")
	}
	if a.To.After(end) {
		a.To = end
	}
	return a, nil
}

// analytics is GET /v1/analytics (kid empty: the workspace) and GET
// /v1/keys/{kid}/analytics.
func (h *Handler) analytics(ctx context.Context, actor Actor, kid string, q map[string]string) (result, error) {
	if err := Require(actor, ScopeUsageRead); err != nil {
		return result{}, err
	}
	a, err := ParseAnalyticsQuery(q, h.now())
	if err != nil {
		return result{}, err
	}
	view, err := h.svc.Analytics(ctx, actor, h.usage, kid, a)
	if err != nil {
		return result{}, err
	}
	return result{status: 200, body: view}, nil
}

// Analytics answers an analytics query for one key of the actor's
// workspace (kid set; another workspace's key is not found) or for the
// workspace. A key's answer reads its hour items, exact at once; a
// workspace's reads the rollup job's items.
func (s *Service) Analytics(ctx context.Context, actor Actor, reader UsageStore, kid string, a AnalyticsQuery) (AnalyticsView, error) {
	var rollups []usage.Rollup
	var err error
	if kid != "" {
		if _, err := s.GetKey(ctx, actor, gateway.KindInference, kid); err != nil {
			return AnalyticsView{}, err
		}
		rollups, err = reader.KeyUsage(ctx, kid, a.From, a.To)
		for i := range rollups {
			rollups[i].KID = kid
		}
	} else {
		rollups, err = reader.WorkspaceUsage(ctx, actor.WorkspaceID, a.GroupBy == usage.GroupKey, a.Day, a.From, a.To)
	}
	if err != nil {
		return AnalyticsView{}, err
	}
	step := time.Hour
	if a.Day {
		step = 24 * time.Hour
	}
	total, series := usage.Summarize(rollups, a.GroupBy, a.From, a.To, step)
	view := AnalyticsView{Object: "analytics", KID: kid, GroupBy: string(a.GroupBy), Granularity: a.granularity,
		From: a.From, To: a.To, Totals: metricsOf(total), Series: []SeriesView{}, ItemsRead: len(rollups)}
	for _, s := range series {
		sv := SeriesView{Group: s.Group, Totals: metricsOf(s.Total), Data: make([]PointView, len(s.Buckets))}
		for i, b := range s.Buckets {
			sv.Data[i] = PointView{Start: b.Start, Metrics: metricsOf(b.Totals)}
		}
		view.Series = append(view.Series, sv)
	}
	return view, nil
}
