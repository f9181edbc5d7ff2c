package proxy

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/aistats/edge/pkg/adapter/backoff"
	"github.com/aistats/edge/pkg/domain/budget"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/providers"
	"github.com/aistats/edge/pkg/handler/authcontext"
)

// DefaultBudgetTimeout bounds one reservation or settle: a DynamoDB write,
// like the authorizer's, which a request without it cannot go on safely.
// A reservation that times out may still have been applied; its hold is
// then reclaimed once expired (dynamo.ReservationLife), so a timeout can
// only ever refuse spend, never allow it.
const DefaultBudgetTimeout = 2 * time.Second

// accounts lists the budgets a request is held against: its key's and its
// workspace's, each only if it has a limit. A key without budgets pays no
// write here.
func (c *call) accounts() []budget.Account {
	var out []budget.Account
	if c.ctx.Budget.Any() {
		out = append(out, budget.Account{Scope: budget.ScopeKey, ID: c.ctx.KID, Limits: c.ctx.Budget})
	}
	if c.ctx.WorkspaceBudget.Any() {
		out = append(out, budget.Account{Scope: budget.ScopeWorkspace, ID: c.ctx.WorkspaceID, Limits: c.ctx.WorkspaceBudget})
	}
	return out
}

// worstPrice is the price no candidate (the model or its fallback) can
// exceed, and the largest output any of them may give: the reservation must
// hold whichever answers. ok is false when a candidate has no price (images,
// audio), which budgets do not hold.
func worstPrice(candidates []providers.Resolved) (p budget.Price, maxOut int64, ok bool) {
	for _, m := range candidates {
		if m.Price == nil {
			return budget.Price{}, 0, false
		}
		p.Input, p.Output, p.CachedInput = max(p.Input, m.Price.Input), max(p.Output, m.Price.Output), max(p.CachedInput, m.Price.CachedInput)
		maxOut = max(maxOut, m.MaxOutput)
		if m.MaxOutput == 0 {
			maxOut = max(maxOut, budget.DefaultMaxOutput)
		}
	}
	return p, maxOut, len(candidates) > 0
}

// reserve holds the request's worst case against each of its budgets
// before the provider is called (docs/architecture.md §5): one conditional
// write per budget item. A refusal gives back what an earlier budget held
// and answers 429 budget_exceeded, with Retry-After at the budget's reset.
func (h *Handler) reserve(ctx context.Context, c *call, x exchange, body requestBody, raw []byte, candidates []providers.Resolved) error {
	accts := c.accounts()
	if len(accts) == 0 {
		return nil
	}
	price, maxOut, priced := worstPrice(candidates)
	if !priced {
		return nil
	}
	if h.budgets == nil {
		return gateway.Internal(errors.New("a key has budgets but the proxy has no budget ledger"))
	}
	out := int64(0)
	if x.path != "/embeddings" && x.api != providers.APIModerations {
		out = budget.OutputBound(body.fields, maxOut)
	}
	worst := budget.Worst(budget.PromptBound(raw), out, price)
	ctx, cancel := context.WithTimeout(ctx, h.budgetTimeout)
	defer cancel()
	now := h.now()
	var tightest *authcontext.RateLimit
	for _, acct := range accts {
		hold, standings, err := h.reserveOne(ctx, acct, worst)
		if ex, refused := errors.AsType[*budget.Exceeded](err); refused {
			h.settle(c) // give back what the key's budget held
			c.retryAfter = strconv.FormatInt(ex.RetryAfter(now), 10)
			return &gateway.Error{Code: gateway.CodeBudgetExceeded, Param: "", Message: ex.Message(now), Err: err}
		}
		if err != nil {
			h.settle(c)
			return err
		}
		c.holds = append(c.holds, hold)
		tightest = tighterTokens(tightest, standings, now)
	}
	c.ctx.TokenLimit = tightest
	return nil
}

// DefaultBudgetWait bounds how long a request waits for reservations in
// flight to settle when they alone stand between it and a budget with room
// for it; the waits between tries grow from holdBackoff.
const (
	DefaultBudgetWait = 2 * time.Second
	holdBackoff       = 5 * time.Millisecond
)

// reserveOne reserves against one budget. A refusal that only requests in
// flight explain (what settled leaves room, what they reserve does not) is
// tried again after a short, jittered wait, since those requests usually
// settle well below their worst case: under a burst, a budget then refuses
// a request because its spend is used, not because others are running.
func (h *Handler) reserveOne(ctx context.Context, acct budget.Account, worst budget.Amount) (budget.Hold, []budget.Standing, error) {
	deadline := time.Now().Add(h.budgetWait)
	wait := holdBackoff
	for {
		hold, standings, err := h.budgets.Reserve(ctx, acct, worst, h.now())
		if _, refused := errors.AsType[*budget.Exceeded](err); !refused || !budget.HeldBack(standings, worst) || time.Now().Add(wait).After(deadline) {
			return hold, standings, err
		}
		if backoff.Sleep(ctx, backoff.Jittered(wait)) != nil {
			return hold, standings, err
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}

// tighterTokens keeps the token budget with the least remaining, for the
// x-ratelimit-*-tokens headers.
func tighterTokens(best *authcontext.RateLimit, standings []budget.Standing, now time.Time) *authcontext.RateLimit {
	for _, s := range standings {
		if !s.Window.Tokens() || s.Limit <= 0 {
			continue
		}
		if best == nil || s.Remaining() < best.Remaining {
			secs := int64(0)
			if !s.Reset.IsZero() {
				secs = max(int64((s.Reset.Sub(now)+time.Second-1)/time.Second), 1)
			}
			best = &authcontext.RateLimit{Name: s.Window.Name(), Limit: s.Limit, Remaining: s.Remaining(), ResetSeconds: secs}
		}
	}
	return best
}

// settle puts the request's real amount in place of each of its holds, and
// marks a key whose budget that settle used up, so that the authorizer
// refuses its next requests in its own write. A failed settle is logged:
// the hold then expires and is reclaimed, and the spend it stood for is
// missing from the budget (it is still in the usage).
func (h *Handler) settle(c *call) {
	if len(c.holds) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.budgetTimeout)
	defer cancel()
	actual := budget.Actual(c.usage.PromptTokens, c.usage.CompletionTokens, c.usage.PromptTokensDetails.CachedTokens, c.answerPrice())
	now := h.now()
	for _, hold := range c.holds {
		standings, err := h.budgets.Settle(ctx, hold, actual, now)
		if err != nil {
			h.log.LogAttrs(ctx, slog.LevelError, "settle budget", slog.String("request_id", c.requestID), slog.String("kid", c.ctx.KID),
				slog.String("workspace", c.ctx.WorkspaceID), slog.String("scope", hold.Account.Scope), slog.String("error", err.Error()))
			continue
		}
		if actual.Tokens > hold.Amount.Tokens || actual.Cost > hold.Amount.Cost {
			h.log.LogAttrs(ctx, slog.LevelWarn, "usage above the reserved worst case", slog.String("request_id", c.requestID),
				slog.String("kid", c.ctx.KID), slog.Int64("reserved_tokens", hold.Amount.Tokens), slog.Int64("tokens", actual.Tokens))
		}
		if hold.Account.Scope == budget.ScopeKey {
			h.markSpent(ctx, c, hold.Account, standings)
		}
	}
	c.holds = nil
}

// markSpent sets the key's spent mark when a budget is used up.
func (h *Handler) markSpent(ctx context.Context, c *call, acct budget.Account, standings []budget.Standing) {
	for _, s := range standings {
		if s.Limit <= 0 || s.Settled < s.Limit {
			continue
		}
		if err := h.budgets.MarkExhausted(ctx, acct, s.Window, s.Reset); err != nil {
			h.log.LogAttrs(ctx, slog.LevelWarn, "mark budget spent", slog.String("request_id", c.requestID),
				slog.String("kid", c.ctx.KID), slog.String("error", err.Error()))
		}
		return
	}
}

// settleAndRecord settles the request's holds while its usage event is
// written: two writes at once, so a budget costs the answer no extra round
// trip.
func (h *Handler) settleAndRecord(c *call, record func()) {
	if len(c.holds) == 0 {
		record()
		return
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		h.settle(c)
	}()
	record()
	wg.Wait()
}

// answerPrice is the price of the model that answered: the one whose
// provider the call ended with, else the model asked for. A model without a
// price costs 0.
func (c *call) answerPrice() budget.Price {
	for _, m := range c.candidates {
		if m.Provider.ID == c.provider && m.Price != nil {
			return *m.Price
		}
	}
	if len(c.candidates) > 0 && c.candidates[0].Price != nil {
		return *c.candidates[0].Price
	}
	return budget.Price{}
}
