// Package synthetic generates labelled key traffic for the anomaly detector
// (pkg/domain/anomaly) and measures it: hourly, seasonal, noisy series per
// key, with every anomaly type injected at known times (Generate), and a
// replay through anomaly.Detect as the production scheduler would run it,
// scored per type (Evaluate). It also seeds the demo workspace's history
// (Demo).
//
// It lives under internal/ because no Lambda may link it: it is the
// benchmark's ground truth, not shipped code. Its parameters (params.go)
// describe traffic and anomalies as a person would recognise them and are
// kept apart from the detector's thresholds, which are tuned only on
// TuningSeeds; HeldOutSeeds are reported and never tuned on.
package synthetic
