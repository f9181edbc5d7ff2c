package apigateway_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/aistats/edge/internal/local/apigateway"
	"github.com/aistats/edge/internal/local/samtemplate"
	"github.com/aistats/edge/internal/testing/httpcall"
)

// TestLambdaPayloadLimitBindsBeforeAPIGateways: API Gateway takes bodies up
// to 10 MB, but Lambda takes a synchronous event, and returns a buffered
// response, of at most 6 MB each, escaping and headers included; the
// emulator refuses both as AWS would, so what fits locally fits in AWS.
func TestLambdaPayloadLimitBindsBeforeAPIGateways(t *testing.T) {
	var answer atomic.Pointer[string]
	var invoked atomic.Int32
	api, err := samtemplate.LoadAPI(filepath.Join("..", "..", "..", "template.yaml"), "Api")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := apigateway.New(apigateway.Config{API: api, IntegrationTimeout: time.Minute, Functions: map[string]apigateway.Function{
		"AuthorizerFunction": lambda.NewHandler(func(ev events.APIGatewayCustomAuthorizerRequestTypeRequest) (map[string]any, error) {
			return allowAll(ev)
		}),
		"ProxyFunction": lambda.NewHandler(func(_ context.Context, _ events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
			invoked.Add(1)
			return events.APIGatewayProxyResponse{StatusCode: 200, Body: *answer.Load()}, nil
		}),
	}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	url := hs.URL
	set := func(s string) { answer.Store(&s) }
	set("")

	// 4 MiB of quotes: 8 MiB once JSON-escaped into the event.
	quotes := `{"x":"` + strings.Repeat(`\"`, 2<<20) + `"}`
	r := httpcall.Do(t, nil, "POST", url+"/v1/embeddings", "Bearer x", quotes)
	wantError(t, r, 502, "api_error", "internal_error")
	if invoked.Load() != 0 {
		t.Errorf("the function ran for an event over %d bytes", apigateway.MaxInvokePayloadBytes)
	}

	set(strings.Repeat("a", apigateway.MaxInvokePayloadBytes))
	r = httpcall.Do(t, nil, "POST", url+"/v1/embeddings", "Bearer x", `{}`)
	wantError(t, r, 502, "api_error", "internal_error")

	set(`{"ok":true}`)
	if r := httpcall.Do(t, nil, "POST", url+"/v1/embeddings", "Bearer x", `{"x":"`+strings.Repeat("a", 4<<20)+`"}`); r.Status != 200 {
		t.Errorf("a 4 MiB body: status %d, want 200 (it fits the event)", r.Status)
	}
}
