package anomaly

import "math"

// traffic_drop thresholds. A drop is judged on the last closed hour only:
// an hour in progress always holds less than a whole one, so "too few so
// far" means nothing until it closes.
const (
	// dropMinExpected: a drop is looked for only where the key usually
	// serves at least 40 requests in that hour. Below that, an empty hour
	// is a plausible accident of chance (a lunch break on a small team)
	// and no one would call it an outage.
	dropMinExpected = 40
	// dropShare: the hour served at most a quarter of its median...
	dropShare = 0.25
	// dropSigmas: ...and was at least 4 sigmas below it, so that a key
	// whose hours normally swing by 3× (its MAD is large) is not flagged
	// for a quiet hour.
	dropSigmas = 4
)

func trafficDrop(v *view) (Finding, bool) {
	if !v.established || v.cur < 1 {
		return Finding{}, false
	}
	w := v.closed()
	served := func(h Hour) float64 { return float64(h.Served()) }
	b := v.seasonal(w.index, served)
	m := b.below()
	if m < dropMinExpected {
		return Finding{}, false
	}
	observed := served(w.hour)
	if observed > dropShare*m {
		return Finding{}, false // the spread is only needed below this
	}
	noise := math.Max(b.spread(), math.Sqrt(m))
	low := math.Min(dropShare*m, m-dropSigmas*noise)
	if observed > low {
		return Finding{}, false
	}
	high := 2*m - low
	sev := SeverityMedium
	if observed == 0 {
		sev = SeverityHigh
	}
	return Finding{
		Type: TrafficDrop, Severity: sev, WindowStart: w.start, WindowEnd: w.end,
		Observed: observed, ExpectedLow: low, ExpectedHigh: high,
		Sentence: v.say("received %s requests %s, against an expected %s–%s.", count(observed), w.phrase(), count(low), count(high)),
	}, true
}
