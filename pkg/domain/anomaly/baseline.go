package anomaly

import (
	"math"
	"slices"
)

// minSeasonalSamples: with fewer samples on the same kind of day (a key
// with a single weekend in its history has six weekend samples), the
// baseline uses every day at that hour instead, since a median of a
// handful is too easily moved by one odd hour.
const minSeasonalSamples = 12

// madToSigma turns a median absolute deviation into the standard deviation
// it estimates for normal noise, so that thresholds read as "sigmas".
const madToSigma = 1.4826

// baseline is what a key usually does at one hour of the week.
type baseline struct {
	median float64
	// logMedian is the median of log(1+x); spread() and logSpread() are
	// the robust standard deviations (1.4826 × MAD) on either scale,
	// computed only when asked, since most hours are cleared by the
	// median alone.
	//
	// Why a log scale too: busy hours swing by a factor more than by an
	// amount (a client's activity multiplies its traffic), so the noise is
	// skewed upwards. A key that often doubles has a modest MAD but many
	// hours far above median + a few MADs. On the log scale that noise is
	// symmetric, and "sigmas" mean what they say.
	logMedian float64
	// groups[k] are the samples at offset k from the hour's time of day.
	groups [2*spreadHours + 1][]float64
	// weekly is the median of the same hours of the week (one hour either
	// side) in earlier weeks, when there are at least minWeeklySamples.
	// Weekday and weekend are told apart in UTC, and a key's own weekend
	// starts up to half a day earlier or later: its Friday evening in UTC
	// may already be Saturday. The same hour of the week needs no time
	// zone. A spike must exceed, and a drop fall below, both.
	weekly    float64
	hasWeekly bool
}

// minWeeklySamples is two earlier weeks' worth of the hour and its
// neighbours.
const minWeeklySamples = 6

// above is the level a spike is measured from: the higher of the two
// medians, so that neither time-of-week view calls the hour unusual alone.
func (b baseline) above() (median, logMedian float64) {
	if b.hasWeekly && b.weekly > b.median {
		return b.weekly, math.Log1p(b.weekly)
	}
	return b.median, b.logMedian
}

// below is the level a drop is measured from: the lower of the two.
func (b baseline) below() float64 {
	if b.hasWeekly {
		return math.Min(b.median, b.weekly)
	}
	return b.median
}

// seasonal is the baseline of metric for hour i: the median of the same
// hour of day, one hour either side, on earlier days of the same kind
// (weekday or weekend, in UTC), from the key's first day of traffic on;
// and the spread of the key's noise around that.
//
// Why this: traffic follows the working day and the week, so an hour is
// compared with the same hour of other days, never with the day's average
// (a 10:00 peak is normal, a 03:00 one may not be). Taking one hour either
// side triples the samples (about 60 weekday and 24 weekend hours in 28
// days) and absorbs a client whose day starts a little earlier or later.
// Median and MAD ignore a few odd hours, so one past incident (up to a few
// hours a week) does not raise the bar for the next one; days before the
// key's first traffic are left out so that they do not pull the median to
// zero.
//
// The spread is measured on more hours than the median: two hours either
// side, each against its own hour's median, pooled. How much a key's hours
// swing is a property of the key rather than of one hour, and a MAD of 18
// samples (a key's first week) is often half the true one, which made
// a bursty key's ordinary 5× hours look like spikes. Measuring each hour
// against its own median keeps a steep morning ramp out of the spread.
func (v *view) seasonal(i int, metric func(Hour) float64) baseline {
	hours := v.h.Hours
	from := max(v.firstServed-(v.hour0+max(v.firstServed, 0))%24, 0)
	weekend := v.weekend(i)
	// Every sample, by offset from hour i's time of day; same: on the
	// same kind of day. Fixed arrays: this runs several times per key per
	// run, on four weeks of hours.
	const width = 2*spreadHours + 1
	var (
		x      [width][28]float64
		same   [width][28]bool
		count  [width]int
		weekly [12]float64
	)
	nWeekly, nSame := 0, 0
	for daysBack, day := 1, i-24; day+spreadHours >= from && daysBack <= 28; daysBack, day = daysBack+1, day-24 {
		for j := day - spreadHours; j <= day+spreadHours; j++ {
			if j < from || j >= i {
				continue
			}
			k, value := j-day+spreadHours, metric(hours[j])
			near := k >= spreadHours-1 && k <= spreadHours+1
			if daysBack%7 == 0 && near && nWeekly < len(weekly) {
				weekly[nWeekly] = value
				nWeekly++
			}
			x[k][count[k]], same[k][count[k]] = value, v.weekend(j) == weekend
			if same[k][count[k]] && near {
				nSame++
			}
			count[k]++
		}
	}
	sameOnly := nSame >= minSeasonalSamples
	var b baseline
	var centre [3 * 28]float64
	nCentre := 0
	for k := range width {
		kept := 0
		for n := range count[k] {
			if !sameOnly || same[k][n] {
				x[k][kept] = x[k][n]
				kept++
			}
		}
		b.groups[k] = slices.Clone(x[k][:kept])
		if k >= spreadHours-1 && k <= spreadHours+1 {
			nCentre += copy(centre[nCentre:], b.groups[k])
		}
	}
	if nCentre == 0 {
		return baseline{}
	}
	b.median = median(centre[:nCentre])
	for k := range centre[:nCentre] {
		centre[k] = math.Log1p(max(centre[k], 0))
	}
	b.logMedian = median(centre[:nCentre])
	if nWeekly >= minWeeklySamples {
		b.weekly, b.hasWeekly = median(weekly[:nWeekly]), true
	}
	return b
}

func (b baseline) spread() float64    { return pooledSpread(b.groups[:], false) }
func (b baseline) logSpread() float64 { return pooledSpread(b.groups[:], true) }

// spreadHours is how many hours either side the spread is measured on.
const spreadHours = 2

// pooledSpread is 1.4826 × the MAD of every sample's distance from its own
// group's median, on the log(1+x) scale if logScale. It leaves groups as
// they were, in another order.
func pooledSpread(groups [][]float64, logScale bool) float64 {
	var residuals [(2*spreadHours + 1) * 28]float64
	n := 0
	for _, g := range groups {
		if len(g) == 0 {
			continue
		}
		scaled := residuals[n : n+len(g)]
		for k, x := range g {
			if logScale {
				x = math.Log1p(max(x, 0))
			}
			scaled[k] = x
		}
		m := median(scaled)
		for k := range scaled {
			scaled[k] = math.Abs(scaled[k] - m)
		}
		n += len(g)
	}
	if n == 0 {
		return 0
	}
	return madToSigma * median(residuals[:n])
}

func median(xs []float64) float64 {
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}
