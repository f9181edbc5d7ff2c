package anomaly

import "time"

// Quiet for new keys: a baseline is trusted only once the key has served
// traffic on minActiveDays distinct UTC days and its first traffic in the
// history is at least minHistory old. One week is the shortest history
// that has seen every weekday and a weekend at least once; below that, a
// key's first busy Monday would look like a spike and its first weekend
// like a drop. Types that compare a key with itself (traffic_spike,
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
// History starts again after a break: a key back from maxBreak or more
// without traffic is judged as new, since its silent weeks would otherwise
// be zeros in its baseline and its normal traffic a spike. A long weekend
// is not a break.
const (
	minActiveDays = 10
	minHistory    = 14 * 24 * time.Hour
	maxBreak      = 4 * 24 * time.Hour
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
}

func newView(h History) (*view, bool) {
	if len(h.Hours) == 0 {
		return nil, false
	}
	v := &view{h: h, cur: len(h.Hours) - 1, firstServed: -1, firstRequest: -1}
	v.elapsed = min(max(h.Now.Sub(h.Hours[v.cur].Start), 0), time.Hour)
	activeDays, lastDay := 0, time.Time{}
	for i, hour := range h.Hours {
		if hour.Requests > 0 && v.firstRequest < 0 {
			v.firstRequest = i
		}
		if hour.Served() == 0 {
			continue
		}
		day := hour.Start.Truncate(24 * time.Hour)
		if v.firstServed < 0 || day.Sub(lastDay) > maxBreak {
			v.firstServed, activeDays = i, 0
		}
		if i < v.cur && !day.Equal(lastDay) {
			activeDays++
		}
		lastDay = day
	}
	v.established = v.firstServed >= 0 && activeDays >= minActiveDays &&
		h.Hours[v.cur].Start.Sub(h.Hours[v.firstServed].Start) >= minHistory
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
func (v *view) windows() []window {
	var ws []window
	if v.elapsed > 0 {
		c := v.h.Hours[v.cur]
		ws = append(ws, window{index: v.cur, hour: c, start: c.Start, end: c.Start.Add(v.elapsed), partial: true})
	}
	if v.cur >= 1 {
		ws = append(ws, v.closed())
	}
	return ws
}

// closed is the last complete hour; callers check v.cur >= 1.
func (v *view) closed() window {
	c := v.h.Hours[v.cur-1]
	return window{index: v.cur - 1, hour: c, start: c.Start, end: c.Start.Add(time.Hour)}
}
