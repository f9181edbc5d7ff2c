package proxy_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aistats/edge/internal/testing/dynamotest"
	"github.com/aistats/edge/internal/testing/syncbuf"
	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/adapter/upstream"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/providers"
	"github.com/aistats/edge/pkg/domain/usage"
	"github.com/aistats/edge/pkg/handler/authcontext"
	"github.com/aistats/edge/pkg/handler/proxy"
)

func TestMain(m *testing.M) { os.Exit(dynamotest.Main(m)) }

const testRegistry = `{"providers": [
  {"id": "alpha", "base_url": "", "local_only": true, "auth": "bearer", "credential": {"env": "ALPHA_KEY", "secret": "providers/alpha"},
   "models": [{"id": "m1", "fallback": "beta/m1"}, {"id": "solo"}, {"id": "emb"}]},
  {"id": "beta", "base_url": "", "local_only": true, "auth": "bearer", "credential": {"env": "BETA_KEY"},
   "models": [{"id": "m1"}]},
  {"id": "gamma", "base_url": "", "local_only": true, "auth": "bearer", "credential": {"env": "GAMMA_KEY"},
   "models": [{"id": "unconfigured"}]}
]}`

// upstreamSpy is a real HTTP upstream whose behaviour each test sets.
type upstreamSpy struct {
	srv     *httptest.Server
	calls   atomic.Int32
	mu      sync.Mutex
	last    *http.Request
	lastRaw []byte
	handle  func(w http.ResponseWriter, r *http.Request, call int)
}

func newUpstream(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, call int)) *upstreamSpy {
	u := &upstreamSpy{handle: handle}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(u.calls.Add(1))
		raw, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.last, u.lastRaw = r, raw
		u.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(raw)) // for a handler that reads it too
		u.handle(w, r, n)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstreamSpy) body(t *testing.T) map[string]any {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	var m map[string]any
	if err := json.Unmarshal(u.lastRaw, &m); err != nil {
		t.Fatalf("upstream body %s: %v", u.lastRaw, err)
	}
	return m
}

type fixture struct {
	logs        *syncbuf.Buffer
	t           *testing.T
	h           *proxy.Handler
	store       *dynamo.Store
	alpha, beta *upstreamSpy
	ctx         authcontext.Context
	// now is the handler's clock: it reads noon UTC when the test starts, so
	// usage is written and read on the same day even around midnight.
	now func() time.Time
}

func chatOK(w http.ResponseWriter, r *http.Request, _ int) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Set-Cookie", "upstream=1")
	io.WriteString(w, `{"id":"c1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"}}],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}`)
}

func newFixture(t *testing.T, alpha, beta func(http.ResponseWriter, *http.Request, int), options ...func(*proxy.Config)) *fixture {
	t.Helper()
	reg, err := providers.Parse([]byte(testRegistry))
	if err != nil {
		t.Fatal(err)
	}
	client := dynamotest.NewClient(t)
	store := dynamo.New(dynamo.Config{Client: client, Tables: dynamotest.NewTables(t, client)})
	f := &fixture{t: t, store: store, alpha: newUpstream(t, alpha), beta: newUpstream(t, beta)}
	env := map[string]string{"ALPHA_KEY": "alpha-secret", "BETA_KEY": "beta-secret"}
	f.logs = &syncbuf.Buffer{}
	shift := time.Now().UTC().Truncate(24 * time.Hour).Add(12 * time.Hour).Sub(time.Now())
	f.now = func() time.Time { return time.Now().Add(shift) }
	cfg := proxy.Config{
		Now:      f.now,
		Logger:   slog.New(slog.NewJSONHandler(f.logs, nil)),
		Registry: reg,
		Upstream: upstream.New(upstream.Config{
			HTTP:        &http.Client{Transport: &http.Transport{ResponseHeaderTimeout: 300 * time.Millisecond}},
			BaseBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond,
		}),
		Credentials: &proxy.EnvCredentials{Getenv: func(k string) string { return env[k] }},
		BaseURLs:    map[string]string{"alpha": f.alpha.srv.URL, "beta": f.beta.srv.URL, "gamma": "http://127.0.0.1:1"},
		Usage:       store,
	}
	for _, o := range options {
		o(&cfg)
	}
	f.h, err = proxy.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.ctx = authcontext.Context{KID: "AbCdEfGhIjKl", WorkspaceID: "acme", Kind: gateway.KindInference,
		PlanProviders: []string{"*"}, PlanModels: []string{"*"},
		RateLimit: &authcontext.RateLimit{Name: "requests_per_day", Limit: 10, Remaining: 9, ResetSeconds: 60}}
	return f
}

type answer struct {
	status  int
	headers map[string]string
	body    string
	stream  *events.APIGatewayProxyStreamingResponse
}

func (f *fixture) call(method, resource, body string, headers map[string]string) answer {
	f.t.Helper()
	authz := f.ctx.Encode()
	authz["principalId"] = f.ctx.KID
	return f.invoke(events.APIGatewayProxyRequest{
		HTTPMethod: method, Resource: resource, Path: resource, Body: body, Headers: headers,
		RequestContext: events.APIGatewayProxyRequestContext{RequestID: "req-1", Authorizer: authz},
	})
}

func (f *fixture) invoke(req events.APIGatewayProxyRequest) answer {
	f.t.Helper()
	out, err := f.h.Handle(context.Background(), req)
	if err != nil {
		f.t.Fatalf("Handle: %v", err)
	}
	switch r := out.(type) {
	case events.APIGatewayProxyResponse:
		return answer{status: r.StatusCode, headers: r.Headers, body: r.Body}
	case *events.APIGatewayProxyStreamingResponse:
		return answer{status: r.StatusCode, headers: r.Headers, stream: r}
	}
	f.t.Fatalf("Handle returned %T", out)
	return answer{}
}

// callBase64 sends body base64-encoded, as API Gateway hands over a body of
// a binary media type.
func (f *fixture) callBase64(method, resource, body string, headers map[string]string) answer {
	f.t.Helper()
	return f.invoke(events.APIGatewayProxyRequest{
		HTTPMethod: method, Resource: resource, Path: resource, Body: body, IsBase64Encoded: true, Headers: headers,
		RequestContext: events.APIGatewayProxyRequestContext{RequestID: "req-1", Authorizer: f.ctx.Encode()},
	})
}

// readAll drains a streaming answer's body.
func (a answer) text(t *testing.T) string {
	t.Helper()
	if a.stream == nil {
		return a.body
	}
	b, err := io.ReadAll(a.stream.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (a answer) code(t *testing.T) string {
	var body gateway.ErrorBody
	_ = json.Unmarshal([]byte(a.text(t)), &body)
	return string(body.Error.Code)
}

func (f *fixture) usage() usage.Totals {
	f.t.Helper()
	day, err := f.store.KeyTotals(context.Background(), f.ctx.KID, f.now().Add(-24*time.Hour), f.now().Add(time.Hour))
	if err != nil {
		f.t.Fatal(err)
	}
	return day
}

const chatBody = `{"model":"alpha/m1","messages":[{"role":"user","content":"hi"}]}`

func TestSuccessForwardsAndRecords(t *testing.T) {
	f := newFixture(t, chatOK, chatOK)
	a := f.call("POST", "/chat/completions", chatBody, map[string]string{
		"Authorization": "Bearer aistats_v1_sk_client", "Cookie": "session=1", "Connection": "keep-alive", "User-Agent": "OpenAI/Go",
	})
	text := a.text(t)
	if a.status != 200 || !strings.Contains(text, `"content":"hi"`) {
		t.Fatalf("answer %d %s", a.status, text)
	}
	if a.headers["x-request-id"] != "req-1" || a.headers["RateLimit-Remaining"] != "9" || a.headers["Set-Cookie"] != "" {
		t.Errorf("headers %v: want request id and RateLimit headers, no upstream cookies", a.headers)
	}
	got := f.alpha.last
	if got.Header.Get("Authorization") != "Bearer alpha-secret" || got.Header.Get("Cookie") != "" || got.Header.Get("User-Agent") != "OpenAI/Go" {
		t.Errorf("upstream headers %v: want the provider credential only", got.Header)
	}
	if m := f.alpha.body(t)["model"]; m != "m1" {
		t.Errorf("upstream model %v, want the provider's id m1", m)
	}
	if u := f.usage(); u.Requests != 1 || u.PromptTokens != 7 || u.CompletionTokens != 3 || u.Errors() != 0 {
		t.Errorf("usage %+v, want 1 request with 7+3 tokens", u)
	}
	logs := f.logs.String()
	for _, secret := range []string{"alpha-secret", "aistats_v1_sk_client"} {
		if strings.Contains(logs, secret) || strings.Contains(text, secret) || strings.Contains(fmt.Sprint(a.headers), secret) {
			t.Errorf("credential %q reached the logs or the client", secret)
		}
	}
	for _, field := range []string{`"request_id":"req-1"`, `"kid":"AbCdEfGhIjKl"`, `"model":"alpha/m1"`, `"provider":"alpha"`, `"status":200`, `"attempts":1`, `"prompt_tokens":7`, `"latency_ms"`} {
		if !strings.Contains(logs, field) {
			t.Errorf("log line lacks %s: %s", field, logs)
		}
	}
}

func TestRetriesAndFallback(t *testing.T) {
	t.Run("two 5xx then success", func(t *testing.T) {
		f := newFixture(t, func(w http.ResponseWriter, r *http.Request, n int) {
			if n <= 2 {
				w.WriteHeader(500)
				return
			}
			chatOK(w, r, n)
		}, chatOK)
		if a := f.call("POST", "/chat/completions", chatBody, nil); a.status != 200 || f.alpha.calls.Load() != 3 || f.beta.calls.Load() != 0 {
			t.Errorf("status %d after %d alpha calls, %d beta; want 200 after 3, 0", a.status, f.alpha.calls.Load(), f.beta.calls.Load())
		}
	})
	t.Run("429 with Retry-After", func(t *testing.T) {
		var first time.Time
		f := newFixture(t, func(w http.ResponseWriter, r *http.Request, n int) {
			if n == 1 {
				first = time.Now()
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(429)
				return
			}
			if time.Since(first) < 900*time.Millisecond {
				t.Errorf("retried %s after a Retry-After of 1 s", time.Since(first))
			}
			chatOK(w, r, n)
		}, chatOK)
		if a := f.call("POST", "/chat/completions", chatBody, nil); a.status != 200 {
			t.Errorf("status %d, want 200", a.status)
		}
	})
	t.Run("exhausted, then fallback", func(t *testing.T) {
		f := newFixture(t, func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(503) }, chatOK)
		a := f.call("POST", "/chat/completions", chatBody, nil)
		if a.status != 200 || f.alpha.calls.Load() != 3 || f.beta.calls.Load() != 1 {
			t.Errorf("status %d, alpha %d, beta %d calls; want 200 from the fallback after 3 alpha attempts", a.status, f.alpha.calls.Load(), f.beta.calls.Load())
		}
		if m := f.beta.body(t)["model"]; m != "m1" {
			t.Errorf("fallback got model %v", m)
		}
	})
	t.Run("exhausted without fallback", func(t *testing.T) {
		f := newFixture(t, func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(502) }, chatOK)
		a := f.call("POST", "/chat/completions", `{"model":"alpha/solo","messages":[]}`, nil)
		if a.status != 502 || a.code(t) != "upstream_error" || f.alpha.calls.Load() != 3 {
			t.Errorf("got %d %s after %d calls, want 502 upstream_error after 3", a.status, a.code(t), f.alpha.calls.Load())
		}
		if u := f.usage(); u.Requests != 1 || u.Errors() != 1 {
			t.Errorf("usage %+v, want one failed request", u)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		f := newFixture(t, func(w http.ResponseWriter, r *http.Request, n int) { <-r.Context().Done() }, chatOK)
		a := f.call("POST", "/chat/completions", `{"model":"alpha/solo","messages":[]}`, nil)
		if a.status != 504 || a.code(t) != "upstream_timeout" {
			t.Errorf("got %d %s, want 504 upstream_timeout", a.status, a.code(t))
		}
	})
	t.Run("4xx passes through unretried", func(t *testing.T) {
		f := newFixture(t, func(w http.ResponseWriter, r *http.Request, n int) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(422)
			io.WriteString(w, `{"error":{"message":"bad tool schema","type":"invalid_request_error"}}`)
		}, chatOK)
		a := f.call("POST", "/chat/completions", chatBody, nil)
		if a.status != 422 || !strings.Contains(a.text(t), "bad tool schema") || f.alpha.calls.Load() != 1 || f.beta.calls.Load() != 0 {
			t.Errorf("got %d after %d calls, want the upstream's 422 after 1", a.status, f.alpha.calls.Load())
		}
	})
}

func TestClientErrors(t *testing.T) {
	f := newFixture(t, chatOK, chatOK)
	f.ctx.Models = []string{"alpha/solo"}
	cases := []struct {
		name, body string
		status     int
		code       string
	}{
		{"invalid JSON", `{"model":`, 400, "invalid_json"},
		{"missing model", `{"messages":[]}`, 400, "model_required"},
		{"unknown model", `{"model":"nope/x"}`, 404, "model_not_found"},
		{"model not on the key's list", chatBody, 403, "model_not_allowed"},
		{"provider not configured", `{"model":"gamma/unconfigured"}`, 503, "service_unavailable"},
		{"body over the limit", `{"model":"alpha/solo","x":"` + strings.Repeat("a", proxy.MaxBodyBytes) + `"}`, 413, "body_too_large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "provider not configured" {
				f.ctx.Models = nil
				defer func() { f.ctx.Models = []string{"alpha/solo"} }()
			}
			a := f.call("POST", "/chat/completions", tc.body, nil)
			if a.status != tc.status || a.code(t) != tc.code {
				t.Errorf("got %d %s, want %d %s", a.status, a.code(t), tc.status, tc.code)
			}
		})
	}
	t.Run("provider not allowed", func(t *testing.T) {
		f.ctx.Providers = []string{"beta"}
		defer func() { f.ctx.Providers = nil }()
		if a := f.call("POST", "/embeddings", `{"model":"alpha/emb","input":"x"}`, nil); a.status != 403 || a.code(t) != "provider_not_allowed" {
			t.Errorf("got %d %s", a.status, a.code(t))
		}
	})
	if n := f.alpha.calls.Load() + f.beta.calls.Load(); n != 0 {
		t.Errorf("%d upstream calls for refused requests, want 0", n)
	}
}

func TestRateLimitedRequestNeverReachesUpstream(t *testing.T) {
	f := newFixture(t, chatOK, chatOK)
	f.ctx.RateLimited = true
	f.ctx.RateLimit.Remaining = 0
	a := f.call("POST", "/chat/completions", chatBody, nil)
	if a.status != 429 || a.headers["Retry-After"] != "60" || f.alpha.calls.Load() != 0 {
		t.Errorf("got %d, Retry-After %q, %d upstream calls; want 429, 60, 0", a.status, a.headers["Retry-After"], f.alpha.calls.Load())
	}
}

func TestModelsListsOnlyWhatTheKeyMayUse(t *testing.T) {
	f := newFixture(t, chatOK, chatOK)
	f.ctx.Models = []string{"alpha/*"}
	a := f.call("GET", "/models", "", nil)
	var list struct {
		Object string
		Data   []struct{ ID string }
	}
	if err := json.Unmarshal([]byte(a.body), &list); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range list.Data {
		ids = append(ids, m.ID)
	}
	if a.status != 200 || list.Object != "list" || strings.Join(ids, ",") != "alpha/m1,alpha/solo,alpha/emb" {
		t.Errorf("models %v (status %d), want alpha's three", ids, a.status)
	}
}

// sse writes chunks with a flush each, waiting on next before each one after
// the first, so a test can prove the proxy does not buffer.
func sse(chunks []string, next <-chan struct{}) func(http.ResponseWriter, *http.Request, int) {
	return func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		for i, c := range chunks {
			if i > 0 && next != nil {
				select {
				case <-next:
				case <-r.Context().Done():
					return
				}
			}
			io.WriteString(w, c)
			w.(http.Flusher).Flush()
		}
	}
}

var chunks = []string{
	"data: {\"choices\":[{\"delta\":{\"content\":\"one\"}}]}\n\n",
	"data: {\"choices\":[{\"delta\":{\"content\":\" two\"}}]}\n\n",
	"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}\n\n",
	"data: [DONE]\n\n",
}

const streamBody = `{"model":"alpha/m1","stream":true,"messages":[{"role":"user","content":"hi"}]}`

func TestStreamingPassesChunksThroughInOrder(t *testing.T) {
	next := make(chan struct{})
	f := newFixture(t, sse(chunks, next), chatOK)
	a := f.call("POST", "/chat/completions", streamBody, nil)
	if a.stream == nil || a.status != 200 || a.headers["Content-Type"] != "text/event-stream" {
		t.Fatalf("answer %+v, want a 200 event stream", a)
	}
	opts, _ := f.alpha.body(t)["stream_options"].(map[string]any)
	if opts["include_usage"] != true {
		t.Errorf("upstream stream_options %v, want include_usage", opts)
	}
	r := bufio.NewReader(a.stream.Body)
	var got strings.Builder
	for i := range chunks {
		// Chunk i arrives before the upstream is allowed to send chunk i+1:
		// nothing is buffered.
		for got.Len() < len(strings.Join(chunks[:i+1], "")) {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("read chunk %d: %v (so far %q)", i, err, got.String())
			}
			got.WriteString(line)
		}
		if i < len(chunks)-1 {
			next <- struct{}{}
		}
	}
	if rest, _ := io.ReadAll(r); len(rest) != 0 {
		t.Errorf("extra bytes after the stream: %q", rest)
	}
	if got.String() != strings.Join(chunks, "") {
		t.Errorf("stream %q, want the upstream's chunks unchanged", got.String())
	}
	a.stream.Close()
	if u := f.usage(); u.Requests != 1 || u.PromptTokens != 5 || u.CompletionTokens != 2 {
		t.Errorf("usage %+v, want one request with 5+2 tokens, recorded once", u)
	}
}

func TestStreamBreakingOffEndsWithAnErrorEvent(t *testing.T) {
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		io.WriteString(w, chunks[0])
		w.(http.Flusher).Flush()
		conn, _, _ := http.NewResponseController(w).Hijack()
		conn.Close() // the provider dies mid-stream
	}, chatOK)
	a := f.call("POST", "/chat/completions", streamBody, nil)
	text := a.text(t)
	if !strings.HasPrefix(text, chunks[0]) || !strings.Contains(text, "event: error\ndata: ") || !strings.Contains(text, `"code":"upstream_error"`) {
		t.Errorf("stream %q, want the first chunk then an SSE error event", text)
	}
	if u := f.usage(); u.Requests != 1 || u.Errors() != 1 {
		t.Errorf("usage %+v, want one failed request", u)
	}
}

func TestClientGoingAwayCancelsUpstream(t *testing.T) {
	cancelled := make(chan struct{})
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		io.WriteString(w, chunks[0])
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		close(cancelled)
	}, chatOK)
	a := f.call("POST", "/chat/completions", streamBody, nil)
	buf := make([]byte, len(chunks[0]))
	if _, err := io.ReadFull(a.stream.Body, buf); err != nil {
		t.Fatal(err)
	}
	a.stream.Close() // the client went away
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream call was not cancelled")
	}
	a.stream.Close()
	if u := f.usage(); u.Requests != 1 || u.Errors() != 1 {
		t.Errorf("usage %+v, want the request recorded exactly once, as failed", u)
	}
}

// TestClientHangingUpAfterDoneIsASuccess: SDKs close the connection as soon
// as they read "data: [DONE]", often before the upstream's EOF reaches the
// proxy. The answer was complete, so usage records no error.
func TestClientHangingUpAfterDoneIsASuccess(t *testing.T) {
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		io.WriteString(w, strings.Join(chunks, ""))
		w.(http.Flusher).Flush()
		<-r.Context().Done() // the upstream keeps the connection open
	}, chatOK)
	a := f.call("POST", "/chat/completions", streamBody, nil)
	all := strings.Join(chunks, "")
	buf := make([]byte, len(all))
	if _, err := io.ReadFull(a.stream.Body, buf); err != nil {
		t.Fatal(err)
	}
	a.stream.Close() // the client read [DONE] and went away
	if u := f.usage(); u.Requests != 1 || u.Errors() != 0 || u.PromptTokens != 5 || u.CompletionTokens != 2 {
		t.Errorf("usage %+v, want one successful request with 5+2 tokens", u)
	}
}

// TestUpstreamStormIsBounded: with the provider failing every call, each of
// many concurrent requests makes exactly its bounded attempts, answers 502,
// and is recorded in usage exactly once.
func TestUpstreamStormIsBounded(t *testing.T) {
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request, _ int) { w.WriteHeader(500) }, chatOK)
	const requests = 20
	var wg sync.WaitGroup
	statuses := make(chan int, requests)
	for range requests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := f.call("POST", "/chat/completions", `{"model":"alpha/solo","messages":[]}`, nil)
			a.text(t)
			statuses <- a.status
		}()
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != 502 {
			t.Errorf("status %d during the storm, want 502", s)
		}
	}
	if got := f.alpha.calls.Load(); got != requests*3 {
		t.Errorf("%d upstream calls for %d requests, want exactly 3 attempts each", got, requests)
	}
	if u := f.usage(); u.Requests != requests || u.Errors() != requests {
		t.Errorf("usage %+v, want %d requests, all errors, each recorded once", u, requests)
	}
}

// TestAStreamBrokenAfterItsDoneIsWhole: the provider sent its last chunk
// and "data: [DONE]", then its connection broke before a clean end. The
// client has the whole answer, so the usage records a success, not an
// upstream 5xx.
func TestAStreamBrokenAfterItsDoneIsWhole(t *testing.T) {
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		for _, c := range chunks {
			io.WriteString(w, c)
		}
		w.(http.Flusher).Flush()
		conn, _, _ := http.NewResponseController(w).Hijack()
		conn.Close() // no clean end of the chunked body
	}, chatOK)
	a := f.call("POST", "/chat/completions", streamBody, nil)
	if text := a.text(t); !strings.Contains(text, "[DONE]") || strings.Contains(text, "event: error") {
		t.Errorf("stream %q, want every chunk and no error event", text)
	}
	if u := f.usage(); u.Requests != 1 || u.Errors() != 0 {
		t.Errorf("usage %+v, want one successful request", u)
	}
}
