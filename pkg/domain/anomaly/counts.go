package anomaly

import "math"

// countRule finds a spike or burst of one hourly count against the key's
// seasonal baseline. Counts so far in the hour in progress are compared
// with the bound for a whole hour, without extrapolating: a burst is
// reported as soon as it holds more than a normal whole hour would, which
// is early for a real burst and never fires on a normal hour's first
// minutes (extrapolating ten minutes of a quiet key to an hour would).
//
// The bound is the largest of four, each guarding against a different way
// of being wrong:
//   - median + sigmas × spread: beyond the key's own hour-to-hour noise,
//     with spread never below √median for counts, the Poisson noise of
//     independent requests, which a MAD of a few small integers
//     underestimates (often 0);
//   - the same on the log scale, logSigmas × log spread above the log
//     median: the bound for keys whose hours swing by a factor (see
//     baseline), which the linear spread underestimates;
//   - ratio × median: a spike is a multiple of normal, so a steady busy
//     key is not flagged for a 20 % busier hour that is many "sigmas" out;
//   - median + minExcess: an absolute amount that matters, so a key going
//     from 1 to 6 requests an hour is not a spike;
//   - floor: the count that is an anomaly on any key, even without history.
type countRule struct {
	typ    Type
	metric func(Hour) float64
	// needsHistory: the rule says nothing for keys without an established
	// baseline; otherwise a new key is judged by floor alone.
	needsHistory bool
	poisson      bool // the metric counts requests (not money)
	sigmas       float64
	logSigmas    float64
	ratio        float64
	minExcess    float64
	floor        float64
	// minSeverity raises findings that are about security, where even a
	// small burst deserves a look.
	minSeverity string
	sentence    func(v *view, w window, observed, low, high float64) string
}

// bound returns the expected range of the metric for hour i, and false
// when the rule has nothing to compare with. The bounds that need only the
// median come first: when observed is within them, the spread (a dozen
// sorts) is never computed.
func (c countRule) bound(v *view, i int, observed float64) (low, high float64, ok bool) {
	if !v.established {
		if c.needsHistory {
			return 0, 0, false
		}
		return 0, c.floor, true
	}
	b := v.seasonal(i, c.metric)
	m, logM := b.above()
	high = max(c.floor, c.ratio*m, m+c.minExcess)
	if observed > high {
		noise := b.spread()
		if c.poisson {
			noise = math.Max(noise, math.Sqrt(m))
		}
		high = max(high, m+c.sigmas*noise, math.Expm1(logM+c.logSigmas*b.logSpread()))
	}
	return math.Max(0, 2*m-high), high, true
}

func (c countRule) check(v *view) (Finding, bool) {
	for _, w := range v.windows() {
		observed := c.metric(w.hour)
		// Cheap exit before any baseline: no bound is below both floor and
		// minExcess.
		if observed <= c.floor || observed <= c.minExcess {
			continue
		}
		low, high, ok := c.bound(v, w.index, observed)
		if !ok || observed <= high {
			continue
		}
		return Finding{
			Type: c.typ, Severity: atLeast(severity(observed, high), c.minSeverity),
			WindowStart: w.start, WindowEnd: w.end,
			Observed: observed, ExpectedLow: low, ExpectedHigh: high,
			Sentence: c.sentence(v, w, observed, low, high),
		}, true
	}
	return Finding{}, false
}

// severity grades how far beyond its bound an observation is: twice the
// bound is medium, four times is high.
func severity(observed, bound float64) string {
	switch {
	case bound > 0 && observed >= 4*bound:
		return SeverityHigh
	case bound > 0 && observed >= 2*bound:
		return SeverityMedium
	default:
		return SeverityLow
	}
}

func atLeast(s, floor string) string {
	rank := map[string]int{"": 0, SeverityLow: 1, SeverityMedium: 2, SeverityHigh: 3}
	if rank[floor] > rank[s] {
		return floor
	}
	return s
}
