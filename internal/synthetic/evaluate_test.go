package synthetic

import (
	"testing"
	"time"

	"github.com/aistats/edge/pkg/domain/anomaly"
)

// threeQuietDays is a key with no traffic for 72 hours but two bursts of
// 60 wrong secrets, at hours 30 and 60.
func threeQuietDays() KeySeries {
	s := KeySeries{KID: "AbCdEfGhIjKl", WorkspaceID: "w"}
	for i := range 72 {
		s.Hours = append(s.Hours, anomaly.Hour{Start: benchmarkStart.Add(time.Duration(i) * time.Hour)})
	}
	s.Hours[30].AuthFailures, s.Hours[60].AuthFailures = 60, 60
	return s
}

func TestEvaluateScoresFindingsAgainstLabels(t *testing.T) {
	at := func(i int) time.Time { return benchmarkStart.Add(time.Duration(i) * time.Hour) }
	burst30 := Label{Type: anomaly.AuthFailures, Start: at(30), End: at(31)}
	cases := []struct {
		name   string
		labels []Label
		want   Score
	}{
		{"one burst labelled, one not: a false finding", []Label{burst30},
			Score{Type: anomaly.AuthFailures, Labels: 1, Detected: 1, TruePositives: 1, FalsePositives: 1, MedianDelay: 30 * time.Minute}},
		{"the other burst is a side effect of another anomaly: neither true nor false", []Label{burst30,
			{Type: anomaly.RateLimitStorm, Start: at(60), End: at(61), Also: []anomaly.Type{anomaly.AuthFailures}}},
			Score{Type: anomaly.AuthFailures, Labels: 1, Detected: 1, TruePositives: 1, MedianDelay: 30 * time.Minute}},
		{"a label nothing found", []Label{{Type: anomaly.AuthFailures, Start: at(10), End: at(12)}},
			Score{Type: anomaly.AuthFailures, Labels: 1, FalsePositives: 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := threeQuietDays()
			s.Labels = c.labels
			for _, got := range Evaluate([]KeySeries{s}) {
				if got.Type == c.want.Type && got != c.want {
					t.Errorf("got %+v, want %+v", got, c.want)
				}
			}
		})
	}
}
