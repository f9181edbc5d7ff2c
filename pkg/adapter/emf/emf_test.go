package emf

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// awsMetadata is the _aws object of an EMF line, as CloudWatch reads it.
type awsMetadata struct {
	Timestamp         int64
	CloudWatchMetrics []struct {
		Namespace  string
		Dimensions [][]string
		Metrics    []struct{ Name, Unit string }
	}
}

func TestEmitWritesEMF(t *testing.T) {
	for _, perKey := range []bool{false, true} {
		var buf bytes.Buffer
		e := New(&buf, perKey)
		e.now = func() time.Time { return time.UnixMilli(1700000000000) }
		e.Emit("acme", "AbCdEfGhIjKl", Metric{"Allowed", "Count", 1}, Metric{"Latency", "Milliseconds", 12.5})
		var line struct {
			AWS       awsMetadata `json:"_aws"`
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

// A JSON log line that carries Attrs is a whole EMF line: the request's log
// fields and its metrics in one line.
func TestAttrsMakeALogLineAnEMFLine(t *testing.T) {
	var buf bytes.Buffer
	e := New(io.Discard, false)
	e.now = func() time.Time { return time.UnixMilli(1700000000000) }
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	attrs := append([]slog.Attr{slog.String("request_id", "r-1"), slog.String("outcome", "allow")},
		e.Attrs("acme", "AbCdEfGhIjKl", Metric{"Allowed", "Count", 1})...)
	log.LogAttrs(context.Background(), slog.LevelInfo, "authorize", attrs...)
	var line struct {
		AWS       awsMetadata `json:"_aws"`
		Msg       string      `json:"msg"`
		RequestID string      `json:"request_id"`
		Workspace string
		Allowed   float64
	}
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("%s: %v", buf.String(), err)
	}
	if strings.Count(buf.String(), "\n") != 1 {
		t.Errorf("wrote %q, want one line", buf.String())
	}
	d := line.AWS.CloudWatchMetrics
	if line.Msg != "authorize" || line.RequestID != "r-1" || line.Workspace != "acme" || line.Allowed != 1 ||
		line.AWS.Timestamp != 1700000000000 || len(d) != 1 || d[0].Namespace != "aistats" || d[0].Metrics[0].Name != "Allowed" {
		t.Errorf("line %s", buf.String())
	}
	var nilEmitter *Emitter
	if a := nilEmitter.Attrs("acme", "", Metric{"Allowed", "Count", 1}); a != nil {
		t.Errorf("a nil Emitter gave %v, want nothing", a)
	}
}
