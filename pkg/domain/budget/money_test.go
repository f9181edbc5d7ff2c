package budget_test

import (
	"encoding/json"
	"testing"

	"github.com/aistats/edge/pkg/domain/budget"
)

func TestParseUSD(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     budget.MicroUSD
		ok       bool
	}{
		{"whole dollars", "12", 12_000_000, true},
		{"cents", "0.25", 250_000, true},
		{"one micro-dollar", "0.000001", 1, true},
		{"zero", "0", 0, true},
		{"seven decimals are refused, not rounded", "0.0000001", 0, false},
		{"negative", "-1", 0, false},
		{"exponent", "1e3", 0, false},
		{"NaN", "NaN", 0, false},
		{"trailing dot", "1.", 0, false},
		{"above the maximum", "1000000000.01", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := budget.ParseUSD(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Errorf("ParseUSD(%q) = %d, %v; want %d, ok %v", tc.in, got, err, tc.want, tc.ok)
			}
		})
	}
}

func TestMicroUSDJSONRoundTrip(t *testing.T) {
	for _, v := range []budget.MicroUSD{0, 1, 250_000, 12_000_000, 1_234_567} {
		b, _ := json.Marshal(v)
		var back budget.MicroUSD
		if err := json.Unmarshal(b, &back); err != nil || back != v {
			t.Errorf("%d encodes as %s and reads back as %d (%v)", v, b, back, err)
		}
	}
}

// TestCostRoundsUpPerRequest: a request is never billed below what its
// tokens cost, so a budget's settled sum never undercounts the provider's.
func TestCostRoundsUpPerRequest(t *testing.T) {
	gpt4oMini := budget.Price{Input: 150_000, Output: 600_000, CachedInput: 75_000}
	for _, tc := range []struct {
		name                       string
		prompt, completion, cached int64
		want                       budget.MicroUSD
	}{
		{"one token in rounds up to a micro-dollar", 1, 0, 0, 1},
		{"a million tokens in is the list price", 1_000_000, 0, 0, 150_000},
		{"cached tokens bill at the cached price", 1_000_000, 0, 1_000_000, 75_000},
		{"in and out", 1000, 500, 200, 120 + 15 + 300},
		{"cached never above prompt", 10, 0, 50, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := gpt4oMini.Cost(tc.prompt, tc.completion, tc.cached); got != tc.want {
				t.Errorf("Cost(%d, %d, %d) = %d, want %d", tc.prompt, tc.completion, tc.cached, got, tc.want)
			}
			if worst := gpt4oMini.WorstCost(tc.prompt, tc.completion); worst < gpt4oMini.Cost(tc.prompt, tc.completion, tc.cached) {
				t.Errorf("worst case %d below the cost", worst)
			}
		})
	}
}

func TestOutputBound(t *testing.T) {
	raw := func(s string) map[string]json.RawMessage {
		var m map[string]json.RawMessage
		_ = json.Unmarshal([]byte(s), &m)
		return m
	}
	for _, tc := range []struct {
		name, body string
		modelMax   int64
		want       int64
	}{
		{"max_tokens", `{"max_tokens": 100}`, 16384, 100},
		{"the model's maximum when none is set", `{}`, 16384, 16384},
		{"the default without a model maximum", `{}`, 0, budget.DefaultMaxOutput},
		{"a cap above the model's is the model's", `{"max_completion_tokens": 99999}`, 16384, 16384},
		{"n choices", `{"max_tokens": 100, "n": 3}`, 16384, 300},
		{"the largest of several caps", `{"max_tokens": 10, "max_output_tokens": 50}`, 16384, 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := budget.OutputBound(raw(tc.body), tc.modelMax); got != tc.want {
				t.Errorf("OutputBound(%s, %d) = %d, want %d", tc.body, tc.modelMax, got, tc.want)
			}
		})
	}
}

func TestHeldBack(t *testing.T) {
	st := []budget.Standing{{Window: budget.CostDay, Limit: 1000, Settled: 600, Reserved: 350}}
	if !budget.HeldBack(st, budget.Amount{Cost: 300}) {
		t.Error("300 fits beside what settled (600 of 1000): held back by holds in flight, want true")
	}
	if budget.HeldBack(st, budget.Amount{Cost: 500}) {
		t.Error("500 does not fit beside what settled: a refusal waiting cannot change, want false")
	}
}
