package emf

import (
	"encoding/json"
	"io"
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
	dims := [][]string{{"Workspace"}}
	line := map[string]any{"Workspace": workspace}
	if e.perKey && kid != "" {
		dims = append(dims, []string{"Workspace", "Kid"})
		line["Kid"] = kid
	}
	d := directive{Namespace: Namespace, Dimensions: dims}
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
