package authorizer

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/aistats/edge/pkg/domain/gateway"
)

// A request answered 503 is not counted (docs/architecture.md §5). Every
// counting write on a key carries a ticket (gateway.Ticket), and a write
// whose answer was lost (it timed out, or DynamoDB failed in a way that does
// not say whether it applied) is withdrawn at once: its counts come back if
// DynamoDB applied it, and it can never apply later if it did not. A
// request its workspace refuses after its key counted it is given back the
// same way, exactly and safely repeated.
//
// A withdrawal that cannot be made at once (DynamoDB is failing, or the
// invocation's time is nearly spent) is kept by the container, which tries
// it again alongside each of its next requests until it succeeds or
// gateway.TicketHorizon passes; then it is logged and given up, for the
// ticket may have been cleaned off the item. The writer that made the write
// is retired: its next write would replace the ticket the withdrawal looks
// for, so the request slot carries on under a new name, and no request
// waits for the withdrawal.
//
// A workspace's count carries no ticket: it is its minute's alone, so a
// lost write there holds a place until the minute ends at most (and every
// admitted request of every key writes that item, which would collect a
// ticket per container).

// writer is one invocation slot of a container: the requests it serves run
// one after another, as a ticket's writer must. In AWS a container serves
// one request at a time and has one writer; a process serving requests
// concurrently (the local stack, the benchmarks) gets one per concurrent
// request.
type writer struct {
	name string
	last int64
}

// ticket names the writer's next counting write. The sequence is the time
// in Unix milliseconds, kept strictly growing and two apart, for a
// withdrawal writes its ticket's sequence plus one.
func (w *writer) ticket(now time.Time) gateway.Ticket {
	w.last = max(w.last+2, now.UnixMilli())
	return gateway.Ticket{Writer: w.name, Seq: w.last}
}

// writers hands out writers and names them: a random prefix per container
// (40 bits: two containers sharing one by chance would see each other's
// writes refused) and a number that never repeats in the container.
type writers struct {
	mu     sync.Mutex
	prefix string
	named  int
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

// newName is a writer name never used before in this container. Called
// with mu held.
func (p *writers) newName() string {
	name := p.prefix + strconv.FormatInt(int64(p.named), 36)
	p.named++
	return name
}

func (p *writers) acquire() *writer {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		w := p.free[n-1]
		p.free = p.free[:n-1]
		return w
	}
	return &writer{name: p.newName()}
}

func (p *writers) put(w *writer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.free = append(p.free, w)
}

// retire renames w: a withdrawal of one of its writes is pending, and a
// write under the old name would overwrite the ticket it looks for.
func (p *writers) retire(w *writer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	w.name = p.newName()
}

// shardAffinity is the shard a writer tries first among n: each container
// keeps to a few of a hot key's shards, so a shard collects the tickets of
// about 1/n of the containers, not of all of them.
func (w *writer) shardAffinity(n int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(w.name))
	return int(h.Sum32() % uint32(n))
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
		h.withdraw(req, a)
	}
	return auth, admitted, err
}

// release gives back the key's count of a request that its workspace
// refused, or whose workspace write failed.
func (h *Handler) release(req *request) {
	if req.counted != nil {
		h.withdraw(req, *req.counted)
		req.counted = nil
	}
}

// pendingWithdrawal is a withdrawal kept for later: the admission whose
// write it takes back, and when it was first tried.
type pendingWithdrawal struct {
	admission gateway.Admission
	since     time.Time
}

// minWithdrawalTime is the least time worth a withdrawal's try: with less
// left before the invocation's deadline it is kept for later instead, for
// Lambda ending the invocation at its timeout would lose what the
// container kept.
const minWithdrawalTime = 100 * time.Millisecond

// withdraw takes back a counting write now or, if that fails, keeps it for
// later and retires the request's writer.
func (h *Handler) withdraw(req *request, a gateway.Admission) {
	ctx, cancel, err := h.withdrawalContext(req)
	if err == nil {
		req.calls.Add(1)
		_, err = h.store.WithdrawKey(ctx, a, h.now())
		cancel()
	}
	if err == nil {
		return
	}
	h.pendingMu.Lock()
	h.pending = append(h.pending, pendingWithdrawal{admission: a, since: req.now})
	h.pendingMu.Unlock()
	h.writers.retire(req.writer)
	h.log.LogAttrs(context.Background(), slog.LevelWarn, "withdrawal pending", slog.String("request_id", req.id),
		slog.String("kid", a.KID), slog.String("workspace", req.workspace), slog.String("error", err.Error()))
}

// withdrawalContext bounds withdrawals by the store deadline and by what is
// left of the invocation's, less minWithdrawalTime: the request's own
// context may be spent, and Lambda ending the invocation at its timeout
// would lose what the container kept.
func (h *Handler) withdrawalContext(req *request) (context.Context, context.CancelFunc, error) {
	// Deadlines are the wall clock's, not h.now's (a test may set that).
	deadline := time.Now().Add(h.storeTimeout)
	if !req.deadline.IsZero() {
		left := time.Until(req.deadline) - minWithdrawalTime
		if left <= 0 {
			return nil, nil, errors.New("no time left in this invocation: kept for the next")
		}
		if left < h.storeTimeout {
			deadline = time.Now().Add(left)
		}
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	return ctx, cancel, nil
}

// retryPending starts trying, beside the request, the withdrawals the
// container kept, within one store deadline in all, stopping at the first
// that fails (DynamoDB is failing still). The returned function waits for
// them, so that none runs while Lambda has the container frozen. One older
// than the horizon that fails is given up, with an error logged.
func (h *Handler) retryPending(req *request) (wait func()) {
	h.pendingMu.Lock()
	todo := h.pending
	h.pending = nil
	h.pendingMu.Unlock()
	if len(todo) == 0 {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctx, cancel, err := h.withdrawalContext(req)
		if err == nil {
			defer cancel()
		}
		var kept []pendingWithdrawal
		for _, p := range todo {
			if err == nil {
				req.calls.Add(1)
				_, err = h.store.WithdrawKey(ctx, p.admission, h.now())
				if err == nil {
					continue
				}
			}
			if req.now.Sub(p.since) < gateway.TicketHorizon {
				kept = append(kept, p)
				continue
			}
			h.log.LogAttrs(context.Background(), slog.LevelError, "withdrawal given up; the request may stay counted",
				slog.String("request_id", req.id), slog.String("kid", p.admission.KID),
				slog.Time("counted_at", p.since), slog.String("error", err.Error()))
		}
		h.pendingMu.Lock()
		h.pending = append(h.pending, kept...)
		h.pendingMu.Unlock()
	}()
	return func() { <-done }
}
