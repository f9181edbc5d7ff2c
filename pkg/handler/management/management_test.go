package management_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aistats/edge/internal/testing/dynamotest"
	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/keyformat"
	"github.com/aistats/edge/pkg/handler/authcontext"
	"github.com/aistats/edge/pkg/handler/authorizer"
	"github.com/aistats/edge/pkg/handler/management"
)

func TestMain(m *testing.M) { os.Exit(dynamotest.Main(m)) }

type env struct {
	t     *testing.T
	store *dynamo.Store
	h     *management.Handler
	auth  *authorizer.Handler
	now   time.Time
}

func newEnv(t *testing.T) *env {
	t.Helper()
	client := dynamotest.NewClient(t)
	e := &env{t: t, now: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
	clock := func() time.Time { return e.now }
	e.store = dynamo.New(dynamo.Config{Client: client, Tables: dynamotest.NewTables(t, client), Now: clock})
	var err error
	if e.h, err = management.New(management.Config{Store: e.store, Usage: e.store, Now: clock}); err != nil {
		t.Fatal(err)
	}
	if e.auth, err = authorizer.New(authorizer.Config{Store: e.store, Now: clock}); err != nil {
		t.Fatal(err)
	}
	for _, ws := range []string{"acme", "other"} {
		if err := e.store.CreateWorkspace(context.Background(), gateway.Workspace{ID: ws, Plan: gateway.Plan{Providers: []string{"*"}, Models: []string{"*"}}}); err != nil {
			t.Fatal(err)
		}
		// The actor's own record: the service reads it (its expiry caps what
		// it creates), as it would read a real management key's.
		e.storeManagementKey(actorKID(ws), ws, management.AllScopes, nil)
	}
	return e
}

// storeManagementKey writes a management key record with a chosen kid, as
// the authorizer would have found it for an actor.
func (e *env) storeManagementKey(kid, workspace string, scopes []string, expires *time.Time) {
	e.t.Helper()
	err := e.store.CreateKey(context.Background(), gateway.Key{KID: kid, WorkspaceID: workspace, Kind: gateway.KindManagement,
		Name: "actor " + kid, Prefix: "aistats_v1_mk_" + kid, SecretHash: make([]byte, 32), Scopes: scopes, ExpiresAt: expires})
	if err != nil {
		e.t.Fatal(err)
	}
}

// actorKID is the kid of the management key that acts in a workspace.
func actorKID(workspace string) string {
	if workspace == "acme" {
		return "MgmtKeyKid01"
	}
	return "MgmtKeyKid02"
}

// actor is a management key as the authorizer's context describes it.
func actor(workspace string, scopes ...string) authcontext.Context {
	if len(scopes) == 0 {
		scopes = management.AllScopes
	}
	return authcontext.Context{KID: actorKID(workspace), WorkspaceID: workspace, Kind: gateway.KindManagement, Scopes: scopes}
}

type answer struct {
	status  int
	body    map[string]any
	raw     string
	headers map[string]string
}

func (a answer) data() map[string]any { d, _ := a.body["data"].(map[string]any); return d }
func (a answer) list() []any          { l, _ := a.body["data"].([]any); return l }
func (a answer) code() string {
	e, _ := a.body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}
func (a answer) param() any {
	e, _ := a.body["error"].(map[string]any)
	return e["param"]
}

func (e *env) call(c authcontext.Context, method, resource, kid, body string, query map[string]string) answer {
	e.t.Helper()
	return e.callWithHeaders(c, method, resource, kid, body, query, nil)
}

// callWithHeaders is call with request headers, as API Gateway passes them.
func (e *env) callWithHeaders(c authcontext.Context, method, resource, kid, body string, query, headers map[string]string) answer {
	e.t.Helper()
	authz := c.Encode()
	authz["principalId"] = c.KID
	req := events.APIGatewayProxyRequest{HTTPMethod: method, Resource: resource, Body: body, QueryStringParameters: query,
		Headers: headers, RequestContext: events.APIGatewayProxyRequestContext{RequestID: "req", Authorizer: authz}}
	if kid != "" {
		req.PathParameters = map[string]string{"kid": kid}
	}
	resp, err := e.h.Handle(context.Background(), req)
	if err != nil {
		e.t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, raw: resp.Body, headers: resp.Headers}
	if resp.Body != "" {
		if err := json.Unmarshal([]byte(resp.Body), &a.body); err != nil {
			e.t.Fatalf("body %s: %v", resp.Body, err)
		}
	}
	return a
}

func (e *env) create(c authcontext.Context, body string) (kid, key string) {
	e.t.Helper()
	a := e.call(c, "POST", "/keys", "", body, nil)
	if a.status != 201 {
		e.t.Fatalf("create: %d %s", a.status, a.raw)
	}
	return a.data()["kid"].(string), a.data()["key"].(string)
}

// admitted asks the authorizer whether key may call the chat route now.
func (e *env) admitted(key string) (bool, string) {
	e.t.Helper()
	resp, err := e.auth.Handle(context.Background(), events.APIGatewayCustomAuthorizerRequestTypeRequest{
		MethodArn: "arn:aws:execute-api:us-east-1:1:api/v1/POST/chat/completions",
		Headers:   map[string]string{"Authorization": "Bearer " + key},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.PolicyDocument.Statement[0].Effect == "Allow", resp.Context.Code
}

func TestCreateKey(t *testing.T) {
	e := newEnv(t)
	a := e.call(actor("acme"), "POST", "/keys", "", `{"name":"ci","models":["openai/*"],"providers":["openai"],"limits":{"requests_per_day":3},"expires_at":"2027-01-01T00:00:00Z"}`, nil)
	d := a.data()
	if a.status != 201 || d["name"] != "ci" || d["status"] != "active" || d["expires_at"] != "2027-01-01T00:00:00Z" ||
		d["limits"].(map[string]any)["requests_per_day"] != float64(3) {
		t.Fatalf("create: %d %s", a.status, a.raw)
	}
	key := d["key"].(string)
	tok, err := keyformat.Parse(key)
	if err != nil || tok.KID != d["kid"] || !strings.HasPrefix(key, d["prefix"].(string)) {
		t.Fatalf("returned key %v does not parse to its kid", err)
	}
	if ok, _ := e.admitted(key); !ok {
		t.Error("a new key is not admitted")
	}
	got := e.call(actor("acme"), "GET", "/keys/{kid}", tok.KID, "", nil)
	if got.status != 200 || strings.Contains(got.raw, tok.Secret()) || got.data()["key"] != nil {
		t.Errorf("reading the key again: %d %s; the secret must never come back", got.status, got.raw)
	}

	cases := []struct {
		name, body, param string
		status            int
		code              string
	}{
		{"no name", `{}`, "name", 400, "validation_error"},
		{"name too long", `{"name":"` + strings.Repeat("x", 101) + `"}`, "name", 400, "validation_error"},
		{"negative limit", `{"name":"x","limits":{"requests_per_day":-1}}`, "limits.requests_per_day", 400, "validation_error"},
		{"fractional limit", `{"name":"x","limits":{"requests_per_day":1.5}}`, "limits.requests_per_day", 400, "validation_error"},
		{"past expiry", `{"name":"x","expires_at":"2020-01-01T00:00:00Z"}`, "expires_at", 400, "validation_error"},
		{"expiry not RFC 3339", `{"name":"x","expires_at":"tomorrow"}`, "expires_at", 400, "validation_error"},
		{"bad model pattern", `{"name":"x","models":["gpt-4o"]}`, "models", 400, "validation_error"},
		{"bad provider", `{"name":"x","providers":["Open AI"]}`, "providers", 400, "validation_error"},
		{"unknown field", `{"name":"x","colour":"red"}`, "colour", 400, "validation_error"},
		{"not JSON", `{"name":`, "", 400, "invalid_json"},
		{"scopes on an inference key", `{"name":"x","scopes":["keys:read"]}`, "scopes", 400, "validation_error"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := e.call(actor("acme"), "POST", "/keys", "", tc.body, nil)
			if a.status != tc.status || a.code() != tc.code {
				t.Fatalf("got %d %s: %s", a.status, a.code(), a.raw)
			}
			if tc.param != "" && a.param() != tc.param {
				t.Errorf("param = %v, want %s", a.param(), tc.param)
			}
		})
	}
}

func TestScopesAndIsolation(t *testing.T) {
	e := newEnv(t)
	kid, _ := e.create(actor("acme"), `{"name":"mine"}`)
	readOnly := actor("acme", management.ScopeKeysRead)
	for _, tc := range []struct {
		method, resource, kid, body string
	}{
		{"POST", "/keys", "", `{"name":"x"}`},
		{"PATCH", "/keys/{kid}", kid, `{"name":"x"}`},
		{"DELETE", "/keys/{kid}", kid, ""},
		{"POST", "/keys/{kid}/rotate", kid, `{}`},
		{"GET", "/keys/{kid}/usage", kid, ""},
		{"GET", "/management-keys", "", ""},
		{"POST", "/management-keys", "", `{"name":"x","scopes":["keys:read"]}`},
	} {
		if a := e.call(readOnly, tc.method, tc.resource, tc.kid, tc.body, nil); a.status != 403 || a.code() != "insufficient_scope" {
			t.Errorf("%s %s with keys:read only: %d %s", tc.method, tc.resource, a.status, a.raw)
		}
	}
	if a := e.call(readOnly, "GET", "/keys/{kid}", kid, "", nil); a.status != 200 {
		t.Errorf("keys:read cannot read: %d %s", a.status, a.raw)
	}

	// Another workspace's key is indistinguishable from a missing one.
	stranger := actor("other")
	missing := e.call(stranger, "GET", "/keys/{kid}", "AAAAAAAAAAAA", "", nil)
	for _, tc := range []struct{ method, resource, body string }{
		{"GET", "/keys/{kid}", ""}, {"PATCH", "/keys/{kid}", `{"name":"x"}`}, {"DELETE", "/keys/{kid}", ""},
		{"POST", "/keys/{kid}/rotate", `{}`}, {"GET", "/keys/{kid}/usage", ""},
	} {
		a := e.call(stranger, tc.method, tc.resource, kid, tc.body, nil)
		if a.status != 404 || a.code() != "key_not_found" || a.body["error"].(map[string]any)["message"] != strings.Replace(missing.body["error"].(map[string]any)["message"].(string), "AAAAAAAAAAAA", kid, 1) {
			t.Errorf("%s %s of another workspace's key: %d %s", tc.method, tc.resource, a.status, a.raw)
		}
	}
	if l := e.call(stranger, "GET", "/keys", "", "", nil).list(); len(l) != 0 {
		t.Errorf("another workspace lists %d keys, want 0", len(l))
	}

	t.Run("scope escalation refused", func(t *testing.T) {
		limited := actor("acme", management.ScopeKeysRead, management.ScopeManagementKeysWrite)
		a := e.call(limited, "POST", "/management-keys", "", `{"name":"escalate","scopes":["keys:delete"]}`, nil)
		if a.status != 403 || a.code() != "insufficient_scope" {
			t.Errorf("granting a scope the key lacks: %d %s", a.status, a.raw)
		}
		ok := e.call(limited, "POST", "/management-keys", "", `{"name":"reader","scopes":["keys:read"]}`, nil)
		if ok.status != 201 || !strings.HasPrefix(ok.data()["key"].(string), "aistats_v1_mk_") {
			t.Errorf("granting a held scope: %d %s", ok.status, ok.raw)
		}
		if a := e.call(limited, "POST", "/management-keys", "", `{"name":"x","scopes":["root"]}`, nil); a.status != 400 || a.param() != "scopes" {
			t.Errorf("unknown scope: %d %s", a.status, a.raw)
		}
	})
	t.Run("management keys are listed apart", func(t *testing.T) {
		for _, v := range e.call(actor("acme"), "GET", "/keys", "", "", nil).list() {
			if v.(map[string]any)["kind"] != "sk" {
				t.Errorf("/keys listed %v", v)
			}
		}
		l := e.call(actor("acme"), "GET", "/management-keys", "", "", nil).list()
		var mk string
		for _, v := range l {
			if m := v.(map[string]any); m["kind"] == "mk" && m["kid"] != actorKID("acme") {
				mk = m["kid"].(string)
			}
		}
		if len(l) != 2 || mk == "" {
			t.Fatalf("/management-keys listed %v, want the actor's own key and the one it created", l)
		}
		if a := e.call(actor("acme"), "GET", "/keys/{kid}", mk, "", nil); a.status != 404 {
			t.Errorf("a management key read through /keys: %d", a.status)
		}
		if a := e.call(actor("acme"), "DELETE", "/management-keys/{kid}", mk, "", nil); a.status != 204 {
			t.Errorf("revoking a management key: %d %s", a.status, a.raw)
		}
	})
}

func TestUpdateRevokeAndRotate(t *testing.T) {
	e := newEnv(t)
	kid, key := e.create(actor("acme"), `{"name":"svc","limits":{"requests_per_day":100}}`)

	a := e.call(actor("acme"), "PATCH", "/keys/{kid}", kid, `{"name":"renamed","limits":{"requests_per_minute":5},"models":["local/*"]}`, nil)
	d := a.data()
	limits, _ := d["limits"].(map[string]any)
	if a.status != 200 || d["name"] != "renamed" || limits["requests_per_minute"] != float64(5) || limits["requests_per_day"] != float64(100) {
		t.Fatalf("patch: %d %s", a.status, a.raw)
	}
	if a := e.call(actor("acme"), "PATCH", "/keys/{kid}", kid, `{"disabled":true}`, nil); a.data()["status"] != "disabled" {
		t.Fatalf("disable: %s", a.raw)
	}
	if ok, code := e.admitted(key); ok || code != "key_disabled" {
		t.Errorf("disabled key: admitted %v %s", ok, code)
	}
	e.call(actor("acme"), "PATCH", "/keys/{kid}", kid, `{"disabled":false}`, nil)
	if ok, _ := e.admitted(key); !ok {
		t.Error("re-enabled key refused")
	}

	t.Run("rotation with overlap", func(t *testing.T) {
		a := e.call(actor("acme"), "POST", "/keys/{kid}/rotate", kid, `{"previous_key_expires_in":60}`, nil)
		if a.status != 201 || a.data()["name"] != "renamed" || a.data()["kid"] == kid {
			t.Fatalf("rotate: %d %s", a.status, a.raw)
		}
		newKey := a.data()["key"].(string)
		if ok, _ := e.admitted(key); !ok {
			t.Error("the old key stopped before its overlap ended")
		}
		if ok, _ := e.admitted(newKey); !ok {
			t.Error("the new key does not work")
		}
		e.now = e.now.Add(61 * time.Second)
		if ok, code := e.admitted(key); ok || code != "key_expired" {
			t.Errorf("old key after the overlap: admitted %v %s", ok, code)
		}
		if ok, _ := e.admitted(newKey); !ok {
			t.Error("the new key stopped with the old one")
		}
		old := e.call(actor("acme"), "GET", "/keys/{kid}", kid, "", nil).data()
		if old["rotated_to"] != a.data()["kid"] || old["status"] != "expired" {
			t.Errorf("old key record %v", old)
		}
	})
	t.Run("rotation without overlap", func(t *testing.T) {
		kid, key := e.create(actor("acme"), `{"name":"now"}`)
		a := e.call(actor("acme"), "POST", "/keys/{kid}/rotate", kid, `{"previous_key_expires_in":0}`, nil)
		if a.status != 201 {
			t.Fatalf("rotate: %d %s", a.status, a.raw)
		}
		if ok, code := e.admitted(key); ok || code != "key_revoked" {
			t.Errorf("old key right after rotation: admitted %v %s", ok, code)
		}
		if a := e.call(actor("acme"), "POST", "/keys/{kid}/rotate", kid, `{"previous_key_expires_in":-5}`, nil); a.status != 400 {
			t.Errorf("negative overlap: %d", a.status)
		}
	})
	t.Run("revocation takes effect on the next request", func(t *testing.T) {
		kid, key := e.create(actor("acme"), `{"name":"doomed"}`)
		if ok, _ := e.admitted(key); !ok {
			t.Fatal("not admitted before revocation")
		}
		if a := e.call(actor("acme"), "DELETE", "/keys/{kid}", kid, "", nil); a.status != 204 || a.raw != "" {
			t.Fatalf("revoke: %d %s", a.status, a.raw)
		}
		if ok, code := e.admitted(key); ok || code != "key_revoked" {
			t.Errorf("after revocation: admitted %v %s", ok, code)
		}
		if a := e.call(actor("acme"), "GET", "/keys/{kid}", kid, "", nil); a.status != 200 || a.data()["status"] != "revoked" {
			t.Errorf("revoked record: %d %s", a.status, a.raw)
		}
		if a := e.call(actor("acme"), "PATCH", "/keys/{kid}", kid, `{"disabled":false}`, nil); a.status != 409 || a.code() != "key_not_active" {
			t.Errorf("re-enabling a revoked key: %d %s", a.status, a.raw)
		}
	})
}

func TestListPaginationAndUnusedKeys(t *testing.T) {
	e := newEnv(t)
	var kids, texts []string
	for i := range 5 {
		kid, key := e.create(actor("acme"), fmt.Sprintf(`{"name":"k%d"}`, i))
		kids, texts = append(kids, kid), append(texts, key)
		e.now = e.now.Add(time.Second)
	}
	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		q := map[string]string{"limit": "2"}
		if cursor != "" {
			q["cursor"] = cursor
		}
		a := e.call(actor("acme"), "GET", "/keys", "", "", q)
		if a.status != 200 || pages > 5 {
			t.Fatalf("page %d: %d %s", pages, a.status, a.raw)
		}
		for _, v := range a.list() {
			seen = append(seen, v.(map[string]any)["kid"].(string))
		}
		next, _ := a.body["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	if strings.Join(seen, ",") != strings.Join(kids, ",") {
		t.Errorf("listed %v, want %v", seen, kids)
	}
	// Ten days on, only key 0 is used again: the other four are stale.
	e.now = e.now.AddDate(0, 0, 10)
	if ok, _ := e.admitted(texts[0]); !ok {
		t.Fatal("key 0 refused")
	}
	a := e.call(actor("acme"), "GET", "/keys", "", "", map[string]string{"unused_for_days": "5"})
	var stale []string
	for _, v := range a.list() {
		stale = append(stale, v.(map[string]any)["kid"].(string))
	}
	if a.status != 200 || strings.Join(stale, ",") != strings.Join(kids[1:], ",") {
		t.Errorf("unused for 5 days: %v, want %v", stale, kids[1:])
	}
	// Pages of two: the used key 0 is skipped, and the page is still full.
	a = e.call(actor("acme"), "GET", "/keys", "", "", map[string]string{"unused_for_days": "5", "limit": "2"})
	stale = nil
	for _, v := range a.list() {
		stale = append(stale, v.(map[string]any)["kid"].(string))
	}
	if a.status != 200 || strings.Join(stale, ",") != strings.Join(kids[1:3], ",") || a.body["next_cursor"] == nil {
		t.Errorf("unused for 5 days, limit 2: %v (next %v), want %v and a cursor", stale, a.body["next_cursor"], kids[1:3])
	}
	if used := e.call(actor("acme"), "GET", "/keys/{kid}", kids[0], "", nil).data()["last_used_at"]; used != e.now.Truncate(time.Minute).Format(time.RFC3339) {
		t.Errorf("last_used_at = %v, want this minute", used)
	}
	if a := e.call(actor("acme"), "GET", "/keys", "", "", map[string]string{"limit": "0"}); a.status != 400 || a.param() != "limit" {
		t.Errorf("limit 0: %d %s", a.status, a.raw)
	}
	if a := e.call(actor("acme"), "GET", "/keys", "", "", map[string]string{"cursor": "junk"}); a.status != 400 || a.code() != "invalid_cursor" {
		t.Errorf("junk cursor: %d %s", a.status, a.raw)
	}
}
