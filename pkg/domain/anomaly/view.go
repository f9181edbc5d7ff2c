package anomaly

import "time"

// Quiet for new keys: a baseline is trusted only once the key has served
// traffic on minActiveDays distinct UTC days and its first traffic in the
// history is at least minHistoryHours old. Below a week, a key's first
// busy Monday would look like a spike and its first weekend like a drop,
// since it has not seen every weekday and a weekend yet. Types that compare a key with itself (traffic_spike,
// traffic_drop, spend_spike, new_model) stay silent until then; types with
// an absolute floor (refusal bursts, rate_limit_storm, error_rate_spike)
// work from a key's first request, since 50 wrong secrets mean the same on
// day one as on day 100.
//
// Two weeks, not one: a first week holds only about 18 samples of each
// hour, and their spread was often half the key's true one, so a bursty
// key's ordinary 5× hours read as spikes on the tuning seeds. Ten active
// days out of fourteen admits keys that are quiet at weekends.
//
// History starts again after a break: a key back from more than
// maxBreakDays without traffic is judged as new, since its silent weeks would otherwise
// be zeros in its baseline and its normal traffic a spike. A long weekend
// is not a break.
const (
	minActiveDays   = 10
	minHistoryHours = 14 * 24
	maxBreakDays    = 4
)

// view is a History with what every check needs worked out once.
type view struct {
	h       History
	cur     int           // index of the hour that contains Now
	elapsed time.Duration // how much of it has passed, within [0, 1h]
	// firstServed is the first hour with served traffic since the key's
	// last break, and firstRequest the first hour in the history with any
	// answered request (-1: none).
	firstServed, firstRequest int
	established               bool
	// Hours are consecutive, so an hour's day and weekday follow from its
	// index; this is much cheaper than time arithmetic on every hour of
	// four weeks, several times a run.
	hour0    int // the hour of day of Hours[0]
	weekday0 int // the weekday of Hours[0]
	judged   [2]window
	nJudged  int
}

// day numbers hour i's UTC day from Hours[0]'s.
func (v *view) day(i int) int { return (v.hour0 + i) / 24 }

// weekend reports whether hour i is on a Saturday or Sunday, UTC.
func (v *view) weekend(i int) bool {
	wd := (v.weekday0 + v.day(i)) % 7
	return wd == int(time.Saturday) || wd == int(time.Sunday)
}

func newView(h History) (*view, bool) {
	if len(h.Hours) == 0 {
		return nil, false
	}
	first := h.Hours[0].Start.UTC()
	v := &view{h: h, cur: len(h.Hours) - 1, firstServed: -1, firstRequest: -1, hour0: first.Hour(), weekday0: int(first.Weekday())}
	v.elapsed = min(max(h.Now.Sub(h.Hours[v.cur].Start), 0), time.Hour)
	activeDays, lastDay := 0, -1
	for i := range h.Hours {
		hour := &h.Hours[i]
		if hour.Requests > 0 && v.firstRequest < 0 {
			v.firstRequest = i
		}
		if hour.Requests-hour.RateLimited-hour.AccessDenied <= 0 {
			continue
		}
		day := v.day(i)
		if v.firstServed < 0 || day-lastDay > maxBreakDays {
			v.firstServed, activeDays = i, 0
		}
		if i < v.cur && day != lastDay {
			activeDays++
		}
		lastDay = day
	}
	v.established = v.firstServed >= 0 && activeDays >= minActiveDays && v.cur-v.firstServed >= minHistoryHours
	if v.elapsed > 0 {
		c := h.Hours[v.cur]
		v.judged[v.nJudged] = window{index: v.cur, hour: c, start: c.Start, end: c.Start.Add(v.elapsed), partial: true}
		v.nJudged++
	}
	if v.cur >= 1 {
		v.judged[v.nJudged] = v.closed()
		v.nJudged++
	}
	return v, true
}

// window is one hour Detect judges: the hour in progress (partial) or the
// last closed hour.
type window struct {
	index      int
	hour       Hour
	start, end time.Time
	partial    bool
}

// windows lists what to judge, the hour in progress first. The last
// closed hour is judged too because a run every 5 minutes never sees the
// last minutes of an hour as "in progress": a burst at 13:57 is caught by
// the 14:00 run, on the closed hour, within one run of the window closing.
func (v *view) windows() []window { return v.judged[:v.nJudged] }

// closed is the last complete hour; callers check v.cur >= 1.
func (v *view) closed() window {
	c := v.h.Hours[v.cur-1]
	return window{index: v.cur - 1, hour: c, start: c.Start, end: c.Start.Add(time.Hour)}
}
