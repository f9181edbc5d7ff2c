package devstack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aistats/edge/internal/testing/httpcall"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/aistats/edge/internal/local/samtemplate"
)

func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromFile(filepath.Join("..", "..", "..", "api", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("api/openapi.yaml is not a valid OpenAPI document: %v", err)
	}
	return doc
}

// TestOpenAPICoversEveryRoute keeps the document and template.yaml in step.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	doc := loadOpenAPI(t)
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	api, err := samtemplate.LoadAPI(filepath.Join("..", "..", "..", "template.yaml"), "Api")
	if err != nil {
		t.Fatal(err)
	}
	var deployed []string
	for _, r := range api.Routes {
		deployed = append(deployed, r.Method+" "+r.Path)
	}
	sort.Strings(documented)
	sort.Strings(deployed)
	if strings.Join(documented, "\n") != strings.Join(deployed, "\n") {
		t.Errorf("openapi.yaml documents\n%s\n\nbut template.yaml deploys\n%s", strings.Join(documented, "\n"), strings.Join(deployed, "\n"))
	}
}

// The dashboard's page and assets are text the document describes as
// strings; the validator decodes only JSON and plain text by itself.
func init() {
	for _, ct := range []string{"text/html", "text/javascript", "text/css", "image/svg+xml"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.FileBodyDecoder)
	}
}

// validatingTransport checks every request and response that passes through
// it against the OpenAPI document, so the document cannot drift from what
// the gateway really does.
type validatingTransport struct {
	t      *testing.T
	router routers.Router
	mu     sync.Mutex
	seen   map[string]bool
}

func (v *validatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		v.t.Errorf("%s %s: not in the OpenAPI document: %v", req.Method, req.URL.Path, err)
		return http.DefaultTransport.RoundTrip(req)
	}
	ctx := context.Background()
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	validationReq := req.Clone(ctx)
	validationReq.Body = io.NopCloser(bytes.NewReader(reqBody))
	in.Request = validationReq
	requestErr := openapi3filter.ValidateRequest(ctx, in)
	req.Body = io.NopCloser(bytes.NewReader(reqBody))
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if requestErr != nil && resp.StatusCode < 400 {
		v.t.Errorf("%s %s: the gateway accepted a request the document forbids: %v", req.Method, req.URL.Path, requestErr)
	}
	respOpts := *opts
	if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "text/event-stream") || strings.HasPrefix(ct, "audio/") {
		respOpts.ExcludeResponseBody = true // a stream or audio is checked by the SDK tests
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body: io.NopCloser(bytes.NewReader(body)), Options: &respOpts}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		v.t.Errorf("%s %s answered %d, which the document does not describe: %v\n%s", req.Method, req.URL.Path, resp.StatusCode, err, body)
	}
	if resp.Header.Get("x-request-id") == "" {
		v.t.Errorf("%s %s: no x-request-id", req.Method, req.URL.Path)
	}
	v.mu.Lock()
	v.seen[route.Method+" "+route.Path] = true
	v.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

type apiClient struct {
	t    *testing.T
	base string
	http *http.Client
}

func (c *apiClient) do(method, path, key, body string) (int, map[string]any, http.Header) {
	c.t.Helper()
	r := httpcall.Do(c.t, c.http, method, c.base+path, httpcall.Bearer(key), body)
	return r.Status, r.Body, r.Header
}

// validatingClient is a client of the API at base whose every exchange is
// checked against api/openapi.yaml; the transport records which operations
// were seen, for a test that wants them all covered.
func validatingClient(t *testing.T, base string) (*apiClient, *validatingTransport, *openapi3.T) {
	t.Helper()
	doc := loadOpenAPI(t)
	doc.Servers = openapi3.Servers{{URL: base}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	vt := &validatingTransport{t: t, router: router, seen: map[string]bool{}}
	return &apiClient{t: t, base: base, http: &http.Client{Transport: vt}}, vt, doc
}

// TestManagementFlowThroughTheLocalStack walks the README's management
// walkthrough over HTTP, validating every exchange against the document.
func TestManagementFlowThroughTheLocalStack(t *testing.T) {
	running, _, stop := startStack(t, t.TempDir(), -1)
	defer stop()
	c, vt, doc := validatingClient(t, running.Credentials.BaseURL)
	mk, sk := running.Credentials.ManagementKey, running.Credentials.APIKey

	status, created, _ := c.do("POST", "/keys", mk, `{"name":"walkthrough","models":["local/*"],"limits":{"requests_per_day":1000}}`)
	if status != 201 {
		t.Fatalf("create: %d %v", status, created)
	}
	data := created["data"].(map[string]any)
	kid, key := data["kid"].(string), data["key"].(string)

	chat := `{"model":"local/echo","messages":[{"role":"user","content":"count my tokens"}]}`
	if status, body, _ := c.do("POST", "/chat/completions", key, chat); status != 200 {
		t.Fatalf("chat with the new key: %d %v", status, body)
	}
	if status, _, _ := c.do("POST", "/chat/completions", key, strings.Replace(chat, `"messages"`, `"stream":true,"messages"`, 1)); status != 200 {
		t.Fatalf("streamed chat: %d", status)
	}
	if status, _, _ := c.do("POST", "/embeddings", key, `{"model":"local/echo","input":"x"}`); status != 200 {
		t.Fatalf("embeddings: %d", status)
	}
	c.do("GET", "/models", key, "")
	if status, _, _ := c.do("POST", "/chat/completions", key, `{"model":"openai/gpt-4o","messages":[]}`); status != 403 {
		t.Fatalf("a model the key may not use: %d, want 403", status)
	}

	status, usage, _ := c.do("GET", "/keys/"+kid+"/usage?granularity=hour", mk, "")
	var requests float64
	for _, b := range usage["data"].([]any) {
		requests += b.(map[string]any)["requests"].(float64)
	}
	if status != 200 || requests != 5 {
		t.Errorf("usage: %d, %v requests in the last day; want 5", status, requests)
	}
	status, analytics, _ := c.do("GET", "/keys/"+kid+"/analytics?granularity=hour&group_by=status", mk, "")
	if byStatus := analytics["totals"].(map[string]any)["by_status"]; status != 200 || toJSON(byStatus) != `{"2xx":4,"403":1}` {
		t.Errorf("analytics: %d, by status %v; want exactly 4×2xx and 1×403", status, toJSON(byStatus))
	}
	c.do("GET", "/analytics?group_by=model&granularity=day", mk, "")
	status, sample, _ := c.do("GET", "/keys/"+kid+"/requests", mk, "")
	if failures, _ := sample["data"].([]any); status != 200 || len(failures) != 1 || failures[0].(map[string]any)["status"] != 403.0 {
		t.Errorf("recent failures: %d %v; want the one 403", status, sample)
	}

	status, rotated, _ := c.do("POST", "/keys/"+kid+"/rotate", mk, `{"previous_key_expires_in":3600}`)
	if status != 201 {
		t.Fatalf("rotate: %d %v", status, rotated)
	}
	newKID := rotated["data"].(map[string]any)["kid"].(string)
	newKey := rotated["data"].(map[string]any)["key"].(string)
	for _, k := range []string{key, newKey} {
		if status, _, _ := c.do("POST", "/chat/completions", k, chat); status != 200 {
			t.Errorf("during the overlap a key answered %d", status)
		}
	}
	if status, _, _ := c.do("DELETE", "/keys/"+kid, mk, ""); status != 204 {
		t.Errorf("revoke old: %d", status)
	}
	if status, body, _ := c.do("POST", "/chat/completions", key, chat); status != 401 || body["error"].(map[string]any)["code"] != "key_revoked" {
		t.Errorf("revoked key answered %d %v", status, body)
	}

	c.do("PATCH", "/keys/"+newKID, mk, `{"name":"walkthrough v2","expires_at":null}`)
	c.do("GET", "/keys/"+newKID, mk, "")
	c.do("GET", "/keys?limit=1", mk, "")
	c.do("GET", "/keys?unused_for_days=30", mk, "")
	c.do("GET", "/key", sk, "")
	c.do("GET", "/audit-events?limit=2", mk, "")
	c.do("GET", "/management-keys", mk, "")
	status, robot, _ := c.do("POST", "/management-keys", mk, `{"name":"robot","scopes":["keys:read"]}`)
	if status == 201 {
		c.do("DELETE", "/management-keys/"+robot["data"].(map[string]any)["kid"].(string), mk, "")
	}

	// Findings, alert settings and the leaked-key report.
	c.do("GET", "/workspace", mk, "")
	c.do("PATCH", "/workspace", mk, `{"auto_disable":false}`)
	if status, body, _ := c.do("PUT", "/webhook", mk, `{"url":"http://127.0.0.1:1/hook"}`); status != 200 {
		t.Errorf("PUT /webhook: %d %v", status, body)
	}
	c.do("GET", "/webhook", mk, "")
	c.do("DELETE", "/webhook", mk, "")
	if status, body, _ := c.do("POST", "/security/report-leaked-key", "", `{"key":"`+key+`"}`); status != 202 {
		t.Errorf("report: %d %v", status, body)
	}
	status, found, _ := c.do("GET", "/anomalies?status=open&kid="+kid, mk, "")
	if list, _ := found["data"].([]any); status == 200 && len(list) == 1 {
		c.do("POST", "/anomalies/"+list[0].(map[string]any)["id"].(string)+"/resolve", mk, "")
	} else {
		t.Errorf("GET /anomalies: %d %v; want the leaked_key finding", status, found)
	}

	// The Anthropic Messages and OpenAI Responses APIs, served offline.
	msg := `{"model":"local/echo","max_tokens":16,"messages":[{"role":"user","content":"hi there"}]}`
	if status, body, _ := c.do("POST", "/messages", sk, msg); status != 200 {
		t.Fatalf("message: %d %v", status, body)
	}
	status, stored, _ := c.do("POST", "/responses", sk, `{"model":"local/echo","input":"hi there"}`)
	if status != 200 {
		t.Fatalf("response: %d %v", status, stored)
	}
	if status, body, _ := c.do("GET", "/responses/"+stored["id"].(string), sk, ""); status != 200 {
		t.Fatalf("read back the response: %d %v", status, body)
	}
	c.do("POST", "/messages", sk, `{"model":"nope/x","max_tokens":1,"messages":[]}`) // 404, Anthropic's shape

	// Moderations, images, speech and a transcription upload.
	if status, body, _ := c.do("POST", "/moderations", sk, `{"model":"local/echo","input":"hi"}`); status != 200 {
		t.Fatalf("moderation: %d %v", status, body)
	}
	if status, body, _ := c.do("POST", "/images/generations", sk, `{"model":"local/echo","prompt":"a cat"}`); status != 200 {
		t.Fatalf("image: %d %v", status, body)
	}
	if status, _, hdr := c.do("POST", "/audio/speech", sk, `{"model":"local/echo","input":"hi","voice":"alloy"}`); status != 200 || hdr.Get("Content-Type") != "audio/wav" {
		t.Fatalf("speech: %d %s", status, hdr.Get("Content-Type"))
	}
	upload := "--b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nlocal/echo\r\n" +
		"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\nContent-Type: audio/wav\r\n\r\nhello\r\n--b--\r\n"
	r := httpcall.DoWithHeaders(t, c.http, "POST", c.base+"/audio/transcriptions",
		http.Header{"Authorization": {httpcall.Bearer(sk)}, "Content-Type": {"multipart/form-data; boundary=b"}}, upload)
	if r.Status != 200 || r.Body["text"] != "hello" {
		t.Fatalf("transcription: %d %s", r.Status, r.Raw)
	}

	// The dashboard's page and an asset it names, with no key.
	if status, _, h := c.do("GET", "/dashboard", "", ""); status != 200 && status != 503 || h.Get("Content-Security-Policy") == "" {
		t.Errorf("GET /dashboard: %d, CSP %q", status, h.Get("Content-Security-Policy"))
	}
	c.do("GET", "/dashboard/no-such-asset.js", "", "") // 404

	// Errors are described too.
	c.do("GET", "/keys/AAAAAAAAAAAA", mk, "")                   // 404
	c.do("POST", "/keys", mk, `{"name":""}`)                    // 400
	c.do("POST", "/chat/completions", sk, `{"model":"nope/x"}`) // 404
	c.do("GET", "/keys", sk, "")                                // 401 wrong_key_kind

	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !vt.seen[method+" "+path] {
				t.Errorf("%s %s was never exercised against the document", method, path)
			}
		}
	}

}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
