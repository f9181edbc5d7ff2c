package apigateway_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/aistats/edge/internal/local/apigateway"
	"github.com/aistats/edge/internal/local/samtemplate"
	"github.com/aistats/edge/internal/testing/httpcall"
)

// authorizerFunc adapts a func to a REQUEST authorizer handler.
type authorizerFunc func(events.APIGatewayCustomAuthorizerRequestTypeRequest) (map[string]any, error)

// stack is the repository's template.yaml served by the emulator, with
// test handlers pushed through lambda.NewHandler so the JSON shapes are real.
type stack struct {
	url            string
	authorizerHits atomic.Int32
	lastEvent      atomic.Pointer[events.APIGatewayProxyRequest]
}

func newStack(t *testing.T, authorize authorizerFunc, integration func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error), change ...func(*samtemplate.API)) *stack {
	t.Helper()
	api, err := samtemplate.LoadAPI(filepath.Join("..", "..", "..", "template.yaml"), "Api")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range change {
		c(api)
	}
	st := &stack{}
	authHandler := func(ctx context.Context, ev events.APIGatewayCustomAuthorizerRequestTypeRequest) (map[string]any, error) {
		st.authorizerHits.Add(1)
		return authorize(ev)
	}
	proxyHandler := func(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		st.lastEvent.Store(&ev)
		return integration(ctx, ev)
	}
	srv, err := apigateway.New(apigateway.Config{
		API: api,
		Functions: map[string]apigateway.Function{
			"AuthorizerFunction": lambda.NewHandler(authHandler),
			"ProxyFunction":      lambda.NewHandler(proxyHandler),
			// ManagementFunction is left out: its routes must fail loudly.
		},
		IntegrationTimeout: 300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	st.url = hs.URL
	return st
}

func policy(effect, resource string, ctx map[string]any) map[string]any {
	return map[string]any{
		"principalId": "kid123",
		"policyDocument": map[string]any{
			"Version":   "2012-10-17",
			"Statement": []any{map[string]any{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}},
		},
		"context": ctx,
	}
}

func allowAll(ev events.APIGatewayCustomAuthorizerRequestTypeRequest) (map[string]any, error) {
	// Allow every route of the stage, derived from the method ARN as the
	// real authorizer does.
	arn := ev.MethodArn
	stage := strings.Join(strings.SplitN(arn, "/", 3)[:2], "/")
	return policy("Allow", stage+"/*", map[string]any{"workspace": "demo", "remaining": 7, "streaming": true}), nil
}

func echo(_ context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	return events.APIGatewayProxyResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "application/json", "X-Test": "yes"}, Body: `{"ok":true}`}, nil
}

// wantError checks an error answer in the shape of docs/architecture.md §4.
func wantError(t *testing.T, r httpcall.Response, status int, errType, code string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d (body %s)", r.Status, status, r.Raw)
	}
	e, _ := r.Body["error"].(map[string]any)
	if e == nil {
		t.Fatalf("body %s has no error object", r.Raw)
	}
	if e["type"] != errType || e["code"] != code {
		t.Errorf("error type/code = %v/%v, want %s/%s", e["type"], e["code"], errType, code)
	}
	if msg, _ := e["message"].(string); msg == "" {
		t.Error("error message is empty")
	}
	if _, ok := e["param"]; !ok {
		t.Error("error has no param field")
	}
	id := r.Header.Get("x-request-id")
	if id == "" || r.Body["request_id"] != id {
		t.Errorf("x-request-id %q and body request_id %v differ or are empty", id, r.Body["request_id"])
	}
}

// TestMissingIdentitySourceIsAnsweredByTheGateway: an authorizer with an
// identity source is never called without it, as in API Gateway. The
// repository's template declares none (see the next test), so the rule is
// shown on an API that does.
func TestMissingIdentitySourceIsAnsweredByTheGateway(t *testing.T) {
	st := newStack(t, allowAll, echo, func(api *samtemplate.API) { api.Authorizer.IdentityHeaders = []string{"Authorization"} })
	for name, auth := range map[string]string{"absent": "", "blank": "   "} {
		t.Run(name, func(t *testing.T) {
			r := httpcall.Do(t, nil, "POST", st.url+"/v1/chat/completions", auth, "{}")
			wantError(t, r, 401, "authentication_error", "missing_authorization")
			if st.authorizerHits.Load() != 0 {
				t.Error("the authorizer was called without an identity header")
			}
		})
	}
}

// TestEveryRequestReachesTheAuthorizer: the template's authorizer has no
// identity source, so a request with its key in x-api-key only, or with no
// key at all, reaches the authorizer, which decides.
func TestEveryRequestReachesTheAuthorizer(t *testing.T) {
	var sawAPIKey atomic.Value
	st := newStack(t, func(ev events.APIGatewayCustomAuthorizerRequestTypeRequest) (map[string]any, error) {
		if ev.Headers["X-Api-Key"] == "" {
			return policy("Deny", ev.MethodArn, map[string]any{"code": "missing_authorization", "message": "Send a key."}), nil
		}
		sawAPIKey.Store(ev.Headers["X-Api-Key"])
		return allowAll(ev)
	}, echo)
	r := httpcall.Do(t, nil, "POST", st.url+"/v1/messages", "", "{}")
	wantError(t, r, 401, "authentication_error", "missing_authorization")
	if r.Body["type"] != "error" {
		t.Errorf("body %s lacks Anthropic's \"type\":\"error\"", r.Raw)
	}
	r = httpcall.DoWithHeaders(t, nil, "POST", st.url+"/v1/embeddings", http.Header{"X-Api-Key": {"k"}}, "{}")
	if r.Status != 200 || sawAPIKey.Load() != "k" {
		t.Errorf("x-api-key only: status %d, authorizer saw %v", r.Status, sawAPIKey.Load())
	}
	if got := st.authorizerHits.Load(); got != 2 {
		t.Errorf("authorizer called %d times, want 2", got)
	}
}

func TestDenyCarriesTheReasonFromTheContext(t *testing.T) {
	st := newStack(t, func(ev events.APIGatewayCustomAuthorizerRequestTypeRequest) (map[string]any, error) {
		return policy("Deny", ev.MethodArn, map[string]any{"code": "key_revoked", "message": "This key was revoked."}), nil
	}, echo)
	r := httpcall.Do(t, nil, "POST", st.url+"/v1/chat/completions", "Bearer x", "{}")
	wantError(t, r, 401, "authentication_error", "key_revoked")
	if msg := r.Body["error"].(map[string]any)["message"]; msg != "This key was revoked." {
		t.Errorf("message = %v, want the authorizer's", msg)
	}
}

func TestAllowForOtherRoutesIsDenied(t *testing.T) {
	st := newStack(t, func(ev events.APIGatewayCustomAuthorizerRequestTypeRequest) (map[string]any, error) {
		return policy("Allow", "arn:aws:execute-api:*:*:*/v1/GET/keys", map[string]any{"code": "wrong_key_kind", "message": "Use a management key."}), nil
	}, echo)
	r := httpcall.Do(t, nil, "POST", st.url+"/v1/chat/completions", "Bearer x", "{}")
	wantError(t, r, 401, "authentication_error", "wrong_key_kind")
}

func TestAuthorizerFailuresFailClosed(t *testing.T) {
	cases := map[string]authorizerFunc{
		"error": func(events.APIGatewayCustomAuthorizerRequestTypeRequest) (map[string]any, error) {
			return nil, errors.New("dynamodb unreachable")
		},
		"nested context": func(ev events.APIGatewayCustomAuthorizerRequestTypeRequest) (map[string]any, error) {
			return policy("Allow", "*", map[string]any{"limits": map[string]any{"rpm": 1}}), nil
		},
		"no principal": func(ev events.APIGatewayCustomAuthorizerRequestTypeRequest) (map[string]any, error) {
			p := policy("Allow", "*", nil)
			delete(p, "principalId")
			return p, nil
		},
		"bad effect": func(ev events.APIGatewayCustomAuthorizerRequestTypeRequest) (map[string]any, error) {
			return policy("Permit", "*", nil), nil
		},
	}
	for name, auth := range cases {
		t.Run(name, func(t *testing.T) {
			st := newStack(t, auth, echo)
			r := httpcall.Do(t, nil, "POST", st.url+"/v1/chat/completions", "Bearer x", "{}")
			wantError(t, r, 503, "api_error", "service_unavailable")
			if r.Header.Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
			if st.lastEvent.Load() != nil {
				t.Error("the integration ran although the authorizer failed")
			}
		})
	}
	t.Run("Unauthorized error is 401", func(t *testing.T) {
		st := newStack(t, func(events.APIGatewayCustomAuthorizerRequestTypeRequest) (map[string]any, error) {
			return nil, errors.New("Unauthorized")
		}, echo)
		wantError(t, httpcall.Do(t, nil, "GET", st.url+"/v1/models", "Bearer x", ""), 401, "authentication_error", "missing_authorization")
	})
}

func TestAllowPassesContextAsStrings(t *testing.T) {
	var seen events.APIGatewayCustomAuthorizerRequestTypeRequest
	st := newStack(t, func(ev events.APIGatewayCustomAuthorizerRequestTypeRequest) (map[string]any, error) {
		seen = ev
		return allowAll(ev)
	}, echo)
	r := httpcall.Do(t, nil, "POST", st.url+"/v1/embeddings?x=1", "Bearer aistats", `{"model":"m"}`)
	if r.Status != 200 || r.Raw != `{"ok":true}` || r.Header.Get("X-Test") != "yes" {
		t.Fatalf("response %d %s, want the integration's 200", r.Status, r.Raw)
	}
	if seen.Type != "REQUEST" || seen.HTTPMethod != "POST" || seen.Headers["Authorization"] != "Bearer aistats" ||
		!strings.HasSuffix(seen.MethodArn, ":local/v1/POST/embeddings") || seen.RequestContext.Stage != "v1" {
		t.Errorf("authorizer event = %+v", seen)
	}
	ev := st.lastEvent.Load()
	if ev.Body != `{"model":"m"}` || ev.Path != "/embeddings" || ev.Resource != "/embeddings" || ev.QueryStringParameters["x"] != "1" {
		t.Errorf("proxy event = %+v", ev)
	}
	auth := ev.RequestContext.Authorizer
	for k, want := range map[string]string{"workspace": "demo", "remaining": "7", "streaming": "true", "principalId": "kid123"} {
		if got, ok := auth[k].(string); !ok || got != want {
			t.Errorf("authorizer context %s = %#v, want string %q", k, auth[k], want)
		}
	}
	if ev.RequestContext.RequestID != r.Header.Get("x-amzn-RequestId") {
		t.Error("integration request id differs from the response's")
	}
}

func TestRoutingAndIntegrationFailures(t *testing.T) {
	st := newStack(t, allowAll, func(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		switch {
		case ev.Body == "block":
			<-ctx.Done() // outlives the integration timeout
			return events.APIGatewayProxyResponse{}, ctx.Err()
		case ev.Resource == "/models":
			return events.APIGatewayProxyResponse{}, errors.New("boom")
		}
		return echo(ctx, ev)
	})
	t.Run("unknown route", func(t *testing.T) {
		wantError(t, httpcall.Do(t, nil, "GET", st.url+"/v1/nope", "Bearer x", ""), 404, "not_found_error", "not_found")
	})
	t.Run("known path, other method", func(t *testing.T) {
		wantError(t, httpcall.Do(t, nil, "GET", st.url+"/v1/embeddings", "Bearer x", ""), 404, "not_found_error", "not_found")
	})
	t.Run("streaming route with a function that cannot stream", func(t *testing.T) {
		wantError(t, httpcall.Do(t, nil, "POST", st.url+"/v1/chat/completions", "Bearer x", "{}"), 502, "api_error", "internal_error")
	})
	t.Run("function not built", func(t *testing.T) {
		wantError(t, httpcall.Do(t, nil, "POST", st.url+"/v1/keys", "Bearer x", "{}"), 502, "api_error", "internal_error")
	})
	t.Run("function error", func(t *testing.T) {
		wantError(t, httpcall.Do(t, nil, "GET", st.url+"/v1/models", "Bearer x", ""), 502, "api_error", "internal_error")
	})
	t.Run("integration timeout", func(t *testing.T) {
		wantError(t, httpcall.Do(t, nil, "POST", st.url+"/v1/embeddings", "Bearer x", "block"), 504, "api_error", "internal_error")
	})
	t.Run("payload over 10 MB", func(t *testing.T) {
		wantError(t, httpcall.Do(t, nil, "POST", st.url+"/v1/chat/completions", "Bearer x", strings.Repeat("a", apigateway.MaxPayloadBytes+1)),
			413, "invalid_request_error", "body_too_large")
	})
	t.Run("path parameters", func(t *testing.T) {
		st := newStack(t, allowAll, echo)
		httpcall.Do(t, nil, "POST", st.url+"/v1/embeddings", "Bearer x", "{}")
		if ev := st.lastEvent.Load(); ev.PathParameters != nil {
			t.Errorf("path parameters %v on a route without any", ev.PathParameters)
		}
	})
}

// TestOddPathsAreRoutedAsAPIGatewayDoes: a trailing slash names the same
// route; any other empty segment, or the stage root, names no route and is
// answered by MISSING_AUTHENTICATION_TOKEN before any authorizer runs; a path
// without the stage is API Gateway's own 403, which no Gateway Response can
// change.
func TestOddPathsAreRoutedAsAPIGatewayDoes(t *testing.T) {
	var arns []string
	var mu sync.Mutex
	st := newStack(t, func(ev events.APIGatewayCustomAuthorizerRequestTypeRequest) (map[string]any, error) {
		mu.Lock()
		arns = append(arns, ev.MethodArn)
		mu.Unlock()
		return allowAll(ev)
	}, echo)
	t.Run("trailing slash", func(t *testing.T) {
		r := httpcall.Do(t, nil, "POST", st.url+"/v1/embeddings/", "Bearer x", "{}")
		if r.Status != 200 {
			t.Fatalf("status %d, want 200: %s", r.Status, r.Raw)
		}
		ev := st.lastEvent.Load()
		if ev.Resource != "/embeddings" || ev.Path != "/embeddings/" {
			t.Errorf("resource %q path %q, want /embeddings as /embeddings/", ev.Resource, ev.Path)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(arns) != 1 || !strings.HasSuffix(arns[0], "/v1/POST/embeddings/") {
			t.Errorf("authorizer saw method ARNs %v, want one for POST embeddings/", arns)
		}
	})
	for name, path := range map[string]string{
		"double slash":            "/v1//models",
		"double slash inside":     "/v1/chat//completions",
		"two trailing slashes":    "/v1/models//",
		"empty path parameter":    "/v1/keys//rotate",
		"stage root":              "/v1",
		"stage root with a slash": "/v1/",
		"stage given twice":       "/v1/v1/models",
	} {
		t.Run(name, func(t *testing.T) {
			before := st.authorizerHits.Load()
			r := httpcall.Do(t, nil, "GET", st.url+path, "Bearer x", "")
			wantError(t, r, 404, "not_found_error", "not_found")
			if msg, _ := r.Body["error"].(map[string]any)["message"].(string); !strings.Contains(msg, "/v1") {
				t.Errorf("message %q does not point at the /v1 prefix", msg)
			}
			if st.authorizerHits.Load() != before {
				t.Error("the authorizer ran for a path with no route")
			}
		})
	}
	t.Run("no stage", func(t *testing.T) {
		before := st.authorizerHits.Load()
		r := httpcall.Do(t, nil, "GET", st.url+"/models", "Bearer x", "")
		if r.Status != 403 || r.Raw != `{"message":"Forbidden"}` {
			t.Errorf("got %d %s, want API Gateway's 403 Forbidden", r.Status, r.Raw)
		}
		if st.authorizerHits.Load() != before {
			t.Error("the authorizer ran for a path outside the stage")
		}
	})
}

func TestRefusesWhatItCannotEmulate(t *testing.T) {
	api := &samtemplate.API{StageName: "v1", GatewayResponses: map[string]samtemplate.GatewayResponse{
		"DEFAULT_4XX": {Templates: map[string]string{"application/json": `{"m":"$util.escapeJavaScript($context.error.message)"}`}},
	}}
	if _, err := apigateway.New(apigateway.Config{API: api}); err == nil {
		t.Error("a template using $util was accepted")
	}
	api = &samtemplate.API{StageName: "v1", Authorizer: &samtemplate.Authorizer{Name: "A", ReauthorizeEvery: 300}}
	if _, err := apigateway.New(apigateway.Config{API: api}); err == nil {
		t.Error("a caching authorizer was accepted")
	}
}

// TestBinaryMediaTypesReachTheIntegrationBase64Encoded: a body whose
// Content-Type the template lists in BinaryMediaTypes (an audio upload) is
// handed over base64-encoded and flagged, bytes intact; a JSON body as text.
func TestBinaryMediaTypesReachTheIntegrationBase64Encoded(t *testing.T) {
	st := newStack(t, allowAll, echo)
	upload := "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\n\x00\xff\xfe RIFF\r\n--b--\r\n"
	for name, tc := range map[string]struct {
		contentType, body string
		base64            bool
	}{
		"multipart upload": {"multipart/form-data; boundary=b", upload, true},
		"json":             {"application/json", `{"model":"local/echo"}`, false},
	} {
		t.Run(name, func(t *testing.T) {
			httpcall.DoWithHeaders(t, nil, "POST", st.url+"/v1/embeddings", http.Header{"Content-Type": {tc.contentType}, "Authorization": {"Bearer k"}}, tc.body)
			ev := st.lastEvent.Load()
			if ev == nil {
				t.Fatal("the integration was not called")
			}
			got := ev.Body
			if ev.IsBase64Encoded {
				raw, err := base64.StdEncoding.DecodeString(ev.Body)
				if err != nil {
					t.Fatal(err)
				}
				got = string(raw)
			}
			if ev.IsBase64Encoded != tc.base64 || got != tc.body {
				t.Errorf("event body base64 %v, %q; want base64 %v, %q", ev.IsBase64Encoded, got, tc.base64, tc.body)
			}
		})
	}
}
