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

// routesByKind lists the routes each kind of key may call (DESIGN.md §2, §7).
// The policy allows exactly these, and a key on any other route is refused
// with wrong_key_kind. GET /key is open to both kinds: a key reads itself.
var routesByKind = map[gateway.KeyKind][]route{
	gateway.KindInference: {
		{"POST", "chat/completions"}, {"POST", "embeddings"}, {"GET", "models"}, {"GET", "key"},
	},
	gateway.KindManagement: {
		{"GET", "key"}, {"*", "keys"}, {"*", "keys/*"}, {"*", "management-keys"}, {"*", "management-keys/*"},
		{"GET", "audit-events"},
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
