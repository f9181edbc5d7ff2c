package authorizer

import (
	"math"
	"time"

	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/handler/authcontext"
)

// budgetSpent explains a key refused by the spent mark on its state item
// (AdmitKey's condition; the proxy's settle sets it when a budget is used
// up): an Allow marked spent, so the integration answers 429
// budget_exceeded with Retry-After at the budget's reset. It cost no call
// beyond the write the request makes anyway.
func (h *Handler) budgetSpent(req *request, auth gateway.KeyState) decision {
	c := baseContext(auth)
	reset := int64(0) // a lifetime budget: only a raised limit frees it
	if auth.BudgetSpentUntil.UnixMilli() != math.MaxInt64 {
		d := auth.BudgetSpentUntil.Sub(req.now)
		reset = max(int64((d+time.Second-1)/time.Second), 1)
	}
	c.BudgetSpent = &authcontext.BudgetSpent{Name: auth.BudgetSpent, ResetSeconds: reset}
	return decision{outcome: outcomeRateLimited, code: gateway.CodeBudgetExceeded, context: c}
}

// spentAt reports whether the key's budget is marked spent at now.
func spentAt(auth gateway.KeyState, now time.Time) bool {
	return !auth.BudgetSpentUntil.IsZero() && now.Before(auth.BudgetSpentUntil)
}

// spendsNothing reports whether a route spends no budget, so that a key
// whose budget is used up may still call it: reading itself (GET /key,
// which shows the budget) and listing the models.
func spendsNothing(method, path string) bool {
	path, _ = routePath(path)
	return method == "GET" && (path == "key" || path == "models")
}
