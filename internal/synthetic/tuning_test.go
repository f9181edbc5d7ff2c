package synthetic

import (
	"os"
	"testing"
)

// TestTuningReport prints the tuning seeds' table; it is what thresholds
// were chosen on. Run with ANOMALY_TUNING=1 -v.
func TestTuningReport(t *testing.T) {
	if os.Getenv("ANOMALY_TUNING") == "" {
		t.Skip("set ANOMALY_TUNING=1 to print the tuning table")
	}
	t.Log("\n" + EvaluateSeeds(TuningSeeds).Markdown())
}
