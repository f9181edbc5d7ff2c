package authorizer

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/aistats/edge/internal/local/samtemplate"
	"github.com/aistats/edge/pkg/domain/gateway"
)

// TestRoutesMatchTemplate keeps the authorizer's route table and
// template.yaml in step: every deployed route is open to exactly the kinds
// of key it is for, and the policy allows nothing the API does not have.
func TestRoutesMatchTemplate(t *testing.T) {
	api, err := samtemplate.LoadAPI(filepath.Join("..", "..", "..", "template.yaml"), "Api")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range api.Routes {
		path := strings.TrimPrefix(r.Path, "/")
		path = strings.ReplaceAll(path, "{kid}", "AbCdEfGhIjKl")
		wantInference := r.FunctionID == "ProxyFunction" || path == "key"
		// A route with no authorizer never reaches it: no kind needs it.
		wantManagement := r.FunctionID == "ManagementFunction" && r.Authorized
		if got := allows(gateway.KindInference, r.Method, path); got != wantInference {
			t.Errorf("%s %s: inference key allowed = %v, want %v", r.Method, r.Path, got, wantInference)
		}
		if got := allows(gateway.KindManagement, r.Method, path); got != wantManagement {
			t.Errorf("%s %s: management key allowed = %v, want %v", r.Method, r.Path, got, wantManagement)
		}
	}
}

func TestParseMethodARN(t *testing.T) {
	m, err := parseMethodARN("arn:aws:execute-api:eu-west-1:1:api/v1/DELETE/keys/AbC")
	if err != nil || m.base != "arn:aws:execute-api:eu-west-1:1:api/v1" || m.method != "DELETE" || m.path != "keys/AbC" {
		t.Errorf("parse = %+v, %v", m, err)
	}
	for _, bad := range []string{"", "nonsense", "arn:aws:execute-api:x:1:api", "arn:aws:execute-api:x:1:api/v1"} {
		if _, err := parseMethodARN(bad); err == nil {
			t.Errorf("parseMethodARN(%q) accepted", bad)
		}
	}
}

// TestRouteCheckServesPathsAsAPIGatewayDoes: one trailing slash names the
// same route, any other empty segment names none, for both kinds of key.
func TestRouteCheckServesPathsAsAPIGatewayDoes(t *testing.T) {
	for name, tc := range map[string]struct {
		kind         gateway.KeyKind
		method, path string
		want         bool
	}{
		"route":                          {gateway.KindInference, "POST", "chat/completions", true},
		"trailing slash":                 {gateway.KindInference, "POST", "chat/completions/", true},
		"trailing slash on a kid":        {gateway.KindManagement, "GET", "keys/AbCdEfGhIjKl/", true},
		"two trailing slashes":           {gateway.KindInference, "GET", "models//", false},
		"double slash inside":            {gateway.KindInference, "POST", "chat//completions", false},
		"leading empty segment":          {gateway.KindInference, "GET", "/models", false},
		"empty segment as a kid":         {gateway.KindManagement, "GET", "keys//", false},
		"empty segment before a kid":     {gateway.KindManagement, "GET", "keys//AbCdEfGhIjKl", false},
		"stage root":                     {gateway.KindInference, "GET", "", false},
		"wrong kind stays wrong":         {gateway.KindManagement, "GET", "models/", false},
		"method still counts with slash": {gateway.KindInference, "GET", "chat/completions/", false},
	} {
		t.Run(name, func(t *testing.T) {
			if got := allows(tc.kind, tc.method, tc.path); got != tc.want {
				t.Errorf("allows(%s, %s, %q) = %v, want %v", tc.kind, tc.method, tc.path, got, tc.want)
			}
		})
	}
}
