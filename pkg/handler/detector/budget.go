package detector

import (
	"context"
	"fmt"
	"time"

	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/domain/budget"
	"github.com/aistats/edge/pkg/domain/findings"
)

// BudgetStore is what the budget check reads and tidies.
type BudgetStore interface {
	Standings(ctx context.Context, acct budget.Account, now time.Time) ([]budget.Standing, error)
	Reclaim(ctx context.Context, scope, id string, now time.Time) (int, error)
}

// Crossings of a budget that raise a finding (docs/architecture.md §5).
const (
	warnAt = 0.8
	fullAt = 1.0
)

// budgetFindings checks an active key's budgets. The detector, not the
// proxy, raises the 80 % and 100 % findings: it already visits every key
// active in the last hours, it holds the alerting permissions (SNS, the
// webhook) the proxy should not, and a finding a few minutes late is still
// in time, since the budget itself is enforced in the request path. It also
// reclaims holds left by requests that died, so that a budget nobody
// reserves against again shows what was really spent.
func (h *Handler) budgetFindings(ctx context.Context, k dynamo.ActiveKey, now time.Time) ([]findings.Finding, error) {
	if h.budgets == nil {
		return nil, nil
	}
	key, err := h.store.GetKey(ctx, k.KID)
	if err != nil {
		return nil, err
	}
	if !key.Limits.Limits.Any() {
		return nil, nil
	}
	if _, err := h.budgets.Reclaim(ctx, budget.ScopeKey, k.KID, now); err != nil {
		return nil, err
	}
	standings, err := h.budgets.Standings(ctx, budget.Account{Scope: budget.ScopeKey, ID: k.KID, Limits: key.Limits.Limits}, now)
	if err != nil {
		return nil, err
	}
	var out []findings.Finding
	for _, s := range standings {
		if f, ok := budgetFinding(k, s, now); ok {
			out = append(out, f)
		}
	}
	return out, nil
}

// budgetFinding is the finding a budget's standing calls for, if any: at
// 100 % spent budget_100, at 80 % budget_80. While one is open for the key,
// raising it again is the same finding (findings.Store), so a key is
// alerted once per crossing, not once per run.
func budgetFinding(k dynamo.ActiveKey, s budget.Standing, now time.Time) (findings.Finding, bool) {
	frac := s.Fraction()
	if s.Limit <= 0 || frac < warnAt {
		return findings.Finding{}, false
	}
	typ, severity, what := findings.BudgetWarning, "medium", "has used 80 %"
	if frac >= fullAt {
		typ, severity, what = findings.BudgetExhausted, "high", "has used all"
	}
	start := time.Time{}
	if c, ok := s.Window.Calendar(); ok {
		start = c.Start(now)
	}
	amount := func(n int64) string {
		if s.Window.Tokens() {
			return fmt.Sprintf("%d tokens", n)
		}
		return "$" + budget.MicroUSD(n).String()
	}
	return findings.Finding{
		WorkspaceID: k.WorkspaceID, KID: k.KID, Type: typ, Severity: severity, Status: findings.Open,
		WindowStart: start, WindowEnd: now, Observed: float64(s.Settled), ExpectedHigh: float64(s.Limit),
		Sentence:  fmt.Sprintf("Key %s %s of its %s budget: %s of %s.", k.KID, what, s.Window.Name(), amount(s.Settled), amount(s.Limit)),
		CreatedAt: now,
	}, true
}
