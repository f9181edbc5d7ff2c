package authorizer

import (
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// credential is what the request's key headers held.
type credential int

const (
	credentialMissing   credential = iota // neither header, or only empty ones
	credentialMalformed                   // Authorization not "Bearer <key>"
	credentialBearer                      // a key, from either header
	// credentialConflict is two different keys, one in each header: which
	// one the client meant is unknowable, so neither is used (and neither
	// is counted against its limits).
	credentialConflict
)

// XAPIKeyHeader is the header the Anthropic SDKs send the key in. OpenAI
// SDKs send Authorization: Bearer; every route accepts both.
const XAPIKeyHeader = "x-api-key"

// presentedKey finds the key a request carries, in Authorization: Bearer
// or in x-api-key, on every route. Header names match in any letter case,
// in the single- or multi-value headers; when both headers hold a key they
// must be the same one. It allocates nothing: it runs on every request.
func presentedKey(ev events.APIGatewayCustomAuthorizerRequestTypeRequest) (string, credential) {
	bearer, cred := bearerToken(ev)
	apiKey := strings.Trim(headerValue(ev, XAPIKeyHeader), " \t")
	switch {
	case cred == credentialMalformed:
		return "", cred
	case apiKey == "":
		return bearer, cred
	case cred == credentialMissing:
		return apiKey, credentialBearer
	case bearer != apiKey:
		return "", credentialConflict
	}
	return bearer, credentialBearer
}

// bearerToken finds the Authorization header and returns the key it
// carries. The scheme is followed by any run of spaces or tabs (RFC 9110
// §11.4).
func bearerToken(ev events.APIGatewayCustomAuthorizerRequestTypeRequest) (string, credential) {
	value := strings.Trim(headerValue(ev, "Authorization"), " \t")
	if value == "" {
		return "", credentialMissing
	}
	end := strings.IndexAny(value, " \t")
	if end < 0 || !strings.EqualFold(value[:end], "Bearer") {
		if strings.EqualFold(value, "Bearer") {
			return "", credentialMissing
		}
		return "", credentialMalformed // a bare key or another scheme
	}
	return strings.TrimLeft(value[end:], " \t"), credentialBearer
}

// headerValue returns the header called name in any letter case, from the
// single-value headers or else the last of the multi-value ones.
func headerValue(ev events.APIGatewayCustomAuthorizerRequestTypeRequest, name string) string {
	for k, v := range ev.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	for k, vs := range ev.MultiValueHeaders {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return vs[len(vs)-1]
		}
	}
	return ""
}
