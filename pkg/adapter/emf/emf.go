package emf

import (
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Namespace is the CloudWatch namespace of every metric here.
const Namespace = "aistats"

// Emitter writes EMF lines to w (the function's stdout in Lambda).
type Emitter struct {
	mu     sync.Mutex
	w      io.Writer
	perKey bool
	now    func() time.Time
}

// New returns an Emitter; perKey adds a Workspace+Kid dimension set.
func New(w io.Writer, perKey bool) *Emitter {
	return &Emitter{w: w, perKey: perKey, now: time.Now}
}

// Metric is one value of a line.
type Metric struct {
	Name  string
	Unit  string // Count, Milliseconds, None
	Value float64
}

type metricDef struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

type directive struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []metricDef `json:"Metrics"`
}

// Emit writes one line with metrics for a workspace (and key, when per-key
// metrics are on). A nil Emitter emits nothing, so callers need no checks.
func (e *Emitter) Emit(workspace, kid string, metrics ...Metric) {
	if e == nil || workspace == "" || len(metrics) == 0 {
		return
	}
	line := map[string]any{}
	for _, a := range e.Attrs(workspace, kid, metrics...) {
		line[a.Key] = a.Value.Any()
	}
	b, err := json.Marshal(line)
	if err != nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	_, _ = e.w.Write(append(b, '\n'))
}

// Attrs returns the metrics as the top-level attributes of an EMF line, for
// a caller to add to its own JSON log line: CloudWatch reads the metrics
// from any log line that carries them, so one line per request serves both
// the log and the metrics, instead of two. Nil when e is nil or there is
// nothing to count.
func (e *Emitter) Attrs(workspace, kid string, metrics ...Metric) []slog.Attr {
	if e == nil || workspace == "" || len(metrics) == 0 {
		return nil
	}
	dims := [][]string{{"Workspace"}}
	attrs := make([]slog.Attr, 0, len(metrics)+3)
	attrs = append(attrs, slog.String("Workspace", workspace))
	if e.perKey && kid != "" {
		dims = append(dims, []string{"Workspace", "Kid"})
		attrs = append(attrs, slog.String("Kid", kid))
	}
	d := directive{Namespace: Namespace, Dimensions: dims}
	for _, m := range metrics {
		d.Metrics = append(d.Metrics, metricDef{Name: m.Name, Unit: m.Unit})
		attrs = append(attrs, slog.Float64(m.Name, m.Value))
	}
	attrs = append(attrs, slog.Any("_aws", map[string]any{"Timestamp": e.now().UnixMilli(), "CloudWatchMetrics": []directive{d}}))
	return attrs
}

// EmitTotal writes one line with metrics that have no dimension: one
// series for the whole stack, which an alarm can watch without knowing
// every workspace (UsageEventsLost).
func (e *Emitter) EmitTotal(metrics ...Metric) {
	if e == nil || len(metrics) == 0 {
		return
	}
	d := directive{Namespace: Namespace, Dimensions: [][]string{{}}}
	line := map[string]any{}
	for _, m := range metrics {
		d.Metrics = append(d.Metrics, metricDef{Name: m.Name, Unit: m.Unit})
		line[m.Name] = m.Value
	}
	line["_aws"] = map[string]any{"Timestamp": e.now().UnixMilli(), "CloudWatchMetrics": []directive{d}}
	b, err := json.Marshal(line)
	if err != nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	_, _ = e.w.Write(append(b, '\n'))
}
