package management_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aistats/edge/pkg/adapter/webhook"
	"github.com/aistats/edge/pkg/domain/findings"
	"github.com/aistats/edge/pkg/handler/alerts"
	"github.com/aistats/edge/pkg/handler/management"
)

// receiver is a real local webhook receiver that checks each delivery's
// signature with the secret PUT /v1/webhook answered.
type receiver struct {
	mu       sync.Mutex
	secret   string
	events   []findings.Event
	verified int
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if webhook.Verify(r.secret, req.Header.Get(webhook.SignatureHeader), body, time.Now(), 5*time.Minute) == nil {
		r.verified++
	}
	var ev findings.Event
	_ = json.Unmarshal(body, &ev)
	r.events = append(r.events, ev)
}

// withAlerts gives e a handler with every finding route wired, as
// pkg/wiring does, and returns its raiser.
func withAlerts(t *testing.T, e *env, githubKeys ...*ecdsa.PublicKey) *alerts.Raiser {
	t.Helper()
	clock := func() time.Time { return e.now }
	svc := management.NewService(e.store, nil, clock)
	raiser, err := alerts.New(alerts.Config{Findings: e.store, Workspaces: e.store, Disabler: svc, Now: clock,
		Webhooks: webhook.New(webhook.Config{Rule: webhook.Rule{AllowLoopbackHTTP: true}})})
	if err != nil {
		t.Fatal(err)
	}
	e.h, err = management.New(management.Config{Store: e.store, Usage: e.store, Now: clock, Findings: e.store, Alerts: e.store,
		WebhookRule: webhook.Rule{AllowLoopbackHTTP: true}, Raiser: raiser, Sources: e.store, GitHubKeys: githubKeys,
		LeakAnswerTime: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return raiser
}

// report sends a leak report as API Gateway would for the route with no
// authorizer: no context, the caller's address.
func (e *env) report(ip, body string, headers map[string]string) answer {
	e.t.Helper()
	resp, err := e.h.Handle(context.Background(), events.APIGatewayProxyRequest{
		HTTPMethod: "POST", Resource: management.LeakReportResource, Body: body, Headers: headers,
		RequestContext: events.APIGatewayProxyRequestContext{RequestID: "req", Identity: events.APIGatewayRequestIdentity{SourceIP: ip}},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, raw: resp.Body, headers: resp.Headers}
	_ = json.Unmarshal([]byte(resp.Body), &a.body)
	return a
}

func (e *env) resolve(workspace, id string) answer {
	e.t.Helper()
	authz := actor(workspace).Encode()
	resp, err := e.h.Handle(context.Background(), events.APIGatewayProxyRequest{
		HTTPMethod: "POST", Resource: "/anomalies/{id}/resolve", PathParameters: map[string]string{"id": id},
		RequestContext: events.APIGatewayProxyRequestContext{RequestID: "req", Authorizer: authz},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, raw: resp.Body}
	_ = json.Unmarshal([]byte(resp.Body), &a.body)
	return a
}

func TestLeakReportRevokesAuditsAndAlerts(t *testing.T) {
	e := newEnv(t)
	withAlerts(t, e)
	rcv := &receiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	set := e.call(actor("acme"), "PUT", "/webhook", "", `{"url":"`+srv.URL+`/hook"}`, nil)
	secret, _ := set.data()["secret"].(string)
	if set.status != 200 || !strings.HasPrefix(secret, webhook.SecretPrefix) {
		t.Fatalf("PUT /webhook: %d %s", set.status, set.raw)
	}
	rcv.secret = secret
	kid, key := e.create(actor("acme"), `{"name":"leaky"}`)

	leaked := e.report("192.0.2.7", `{"key":"`+key+`"}`, nil)
	// A well-formed key nobody holds, and text that is no key at all, get
	// the very same answer.
	_, other := e.create(actor("other"), `{"name":"x"}`)
	unknown := e.report("192.0.2.7", `{"key":"`+other[:len(other)-10]+`AAAAAAAAAA"}`, nil)
	junk := e.report("192.0.2.7", `{"key":"hello"}`, nil)
	for name, a := range map[string]answer{"leaked": leaked, "unknown": unknown, "junk": junk} {
		if a.status != 202 || a.raw != leaked.raw {
			t.Errorf("%s: %d %s; want 202 and the same body as every report", name, a.status, a.raw)
		}
	}
	if ok, code := e.admitted(key); ok || code != "key_revoked" {
		t.Errorf("the reported key: admitted %v (%s); want refused as revoked", ok, code)
	}
	if ok, _ := e.admitted(other); !ok {
		t.Error("a key that was not reported stopped working")
	}

	list := e.call(actor("acme"), "GET", "/anomalies", "", "", map[string]string{"kid": kid, "status": "open"})
	if list.status != 200 || len(list.list()) != 1 {
		t.Fatalf("GET /anomalies: %d %s", list.status, list.raw)
	}
	f := list.list()[0].(map[string]any)
	if f["type"] != "leaked_key" || f["kid"] != kid || f["severity"] != "high" {
		t.Errorf("finding = %v", f)
	}
	if other := e.call(actor("other"), "GET", "/anomalies", "", "", map[string]string{"kid": kid}); other.status != 200 || len(other.list()) != 0 {
		t.Errorf("another workspace sees %s", other.raw)
	}

	rcv.mu.Lock()
	if len(rcv.events) != 1 || rcv.verified != 1 || rcv.events[0].Data.Type != findings.LeakedKey || rcv.events[0].Data.ID != f["id"] {
		t.Errorf("webhook got %d events (%d verified): %+v", len(rcv.events), rcv.verified, rcv.events)
	}
	rcv.mu.Unlock()
	hook := e.call(actor("acme"), "GET", "/webhook", "", "", nil)
	if last, _ := hook.data()["last_delivery"].(map[string]any); hook.status != 200 || last["ok"] != true || last["status"] != float64(200) {
		t.Errorf("GET /webhook: %d %s", hook.status, hook.raw)
	}
	if strings.Contains(hook.raw, secret) {
		t.Error("GET /webhook shows the secret")
	}

	audit := e.call(actor("acme"), "GET", "/audit-events", "", "", nil)
	if !strings.Contains(audit.raw, `"actor_kid":"leak-report"`) || !strings.Contains(audit.raw, `"action":"key.revoked"`) {
		t.Errorf("audit lacks the revocation by leak-report: %s", audit.raw)
	}

	id := f["id"].(string)
	if a := e.resolve("other", id); a.status != 404 {
		t.Errorf("another workspace resolved it: %d %s", a.status, a.raw)
	}
	if a := e.resolve("acme", id); a.status != 200 || a.data()["status"] != "resolved" || a.data()["resolved_by"] != actorKID("acme") {
		t.Errorf("resolve: %d %s", a.status, a.raw)
	}
	if a := e.call(actor("acme"), "GET", "/anomalies", "", "", map[string]string{"status": "closed"}); a.status != 400 || a.param() != "status" {
		t.Errorf("bad status filter: %d %s", a.status, a.raw)
	}
	if a := e.call(actor("acme", "keys:read"), "GET", "/anomalies", "", "", nil); a.status != 403 {
		t.Errorf("without usage:read: %d", a.status)
	}
}

func TestLeakReportsAreLimitedPerSource(t *testing.T) {
	e := newEnv(t)
	withAlerts(t, e)
	for i := range management.LeakReportsPerMinute {
		// One IPv6 /64 is one source, whatever the rest of the address.
		ip := fmt.Sprintf("2001:db8:1:2::%x", i+1)
		if a := e.report(ip, `{"key":"nothing"}`, nil); a.status != 202 {
			t.Fatalf("report %d: %d %s", i, a.status, a.raw)
		}
	}
	a := e.report("2001:db8:1:2:ffff::1", `{"key":"nothing"}`, nil)
	if a.status != 429 || a.headers["Retry-After"] == "" || a.code() != "rate_limit_exceeded" {
		t.Errorf("past the limit: %d %v %s", a.status, a.headers, a.raw)
	}
	if a := e.report("2001:db8:1:3::1", `{"key":"nothing"}`, nil); a.status != 202 {
		t.Errorf("another /64 was limited: %d", a.status)
	}
	if a := e.report("198.51.100.1", `{}`, nil); a.status != 400 || a.param() != "key" {
		t.Errorf("no key: %d %s", a.status, a.raw)
	}
	for ip, want := range map[string]string{"192.0.2.1": "192.0.2.1", "2001:db8::1": "2001:db8::/64", "::ffff:192.0.2.1": "192.0.2.1", "": "unknown"} {
		if got := management.SourceKey(ip); got != want {
			t.Errorf("SourceKey(%q) = %q, want %q", ip, got, want)
		}
	}
}

// GitHub's secret scanning report, signed with a key pair made here, is
// answered with a label per token; a forged signature is refused.
func TestGitHubSecretScanningReport(t *testing.T) {
	e := newEnv(t)
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	withAlerts(t, e, &priv.PublicKey)
	_, key := e.create(actor("acme"), `{"name":"committed"}`)
	body := `[{"token":"` + key + `","type":"aistats_api_key","url":"https://github.com/o/r/blob/x/.env","source":"content"},` +
		`{"token":"aistats_v1_sk_nope","type":"aistats_api_key","url":"https://github.com/o/r/blob/x/a","source":"content"}]`
	digest := sha256.Sum256([]byte(body))
	sig, _ := ecdsa.SignASN1(rand.Reader, priv, digest[:])
	headers := map[string]string{management.GitHubKeyIDHeader: "abc", management.GitHubSignatureHeader: base64.StdEncoding.EncodeToString(sig)}
	a := e.report("140.82.112.1", body, headers)
	var labels []map[string]string
	if err := json.Unmarshal([]byte(a.raw), &labels); err != nil || a.status != 200 || len(labels) != 2 {
		t.Fatalf("GitHub report: %d %s", a.status, a.raw)
	}
	if labels[0]["label"] != "true_positive" || labels[0]["token_raw"] != key || labels[0]["token_type"] != "aistats_api_key" || labels[1]["label"] != "false_positive" {
		t.Errorf("labels = %v", labels)
	}
	if ok, _ := e.admitted(key); ok {
		t.Error("the key GitHub reported still works")
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	forged, _ := ecdsa.SignASN1(rand.Reader, other, digest[:])
	headers[management.GitHubSignatureHeader] = base64.StdEncoding.EncodeToString(forged)
	if a := e.report("140.82.112.1", body, headers); a.status != 401 || a.code() != "invalid_signature" {
		t.Errorf("forged signature: %d %s", a.status, a.raw)
	}
}

func TestAutoDisableIsOptInAuditedAndUndoneWithPatch(t *testing.T) {
	e := newEnv(t)
	raiser := withAlerts(t, e)
	kid, key := e.create(actor("acme"), `{"name":"probed"}`)
	ctx := context.Background()
	raise := func(typ findings.Type) findings.Finding {
		f, _, err := raiser.Raise(ctx, findings.Finding{WorkspaceID: "acme", KID: kid, Type: typ, Severity: "high", Sentence: "x"})
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	raise(findings.AuthFailures)
	if ok, _ := e.admitted(key); !ok {
		t.Fatal("a workspace that did not opt in had its key disabled")
	}
	if a := e.call(actor("acme"), "PATCH", "/workspace", "", `{"auto_disable":true}`, nil); a.status != 200 || a.data()["auto_disable"] != true {
		t.Fatalf("PATCH /workspace: %d %s", a.status, a.raw)
	}
	if a := e.call(actor("acme", "keys:read"), "PATCH", "/workspace", "", `{"auto_disable":false}`, nil); a.status != 403 {
		t.Errorf("auto_disable without keys:write: %d", a.status)
	}
	raise(findings.NewModel) // not a type that disables
	if ok, _ := e.admitted(key); !ok {
		t.Fatal("new_model disabled the key")
	}
	f := raise(findings.SpendSpike)
	if ok, code := e.admitted(key); ok || code != "key_disabled" {
		t.Fatalf("after spend_spike: admitted %v (%s); want disabled", ok, code)
	}
	audit := e.call(actor("acme"), "GET", "/audit-events", "", "", nil)
	if !strings.Contains(audit.raw, `"actor_kid":"auto-disable"`) || !strings.Contains(audit.raw, f.ID) {
		t.Errorf("audit lacks auto-disable with finding %s: %s", f.ID, audit.raw)
	}
	if a := e.call(actor("acme"), "PATCH", "/keys/{kid}", kid, `{"disabled":false}`, nil); a.status != 200 {
		t.Fatalf("undo: %d %s", a.status, a.raw)
	}
	if ok, _ := e.admitted(key); !ok {
		t.Error("PATCH did not undo auto_disable")
	}
}

func TestWebhookConfiguration(t *testing.T) {
	e := newEnv(t)
	withAlerts(t, e)
	for name, tc := range map[string]struct {
		body, param string
		status      int
	}{
		"metadata service": {`{"url":"https://169.254.169.254/latest"}`, "url", 400},
		"plain http":       {`{"url":"http://hooks.example.com/x"}`, "url", 400},
		"no url":           {`{}`, "url", 400},
		"unknown field":    {`{"url":"https://hooks.example.com","x":1}`, "x", 400},
	} {
		if a := e.call(actor("acme"), "PUT", "/webhook", "", tc.body, nil); a.status != tc.status || a.param() != tc.param {
			t.Errorf("%s: %d %s", name, a.status, a.raw)
		}
	}
	if a := e.call(actor("acme", "keys:write"), "PUT", "/webhook", "", `{"url":"https://hooks.example.com"}`, nil); a.status != 403 {
		t.Errorf("without webhooks:write: %d", a.status)
	}
	if a := e.call(actor("acme"), "GET", "/webhook", "", "", nil); a.status != 404 {
		t.Errorf("GET with none set: %d", a.status)
	}
	if a := e.call(actor("acme"), "PUT", "/webhook", "", `{"url":"https://hooks.example.com/a?token=t"}`, nil); a.status != 200 {
		t.Fatalf("PUT: %d %s", a.status, a.raw)
	}
	if a := e.call(actor("acme"), "DELETE", "/webhook", "", "", nil); a.status != 204 {
		t.Errorf("DELETE: %d %s", a.status, a.raw)
	}
	if a := e.call(actor("acme"), "GET", "/webhook", "", "", nil); a.status != 404 {
		t.Errorf("GET after DELETE: %d", a.status)
	}
	audit := e.call(actor("acme"), "GET", "/audit-events", "", "", nil)
	if !strings.Contains(audit.raw, "webhook.set") || !strings.Contains(audit.raw, "webhook.deleted") || strings.Contains(audit.raw, "token=t") {
		t.Errorf("audit: %s", audit.raw)
	}
}
