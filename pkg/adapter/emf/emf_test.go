package emf

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

func TestEmitWritesEMF(t *testing.T) {
	for _, perKey := range []bool{false, true} {
		var buf bytes.Buffer
		e := New(&buf, perKey)
		e.now = func() time.Time { return time.UnixMilli(1700000000000) }
		e.Emit("acme", "AbCdEfGhIjKl", Metric{"Allowed", "Count", 1}, Metric{"Latency", "Milliseconds", 12.5})
		var line struct {
			AWS struct {
				Timestamp         int64
				CloudWatchMetrics []struct {
					Namespace  string
					Dimensions [][]string
					Metrics    []struct{ Name, Unit string }
				}
			} `json:"_aws"`
			Workspace string
			Kid       string
			Allowed   float64
			Latency   float64
		}
		if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
			t.Fatalf("%s: %v", buf.String(), err)
		}
		d := line.AWS.CloudWatchMetrics[0]
		if line.AWS.Timestamp != 1700000000000 || d.Namespace != "aistats" || line.Workspace != "acme" ||
			line.Allowed != 1 || line.Latency != 12.5 || len(d.Metrics) != 2 || d.Metrics[1].Unit != "Milliseconds" {
			t.Errorf("line %s", buf.String())
		}
		if wantDims := map[bool]int{false: 1, true: 2}[perKey]; len(d.Dimensions) != wantDims || (line.Kid != "") != perKey {
			t.Errorf("per-key %v: dimensions %v, kid %q", perKey, d.Dimensions, line.Kid)
		}
	}
	var nilEmitter *Emitter
	nilEmitter.Emit("acme", "", Metric{"Allowed", "Count", 1}) // must not panic
}
