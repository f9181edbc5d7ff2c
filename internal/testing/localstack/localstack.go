package localstack

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/aistats/edge/internal/local/devstack"
	"github.com/aistats/edge/internal/testing/syncbuf"
)

// StartAtNoon runs the local stack with its data in dataDir until the test
// ends. Its clock runs from noon UTC today, so that no daily window rolls
// over under the test's requests, whenever it runs.
func StartAtNoon(t *testing.T, dataDir string) devstack.Running {
	t.Helper()
	noon := time.Now().UTC().Truncate(24 * time.Hour).Add(12 * time.Hour)
	began := time.Now()
	return start(t, dataDir, func() time.Time { return noon.Add(time.Since(began)) })
}

func start(t *testing.T, dataDir string, now func() time.Time) devstack.Running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan devstack.Running, 1)
	done := make(chan error, 1)
	out := &syncbuf.Buffer{}
	go func() {
		done <- devstack.Run(ctx, devstack.Config{
			DataDir: dataDir, Port: -1, DynamoDBPort: -1, Out: out,
			Logger: slog.New(slog.DiscardHandler),
			Ready:  func(r devstack.Running) { ready <- r },
			Now:    now,
		})
	}()
	select {
	case r := <-ready:
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("local stack: %v", err)
			}
		})
		return r
	case err := <-done:
		cancel()
		t.Fatalf("local stack ended before it was ready: %v\n%s", err, out)
	case <-time.After(3 * time.Minute):
		cancel()
		t.Fatal("local stack not ready in 3 minutes")
	}
	panic("unreachable")
}

// StartOnTheWallClock runs the local stack with the real clock, as `make
// dev` does, for a test that runs the operator CLI beside it (the CLI reads
// the real clock too). It first waits out the last two minutes of a UTC day,
// so that no daily window rolls over under the test's requests.
func StartOnTheWallClock(t *testing.T, dataDir string) devstack.Running {
	t.Helper()
	if left := time.Until(time.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)); left < 2*time.Minute {
		time.Sleep(left + time.Second)
	}
	return start(t, dataDir, time.Now)
}
