package management_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// Issue 11, defect 6: forged and oversized cursors.

func TestForgedCursorsAreClientErrors(t *testing.T) {
	e := newEnv(t)
	for i := range 3 {
		e.create(actor("acme"), `{"name":"k`+string(rune('0'+i))+`"}`)
		e.now = e.now.Add(time.Second)
	}
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	cursors := map[string]string{
		"oversized sort key":     enc(map[string]string{"w": "acme", "c": strings.Repeat("9", 5000), "k": "AAAAAAAAAAAA"}),
		"kid not a kid":          enc(map[string]string{"w": "acme", "c": "2026-11-27T12:00:00.000000000Z", "k": strings.Repeat("k", 3000)}),
		"created_at not a time":  enc(map[string]string{"w": "acme", "c": "../../etc", "k": "AAAAAAAAAAAA"}),
		"audit sort key forged":  enc(map[string]string{"w": "acme", "s": strings.Repeat("s", 3000)}),
		"huge text":              strings.Repeat("A", 20000),
		"extra fields":           enc(map[string]any{"w": "acme", "c": "2026-11-27T12:00:00.000000000Z", "k": "AAAAAAAAAAAA", "x": 1}),
		"wrong types":            enc(map[string]any{"w": "acme", "c": 1, "k": true}),
		"another workspace's":    enc(map[string]string{"w": "other", "c": "2026-11-27T12:00:00.000000000Z", "k": "AAAAAAAAAAAA"}),
		"audit time not a time":  enc(map[string]string{"w": "acme", "s": "yesterday#ABCDEFGH"}),
		"base64 of non-JSON":     base64.RawURLEncoding.EncodeToString([]byte("\x00\x01")),
		"audit sort key no rand": enc(map[string]string{"w": "acme", "s": "2026-11-27T12:00:00.000000000Z"}),
	}
	for _, route := range []string{"/keys", "/management-keys", "/audit-events"} {
		for name, cursor := range cursors {
			a := e.call(actor("acme"), "GET", route, "", "", map[string]string{"cursor": cursor})
			if got, want := a.status, 400; got != want || a.code() != "invalid_cursor" {
				t.Errorf("GET %s with a cursor (%s): got %d %s, want %d invalid_cursor", route, name, got, truncate(a.raw), want)
			}
		}
	}
	// The cursors the API hands out still work.
	for _, route := range []string{"/keys", "/audit-events"} {
		a := e.call(actor("acme"), "GET", route, "", "", map[string]string{"limit": "1"})
		next, _ := a.body["next_cursor"].(string)
		if next == "" {
			t.Fatalf("GET %s?limit=1 gave no cursor: %s", route, a.raw)
		}
		if got := e.call(actor("acme"), "GET", route, "", "", map[string]string{"cursor": next, "limit": "1"}); got.status != 200 {
			t.Errorf("GET %s with its own cursor: got %d %s, want 200", route, got.status, got.raw)
		}
	}
}

func truncate(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}
