package anomaly

import (
	"math"
	"slices"
	"time"
)

// error_rate_spike thresholds. The rate is 5xx among served requests.
const (
	// errorMinCount: at least 10 server errors in the hour. Below that a
	// rate is mostly chance (2 of 5 requests failing is 40 %).
	errorMinCount = 10
	// errorMinRate: at least 10 % of served requests failed. Upstreams
	// have hiccups of a few percent that resolve by themselves and that
	// no one can act on; a tenth of requests failing is an outage.
	errorMinRate = 0.10
	// errorRatio: and at least 4× the key's usual rate, for keys whose
	// traffic fails more often by nature (long generations timing out).
	errorRatio = 4
	// errorDayMinServed: a day counts towards the usual rate only with
	// 50 served requests, so a day of 3 requests and 1 error is not 33 %.
	errorDayMinServed = 50
)

// errorRateSpike needs no history: a key's usual rate defaults to 0, and
// then the absolute minimums decide, since an outage is one on day one.
func errorRateSpike(v *view) (Finding, bool) {
	usual := -1.0
	for _, w := range v.windows() {
		served, errors := float64(w.hour.Served()), float64(w.hour.ServerErrors)
		if errors < errorMinCount || served == 0 {
			continue
		}
		if usual < 0 {
			usual = v.usualErrorRate()
		}
		rate, bound := errors/served, math.Max(errorMinRate, errorRatio*usual)
		if rate < bound {
			continue
		}
		return Finding{
			Type: ErrorRateSpike, Severity: severity(rate, bound), WindowStart: w.start, WindowEnd: w.end,
			Observed: rate, ExpectedLow: 0, ExpectedHigh: bound,
			Sentence: v.say("saw %s of its %s served requests fail with a server error (5xx) %s, against an expected 0–%s.",
				percent(rate), count(served), w.phrase(), percent(bound)),
		}, true
	}
	return Finding{}, false
}

// usualErrorRate is the median of the key's daily 5xx rates over the
// closed hours before the ones judged: a median of days, so that one past
// outage does not make the next one look normal.
func (v *view) usualErrorRate() float64 {
	var rates []float64
	var served, errors int64
	var day time.Time
	flush := func() {
		if served >= errorDayMinServed {
			rates = append(rates, float64(errors)/float64(served))
		}
		served, errors = 0, 0
	}
	for _, h := range v.h.Hours[:max(v.cur-1, 0)] {
		if d := h.Start.Truncate(24 * time.Hour); !d.Equal(day) {
			flush()
			day = d
		}
		served += h.Served()
		errors += h.ServerErrors
	}
	flush()
	if len(rates) == 0 {
		return 0
	}
	slices.Sort(rates)
	return rates[len(rates)/2]
}
