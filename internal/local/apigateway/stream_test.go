package apigateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/aistats/edge/internal/local/apigateway"
	"github.com/aistats/edge/internal/local/samtemplate"
	"github.com/aistats/edge/internal/testing/httpcall"
)

// pipeFunction streams what a test writes, in the Lambda streaming format.
type pipeFunction struct {
	lambda.Handler
	writes chan string
	event  chan events.APIGatewayProxyRequest
}

func (p *pipeFunction) InvokeStream(ctx context.Context, payload []byte) (io.ReadCloser, error) {
	var ev events.APIGatewayProxyRequest
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, err
	}
	p.event <- ev
	r, w := io.Pipe()
	go func() {
		for s := range p.writes {
			if _, err := io.WriteString(w, s); err != nil {
				return
			}
		}
		w.Close()
	}()
	return r, nil
}

func streamingStack(t *testing.T, fn *pipeFunction) string {
	t.Helper()
	api, err := samtemplate.LoadAPI(filepath.Join("..", "..", "..", "template.yaml"), "Api")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := apigateway.New(apigateway.Config{API: api, Functions: map[string]apigateway.Function{
		"AuthorizerFunction": lambda.NewHandler(func(ctx context.Context, ev events.APIGatewayCustomAuthorizerRequestTypeRequest) (map[string]any, error) {
			return allowAll(ev)
		}),
		"ProxyFunction": fn,
	}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return hs.URL
}

func TestStreamingRouteRelaysChunksAsTheyCome(t *testing.T) {
	fn := &pipeFunction{writes: make(chan string), event: make(chan events.APIGatewayProxyRequest, 1)}
	url := streamingStack(t, fn)
	req, _ := http.NewRequest("POST", url+"/v1/chat/completions", strings.NewReader(`{"stream":true}`))
	req.Header.Set("Authorization", "Bearer x")
	done := make(chan *http.Response, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
		}
		done <- resp
	}()
	if ev := <-fn.event; ev.RequestContext.Authorizer["workspace"] != "demo" {
		t.Errorf("streaming invoke lacks the authorizer context: %v", ev.RequestContext.Authorizer)
	}
	fn.writes <- `{"statusCode":201,"headers":{"Content-Type":"text/event-stream"}}` + "\x00\x00\x00\x00\x00\x00\x00\x00"
	fn.writes <- "data: one\n\n"
	resp := <-done
	if resp == nil {
		t.FailNow()
	}
	defer resp.Body.Close()
	if resp.StatusCode != 201 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	r := bufio.NewReader(resp.Body)
	// The first chunk is readable while the function has not written the
	// second: the emulator does not buffer.
	if line, err := r.ReadString('\n'); err != nil || line != "data: one\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	fn.writes <- "data: two\n\n"
	close(fn.writes)
	rest, _ := io.ReadAll(r)
	if string(rest) != "\ndata: two\n\n" {
		t.Errorf("rest of stream %q", rest)
	}
}

func TestStreamingRouteRejectsAMissingPrelude(t *testing.T) {
	fn := &pipeFunction{writes: make(chan string, 1), event: make(chan events.APIGatewayProxyRequest, 1)}
	url := streamingStack(t, fn)
	fn.writes <- `{"statusCode":200,"body":"buffered"}`
	close(fn.writes)
	r := httpcall.Do(t, nil, "POST", url+"/v1/chat/completions", "Bearer x", "{}")
	wantError(t, r, 502, "api_error", "internal_error")
}
