package limits

import (
	"time"
)

// Window is a kind of calendar window.
type Window int

// The windows, in order from shortest to longest.
const (
	Minute Window = iota
	Day
	Month
)

// Windows lists every window.
var Windows = [...]Window{Minute, Day, Month}

// Name is the limit's name as clients see it (requests_per_minute, …).
func (w Window) Name() string {
	return [...]string{"requests_per_minute", "requests_per_day", "requests_per_month"}[w]
}

// Short is a compact tag for storage keys.
func (w Window) Short() string { return [...]string{"m", "d", "mo"}[w] }

// Start returns the start of the window containing t, in UTC.
func (w Window) Start(t time.Time) time.Time {
	t = t.UTC()
	switch w {
	case Minute:
		return t.Truncate(time.Minute)
	case Day:
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	default:
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
}

// End returns the start of the next window after the one containing t.
func (w Window) End(t time.Time) time.Time {
	s := w.Start(t)
	switch w {
	case Minute:
		return s.Add(time.Minute)
	case Day:
		return s.AddDate(0, 0, 1)
	default:
		return s.AddDate(0, 1, 0)
	}
}

// ID names the window containing t, e.g. "202611271815" for a minute. IDs of
// one window kind sort in time order.
func (w Window) ID(t time.Time) string {
	s := w.Start(t)
	switch w {
	case Minute:
		return s.Format("200601021504")
	case Day:
		return s.Format("20060102")
	default:
		return s.Format("200601")
	}
}

// PreviousID names the window just before the one containing t.
func (w Window) PreviousID(t time.Time) string {
	return w.ID(w.Start(t).Add(-time.Nanosecond))
}

// Status is one limit's standing after a request was counted.
type Status struct {
	Window Window
	// Scope says whose limit it is: "key" or "workspace".
	Scope string
	Limit int64
	// Used is how many requests the window holds, this one included.
	Used  int64
	Reset time.Time
}

// Remaining is how many more requests the window admits.
func (s Status) Remaining() int64 { return max(s.Limit-s.Used, 0) }

// Exhausted reports whether the window admits no more requests.
func (s Status) Exhausted() bool { return s.Used >= s.Limit }

// ResetSeconds is the whole number of seconds until the window resets,
// rounded up and at least 1, as Retry-After wants.
func (s Status) ResetSeconds(now time.Time) int64 {
	d := s.Reset.Sub(now)
	secs := int64(d / time.Second)
	if d%time.Second != 0 {
		secs++
	}
	return max(secs, 1)
}

// Tightest returns the status with the fewest requests remaining (ties go to
// the one that resets last, which is what a client must wait for), and false
// when there is none.
func Tightest(statuses []Status) (Status, bool) {
	var best Status
	found := false
	for _, s := range statuses {
		if !found || s.Remaining() < best.Remaining() ||
			s.Remaining() == best.Remaining() && s.Reset.After(best.Reset) {
			best, found = s, true
		}
	}
	return best, found
}
