package proxy_test

import (
	"context"
	"io"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aistats/edge/internal/local/localprovider"
	"github.com/aistats/edge/pkg/adapter/upstream"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/providers"
	"github.com/aistats/edge/pkg/domain/usage"
	"github.com/aistats/edge/pkg/handler/authcontext"
	"github.com/aistats/edge/pkg/handler/proxy"
)

type discardUsage struct{}

func (discardUsage) RecordUsage(context.Context, usage.Event) error { return nil }

// benchProxy is the proxy in front of a real local upstream, usage recorded
// in memory, so a benchmark measures the proxy's own work per request.
func benchProxy(b *testing.B) (*proxy.Handler, map[string]any) {
	b.Helper()
	srv := httptest.NewServer(localprovider.Handler())
	b.Cleanup(srv.Close)
	reg, err := providers.Default()
	if err != nil {
		b.Fatal(err)
	}
	h, err := proxy.New(proxy.Config{Registry: reg, Upstream: upstream.New(upstream.Config{}),
		Credentials: &proxy.EnvCredentials{Getenv: os.Getenv}, BaseURLs: map[string]string{"local": srv.URL + "/v1"}, Usage: discardUsage{}})
	if err != nil {
		b.Fatal(err)
	}
	c := authcontext.Context{KID: "AbCdEfGhIjKl", WorkspaceID: "w", Kind: gateway.KindInference, PlanProviders: []string{"*"}, PlanModels: []string{"*"}}
	return h, c.Encode()
}

func benchRequest(authz map[string]any, body string) events.APIGatewayProxyRequest {
	return events.APIGatewayProxyRequest{HTTPMethod: "POST", Resource: "/chat/completions", Body: body,
		RequestContext: events.APIGatewayProxyRequestContext{RequestID: "bench", Authorizer: authz}}
}

func BenchmarkProxyChat(b *testing.B) {
	h, authz := benchProxy(b)
	req := benchRequest(authz, `{"model":"local/echo","messages":[{"role":"user","content":"one two three"}]}`)
	b.ReportAllocs()
	for b.Loop() {
		out, err := h.Handle(context.Background(), req)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, out.(io.Reader)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProxyStreamFirstChunk is the time from the request to the first
// streamed byte through the proxy.
func BenchmarkProxyStreamFirstChunk(b *testing.B) {
	h, authz := benchProxy(b)
	req := benchRequest(authz, `{"model":"local/echo","stream":true,"messages":[{"role":"user","content":`+`"`+strings.Repeat("word ", 20)+`"}]}`)
	buf := make([]byte, 1)
	b.ReportAllocs()
	for b.Loop() {
		out, err := h.Handle(context.Background(), req)
		if err != nil {
			b.Fatal(err)
		}
		r := out.(io.ReadCloser)
		if _, err := io.ReadFull(r, buf); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		_, _ = io.Copy(io.Discard, r)
		r.Close()
		b.StartTimer()
	}
}
