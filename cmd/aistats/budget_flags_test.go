package main

import (
	"strings"
	"testing"
)

// TestBudgetFlags: budgets set from the command line land on the key and
// the workspace as the management API would store them, and an amount
// finer than a micro-dollar is refused, not rounded.
func TestBudgetFlags(t *testing.T) {
	c := newCLI(t)
	code, out, errOut := c.run("workspace", "create", "--name", "Acme", "--cost-per-month", "250", "acme")
	if code != 0 || !strings.Contains(out, `"cost_per_month_usd": 250`) {
		t.Fatalf("workspace create with a budget: %d %s %s", code, out, errOut)
	}
	code, out, errOut = c.run("key", "create", "--workspace", "acme", "--name", "capped", "--cost-per-day", "0.25", "--tpm", "40000")
	if code != 0 || !strings.Contains(out, `"cost_per_day_usd": 0.25`) || !strings.Contains(out, `"tokens_per_minute": 40000`) {
		t.Fatalf("key create with budgets: %d %s %s", code, out, errOut)
	}
	if code, _, errOut = c.run("key", "create", "--workspace", "acme", "--name", "x", "--cost", "0.0000001"); code != 2 || !strings.Contains(errOut, "--cost") {
		t.Errorf("seven decimals: exit %d, %q; want 2 naming --cost", code, errOut)
	}
}
