package management_test

import (
	"strings"
	"testing"
)

// FuzzCreateKeyBody sends arbitrary bodies to POST /v1/keys: every answer is
// a clean client error or a created key, never a server error or a panic,
// and a created key always comes back with its text exactly once.
func FuzzCreateKeyBody(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `null`, `[]`, `{"name":"ok"}`, `{"name":"x","limits":{"requests_per_day":-1}}`,
		`{"name":"x","limits":{"requests_per_day":1e30}}`, `{"name":"x","models":[1]}`, `{"name":"x"}{"name":"y"}`,
		`{"name":"` + strings.Repeat("é", 101) + `"}`, `{"name":"x","expires_at":"9999-12-31T23:59:59Z"}`,
		`{"name":"x","limits":null}`, `{"name":"\u0000"}`, `{"name":"x","scopes":["keys:read"]}`,
	} {
		f.Add(seed)
	}
	var e *env
	f.Fuzz(func(t *testing.T, body string) {
		if e == nil {
			e = newEnv(t)
		}
		e.t = t
		a := e.call(actor("acme"), "POST", "/keys", "", body, nil)
		switch {
		case a.status == 201:
			if key, _ := a.data()["key"].(string); !strings.HasPrefix(key, "aistats_v1_sk_") {
				t.Fatalf("201 without the key text for %q: %s", body, a.raw)
			}
		case a.status == 400:
			if c := a.code(); c != "validation_error" && c != "invalid_json" {
				t.Fatalf("400 with code %q for %q", c, body)
			}
		default:
			t.Fatalf("status %d for %q: %s", a.status, body, a.raw)
		}
	})
}
