package authcontext

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/aistats/edge/pkg/domain/budget"
	"github.com/aistats/edge/pkg/domain/gateway"
)

// Context keys of the budgets (docs/architecture.md §5, "Budgets and token
// limits"): the key's and the workspace's limits, which the proxy needs to
// reserve against them, and a refusal of a key whose budget is spent.
const (
	keyBudget          = "budget"
	keyWorkspaceBudget = "ws_budget"
	keyBudgetSpent     = "budget_spent"
)

// BudgetSpent is the authorizer's refusal of a key whose budget is used up:
// which budget, and the seconds until it resets (0: only a raised limit
// frees it).
type BudgetSpent struct {
	Name         string
	ResetSeconds int64
}

// encodeBudget writes limits as "tpm:tpd:cpd:cpmo:cl" (tokens and
// micro-dollars), or "" when none is set, so a key without budgets adds
// nothing to the context.
func encodeBudget(l budget.Limits) string {
	if !l.Any() {
		return ""
	}
	b := make([]byte, 0, 48)
	for i, w := range budget.Windows {
		if i > 0 {
			b = append(b, ':')
		}
		b = strconv.AppendInt(b, l.Limit(w), 10)
	}
	return string(b)
}

func decodeBudget(s string) (budget.Limits, error) {
	if s == "" {
		return budget.Limits{}, nil
	}
	parts := strings.Split(s, ":")
	if len(parts) != len(budget.Windows) {
		return budget.Limits{}, fmt.Errorf("budget %q: want %d values", s, len(budget.Windows))
	}
	var v [len(budget.Windows)]int64
	for i, p := range parts {
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil || n < 0 {
			return budget.Limits{}, fmt.Errorf("budget %q: bad value %q", s, p)
		}
		v[i] = n
	}
	return budget.Limits{TokensPerMinute: v[0], TokensPerDay: v[1], CostPerDay: budget.MicroUSD(v[2]),
		CostPerMonth: budget.MicroUSD(v[3]), CostLifetime: budget.MicroUSD(v[4])}, nil
}

func encodeSpent(s *BudgetSpent) string {
	if s == nil {
		return ""
	}
	return s.Name + ":" + strconv.FormatInt(s.ResetSeconds, 10)
}

func decodeSpent(s string) (*BudgetSpent, error) {
	if s == "" {
		return nil, nil
	}
	name, reset, ok := strings.Cut(s, ":")
	secs, err := strconv.ParseInt(reset, 10, 64)
	if !ok || name == "" || err != nil {
		return nil, errors.New("budget_spent: want name:reset")
	}
	return &BudgetSpent{Name: name, ResetSeconds: secs}, nil
}

// spentResponse is the 429 for a key the authorizer found spent.
func (c Context) spentError() error {
	s := c.BudgetSpent
	when := "raise the limit to go on"
	if s.ResetSeconds > 0 {
		when = fmt.Sprintf("it resets in %d seconds", s.ResetSeconds)
	}
	return gateway.Errorf(gateway.CodeBudgetExceeded, "Budget exceeded: the %s budget of this key is used up; %s.", s.Name, when)
}

// retryAfter is the Retry-After of a spent budget: its reset, or a day for
// one that never resets.
func (s BudgetSpent) retryAfter() string {
	if s.ResetSeconds <= 0 {
		return "86400"
	}
	return strconv.FormatInt(s.ResetSeconds, 10)
}
