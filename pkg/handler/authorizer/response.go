package authorizer

import (
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/handler/authcontext"
)

// Response is API Gateway's authorizer response, in the JSON shape of
// events.APIGatewayCustomAuthorizerResponse but with the context a struct:
// a map would cost an allocation per entry on every request.
type Response struct {
	PrincipalID    string                                  `json:"principalId"`
	PolicyDocument events.APIGatewayCustomAuthorizerPolicy `json:"policyDocument"`
	Context        authcontext.Wire                        `json:"context,omitzero"`
}

// response renders a decision as API Gateway's authorizer response: a Deny
// of this method carrying the reason, or an Allow of every route of the
// key's kind carrying the context. A rate-limited request is an Allow too:
// only the integration can answer it with our own 429 headers.
func (h *Handler) response(d decision, req *request, methodARN string) Response {
	if d.outcome == outcomeDeny {
		principal := req.kid
		if principal == "" {
			principal = "anonymous"
		}
		return Response{
			PrincipalID: principal,
			PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
				Version: "2012-10-17",
				Statement: []events.IAMPolicyStatement{{
					Action: invokeAction, Effect: "Deny", Resource: []string{methodARN},
				}},
			},
			Context: authcontext.Refusal(d.code, d.message),
		}
	}
	return Response{
		PrincipalID: req.kid,
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
			Version: "2012-10-17",
			Statement: []events.IAMPolicyStatement{{
				Action: invokeAction, Effect: "Allow", Resource: h.allowedResources(req.arn, req.token.Kind, methodARN),
			}},
		},
		Context: d.context.Wire(),
	}
}

// invokeAction is the one action a policy names; shared, never modified.
var invokeAction = []string{"execute-api:Invoke"}

// resourcesKey is a struct, not a joined string, so a lookup allocates nothing.
type resourcesKey struct {
	stage string
	kind  gateway.KeyKind
}

// allowedResources returns the cached resources of an Allow for kind, plus
// the requested ARN itself when it names its route with a trailing slash: API
// Gateway serves such a request from the same resource (see routePath) and
// may evaluate the policy against the path as sent, which no route's ARN
// matches. The cached slice is never appended to in place.
func (h *Handler) allowedResources(arn methodARN, kind gateway.KeyKind, requested string) []string {
	r := h.cachedResources(arn, kind)
	if strings.HasSuffix(arn.path, "/") {
		return append(slices.Clip(r), requested)
	}
	return r
}

// cachedResources returns the resources of an Allow for kind, built once
// per stage and kind.
func (h *Handler) cachedResources(arn methodARN, kind gateway.KeyKind) []string {
	cacheKey := resourcesKey{stage: arn.base, kind: kind}
	h.mu.Lock()
	defer h.mu.Unlock()
	r, ok := h.resources[cacheKey]
	if !ok {
		if len(h.resources) >= 64 {
			clear(h.resources)
		}
		r = arn.resources(kind)
		h.resources[cacheKey] = r
	}
	return r
}

// Refusal messages. They are rendered into JSON by a Gateway Response
// template without escaping, so none may contain a quote or a backslash.
var refusalMessages = map[gateway.Code]string{
	gateway.CodeMissingAuthorization: "Send your API key in the Authorization header (Bearer aistats_v1_sk_...) or the x-api-key header.",
	gateway.CodeInvalidKeyFormat:     "The API key is malformed. Check that it was copied whole.",
	gateway.CodeInvalidKey:           "The API key is not valid.",
	gateway.CodeKeyExpired:           "The API key has expired.",
	gateway.CodeKeyDisabled:          "The API key is disabled.",
	gateway.CodeKeyRevoked:           "The API key was revoked.",
	gateway.CodeWorkspaceDisabled:    "The workspace of this API key is disabled.",
}

// conflictMessage refuses a request whose two key headers disagree.
const conflictMessage = "The Authorization and x-api-key headers carry different keys; send one key."

func wrongKindMessage(kind gateway.KeyKind) string {
	if kind == gateway.KindInference {
		return "This route needs a management key (aistats_v1_mk_...), not an inference key."
	}
	return "This route needs an inference key (aistats_v1_sk_...), not a management key."
}
