package management_test

import (
	"strings"
	"testing"

	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/handler/authcontext"
	"github.com/aistats/edge/pkg/handler/management"
)

// Issue 11, defect 3: a narrow management key revoking a wider one.

func TestNarrowManagementKeyCannotRevokeAWiderOne(t *testing.T) {
	e := newEnv(t)
	wide := e.call(actor("acme"), "POST", "/management-keys", "", `{"name":"admin","scopes":["keys:read","keys:write","keys:delete","usage:read","management_keys:write"]}`, nil)
	peer := e.call(actor("acme"), "POST", "/management-keys", "", `{"name":"peer","scopes":["management_keys:write"]}`, nil)
	narrow := e.call(actor("acme"), "POST", "/management-keys", "", `{"name":"narrow","scopes":["management_keys:write"]}`, nil)
	if wide.status != 201 || peer.status != 201 || narrow.status != 201 {
		t.Fatalf("create: %d %d %d", wide.status, peer.status, narrow.status)
	}
	caller := authcontext.Context{KID: narrow.data()["kid"].(string), WorkspaceID: "acme", Kind: gateway.KindManagement,
		Scopes: []string{management.ScopeManagementKeysWrite}}
	wideKID := wide.data()["kid"].(string)

	a := e.call(caller, "DELETE", "/management-keys/{kid}", wideKID, "", nil)
	if got, want := a.status, 403; got != want || a.code() != "insufficient_scope" {
		t.Errorf("narrow key revoking a full-scope key: got %d %s, want %d insufficient_scope", got, a.raw, want)
	}
	if got := e.call(actor("acme"), "GET", "/management-keys", "", "", nil).raw; !strings.Contains(got, wideKID) {
		t.Fatalf("wide key missing from the listing: %s", got)
	}
	for _, v := range e.call(actor("acme"), "GET", "/management-keys", "", "", nil).list() {
		if m := v.(map[string]any); m["kid"] == wideKID && m["status"] != "active" {
			t.Errorf("wide key status = %v after a refused revoke, want active", m["status"])
		}
	}
	if got, want := e.call(caller, "DELETE", "/management-keys/{kid}", peer.data()["kid"].(string), "", nil).status, 204; got != want {
		t.Errorf("revoking a key with the same scopes: got %d, want %d", got, want)
	}
}
