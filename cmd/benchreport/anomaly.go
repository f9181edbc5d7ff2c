package main

import (
	"fmt"

	"github.com/aistats/edge/internal/synthetic"
)

// anomalyQuality replays the labelled synthetic traffic through the anomaly
// detector (docs/architecture.md §10) and reports precision and recall per
// type on the held-out seeds, which were never tuned on, against the
// targets of 0.9 each. The tuning seeds' figures are in each row's note,
// for comparison: a large gap between the two would mean overfitting.
func anomalyQuality() []figure {
	heldOut, tuning := synthetic.EvaluateSeeds(synthetic.HeldOutSeeds), synthetic.EvaluateSeeds(synthetic.TuningSeeds)
	var figs []figure
	for i, s := range heldOut.Scores {
		tuned := tuning.Scores[i]
		delay := "none detected"
		if s.Detected > 0 {
			delay = "median delay " + s.MedianDelay.String()
		}
		figs = append(figs,
			figure{Name: fmt.Sprintf("anomaly %s: precision, held-out seeds", s.Type), Value: round2(s.Precision()), Unit: "", Target: ">= 0.9",
				Met: met(s.Precision() >= 0.9), Note: fmt.Sprintf("%d true, %d false findings; tuning seeds %.2f", s.TruePositives, s.FalsePositives, tuned.Precision())},
			figure{Name: fmt.Sprintf("anomaly %s: recall, held-out seeds", s.Type), Value: round2(s.Recall()), Unit: "", Target: ">= 0.9",
				Met: met(s.Labels > 0 && s.Recall() >= 0.9), Note: fmt.Sprintf("%d of %d injected, %s; tuning seeds %.2f", s.Detected, s.Labels, delay, tuned.Recall())},
		)
	}
	figs = append(figs, figure{Name: "anomaly benchmark", Value: float64(heldOut.Keys), Unit: "keys", Target: "-",
		Note: fmt.Sprintf("held-out seeds %v, tuning seeds %v; 35 days per key, Detect every %v", heldOut.Seeds, tuning.Seeds, synthetic.Tick)})
	return figs
}

func round2(x float64) float64 { return float64(int(x*100+0.5)) / 100 }
