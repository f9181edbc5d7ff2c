// Package backoff is what every retry loop here waits with: a sleep that
// ends with its context, and the jitter that keeps callers retrying
// together from retrying in step.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Sleep waits d unless ctx ends first, and then returns ctx's error.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Jittered is d spread at random over [d/2, 3d/2).
func Jittered(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	return d/2 + rand.N(d)
}
