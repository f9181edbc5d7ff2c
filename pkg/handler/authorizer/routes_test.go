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
		wantManagement := r.FunctionID == "ManagementFunction"
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
