package authorizer

import (
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// credential is what the Authorization header held.
type credential int

const (
	credentialMissing   credential = iota // no header, or an empty one
	credentialMalformed                   // not "Bearer <key>"
	credentialBearer
)

// bearerToken finds the Authorization header in any letter case, in the
// single- or multi-value headers, and returns the key it carries. The
// scheme is followed by any run of spaces or tabs (RFC 9110 §11.4).
func bearerToken(ev events.APIGatewayCustomAuthorizerRequestTypeRequest) (string, credential) {
	value, found := "", false
	for name, v := range ev.Headers {
		if strings.EqualFold(name, "Authorization") {
			value, found = v, true
		}
	}
	if !found {
		for name, vs := range ev.MultiValueHeaders {
			if strings.EqualFold(name, "Authorization") && len(vs) > 0 {
				value, found = vs[len(vs)-1], true
			}
		}
	}
	value = strings.Trim(value, " \t")
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
