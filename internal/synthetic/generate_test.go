package synthetic

import (
	"reflect"
	"testing"
	"time"

	"github.com/aistats/edge/pkg/domain/anomaly"
)

// The benchmark's ground truth must not move between runs: the same seed
// gives the same series and labels.
func TestGenerateIsDeterministic(t *testing.T) {
	a, b := Generate(BenchmarkConfig(7)), Generate(BenchmarkConfig(7))
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two generations with seed 7 differ")
	}
	if c := Generate(BenchmarkConfig(8)); reflect.DeepEqual(a[0].Hours, c[0].Hours) {
		t.Fatal("seeds 7 and 8 gave the same first key")
	}
}

// Every type is injected, and every series is whole: consecutive hours on
// the hour, as anomaly.History requires.
func TestGenerateInjectsEveryTypeIntoWholeSeries(t *testing.T) {
	c := BenchmarkConfig(1)
	counts := map[anomaly.Type]int{}
	for _, s := range Generate(c) {
		if got, want := len(s.Hours), c.Days*24; got != want {
			t.Fatalf("%s: %d hours, want %d", s.KID, got, want)
		}
		for i, h := range s.Hours {
			if want := c.Start.Add(time.Duration(i) * time.Hour); !h.Start.Equal(want) {
				t.Fatalf("%s: hour %d starts at %v, want %v", s.KID, i, h.Start, want)
			}
			if h.Served() < h.ServerErrors || h.Requests < 0 || h.CostMicroUSD < 0 {
				t.Fatalf("%s: impossible hour %+v", s.KID, h)
			}
		}
		for _, l := range s.Labels {
			counts[l.Type]++
		}
	}
	for _, typ := range anomaly.Types {
		if counts[typ] == 0 {
			t.Errorf("no %s injected; got %v", typ, counts)
		}
	}
	t.Logf("labels per type: %v", counts)
}

// The demo history ends with the last complete hour before now and holds
// a few labelled anomalies.
func TestDemoEndsBeforeNowWithAFewAnomalies(t *testing.T) {
	now := time.Date(2026, time.November, 28, 14, 37, 0, 0, time.UTC)
	series := Demo(42, now, 6)
	if len(series) != 6 {
		t.Fatalf("%d keys, want 6", len(series))
	}
	labels := 0
	for _, s := range series {
		if got, want := len(s.Hours), 30*24; got != want {
			t.Fatalf("%s: %d hours, want %d", s.KID, got, want)
		}
		if got, want := s.Hours[len(s.Hours)-1].Start, now.Truncate(time.Hour).Add(-time.Hour); !got.Equal(want) {
			t.Fatalf("%s: last hour %v, want %v", s.KID, got, want)
		}
		labels += len(s.Labels)
	}
	if labels != len(demoTypes) {
		t.Errorf("%d anomalies, want one of each of %v", labels, demoTypes)
	}
}
