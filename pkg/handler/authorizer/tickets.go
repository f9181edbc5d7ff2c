package authorizer

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
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
// invocation's time is nearly spent) is kept by its writer, and tried again
// beside the writer's later requests (at most once a second, briefly) and
// before the writer writes the same key again, for that write would replace
// the ticket the withdrawal looks for: if it still fails then, that request
// is answered 503 without writing. Requests for other keys go on. A
// withdrawal still kept near gateway.TicketHorizon is given up and logged,
// for its ticket may then be cleaned off the item.
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
	// hash is the name's, for shardAffinity.
	hash uint32
	// pending holds the withdrawals of this writer's writes that could not
	// be made at once, and nextRetry when they are next tried beside a
	// request.
	pending   []pendingWithdrawal
	nextRetry time.Time
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

func (p *writers) acquire() *writer {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		w := p.free[n-1]
		p.free = p.free[:n-1]
		return w
	}
	w := &writer{name: p.prefix + strconv.FormatInt(int64(p.named), 36)}
	p.named++
	h := fnv.New32a()
	_, _ = h.Write([]byte(w.name))
	w.hash = h.Sum32()
	return w
}

func (p *writers) put(w *writer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.free = append(p.free, w)
}

// shardAffinity is the shard a writer tries first among n: while it has
// room, each container keeps to its own shard of a hot key, so a shard
// collects the tickets of about 1/n of the containers, not of all of them.
func (w *writer) shardAffinity(n int) int { return int(w.hash % uint32(n)) }

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
// admitted one is remembered, to give back if the workspace refuses. The
// writer's kept withdrawals on the key were settled before the request's
// deadline began (settleKey); one still kept on this item refuses the
// write, for the write would replace the ticket the withdrawal looks for.
func (h *Handler) countKey(ctx context.Context, req *request, a gateway.Admission) (gateway.KeyState, bool, error) {
	a.Ticket = req.writer.ticket(req.now)
	if req.writer.keeps(a) {
		return gateway.KeyState{}, false, gateway.Unavailable(fmt.Errorf("a withdrawal on key %s by this container is still kept", a.KID))
	}
	if err := ctx.Err(); err != nil { // nothing sent: nothing to withdraw
		return gateway.KeyState{}, false, gateway.Unavailable(fmt.Errorf("admit request for key %s: %w", a.KID, err))
	}
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

// minWithdrawalTime is the least time worth a withdrawal's try: with less
// left before the invocation's deadline it is kept for later instead, for
// Lambda ending the invocation at its timeout would lose what the
// container kept.
const minWithdrawalTime = 100 * time.Millisecond

// withdraw takes back a counting write now or, if that fails, keeps it on
// the request's writer.
func (h *Handler) withdraw(req *request, a gateway.Admission) {
	ctx, cancel := h.withdrawalContext(req, h.storeTimeout)
	defer cancel()
	err := h.withdrawWithin(ctx, req, a)
	if err == nil {
		return
	}
	req.writer.pending = append(req.writer.pending, pendingWithdrawal{admission: a, requestID: req.id})
	h.log.LogAttrs(context.Background(), slog.LevelWarn, "withdrawal pending", slog.String("request_id", req.id),
		slog.String("kid", a.KID), slog.String("workspace", req.workspace), slog.String("error", err.Error()))
}

// withdrawalContext bounds withdrawals by limit and by what is left of the
// invocation's deadline, less minWithdrawalTime: the request's own context
// may be spent. Deadlines are the wall clock's, not h.now's (a test may set
// that).
func (h *Handler) withdrawalContext(req *request, limit time.Duration) (context.Context, context.CancelFunc) {
	if !req.deadline.IsZero() {
		limit = min(limit, time.Until(req.deadline)-minWithdrawalTime)
	}
	return context.WithTimeout(context.Background(), limit)
}

func (h *Handler) withdrawWithin(ctx context.Context, req *request, a gateway.Admission) error {
	if err := ctx.Err(); err != nil {
		return errors.New("no time left in this invocation: kept for a later one")
	}
	req.calls.Add(1)
	_, err := h.store.WithdrawKey(ctx, a, h.now())
	return err
}

// pendingWithdrawal is a withdrawal kept for later: the admission whose
// write it takes back, and the request that made it.
type pendingWithdrawal struct {
	admission gateway.Admission
	requestID string
}

// keeps reports whether the writer keeps a withdrawal on a's item.
func (w *writer) keeps(a gateway.Admission) bool {
	return slices.ContainsFunc(w.pending, func(p pendingWithdrawal) bool {
		return p.admission.KID == a.KID && p.admission.Shard == a.Shard
	})
}

// retryBudget bounds a request's tries of its writer's kept withdrawals
// beside its own work; retryPause is how long after a failed pass the next
// waits.
const (
	retryBudget = 250 * time.Millisecond
	retryPause  = time.Second
)

// givingUpAge is the age at which a kept withdrawal is given up: short of
// the horizon by a margin, for another container's clock may run ahead.
const givingUpAge = gateway.TicketHorizon - 5*time.Second

// settle tries the writer's kept withdrawals that match, within ctx,
// stopping at the first failure, and drops those made or given up. It
// returns the first failure.
func (h *Handler) settle(ctx context.Context, req *request, match func(pendingWithdrawal) bool) error {
	var firstErr error
	req.writer.pending = slices.DeleteFunc(req.writer.pending, func(p pendingWithdrawal) bool {
		if !match(p) {
			return false
		}
		if h.givenUp(req, p) {
			return true
		}
		if firstErr != nil {
			return false
		}
		firstErr = h.withdrawWithin(ctx, req, p.admission)
		return firstErr == nil
	})
	return firstErr
}

// settleKey makes the writer's kept withdrawals on the request's key, before
// the request's store deadline begins, so that they do not eat its write's
// time. If one still fails, the request is answered 503 without a write.
func (h *Handler) settleKey(req *request) error {
	req.waitRetry()
	if len(req.writer.pending) == 0 {
		return nil
	}
	ctx, cancel := h.withdrawalContext(req, h.storeTimeout)
	defer cancel()
	err := h.settle(ctx, req, func(p pendingWithdrawal) bool { return p.admission.KID == req.kid })
	if err != nil {
		return gateway.Unavailable(fmt.Errorf("a withdrawal on key %s by this container is still kept: %w", req.kid, err))
	}
	return nil
}

// givenUp reports, logging it, that a kept withdrawal reached givingUpAge:
// its ticket may be gone from the item, so a fence could no longer tell
// whether the write applied.
func (h *Handler) givenUp(req *request, p pendingWithdrawal) bool {
	if req.now.Sub(p.admission.Now) < givingUpAge {
		return false
	}
	h.log.LogAttrs(context.Background(), slog.LevelError, "withdrawal given up; the request may stay counted",
		slog.String("request_id", p.requestID), slog.String("kid", p.admission.KID), slog.Time("counted_at", p.admission.Now))
	return true
}

// retryPending starts trying, beside the request, its writer's kept
// withdrawals: within retryBudget in all, stopping at the first that fails,
// and not again for retryPause after a failure. It returns the wait for
// that, which Handle calls before answering (so that none runs while Lambda
// has the container frozen) and settleKey before touching the writer's
// withdrawals. A writer is one request's at a time, so nothing else does.
func (h *Handler) retryPending(req *request) (wait func()) {
	w := req.writer
	if len(w.pending) == 0 || req.now.Before(w.nextRetry) {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctx, cancel := h.withdrawalContext(req, retryBudget)
		defer cancel()
		if h.settle(ctx, req, func(pendingWithdrawal) bool { return true }) != nil {
			w.nextRetry = req.now.Add(retryPause)
		}
	}()
	return func() { <-done }
}

// recordingDeadline is when a refusal's usage event must be recorded by:
// before the invocation's deadline, by the margin withdrawals keep too.
func (r *request) recordingDeadline() time.Time {
	if r.deadline.IsZero() {
		return time.Time{}
	}
	return r.deadline.Add(-minWithdrawalTime)
}
