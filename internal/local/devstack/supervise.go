package devstack

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/aistats/edge/internal/local/dynalite"
)

// supervisedDynamoDB keeps dynalite running for the life of the stack. In
// AWS, DynamoDB being unreachable makes the gateway answer 503 and recover
// by itself; locally, a dynalite that dies (out of memory, killed, a bug)
// must do the same rather than take `make dev` down with connection
// refused. So it is restarted on the same port with the same data, and
// until it is back every request needing it answers 503, as in AWS.
type supervisedDynamoDB struct {
	cfg      dynalite.Config
	out      io.Writer
	endpoint string

	mu      sync.Mutex
	current *dynalite.Server
	stopped bool
	cancel  context.CancelFunc
	done    chan struct{}
}

// superviseDynamoDB starts dynalite and keeps it running until ctx is done
// or Stop is called. The first start must succeed.
func superviseDynamoDB(ctx context.Context, cfg dynalite.Config, out io.Writer) (*supervisedDynamoDB, error) {
	first, err := dynalite.Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	cfg.Port = first.Port() // restarts must keep the endpoint clients know
	ctx, cancel := context.WithCancel(ctx)
	s := &supervisedDynamoDB{cfg: cfg, out: out, endpoint: first.Endpoint(), current: first, cancel: cancel, done: make(chan struct{})}
	go s.watch(ctx)
	return s, nil
}

// Endpoint is dynalite's URL; it stays the same across restarts.
func (s *supervisedDynamoDB) Endpoint() string { return s.endpoint }

// server is the process running now.
func (s *supervisedDynamoDB) server() *dynalite.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current
}

// stableAfter is how long dynalite must stay up for a crash to count as a
// new one rather than the same trouble again.
const stableAfter = 10 * time.Second

func (s *supervisedDynamoDB) watch(ctx context.Context) {
	defer close(s.done)
	started, pause := time.Now(), 50*time.Millisecond
	for {
		srv := s.server()
		select {
		case <-ctx.Done():
			return
		case <-srv.Exited():
		}
		s.mu.Lock()
		stopped := s.stopped
		s.mu.Unlock()
		if stopped {
			return
		}
		// A dynalite that dies soon after every start is restarted more
		// and more slowly, not in a tight loop.
		if time.Since(started) < stableAfter {
			pause = min(2*pause, 5*time.Second)
		} else {
			pause = 100 * time.Millisecond
		}
		fmt.Fprintf(s.out, "dynalite stopped unexpectedly (%v); requests answer 503 until it is back. Restarting it in %s with its data in %s\n",
			srv.ExitErr(), pause, s.cfg.DataDir)
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		next, err := s.restart(ctx)
		started = time.Now()
		if err != nil {
			return // ctx is done
		}
		fmt.Fprintf(s.out, "dynalite is back on %s\n", s.endpoint)
		s.mu.Lock()
		s.current = next
		if s.stopped { // Stop ran while restarting
			s.mu.Unlock()
			next.Stop()
			return
		}
		s.mu.Unlock()
	}
}

// restart tries until dynalite starts again, backing off up to 5 s between
// attempts, or until ctx is done.
func (s *supervisedDynamoDB) restart(ctx context.Context) (*dynalite.Server, error) {
	wait := 100 * time.Millisecond
	for {
		srv, err := dynalite.Start(ctx, s.cfg)
		if err == nil {
			return srv, nil
		}
		fmt.Fprintf(s.out, "restart dynalite: %v; trying again in %s\n", err, wait)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// Stop ends supervision and the process, and waits for both.
func (s *supervisedDynamoDB) Stop() {
	s.mu.Lock()
	s.stopped = true
	srv := s.current
	s.mu.Unlock()
	s.cancel() // ends a restart that keeps failing
	srv.Stop()
	<-s.done
}
