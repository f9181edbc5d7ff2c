package management_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aistats/edge/pkg/domain/usage"
)

func TestKeyUsage(t *testing.T) {
	e := newEnv(t)
	kid, _ := e.create(actor("acme"), `{"name":"metered"}`)
	record := func(at time.Time, failed bool, pt, ct int64) {
		t.Helper()
		status := 200
		if failed {
			status = 502
		}
		err := e.store.RecordUsage(context.Background(), usage.Event{KID: kid, WorkspaceID: "acme", Time: at, Model: "local/echo",
			Status: status, Class: usage.ClassOf(status, true), PromptTokens: pt, CompletionTokens: ct, Latency: 120 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
	}
	day := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	record(day.Add(9*time.Hour+5*time.Minute), false, 10, 5)
	record(day.Add(9*time.Hour+50*time.Minute), true, 0, 0)
	record(day.Add(11*time.Hour), false, 7, 3)
	record(day.AddDate(0, 0, -1).Add(23*time.Hour), false, 1, 1)

	a := e.call(actor("acme"), "GET", "/keys/{kid}/usage", kid, "", map[string]string{
		"granularity": "hour", "from": "2026-11-27T09:00:00Z", "to": "2026-11-27T12:00:00Z"})
	buckets := a.list()
	if a.status != 200 || len(buckets) != 3 {
		t.Fatalf("hourly usage: %d %s", a.status, a.raw)
	}
	nine, ten, eleven := buckets[0].(map[string]any), buckets[1].(map[string]any), buckets[2].(map[string]any)
	if nine["start"] != "2026-11-27T09:00:00Z" || nine["requests"] != float64(2) || nine["errors"] != float64(1) ||
		nine["prompt_tokens"] != float64(10) || nine["completion_tokens"] != float64(5) || nine["latency_ms"] != float64(240) {
		t.Errorf("09:00 bucket %v", nine)
	}
	if ten["requests"] != float64(0) || eleven["requests"] != float64(1) {
		t.Errorf("10:00 %v, 11:00 %v", ten, eleven)
	}

	daily := e.call(actor("acme"), "GET", "/keys/{kid}/usage", kid, "", map[string]string{"from": "2026-11-26", "to": "2026-11-28"}).list()
	if len(daily) != 2 || daily[0].(map[string]any)["requests"] != float64(1) || daily[1].(map[string]any)["requests"] != float64(3) {
		t.Errorf("daily usage %v", daily)
	}
	for name, q := range map[string]map[string]string{
		"bad granularity": {"granularity": "minute"},
		"bad time":        {"from": "yesterday"},
		"reversed":        {"from": "2026-11-28", "to": "2026-11-27"},
		"too long":        {"granularity": "hour", "from": "2026-10-01", "to": "2026-11-27"},
	} {
		if a := e.call(actor("acme"), "GET", "/keys/{kid}/usage", kid, "", q); a.status != 400 {
			t.Errorf("%s: %d %s", name, a.status, a.raw)
		}
	}
	// A revoked key's history stays readable.
	e.call(actor("acme"), "DELETE", "/keys/{kid}", kid, "", nil)
	if a := e.call(actor("acme"), "GET", "/keys/{kid}/usage", kid, "", map[string]string{"from": "2026-11-27", "to": "2026-11-28"}); a.status != 200 || len(a.list()) != 1 {
		t.Errorf("usage of a revoked key: %d %s", a.status, a.raw)
	}
}

func TestAuditTrail(t *testing.T) {
	e := newEnv(t)
	kid, key := e.create(actor("acme"), `{"name":"audited","limits":{"requests_per_day":5}}`)
	e.now = e.now.Add(time.Second)
	e.call(actor("acme"), "PATCH", "/keys/{kid}", kid, `{"name":"renamed","disabled":true}`, nil)
	e.now = e.now.Add(time.Second)
	rotated := e.call(actor("acme"), "POST", "/keys/{kid}/rotate", kid, `{"previous_key_expires_in":0}`, nil)
	e.now = e.now.Add(time.Second)
	newKID := rotated.data()["kid"].(string)
	e.call(actor("acme"), "DELETE", "/keys/{kid}", newKID, "", nil)
	e.now = e.now.Add(time.Second)
	mk := e.call(actor("acme"), "POST", "/management-keys", "", `{"name":"robot","scopes":["keys:read"]}`, nil)

	a := e.call(actor("acme"), "GET", "/audit-events", "", "", map[string]string{"limit": "3"})
	first := a.list()
	cursor, _ := a.body["next_cursor"].(string)
	second := e.call(actor("acme"), "GET", "/audit-events", "", "", map[string]string{"cursor": cursor})
	events := append(first, second.list()...)
	var actions []string
	for _, ev := range events {
		m := ev.(map[string]any)
		actions = append(actions, m["action"].(string))
		if m["actor_kid"] != "MgmtKeyKid01" || m["time"] == "" {
			t.Errorf("event %v lacks actor or time", m)
		}
	}
	want := "key.created,key.revoked,key.rotated,key.updated,key.created"
	if strings.Join(actions, ",") != want || cursor == "" {
		t.Errorf("actions newest first = %v (cursor %q), want %s over two pages", actions, cursor, want)
	}
	updated := events[3].(map[string]any)
	if ch := updated["changes"].(map[string]any); updated["target_kid"] != kid || ch["name"] != "renamed" || ch["disabled"] != true {
		t.Errorf("update event %v", updated)
	}
	for _, secret := range []string{key, rotated.data()["key"].(string), mk.data()["key"].(string)} {
		if strings.Contains(a.raw+second.raw, secret) {
			t.Error("a key secret is in the audit trail")
		}
	}
	if other := e.call(actor("other"), "GET", "/audit-events", "", "", nil).list(); len(other) != 0 {
		t.Errorf("another workspace sees %d audit events", len(other))
	}
}
