package budget

import (
	"time"

	"github.com/aistats/edge/pkg/domain/limits"
)

// Limits are the token and money limits of a key or a workspace, beside its
// request limits. Zero means unlimited. Costs are per UTC calendar day and
// month, and over the key's whole life.
type Limits struct {
	TokensPerMinute int64    `json:"tokens_per_minute"`
	TokensPerDay    int64    `json:"tokens_per_day"`
	CostPerDay      MicroUSD `json:"cost_per_day_usd"`
	CostPerMonth    MicroUSD `json:"cost_per_month_usd"`
	CostLifetime    MicroUSD `json:"cost_usd"`
}

// Any reports whether any limit is set: only then does a request pay for a
// reservation.
func (l Limits) Any() bool { return l != Limits{} }

// Window is one budget: what it counts (tokens or micro-dollars) over which
// span of time.
type Window int

// The budgets, tokens first.
const (
	TokensMinute Window = iota
	TokensDay
	CostDay
	CostMonth
	CostLifetime
)

// Windows lists every budget.
var Windows = [...]Window{TokensMinute, TokensDay, CostDay, CostMonth, CostLifetime}

// Name is the budget's name as clients see it, the same as its limit's field.
func (w Window) Name() string {
	return [...]string{"tokens_per_minute", "tokens_per_day", "cost_per_day_usd", "cost_per_month_usd", "cost_usd"}[w]
}

// Short is a compact tag for storage attribute names.
func (w Window) Short() string { return [...]string{"tm", "td", "cd", "cmo", "cl"}[w] }

// Tokens reports whether the budget counts tokens rather than micro-dollars.
func (w Window) Tokens() bool { return w == TokensMinute || w == TokensDay }

// Calendar is the calendar window the budget spans; false for the lifetime
// budget, which never resets.
func (w Window) Calendar() (limits.Window, bool) {
	switch w {
	case TokensMinute:
		return limits.Minute, true
	case TokensDay, CostDay:
		return limits.Day, true
	case CostMonth:
		return limits.Month, true
	}
	return 0, false
}

// ID names the span containing t ("" for the lifetime budget).
func (w Window) ID(t time.Time) string {
	if c, ok := w.Calendar(); ok {
		return c.ID(t)
	}
	return ""
}

// Reset is when the span containing t ends; the zero time for the lifetime
// budget.
func (w Window) Reset(t time.Time) time.Time {
	if c, ok := w.Calendar(); ok {
		return c.End(t)
	}
	return time.Time{}
}

// Limit is l's limit for the budget, in its unit; 0 means none.
func (l Limits) Limit(w Window) int64 {
	return [...]int64{l.TokensPerMinute, l.TokensPerDay, int64(l.CostPerDay), int64(l.CostPerMonth), int64(l.CostLifetime)}[w]
}

// Amount is what a request counts against a budget of this kind.
type Amount struct {
	Tokens int64
	Cost   MicroUSD
}

// Of is the part of a that counts against w.
func (a Amount) Of(w Window) int64 {
	if w.Tokens() {
		return a.Tokens
	}
	return int64(a.Cost)
}

// Fits reports whether a, on top of what each budget already holds (used,
// indexed by Window), stays within every limit of l.
func (l Limits) Fits(used [len(Windows)]int64, a Amount) (Window, bool) {
	for _, w := range Windows {
		if lim := l.Limit(w); lim > 0 && used[w]+a.Of(w) > lim {
			return w, false
		}
	}
	return 0, true
}

// Standing is one budget's state: its limit, what requests settled against
// it, and what requests in flight hold reserved.
type Standing struct {
	Window   Window
	Limit    int64
	Settled  int64
	Reserved int64
	// Reset is when the span ends; zero for the lifetime budget.
	Reset time.Time
}

// Remaining is what the budget still admits, reservations in flight taken
// off.
func (s Standing) Remaining() int64 { return max(s.Limit-s.Settled-s.Reserved, 0) }

// Fraction is the settled share of the limit, for the 80 % and 100 %
// findings.
func (s Standing) Fraction() float64 {
	if s.Limit <= 0 {
		return 0
	}
	return float64(s.Settled) / float64(s.Limit)
}

// HeldBack reports whether a request of worst case a was refused only
// because of reservations in flight: what settled leaves room for it in
// every limited budget. Such a request may fit in a moment, when those
// requests settle below their worst case; one that settled spend leaves no
// room for never will in this span.
func HeldBack(standings []Standing, a Amount) bool {
	for _, s := range standings {
		if s.Limit > 0 && s.Settled+a.Of(s.Window) > s.Limit {
			return false
		}
	}
	return len(standings) > 0
}
