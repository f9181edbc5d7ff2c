package proxy_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func TestResponsesPassedThroughToAProviderThatServesThem(t *testing.T) {
	stored := `{"id":"resp_1","object":"response","status":"completed","output":[{"type":"message","content":[{"type":"output_text","text":"hi"}]}],
		"usage":{"input_tokens":8,"input_tokens_details":{"cached_tokens":2},"output_tokens":3,"total_tokens":11}}`
	upstream := func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, stored)
	}
	f := newDialectsFixture(t, chatOK, upstream)
	a := f.call("POST", "/responses", `{"model":"resp/r1","input":"hi","store":true}`, nil)
	if text := a.text(t); a.status != 200 || text != stored {
		t.Fatalf("answer %d %s, want the provider's response as it is", a.status, text)
	}
	if up := f.beta.last; up.URL.Path != "/responses" || up.Header.Get("Authorization") != "Bearer beta-secret" {
		t.Errorf("upstream %s %v", up.URL.Path, up.Header)
	}
	if got := f.beta.body(t); got["model"] != "r1" || got["input"] != "hi" || got["store"] != true {
		t.Errorf("upstream body %v", got)
	}
	if u := f.usage(); u.Requests != 1 || u.PromptTokens != 8 || u.CompletionTokens != 3 {
		t.Errorf("usage %+v, want 8+3 tokens", u)
	}

	// Reading it back goes to the same provider and bills nothing more.
	authz := f.ctx.Encode()
	out, err := f.h.Handle(t.Context(), events.APIGatewayProxyRequest{HTTPMethod: "GET", Resource: "/responses/{id}", Path: "/responses/resp_1",
		PathParameters: map[string]string{"id": "resp_1"}, QueryStringParameters: map[string]string{"provider": "resp"},
		RequestContext: events.APIGatewayProxyRequestContext{RequestID: "req-2", Authorizer: authz}})
	if r, ok := out.(events.APIGatewayProxyResponse); err != nil || !ok || r.StatusCode != 200 || r.Body != stored {
		t.Fatalf("GET answer %+v, %v", out, err)
	}
	if up := f.beta.last; up.Method != "GET" || up.URL.Path != "/responses/resp_1" {
		t.Errorf("upstream %s %s, want GET /responses/resp_1", up.Method, up.URL.Path)
	}
	if u := f.usage(); u.Requests != 2 || u.PromptTokens != 8 || u.CompletionTokens != 3 {
		t.Errorf("usage %+v, want a second request with no more tokens", u)
	}
}

func TestResponsesStreamRecordsTheCompletedUsage(t *testing.T) {
	events := []string{
		"event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_2\",\"status\":\"in_progress\",\"usage\":null}}\n\n",
		"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":1,\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"Hi\"}\n\n",
		"event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":2,\"response\":{\"id\":\"resp_2\",\"status\":\"completed\",\"usage\":{\"input_tokens\":6,\"output_tokens\":1,\"total_tokens\":7}}}\n\n",
	}
	f := newDialectsFixture(t, chatOK, sse(events, nil))
	a := f.call("POST", "/responses", `{"model":"resp/r1","input":"hi","stream":true}`, nil)
	text := a.text(t)
	a.stream.Close()
	if a.status != 200 || text != strings.Join(events, "") {
		t.Errorf("stream %d %q, want the provider's events unchanged", a.status, text)
	}
	if got := f.beta.body(t); got["stream_options"] != nil {
		t.Errorf("upstream body %v: the Responses API takes no stream_options", got)
	}
	if u := f.usage(); u.Requests != 1 || u.PromptTokens != 6 || u.CompletionTokens != 1 || u.Errors() != 0 {
		t.Errorf("usage %+v, want 6+1 tokens from response.completed", u)
	}
}

func TestResponsesRefusedForAProviderWithout(t *testing.T) {
	f := newDialectsFixture(t, chatOK, chatOK)
	a := f.call("POST", "/responses", `{"model":"alpha/m1","input":"hi"}`, nil)
	if text := a.text(t); a.status != 400 || !strings.Contains(text, `"code":"unsupported_route"`) || !strings.Contains(text, "provider alpha") {
		t.Errorf("got %d %s, want 400 unsupported_route naming the provider", a.status, text)
	}
	if n := f.alpha.calls.Load() + f.beta.calls.Load(); n != 0 {
		t.Errorf("%d upstream calls, want none", n)
	}
}

func TestModelsNameTheRoutesEachServes(t *testing.T) {
	f := newDialectsFixture(t, chatOK, chatOK)
	a := f.call("GET", "/models", "", nil)
	var list struct {
		Data []struct {
			ID     string   `json:"id"`
			Routes []string `json:"routes"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(a.text(t)), &list); err != nil || a.status != 200 {
		t.Fatalf("answer %d %s", a.status, a.text(t))
	}
	want := map[string]string{
		"alpha/m1":    "/chat/completions /embeddings /messages",
		"anth/claude": "/messages",
		"resp/r1":     "/chat/completions /embeddings /messages /responses",
	}
	for _, m := range list.Data {
		if got := strings.Join(m.Routes, " "); got != want[m.ID] {
			t.Errorf("%s serves %q, want %q", m.ID, got, want[m.ID])
		}
	}
	if len(list.Data) != len(want) {
		t.Errorf("%d models listed, want %d", len(list.Data), len(want))
	}
}
