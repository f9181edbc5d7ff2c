package management_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/handler/management"
)

// Issue 11, defect 12: malformed bodies and fields.

func TestBodiesAndFieldsAreValidated(t *testing.T) {
	e := newEnv(t)
	kid, _ := e.create(actor("acme"), `{"name":"target"}`)
	cases := []struct {
		name, method, resource, kid, body, code, param string
	}{
		{"array body", "POST", "/keys", "", `[]`, "invalid_json", ""},
		{"string body", "POST", "/keys", "", `"x"`, "invalid_json", ""},
		{"number body", "POST", "/keys", "", `123`, "invalid_json", ""},
		{"null body", "POST", "/keys", "", `null`, "invalid_json", ""},
		{"array body on PATCH", "PATCH", "/keys/{kid}", kid, `[{"name":"x"}]`, "invalid_json", ""},
		{"number body on rotate", "POST", "/keys/{kid}/rotate", kid, `5`, "invalid_json", ""},
		{"NUL in name", "POST", "/keys", "", `{"name":"a\u0000b"}`, "validation_error", "name"},
		{"bell in name", "POST", "/keys", "", `{"name":"a\u0007"}`, "validation_error", "name"},
		{"newline in name", "POST", "/keys", "", `{"name":"a\nb"}`, "validation_error", "name"},
		{"DEL in name", "POST", "/keys", "", `{"name":"a\u007f"}`, "validation_error", "name"},
		{"control in PATCH name", "PATCH", "/keys/{kid}", kid, `{"name":"\u001b[31mred"}`, "validation_error", "name"},
		{"control in management key name", "POST", "/management-keys", "", `{"name":"\u0000","scopes":["keys:read"]}`, "validation_error", "name"},
		{"path traversal model", "POST", "/keys", "", `{"name":"x","models":["../etc"]}`, "validation_error", "models"},
		{"traversal inside model", "POST", "/keys", "", `{"name":"x","models":["openai/../../etc"]}`, "validation_error", "models"},
		{"dot provider", "POST", "/keys", "", `{"name":"x","models":["./*"]}`, "validation_error", "models"},
		{"empty segment", "POST", "/keys", "", `{"name":"x","models":["openai//gpt"]}`, "validation_error", "models"},
		{"control in model", "POST", "/keys", "", `{"name":"x","models":["openai/gpt\u0000"]}`, "validation_error", "models"},
		{"null name", "PATCH", "/keys/{kid}", kid, `{"name":null}`, "validation_error", "name"},
		{"null models", "PATCH", "/keys/{kid}", kid, `{"models":null}`, "validation_error", "models"},
		{"null providers", "PATCH", "/keys/{kid}", kid, `{"providers":null}`, "validation_error", "providers"},
		{"null disabled", "PATCH", "/keys/{kid}", kid, `{"disabled":null}`, "validation_error", "disabled"},
		{"null limits", "PATCH", "/keys/{kid}", kid, `{"limits":null}`, "validation_error", "limits"},
		{"null limit", "PATCH", "/keys/{kid}", kid, `{"limits":{"requests_per_day":null}}`, "validation_error", "limits.requests_per_day"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := e.call(actor("acme"), tc.method, tc.resource, tc.kid, tc.body, nil)
			if a.status != 400 || a.code() != tc.code {
				t.Fatalf("got %d %s, want 400 %s", a.status, a.raw, tc.code)
			}
			if tc.param != "" && a.param() != tc.param {
				t.Errorf("param = %v, want %s", a.param(), tc.param)
			}
		})
	}
	if a := e.call(actor("acme"), "GET", "/keys/{kid}", kid, "", nil); a.data()["name"] != "target" {
		t.Errorf("a refused PATCH changed the key: %s", a.raw)
	}

	t.Run("accepted", func(t *testing.T) {
		for _, body := range []string{`{"name":"ok","models":["openrouter/openai/gpt-4o-mini","openai/*","*","groq/llama-3.1-8b-instant"]}`, `{"name":"Zoë's key 🔑"}`} {
			if a := e.call(actor("acme"), "POST", "/keys", "", body, nil); a.status != 201 {
				t.Errorf("POST /keys %s: got %d %s, want 201", body, a.status, a.raw)
			}
		}
		if a := e.call(actor("acme"), "PATCH", "/keys/{kid}", kid, `{"expires_at":null}`, nil); a.status != 200 {
			t.Errorf("expires_at null (nullable): got %d %s, want 200", a.status, a.raw)
		}
	})
	t.Run("duplicate scopes are deduplicated", func(t *testing.T) {
		a := e.call(actor("acme"), "POST", "/management-keys", "", `{"name":"dup","scopes":["keys:read","usage:read","keys:read"]}`, nil)
		if a.status != 201 {
			t.Fatalf("create: %d %s", a.status, a.raw)
		}
		got, _ := json.Marshal(a.data()["scopes"])
		if want := `["keys:read","usage:read"]`; string(got) != want {
			t.Errorf("scopes = %s, want %s", got, want)
		}
		stored, err := e.store.GetKey(context.Background(), a.data()["kid"].(string))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := strings.Join(stored.Scopes, ","), "keys:read,usage:read"; got != want {
			t.Errorf("stored scopes = %s, want %s", got, want)
		}
	})
}

// TestPageSizeIsValidatedByTheManagementLayer: the store only bounds its
// queries (issue 10), so every listing checks limit itself, for the API and
// for the service the operator CLI calls.
func TestPageSizeIsValidatedByTheManagementLayer(t *testing.T) {
	e := newEnv(t)
	for _, route := range []string{"/keys", "/management-keys", "/audit-events"} {
		for _, limit := range []string{"0", "101", "-1", "x"} {
			if a := e.call(actor("acme"), "GET", route, "", "", map[string]string{"limit": limit}); a.status != 400 || a.param() != "limit" {
				t.Errorf("GET %s?limit=%s: got %d %s, want 400 on limit", route, limit, a.status, a.raw)
			}
		}
		if a := e.call(actor("acme"), "GET", route, "", "", map[string]string{"limit": "100"}); a.status != 200 {
			t.Errorf("GET %s?limit=100: got %d %s, want 200", route, a.status, a.raw)
		}
	}
	svc := management.NewService(e.store, nil, func() time.Time { return e.now })
	operator := management.Actor{KID: management.OperatorActor, WorkspaceID: "acme"}
	for _, limit := range []int{0, management.MaxPageSize + 1} {
		if _, _, err := svc.ListKeys(context.Background(), operator, gateway.KindInference, limit, "", 0); gateway.ErrorCode(err) != gateway.CodeValidationError {
			t.Errorf("Service.ListKeys(limit %d): %v, want %s", limit, err, gateway.CodeValidationError)
		}
		if _, err := svc.Audit(context.Background(), operator, "", limit); gateway.ErrorCode(err) != gateway.CodeValidationError {
			t.Errorf("Service.Audit(limit %d): %v, want %s", limit, err, gateway.CodeValidationError)
		}
	}
}
