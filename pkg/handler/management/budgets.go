package management

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aistats/edge/pkg/domain/budget"
	"github.com/aistats/edge/pkg/domain/gateway"
)

// limitNames are the fields of a limits object, in the order they are
// documented (api/openapi.yaml, Limits).
var limitNames = []string{"requests_per_minute", "requests_per_day", "requests_per_month",
	"tokens_per_minute", "tokens_per_day", "cost_per_day_usd", "cost_per_month_usd", "cost_usd"}

// LimitsPatch changes some of a key's limits; nil fields stay as they are.
// Counts are non-negative integers; dollar amounts non-negative decimals of
// at most 6 places (a micro-dollar), refused rather than rounded.
type LimitsPatch struct {
	RequestsPerMinute *int64
	RequestsPerDay    *int64
	RequestsPerMonth  *int64
	TokensPerMinute   *int64
	TokensPerDay      *int64
	CostPerDay        *budget.MicroUSD
	CostPerMonth      *budget.MicroUSD
	CostLifetime      *budget.MicroUSD
}

// UnmarshalJSON reads a limits object field by field, so that a refused
// value is answered naming its field (limits.cost_per_day_usd), which the
// JSON decoder cannot do for a custom type.
func (p *LimitsPatch) UnmarshalJSON(b []byte) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil || fields == nil {
		return &gateway.Error{Code: gateway.CodeValidationError, Param: "limits", Message: "limits must be an object."}
	}
	counts := map[string]**int64{"requests_per_minute": &p.RequestsPerMinute, "requests_per_day": &p.RequestsPerDay,
		"requests_per_month": &p.RequestsPerMonth, "tokens_per_minute": &p.TokensPerMinute, "tokens_per_day": &p.TokensPerDay}
	dollars := map[string]**budget.MicroUSD{"cost_per_day_usd": &p.CostPerDay, "cost_per_month_usd": &p.CostPerMonth, "cost_usd": &p.CostLifetime}
	for name, raw := range fields {
		param := "limits." + name
		if string(raw) == "null" {
			return invalid(param, "%s cannot be null; 0 means unlimited, and leaving it out keeps it unchanged.", param)
		}
		if dst, ok := counts[name]; ok {
			var v int64
			if err := json.Unmarshal(raw, &v); err != nil || v < 0 {
				return invalid(param, "%s must be a non-negative integer (0 means unlimited).", param)
			}
			*dst = &v
			continue
		}
		if dst, ok := dollars[name]; ok {
			var v budget.MicroUSD
			if err := json.Unmarshal(raw, &v); err != nil {
				reason := "must be a non-negative decimal number of dollars"
				if ae, ok := errors.AsType[*budget.AmountError](err); ok {
					reason = ae.Reason
				}
				return invalid(param, "%s %s (0 means unlimited; at most 6 decimals).", param, reason)
			}
			*dst = &v
			continue
		}
		return invalid(param, "Unknown field %s.", param)
	}
	return nil
}

// IsZero reports whether the patch changes nothing.
func (p LimitsPatch) IsZero() bool { return p == LimitsPatch{} }

// Apply returns base with the patch's limits in place.
func (p LimitsPatch) Apply(base gateway.Limits) gateway.Limits {
	set := func(dst *int64, v *int64) {
		if v != nil {
			*dst = *v
		}
	}
	setUSD := func(dst *budget.MicroUSD, v *budget.MicroUSD) {
		if v != nil {
			*dst = *v
		}
	}
	set(&base.RequestsPerMinute, p.RequestsPerMinute)
	set(&base.RequestsPerDay, p.RequestsPerDay)
	set(&base.RequestsPerMonth, p.RequestsPerMonth)
	set(&base.TokensPerMinute, p.TokensPerMinute)
	set(&base.TokensPerDay, p.TokensPerDay)
	setUSD(&base.CostPerDay, p.CostPerDay)
	setUSD(&base.CostPerMonth, p.CostPerMonth)
	setUSD(&base.CostLifetime, p.CostLifetime)
	return base
}

// BudgetReader reads a budget's standing.
type BudgetReader interface {
	Standings(ctx context.Context, acct budget.Account, now time.Time) ([]budget.Standing, error)
}

// BudgetView is one budget window of a key as its record shows it: tokens
// for the token windows, dollars (JSON numbers, micro-dollar precision) for
// the cost windows. Used is what requests settled; Reserved what requests in
// flight hold; Remaining what a new request may still reserve.
type BudgetView struct {
	Name  string `json:"name"`
	Unit  string `json:"unit"`
	Limit any    `json:"limit"`
	// Used and Reserved count this window's span only.
	Used      any `json:"used"`
	Reserved  any `json:"reserved"`
	Remaining any `json:"remaining"`
	// ResetsAt is when the span ends; null for the lifetime budget.
	ResetsAt *time.Time `json:"resets_at"`
	// Percent is Used as a share of Limit (0 without a limit).
	Percent float64 `json:"percent"`
}

// budgetViews reads a key's budgets, for a key that has any.
func (h *Handler) budgetViews(ctx context.Context, k gateway.Key) ([]BudgetView, error) {
	if h.budgets == nil || !k.Limits.Limits.Any() {
		return nil, nil
	}
	now := h.now()
	standings, err := h.budgets.Standings(ctx, budget.Account{Scope: budget.ScopeKey, ID: k.KID, Limits: k.Limits.Limits}, now)
	if err != nil {
		return nil, fmt.Errorf("read budgets of key %s: %w", k.KID, err)
	}
	out := make([]BudgetView, 0, len(standings))
	for _, s := range standings {
		v := BudgetView{Name: s.Window.Name(), Unit: "tokens", Limit: s.Limit, Used: s.Settled, Reserved: s.Reserved,
			Remaining: s.Remaining(), Percent: float64(int64(s.Fraction()*10000)) / 100}
		if s.Limit == 0 {
			v.Remaining = nil
		}
		if !s.Window.Tokens() {
			v.Unit = "usd"
			v.Limit, v.Used, v.Reserved = budget.MicroUSD(s.Limit), budget.MicroUSD(s.Settled), budget.MicroUSD(s.Reserved)
			if s.Limit != 0 {
				v.Remaining = budget.MicroUSD(s.Remaining())
			}
		}
		if !s.Reset.IsZero() {
			r := s.Reset
			v.ResetsAt = &r
		}
		out = append(out, v)
	}
	return out, nil
}
