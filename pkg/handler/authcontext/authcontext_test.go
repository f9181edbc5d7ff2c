package authcontext

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aistats/edge/pkg/domain/gateway"
)

func request(ctx map[string]any) events.APIGatewayProxyRequest {
	return events.APIGatewayProxyRequest{RequestContext: events.APIGatewayProxyRequestContext{RequestID: "req-1", Authorizer: ctx}}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	c := Context{
		KID: "AbCdEfGhIjKl", WorkspaceID: "acme", Kind: gateway.KindInference,
		Models: []string{"openai/gpt-4o", "local/echo"}, Providers: []string{"openai"},
		PlanModels: []string{"*"}, PlanProviders: []string{"*"},
		RateLimit: &RateLimit{Name: "requests_per_day", Limit: 3, Remaining: 2, ResetSeconds: 3600},
	}
	// API Gateway hands the integration the context with principalId added.
	enc := c.Encode()
	enc["principalId"] = c.KID
	got, err := Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Errorf("round trip = %+v, want %+v", got, c)
	}
	for k, v := range enc {
		if _, ok := v.(string); !ok {
			t.Errorf("context %s is %T, want string", k, v)
		}
	}
}

// TestWireJSONIsItsMap: what the authorizer returns (Wire, as JSON) is what
// integrations are tested with (Map), key for key.
func TestWireJSONIsItsMap(t *testing.T) {
	for name, w := range map[string]Wire{
		"allow": Context{KID: "AbCdEfGhIjKl", WorkspaceID: "acme", Kind: gateway.KindManagement, Scopes: []string{"keys:read", "usage:read"},
			PlanModels: []string{"*"}, RateLimit: &RateLimit{Name: "requests_per_minute", Limit: 10, Remaining: 0, ResetSeconds: 7}, RateLimited: true}.Wire(),
		"deny": Refusal(gateway.CodeKeyRevoked, "The API key was revoked."),
	} {
		t.Run(name, func(t *testing.T) {
			raw, err := json.Marshal(w)
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, w.Map()) {
				t.Errorf("JSON %s, Map %v", raw, w.Map())
			}
		})
	}
}

func TestCheckAnswersRateLimitedRequests(t *testing.T) {
	c := Context{KID: "AbCdEfGhIjKl", WorkspaceID: "acme", Kind: gateway.KindInference, RateLimited: true,
		RateLimit: &RateLimit{Name: "requests_per_day", Limit: 3, Remaining: 0, ResetSeconds: 125}}
	_, resp := Check(request(c.Encode()))
	if resp == nil || resp.StatusCode != 429 {
		t.Fatalf("Check = %+v, want a 429", resp)
	}
	want := map[string]string{
		"Retry-After": "125", "RateLimit-Limit": "3", "RateLimit-Remaining": "0", "RateLimit-Reset": "125",
		"x-ratelimit-limit-requests": "3", "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "2m5s",
		"x-request-id": "req-1", "Content-Type": "application/json",
	}
	for k, v := range want {
		if resp.Headers[k] != v {
			t.Errorf("header %s = %q, want %q", k, resp.Headers[k], v)
		}
	}
	var body gateway.ErrorBody
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
		t.Fatal(err)
	}
	if body.Error.Type != "rate_limit_error" || body.Error.Code != gateway.CodeRateLimitExceeded || body.RequestID != "req-1" {
		t.Errorf("body = %+v", body)
	}
}

func TestCheckPassesAdmittedRequests(t *testing.T) {
	c := Context{KID: "AbCdEfGhIjKl", WorkspaceID: "acme", Kind: gateway.KindManagement, Scopes: []string{"keys:read"}}
	got, resp := Check(request(c.Encode()))
	if resp != nil {
		t.Fatalf("Check answered %d for an admitted request", resp.StatusCode)
	}
	if got.KID != c.KID || !reflect.DeepEqual(got.Scopes, c.Scopes) {
		t.Errorf("context = %+v", got)
	}
	if h := got.Headers("req-1"); len(h) != 1 || h["x-request-id"] != "req-1" {
		t.Errorf("headers without a limit = %v, want only x-request-id", h)
	}
}

func TestCheckFailsClosedWithoutContext(t *testing.T) {
	for name, ctx := range map[string]map[string]any{
		"none":                   nil,
		"no kind":                {"kid": "AbCdEfGhIjKl", "workspace": "acme"},
		"limited without limit":  {"kid": "AbCdEfGhIjKl", "workspace": "acme", "kind": "sk", "rate_limited": "true"},
		"malformed limit number": {"kid": "AbCdEfGhIjKl", "workspace": "acme", "kind": "sk", "ratelimit": "x:many:1:2"},
		"limit missing a field":  {"kid": "AbCdEfGhIjKl", "workspace": "acme", "kind": "sk", "ratelimit": "x:1:2"},
		"limit without a name":   {"kid": "AbCdEfGhIjKl", "workspace": "acme", "kind": "sk", "ratelimit": ":1:2:3"},
	} {
		t.Run(name, func(t *testing.T) {
			_, resp := Check(request(ctx))
			if resp == nil || resp.StatusCode != 500 {
				t.Fatalf("Check = %+v, want a 500", resp)
			}
		})
	}
}

func TestSafeForTemplate(t *testing.T) {
	if !SafeForTemplate("The API key was revoked.") || SafeForTemplate(`say "hi"`) || SafeForTemplate("a\\b") || SafeForTemplate("a\nb") {
		t.Error("SafeForTemplate misjudges")
	}
}
