package apigateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/aistats/edge/internal/local/apigateway"
	"github.com/aistats/edge/internal/local/localprovider"
	"github.com/aistats/edge/internal/local/samtemplate"
	"github.com/aistats/edge/pkg/adapter/upstream"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/providers"
	"github.com/aistats/edge/pkg/domain/usage"
	"github.com/aistats/edge/pkg/handler/authcontext"
	"github.com/aistats/edge/pkg/handler/proxy"
)

// usageLog keeps what the proxy records.
type usageLog struct {
	mu      sync.Mutex
	records []usage.Event
}

func (u *usageLog) RecordUsage(_ context.Context, r usage.Event) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.records = append(u.records, r)
	return nil
}

// TestSlowModelStreamGetsKeepAlivesThroughTheEmulator: the offline
// provider's slow model is silent before its first token; through the API
// Gateway emulator, the client gets the 200 prelude and SSE keep-alive
// comments during that silence, then the answer. The silence here is
// shortened from the model's default (longer than the 30 s an edge endpoint
// allows) so the test waits a fraction of a second.
func TestSlowModelStreamGetsKeepAlivesThroughTheEmulator(t *testing.T) {
	provider := httptest.NewServer(localprovider.New(localprovider.Config{SlowFirstToken: 300 * time.Millisecond}))
	t.Cleanup(provider.Close)
	registry, err := providers.Default()
	if err != nil {
		t.Fatal(err)
	}
	usage := &usageLog{}
	px, err := proxy.New(proxy.Config{
		Registry: registry, Upstream: upstream.New(upstream.Config{}), Usage: usage,
		Credentials:  &proxy.EnvCredentials{Getenv: func(string) string { return "" }},
		BaseURLs:     map[string]string{"local": provider.URL + "/v1"},
		PreludeAfter: 20 * time.Millisecond, KeepAliveInterval: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	api, err := samtemplate.LoadAPI(filepath.Join("..", "..", "..", "template.yaml"), "Api")
	if err != nil {
		t.Fatal(err)
	}
	grant := authcontext.Context{KID: "kid123", WorkspaceID: "demo", Kind: gateway.KindInference, PlanProviders: []string{"*"}, PlanModels: []string{"*"}}
	srv, err := apigateway.New(apigateway.Config{API: api, Functions: map[string]apigateway.Function{
		"AuthorizerFunction": lambda.NewHandler(func(ctx context.Context, ev events.APIGatewayCustomAuthorizerRequestTypeRequest) (map[string]any, error) {
			stage := strings.Join(strings.SplitN(ev.MethodArn, "/", 3)[:2], "/")
			return policy("Allow", stage+"/*", grant.Encode()), nil
		}),
		"ProxyFunction": apigateway.StreamingHandler(px.Handle),
	}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)

	req, _ := http.NewRequest("POST", hs.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"local/slow","stream":true,"messages":[{"role":"user","content":"take your time"}]}`))
	req.Header.Set("Authorization", "Bearer x")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d, content type %q; want a 200 event stream", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	r := bufio.NewReader(resp.Body)
	var events []string
	for {
		line, err := r.ReadString('\n')
		if line = strings.TrimSpace(line); line != "" {
			events = append(events, line)
		}
		if err != nil {
			break
		}
	}
	if len(events) < 2 || events[0] != ": ping" {
		t.Fatalf("stream %q, want keep-alive comments before the first token", events)
	}
	var text strings.Builder
	sawDone := false
	for _, e := range events {
		if e == "data: [DONE]" {
			sawDone = true
			continue
		}
		var chunk struct {
			Choices []struct{ Delta struct{ Content string } }
		}
		if data, ok := strings.CutPrefix(e, "data: "); ok && json.Unmarshal([]byte(data), &chunk) == nil {
			for _, c := range chunk.Choices {
				text.WriteString(c.Delta.Content)
			}
		}
	}
	if text.String() != "take your time" || !sawDone {
		t.Errorf("answer %q (done %v), want the echo of the prompt after the keep-alives", text.String(), sawDone)
	}
	usage.mu.Lock()
	defer usage.mu.Unlock()
	if len(usage.records) != 1 || usage.records[0].Class.IsError() || usage.records[0].CompletionTokens != 3 {
		t.Errorf("usage %+v, want one successful request with the provider's 3 completion tokens", usage.records)
	}
}
