package testclock

import (
	"sync"
	"time"
)

// Clock is a clock a test sets and advances; safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// At returns a Clock reading t.
func At(t time.Time) *Clock { return &Clock{now: t} }

// Now is the time the clock reads; pass it where a func() time.Time goes.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set makes the clock read t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
