package management_test

import (
	"testing"
)

// TestBudgetLimitsAreValidated: token limits are non-negative integers and
// dollar amounts non-negative decimals of at most 6 places; anything else is
// 400 validation_error naming the field, and a refused PATCH changes nothing.
func TestBudgetLimitsAreValidated(t *testing.T) {
	e := newEnv(t)
	kid, _ := e.create(actor("acme"), `{"name":"target","limits":{"cost_per_day_usd":1.5}}`)
	for _, tc := range []struct{ name, body, param string }{
		{"seven decimals", `{"limits":{"cost_per_day_usd":0.0000001}}`, "limits.cost_per_day_usd"},
		{"negative dollars", `{"limits":{"cost_usd":-1}}`, "limits.cost_usd"},
		{"exponent", `{"limits":{"cost_per_month_usd":1e3}}`, "limits.cost_per_month_usd"},
		{"NaN as a string", `{"limits":{"cost_per_month_usd":"NaN"}}`, "limits.cost_per_month_usd"},
		{"negative tokens", `{"limits":{"tokens_per_minute":-5}}`, "limits.tokens_per_minute"},
		{"fractional tokens", `{"limits":{"tokens_per_day":1.5}}`, "limits.tokens_per_day"},
		{"null budget", `{"limits":{"cost_per_day_usd":null}}`, "limits.cost_per_day_usd"},
		{"unknown limit", `{"limits":{"usd_per_hour":1}}`, "limits.usd_per_hour"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := e.call(actor("acme"), "PATCH", "/keys/{kid}", kid, tc.body, nil)
			if a.status != 400 || a.code() != "validation_error" || a.param() != tc.param {
				t.Errorf("got %d %s, want 400 validation_error on %s", a.status, a.raw, tc.param)
			}
		})
	}
	a := e.call(actor("acme"), "PATCH", "/keys/{kid}", kid, `{"limits":{"tokens_per_minute":40000,"cost_usd":"12.345678"}}`, nil)
	if a.status != 200 {
		t.Fatalf("valid PATCH: %d %s", a.status, a.raw)
	}
	limits, _ := a.data()["limits"].(map[string]any)
	if limits["cost_per_day_usd"] != 1.5 || limits["tokens_per_minute"] != 40000.0 || limits["cost_usd"] != 12.345678 {
		t.Errorf("limits after PATCH %v, want the day's $1.5 kept and the new ones set", limits)
	}
}
