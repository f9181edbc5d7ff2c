package synthetic

import (
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/aistats/edge/pkg/domain/anomaly"
)

// Score is the detector's quality for one type.
type Score struct {
	Type anomaly.Type
	// Labels injected and Detected among them: a finding of the type whose
	// window overlaps the label's hours.
	Labels, Detected int
	// TruePositives and FalsePositives count stored findings (one per open
	// episode). A finding that matches a label of its type is true; one
	// that matches only a label's side effects (Label.Also) is neither;
	// any other is false.
	TruePositives, FalsePositives int
	// MedianDelay is from a label's start to the run that first reported
	// it, over the detected labels.
	MedianDelay time.Duration
}

// Precision is the share of stored findings that were true; 1 when there
// were none.
func (s Score) Precision() float64 {
	if n := s.TruePositives + s.FalsePositives; n > 0 {
		return float64(s.TruePositives) / float64(n)
	}
	return 1
}

// Recall is the share of labels detected; 0 when nothing was injected, so
// an untested type never looks good.
func (s Score) Recall() float64 {
	if s.Labels == 0 {
		return 0
	}
	return float64(s.Detected) / float64(s.Labels)
}

// Report is the evaluation of a set of seeds.
type Report struct {
	Seeds  []int64
	Keys   int
	Scores []Score // in anomaly.Types order
}

// EvaluateSeeds generates BenchmarkConfig for each seed and evaluates all
// of it as one set.
func EvaluateSeeds(seeds []int64) Report {
	var all []KeySeries
	for _, seed := range seeds {
		all = append(all, Generate(BenchmarkConfig(seed))...)
	}
	return Report{Seeds: seeds, Keys: len(all), Scores: Evaluate(all)}
}

// Evaluate replays every key through the detector, keys in parallel, and
// scores each type.
func Evaluate(series []KeySeries) []Score {
	found := make([][]reported, len(series))
	var wg sync.WaitGroup
	work := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range work {
				found[i] = replay(series[i])
			}
		})
	}
	for i := range series {
		work <- i
	}
	close(work)
	wg.Wait()

	scores := map[anomaly.Type]*Score{}
	delays := map[anomaly.Type][]time.Duration{}
	for _, t := range anomaly.Types {
		scores[t] = &Score{Type: t}
	}
	for i, s := range series {
		firstSeen := make([]time.Time, len(s.Labels))
		for _, f := range found[i] {
			matched, excused := false, false
			for j, l := range s.Labels {
				if !l.overlaps(f.start, f.end) {
					continue
				}
				switch {
				case l.Type == f.typ:
					matched = true
					if firstSeen[j].IsZero() || f.at.Before(firstSeen[j]) {
						firstSeen[j] = f.at
					}
				case slices.Contains(l.Also, f.typ):
					excused = true
				}
			}
			switch {
			case matched:
				scores[f.typ].TruePositives++
			case !excused:
				scores[f.typ].FalsePositives++
			}
		}
		for j, l := range s.Labels {
			scores[l.Type].Labels++
			if !firstSeen[j].IsZero() {
				scores[l.Type].Detected++
				delays[l.Type] = append(delays[l.Type], firstSeen[j].Sub(l.Start))
			}
		}
	}
	var out []Score
	for _, t := range anomaly.Types {
		s := scores[t]
		if d := delays[t]; len(d) > 0 {
			slices.Sort(d)
			s.MedianDelay = d[len(d)/2]
		}
		out = append(out, *s)
	}
	return out
}
