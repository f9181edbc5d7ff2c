package authorizer

import (
	"fmt"
	"strings"

	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/iampattern"
)

// route is a method and resource path pattern below the stage, matched with
// iampattern as API Gateway matches the policy's resource ARNs, so that the
// route check and the policy the authorizer returns cannot disagree.
type route struct{ method, path string }

// routesByKind lists the routes each kind of key may call (docs/architecture.md §3, §8).
// The policy allows exactly these, and a key on any other route is refused
// with wrong_key_kind. GET /key is open to both kinds: a key reads itself.
var routesByKind = map[gateway.KeyKind][]route{
	gateway.KindInference: {
		{"POST", "chat/completions"}, {"POST", "embeddings"}, {"GET", "models"}, {"GET", "key"},
		{"POST", "messages"}, {"POST", "responses"}, {"GET", "responses/*"},
		{"POST", "moderations"}, {"POST", "images/generations"}, {"POST", "audio/speech"}, {"POST", "audio/transcriptions"},
	},
	gateway.KindManagement: {
		{"GET", "key"}, {"*", "keys"}, {"*", "keys/*"}, {"*", "management-keys"}, {"*", "management-keys/*"},
		{"GET", "audit-events"}, {"GET", "analytics"}, {"GET", "anomalies"}, {"POST", "anomalies/*/resolve"},
		{"*", "webhook"}, {"*", "workspace"},
	},
}

// methodARN is a parsed arn:aws:execute-api:region:account:api/stage/METHOD/path.
type methodARN struct {
	// base is everything up to and including the stage.
	base   string
	method string
	path   string
}

func parseMethodARN(arn string) (methodARN, error) {
	if !strings.HasPrefix(arn, "arn:") {
		return methodARN{}, fmt.Errorf("method ARN %q is not an ARN", arn)
	}
	// arn:…:api / stage / METHOD / path, without allocating a split.
	apiEnd := strings.IndexByte(arn, '/')
	if apiEnd < 0 {
		return methodARN{}, fmt.Errorf("method ARN %q lacks stage or method", arn)
	}
	stageEnd := strings.IndexByte(arn[apiEnd+1:], '/')
	if stageEnd <= 0 {
		return methodARN{}, fmt.Errorf("method ARN %q lacks stage or method", arn)
	}
	stageEnd += apiEnd + 1
	rest := arn[stageEnd+1:]
	method, path, _ := strings.Cut(rest, "/")
	if method == "" {
		return methodARN{}, fmt.Errorf("method ARN %q lacks stage or method", arn)
	}
	return methodARN{base: arn[:stageEnd], method: method, path: path}, nil
}

// allows reports whether a key of kind may call method on path.
func allows(kind gateway.KeyKind, method, path string) bool {
	path, ok := routePath(path)
	if !ok {
		return false
	}
	for _, r := range routesByKind[kind] {
		if (r.method == "*" || r.method == method) && iampattern.Match(r.path, path) {
			return true
		}
	}
	return false
}

// resources lists the ARNs a policy allows for kind, valid for every route
// of that kind on this API and stage.
func (m methodARN) resources(kind gateway.KeyKind) []string {
	routes := routesByKind[kind]
	out := make([]string, len(routes))
	for i, r := range routes {
		out[i] = m.base + "/" + r.method + "/" + r.path
	}
	return out
}

// routePath is the resource path API Gateway's REST API serves a request
// path as, and false for a path no resource serves. One trailing slash is
// dropped: the REST API routes POST /v1/chat/completions/ to the
// /chat/completions resource (HTTP APIs do not). No AWS page states it; the
// Powertools for AWS Lambda end-to-end test test_api_gateway_rest_trailing_slash
// (tests/e2e/event_handler/test_paths_ending_with_slash.py) shows it against
// a deployed REST API. An empty segment anywhere else (GET /v1//models)
// matches no resource, so API Gateway answers MISSING_AUTHENTICATION_TOKEN
// without calling the authorizer. The local API Gateway
// (internal/local/apigateway) routes by the same rule, and a test through it
// holds the two together.
func routePath(path string) (string, bool) {
	path = strings.TrimSuffix(path, "/")
	if path == "" || path[0] == '/' || path[len(path)-1] == '/' || strings.Contains(path, "//") {
		return "", false
	}
	return path, true
}
