package authorizer

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/aistats/edge/pkg/domain/gateway"
)

// A request answered 503 is not counted (docs/architecture.md §5). Every
// counting write carries a ticket (gateway.Ticket), and a write whose
// answer was lost (it timed out, or DynamoDB failed in a way that does not
// say whether it applied) is withdrawn at once: its counts come back if
// DynamoDB applied it, and it can never apply later if it did not. A
// withdrawal that cannot reach DynamoDB either is kept by the writer and
// tried again before the writer's next counting write, for that write
// would replace the ticket the withdrawal looks for; until it succeeds, the
// writer answers 503 without writing. One that has not reached DynamoDB
// within gateway.TicketHorizon is logged and dropped: after that, its
// ticket may have been cleaned off the item.
//
// A request its workspace refuses after its key counted it is given back
// the same way, exactly and safely repeated.

// writer is one invocation slot of a container: the requests it serves run
// one after another, as a ticket's writer must. In AWS a container serves
// one request at a time and has one writer; a process serving requests
// concurrently (the local stack, the benchmarks) gets one per concurrent
// request.
type writer struct {
	name string
	last int64
	// pending holds the counting writes whose answer was lost and whose
	// withdrawal has not reached DynamoDB yet.
	pending []withdrawal
}

// withdrawal is a counting write to take back: a key's or a workspace's.
type withdrawal struct {
	key   *gateway.Admission
	ws    *gateway.WorkspaceAdmission
	since time.Time
}

// ticket names the writer's next counting write. The sequence is the time
// in Unix milliseconds, kept strictly growing and two apart, for a
// withdrawal writes its ticket's sequence plus one.
func (w *writer) ticket(now time.Time) gateway.Ticket {
	w.last = max(w.last+2, now.UnixMilli())
	return gateway.Ticket{Writer: w.name, Seq: w.last}
}

// writers hands out writers, most recently returned first, so that a writer
// with a withdrawal pending is the next one used. Their names are a random
// prefix per container and a number; two containers sharing a prefix by
// chance, 40 random bits, would see each other's writes refused.
type writers struct {
	mu     sync.Mutex
	prefix string
	made   int
	free   []*writer
}

func newWriters() (*writers, error) {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("authorizer: writer name: %w", err)
	}
	for i := range b {
		b[i] = alphabet[b[i]%32]
	}
	return &writers{prefix: string(b[:])}, nil
}

func (p *writers) acquire() *writer {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		w := p.free[n-1]
		p.free = p.free[:n-1]
		return w
	}
	w := &writer{name: p.prefix + strconv.FormatInt(int64(p.made), 36)}
	p.made++
	return w
}

func (p *writers) put(w *writer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.free = append(p.free, w)
}

// outcomeKnown reports whether a failed counting write surely did not
// apply: it was throttled (refused before it ran) or its item is missing.
// Any other failure (a timeout, a 5xx, a broken connection) may have
// applied. A throttle after an SDK retry of a 5xx is the one case read
// wrongly here: the first attempt may have counted.
func outcomeKnown(err error) bool {
	return errors.Is(err, gateway.ErrThrottled) || gateway.ErrorCode(err) == gateway.CodeKeyNotFound
}

// countKey runs one counting write of a key, with a ticket. A write whose
// answer was lost is withdrawn before its error is returned, and an
// admitted one is remembered, to give back if the workspace refuses.
func (h *Handler) countKey(ctx context.Context, req *request, a gateway.Admission) (gateway.KeyState, bool, error) {
	a.Ticket = req.writer.ticket(req.now)
	req.calls.Add(1)
	auth, admitted, err := h.store.AdmitKey(ctx, a)
	switch {
	case admitted:
		req.counted = &a
	case err != nil && !outcomeKnown(err):
		h.withdraw(req, withdrawal{key: &a, since: req.now})
	}
	return auth, admitted, err
}

// countWorkspace runs one counting write of a workspace, with a ticket; a
// write whose answer was lost is withdrawn before its error is returned.
func (h *Handler) countWorkspace(ctx context.Context, req *request, a gateway.WorkspaceAdmission) (gateway.WorkspaceState, bool, error) {
	a.Ticket = req.writer.ticket(req.now)
	req.calls.Add(1)
	auth, admitted, err := h.store.AdmitWorkspace(ctx, a)
	if err != nil && !outcomeKnown(err) {
		h.withdraw(req, withdrawal{ws: &a, since: req.now})
	}
	return auth, admitted, err
}

// release gives back the key's count of a request that its workspace
// refused, or whose workspace write failed.
func (h *Handler) release(req *request) {
	if req.counted != nil {
		h.withdraw(req, withdrawal{key: req.counted, since: req.now})
		req.counted = nil
	}
}

// withdraw takes back one counting write now, or keeps it pending on the
// request's writer if DynamoDB cannot be reached. It runs with its own
// deadline: the request's may be spent.
func (h *Handler) withdraw(req *request, w withdrawal) {
	if err := h.tryWithdrawal(req, w); err != nil {
		req.writer.pending = append(req.writer.pending, w)
		h.log.LogAttrs(context.Background(), slog.LevelWarn, "withdrawal pending", slog.String("request_id", req.id),
			slog.String("kid", req.kid), slog.String("workspace", req.workspace), slog.String("error", err.Error()))
	}
}

func (h *Handler) tryWithdrawal(req *request, w withdrawal) error {
	ctx, cancel := context.WithTimeout(context.Background(), h.storeTimeout)
	defer cancel()
	req.calls.Add(1)
	var err error
	if w.key != nil {
		_, err = h.store.WithdrawKey(ctx, *w.key, h.now())
	} else {
		_, err = h.store.WithdrawWorkspace(ctx, *w.ws, h.now())
	}
	return err
}

// settlePending withdraws what the request's writer still has pending,
// before the request's own counting write. If any withdrawal still fails,
// the request is answered 503 without writing; one older than the horizon
// is given up, with an error logged.
func (h *Handler) settlePending(req *request) error {
	w := req.writer
	if len(w.pending) == 0 {
		return nil
	}
	kept := w.pending[:0]
	var lastErr error
	for _, p := range w.pending {
		err := h.tryWithdrawal(req, p)
		switch {
		case err == nil:
		case req.now.Sub(p.since) < gateway.TicketHorizon:
			kept, lastErr = append(kept, p), err
		default:
			h.log.LogAttrs(context.Background(), slog.LevelError, "withdrawal given up; the request may stay counted",
				slog.String("request_id", req.id), slog.Time("counted_at", p.since), slog.String("error", err.Error()))
		}
	}
	clear(w.pending[len(kept):])
	w.pending = kept
	if len(kept) > 0 {
		return gateway.Unavailable(fmt.Errorf("%d counting writes whose answers were lost are not withdrawn yet: %w", len(kept), lastErr))
	}
	return nil
}
