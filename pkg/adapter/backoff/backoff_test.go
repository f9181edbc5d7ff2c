package backoff_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aistats/edge/pkg/adapter/backoff"
)

func TestSleepEndsWithItsContext(t *testing.T) {
	if err := backoff.Sleep(context.Background(), time.Millisecond); err != nil {
		t.Errorf("a completed sleep: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	began := time.Now()
	if err := backoff.Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled sleep: %v, want context.Canceled", err)
	}
	if took := time.Since(began); took > time.Second {
		t.Errorf("a cancelled sleep took %s", took)
	}
}

func TestJitteredStaysWithinHalfEitherSide(t *testing.T) {
	for range 1000 {
		if j := backoff.Jittered(100 * time.Millisecond); j < 50*time.Millisecond || j >= 150*time.Millisecond {
			t.Fatalf("Jittered(100 ms) = %s, outside [50, 150) ms", j)
		}
	}
	if j := backoff.Jittered(0); j != 0 {
		t.Errorf("Jittered(0) = %s", j)
	}
}
