package budget

import (
	"context"
	"fmt"
	"time"
)

// The two scopes a budget belongs to.
const (
	ScopeKey       = "key"
	ScopeWorkspace = "workspace"
)

// Account is whose budget a request is held against, with its limits as the
// authorizer read them for this request.
type Account struct {
	// Scope is ScopeKey or ScopeWorkspace; ID the kid or workspace id.
	Scope  string
	ID     string
	Limits Limits
}

// Hold is one request's reservation: what it reserved, where and when.
// Settling it needs nothing else, so it lives only in the request.
type Hold struct {
	Account Account
	// At is when it was reserved: its windows are those containing At.
	At     time.Time
	Amount Amount
}

// Exceeded is a reservation refused because a budget cannot hold the
// request's worst case.
type Exceeded struct {
	Window Window
	Scope  string
	Limit  int64
	// Reset is when the budget's span ends; zero for the lifetime budget,
	// which only a raised limit frees.
	Reset time.Time
}

func (e *Exceeded) Error() string {
	return fmt.Sprintf("the %s %s budget cannot hold this request", e.Scope, e.Window.Name())
}

// Message is the sentence a client sees: which budget, its limit, and when
// it frees.
func (e *Exceeded) Message(now time.Time) string {
	limit := fmt.Sprintf("%d tokens", e.Limit)
	if !e.Window.Tokens() {
		limit = "$" + MicroUSD(e.Limit).String()
	}
	when := "raise the limit to go on"
	if !e.Reset.IsZero() {
		when = fmt.Sprintf("it resets in %d seconds", e.RetryAfter(now))
	}
	return fmt.Sprintf("Budget exceeded: the %s's %s is %s and cannot hold this request's worst case; %s.",
		e.Scope, e.Window.Name(), limit, when)
}

// RetryAfter is the whole seconds until the budget resets, at least 1;
// for the lifetime budget, a day: nothing frees it but a raised limit.
func (e *Exceeded) RetryAfter(now time.Time) int64 {
	if e.Reset.IsZero() {
		return 86400
	}
	d := e.Reset.Sub(now)
	secs := int64(d / time.Second)
	if d%time.Second != 0 {
		secs++
	}
	return max(secs, 1)
}

// Ledger keeps budgets exact under concurrency: a reservation is one
// conditional write that refuses a worst case the budget cannot hold, and a
// settle one write that puts the real amount in its place.
type Ledger interface {
	// Reserve holds a against acct's budgets, or returns *Exceeded. It
	// returns the standings after the hold, for the response headers.
	Reserve(ctx context.Context, acct Account, a Amount, now time.Time) (Hold, []Standing, error)
	// Settle replaces h's reserved amount with actual and returns the
	// standings after it.
	Settle(ctx context.Context, h Hold, actual Amount, now time.Time) ([]Standing, error)
	// MarkExhausted tells the authorizer that acct's budget is spent until
	// the given time, so that it refuses the key in its own write.
	MarkExhausted(ctx context.Context, acct Account, w Window, until time.Time) error
}
