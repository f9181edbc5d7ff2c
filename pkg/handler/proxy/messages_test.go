package proxy_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aistats/edge/pkg/domain/providers"
	"github.com/aistats/edge/pkg/handler/proxy"
)

// dialectsRegistry adds to alpha (chat completions only) a provider that
// speaks Anthropic's Messages API natively and one that serves OpenAI's
// Responses API.
const dialectsRegistry = `{"providers": [
  {"id": "alpha", "base_url": "", "local_only": true, "auth": "bearer", "credential": {"env": "ALPHA_KEY"}, "models": [{"id": "m1"}]},
  {"id": "anth", "base_url": "", "local_only": true, "auth": "x-api-key", "credential": {"env": "BETA_KEY"},
   "apis": ["messages"], "headers": {"anthropic-version": "2023-06-01"}, "models": [{"id": "claude"}]},
  {"id": "resp", "base_url": "", "local_only": true, "auth": "bearer", "credential": {"env": "BETA_KEY"},
   "apis": ["chat", "responses"], "models": [{"id": "r1"}]}
]}`

// newDialectsFixture serves alpha from the alpha upstream and both anth and
// resp from the beta upstream.
func newDialectsFixture(t *testing.T, alpha, beta func(http.ResponseWriter, *http.Request, int)) *fixture {
	t.Helper()
	return newFixtureWithRegistry(t, dialectsRegistry, alpha, beta)
}

// newFixtureWithRegistry is newFixture with another registry: its first
// provider is served by the alpha upstream, every other by beta.
func newFixtureWithRegistry(t *testing.T, registry string, alpha, beta func(http.ResponseWriter, *http.Request, int)) *fixture {
	t.Helper()
	reg, err := providers.Parse([]byte(registry))
	if err != nil {
		t.Fatal(err)
	}
	return newFixture(t, alpha, beta, func(c *proxy.Config) {
		c.Registry = reg
		alphaURL, betaURL := c.BaseURLs["alpha"], c.BaseURLs["beta"]
		c.BaseURLs = map[string]string{}
		for i, p := range reg.Providers {
			c.BaseURLs[p.ID] = betaURL
			if i == 0 {
				c.BaseURLs[p.ID] = alphaURL
			}
		}
	})
}

// anthropicError reads an error answer in Anthropic's shape.
func anthropicError(t *testing.T, text string) (errType, code string) {
	t.Helper()
	var body struct {
		Type  string `json:"type"`
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
			Code    string `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(text), &body); err != nil || body.Type != "error" || body.Error.Message == "" {
		t.Fatalf("body %s is not an Anthropic error", text)
	}
	return body.Error.Type, body.Error.Code
}

const messagesBody = `{"model":"alpha/m1","max_tokens":50,"system":"Be brief.","messages":[{"role":"user","content":"hi"}]}`

func TestMessagesTranslatedForAChatProvider(t *testing.T) {
	f := newDialectsFixture(t, chatOK, chatOK)
	a := f.call("POST", "/messages", messagesBody, map[string]string{"anthropic-version": "2023-06-01", "x-api-key": "aistats_v1_sk_client"})
	text := a.text(t)
	var msg struct {
		Type       string `json:"type"`
		Role       string `json:"role"`
		Model      string `json:"model"`
		StopReason string `json:"stop_reason"`
		Content    []struct{ Type, Text string }
		Usage      struct {
			InputTokens  int64 `json:"input_tokens"`
			OutputTokens int64 `json:"output_tokens"`
		}
	}
	if err := json.Unmarshal([]byte(text), &msg); err != nil || a.status != 200 {
		t.Fatalf("answer %d %s", a.status, text)
	}
	if msg.Type != "message" || msg.Role != "assistant" || msg.Model != "alpha/m1" || msg.StopReason != "end_turn" ||
		len(msg.Content) != 1 || msg.Content[0].Text != "hi" || msg.Usage.InputTokens != 7 || msg.Usage.OutputTokens != 3 {
		t.Errorf("message %+v", msg)
	}
	up := f.alpha.last
	if up.URL.Path != "/chat/completions" || up.Header.Get("Anthropic-Version") != "" || up.Header.Get("Authorization") != "Bearer alpha-secret" || up.Header.Get("X-Api-Key") != "" {
		t.Errorf("upstream %s with headers %v: want chat completions with the provider's bearer credential only", up.URL.Path, up.Header)
	}
	body := f.alpha.body(t)
	if msgs, _ := body["messages"].([]any); len(msgs) != 2 || body["model"] != "m1" {
		t.Errorf("upstream body %v, want the system prompt and the user message for m1", body)
	}
	if u := f.usage(); u.Requests != 1 || u.PromptTokens != 7 || u.CompletionTokens != 3 || u.Errors() != 0 {
		t.Errorf("usage %+v, want one request with 7+3 tokens", u)
	}
}

func TestMessagesStreamTranslatedForAChatProvider(t *testing.T) {
	f := newDialectsFixture(t, sse(chunks, nil), chatOK)
	a := f.call("POST", "/messages", strings.Replace(messagesBody, `"max_tokens"`, `"stream":true,"max_tokens"`, 1), nil)
	if a.stream == nil || a.status != 200 || a.headers["Content-Type"] != "text/event-stream" {
		t.Fatalf("answer %+v, want a 200 event stream", a)
	}
	text := a.text(t)
	a.stream.Close()
	var names []string
	for _, line := range strings.Split(text, "\n") {
		if name, ok := strings.CutPrefix(line, "event: "); ok {
			names = append(names, name)
		}
	}
	want := "message_start content_block_start content_block_delta content_block_delta content_block_stop message_delta message_stop"
	if strings.Join(names, " ") != want || !strings.Contains(text, `"text":" two"`) {
		t.Errorf("events %v, want %s; stream %s", names, want, text)
	}
	if opts, _ := f.alpha.body(t)["stream_options"].(map[string]any); opts["include_usage"] != true {
		t.Errorf("upstream stream_options %v, want include_usage", opts)
	}
	if u := f.usage(); u.Requests != 1 || u.PromptTokens != 5 || u.CompletionTokens != 2 || u.Errors() != 0 {
		t.Errorf("usage %+v, want one request with 5+2 tokens", u)
	}
}

func TestMessagesPassedThroughToAnthropic(t *testing.T) {
	native := func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"msg_01","type":"message","role":"assistant","model":"claude","content":[{"type":"text","text":"hello"}],"stop_reason":"end_turn","stop_sequence":null,
			"usage":{"input_tokens":4,"cache_read_input_tokens":6,"cache_creation_input_tokens":0,"output_tokens":2}}`)
	}
	f := newDialectsFixture(t, chatOK, native)
	body := `{"model":"anth/claude","max_tokens":50,"top_k":3,"messages":[{"role":"user","content":"hi"}]}`
	a := f.call("POST", "/messages", body, map[string]string{"Anthropic-Beta": "prompt-caching-2024-07-31", "x-api-key": "aistats_v1_sk_client"})
	text := a.text(t)
	if a.status != 200 || !strings.Contains(text, `"id":"msg_01"`) {
		t.Fatalf("answer %d %s, want the provider's message as it is", a.status, text)
	}
	up := f.beta.last
	if up.URL.Path != "/messages" || up.Header.Get("X-Api-Key") != "beta-secret" || up.Header.Get("Authorization") != "" ||
		up.Header.Get("Anthropic-Version") != "2023-06-01" || up.Header.Get("Anthropic-Beta") != "prompt-caching-2024-07-31" {
		t.Errorf("upstream %s headers %v: want /messages with the provider key in x-api-key, its anthropic-version and the client's beta", up.URL.Path, up.Header)
	}
	if got := f.beta.body(t); got["model"] != "claude" || got["top_k"] != float64(3) || got["stream_options"] != nil {
		t.Errorf("upstream body %v, want the client's, naming claude", got)
	}
	if u := f.usage(); u.Requests != 1 || u.PromptTokens != 10 || u.CompletionTokens != 2 {
		t.Errorf("usage %+v, want 4 + 6 cached prompt tokens and 2 output tokens", u)
	}
}

func TestMessagesStreamPassedThroughToAnthropic(t *testing.T) {
	events := []string{
		"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":12,\"cache_read_input_tokens\":0,\"cache_creation_input_tokens\":0,\"output_tokens\":1}}}\n\n",
		"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
		"event: ping\ndata: {\"type\": \"ping\"}\n\n",
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n",
		"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
		"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":9}}\n\n",
		"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
	}
	f := newDialectsFixture(t, chatOK, sse(events, nil))
	a := f.call("POST", "/messages", `{"model":"anth/claude","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"hi"}]}`, nil)
	text := a.text(t)
	a.stream.Close()
	if a.status != 200 || text != strings.Join(events, "") {
		t.Errorf("stream %d %q, want the provider's events unchanged", a.status, text)
	}
	if u := f.usage(); u.Requests != 1 || u.PromptTokens != 12 || u.CompletionTokens != 9 || u.Errors() != 0 {
		t.Errorf("usage %+v, want 12 prompt tokens from message_start and 9 output tokens from message_delta", u)
	}
}

func TestMessagesErrorsInAnthropicShape(t *testing.T) {
	refuse := func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		io.WriteString(w, `{"error":{"message":"max_tokens is too large","type":"invalid_request_error","param":"max_tokens","code":null}}`)
	}
	f := newDialectsFixture(t, refuse, chatOK)
	cases := []struct {
		name, body string
		status     int
		errType    string
	}{
		{"unknown model", `{"model":"nope/x","max_tokens":1,"messages":[]}`, 404, "not_found_error"},
		{"no max_tokens", `{"model":"alpha/m1","messages":[{"role":"user","content":"hi"}]}`, 400, "invalid_request_error"},
		{"invalid JSON", `{"model":`, 400, "invalid_request_error"},
		{"the provider's refusal", messagesBody, 400, "invalid_request_error"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := f.call("POST", "/messages", tc.body, nil)
			if errType, _ := anthropicError(t, a.text(t)); a.status != tc.status || errType != tc.errType {
				t.Errorf("got %d %s, want %d %s", a.status, errType, tc.status, tc.errType)
			}
		})
	}
	t.Run("model not allowed", func(t *testing.T) {
		f.ctx.Models = []string{"anth/claude"}
		defer func() { f.ctx.Models = nil }()
		a := f.call("POST", "/messages", messagesBody, nil)
		if errType, code := anthropicError(t, a.text(t)); a.status != 403 || errType != "permission_error" || code != "model_not_allowed" {
			t.Errorf("got %d %s %s, want 403 permission_error model_not_allowed", a.status, errType, code)
		}
	})
	t.Run("rate limited", func(t *testing.T) {
		f.ctx.RateLimited = true
		defer func() { f.ctx.RateLimited = false }()
		a := f.call("POST", "/messages", messagesBody, nil)
		if errType, _ := anthropicError(t, a.text(t)); a.status != 429 || errType != "rate_limit_error" || a.headers["Retry-After"] == "" {
			t.Errorf("got %d %s, Retry-After %q; want 429 rate_limit_error with Retry-After", a.status, errType, a.headers["Retry-After"])
		}
	})
	if n := f.alpha.calls.Load(); n != 1 {
		t.Errorf("%d upstream calls, want only the one the provider refused", n)
	}
}
