package management_test

import (
	"testing"
	"time"

	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/handler/authcontext"
	"github.com/aistats/edge/pkg/handler/management"
)

// Issue 11, defect 7: a temporary key minting a permanent one.

func TestCreatedKeyNeverOutlivesItsCreator(t *testing.T) {
	e := newEnv(t)
	creatorExpiry := e.now.Add(time.Hour)
	e.storeManagementKey("TempMgmtKey1", "acme", management.AllScopes, &creatorExpiry)
	temp := authcontext.Context{KID: "TempMgmtKey1", WorkspaceID: "acme", Kind: gateway.KindManagement, Scopes: management.AllScopes}
	want := creatorExpiry.Format(time.RFC3339)

	for _, tc := range []struct{ name, resource, body, want string }{
		{"management key without expiry", "/management-keys", `{"name":"forever","scopes":["keys:read"]}`, want},
		{"inference key without expiry", "/keys", `{"name":"forever"}`, want},
		{"inference key expiring later", "/keys", `{"name":"later","expires_at":"2030-01-01T00:00:00Z"}`, want},
		{"inference key expiring sooner", "/keys", `{"name":"sooner","expires_at":"2026-11-27T12:30:00Z"}`, "2026-11-27T12:30:00Z"},
	} {
		a := e.call(temp, "POST", tc.resource, "", tc.body, nil)
		if a.status != 201 {
			t.Fatalf("%s: %d %s", tc.name, a.status, a.raw)
		}
		if got := a.data()["expires_at"]; got != tc.want {
			t.Errorf("%s: expires_at = %v, want %s", tc.name, got, tc.want)
		}
		if ok, _ := e.admitted(a.data()["key"].(string)); a.data()["kind"] == "sk" && !ok {
			t.Errorf("%s: the new key is not admitted", tc.name)
		}
	}

	t.Run("rotation and PATCH are capped too", func(t *testing.T) {
		kid, _ := e.create(actor("acme"), `{"name":"permanent"}`)
		if a := e.call(temp, "PATCH", "/keys/{kid}", kid, `{"expires_at":null}`, nil); a.status != 200 || a.data()["expires_at"] != want {
			t.Errorf("PATCH expires_at null by a temporary key: got %d %v, want 200 %s", a.status, a.data()["expires_at"], want)
		}
		other, _ := e.create(actor("acme"), `{"name":"permanent too"}`)
		a := e.call(temp, "POST", "/keys/{kid}/rotate", other, `{}`, nil)
		if a.status != 201 || a.data()["expires_at"] != want {
			t.Errorf("rotation by a temporary key: got %d %v, want 201 %s", a.status, a.data()["expires_at"], want)
		}
	})
	t.Run("the created key expires with its creator", func(t *testing.T) {
		a := e.call(temp, "POST", "/keys", "", `{"name":"short-lived"}`, nil)
		key := a.data()["key"].(string)
		e.now = creatorExpiry.Add(time.Second)
		defer func() { e.now = creatorExpiry.Add(-time.Hour) }()
		if ok, code := e.admitted(key); ok || code != "key_expired" {
			t.Errorf("after the creator expired: admitted %v %s, want refused key_expired", ok, code)
		}
	})
}
