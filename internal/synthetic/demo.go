package synthetic

import (
	"time"

	"github.com/aistats/edge/pkg/domain/anomaly"
)

// demoTypes are the anomalies the demo history shows: the ones a visitor
// understands at a glance on a chart.
var demoTypes = []anomaly.Type{anomaly.TrafficSpike, anomaly.AuthFailures, anomaly.SpendSpike, anomaly.ErrorRateSpike, anomaly.NewModel}

// Demo is the demo workspace's history for `make dev`: keys established
// keys (profiles taken in turn: busy, quiet, bursty, nightly batch,
// multi-model, always-on) with 30 days of hourly traffic ending with the
// last complete hour before now, and one anomaly of each of demoTypes in
// the last 16 days, labelled. The same seed and hour give the same history.
func Demo(seed int64, now time.Time, keys int) []KeySeries {
	const days = 30
	end := now.UTC().Truncate(time.Hour)
	return Generate(Config{
		Seed: seed, Start: end.Add(-days * 24 * time.Hour), Days: days,
		Established: keys, InjectionsPerType: 1, Types: demoTypes,
	})
}
