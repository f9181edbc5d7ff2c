package apigateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/aistats/edge/internal/local/samtemplate"
)

// ResponseType is one of API Gateway's own answers.
type ResponseType string

// The response types the emulator can produce, with API Gateway's default
// status and message for each.
const (
	Unauthorized                 ResponseType = "UNAUTHORIZED"
	AccessDenied                 ResponseType = "ACCESS_DENIED"
	AuthorizerFailure            ResponseType = "AUTHORIZER_FAILURE"
	AuthorizerConfigurationError ResponseType = "AUTHORIZER_CONFIGURATION_ERROR"
	MissingAuthenticationToken   ResponseType = "MISSING_AUTHENTICATION_TOKEN"
	RequestTooLarge              ResponseType = "REQUEST_TOO_LARGE"
	IntegrationTimeout           ResponseType = "INTEGRATION_TIMEOUT"
	// integrationFailure is how API Gateway answers a Lambda proxy function
	// that failed or returned a malformed response: 502 through DEFAULT_5XX.
	integrationFailure ResponseType = "DEFAULT_5XX"
	default4XX         ResponseType = "DEFAULT_4XX"
	default5XX         ResponseType = "DEFAULT_5XX"
)

type responseDefault struct {
	status    int
	message   string
	errorType string // x-amzn-ErrorType
}

var responseDefaults = map[ResponseType]responseDefault{
	Unauthorized:                 {401, "Unauthorized", "UnauthorizedException"},
	AccessDenied:                 {403, "User is not authorized to access this resource", "AccessDeniedException"},
	AuthorizerFailure:            {500, "Internal server error", "AuthorizerFailureException"},
	AuthorizerConfigurationError: {500, "Internal server error", "AuthorizerConfigurationException"},
	MissingAuthenticationToken:   {403, "Missing Authentication Token", "MissingAuthenticationTokenException"},
	RequestTooLarge:              {413, "Request Too Long", "RequestTooLargeException"},
	IntegrationTimeout:           {504, "Endpoint request timed out", "InternalServerErrorException"},
	integrationFailure:           {502, "Internal server error", "InternalServerErrorException"},
}

// builtinTemplate is API Gateway's body when no Gateway Response applies.
const builtinTemplate = `{"message":$context.error.messageString}`

// renderEnv holds what a Gateway Response may read.
type renderEnv struct {
	context map[string]string // context.* variables, authorizer.* included when visible
	headers http.Header
	query   map[string]string
	path    map[string]string
}

// contextRef matches a $context reference in a body template, in the forms
// $context.a.b, $!context.a.b and ${context.a.b}.
var contextRef = regexp.MustCompile(`\$!?(\{context((?:\.[A-Za-z0-9_-]+)+)\}|context((?:\.[A-Za-z0-9_-]+)+))`)

// renderTemplate fills a body template. Only $context references are
// supported; any other VTL ($util, #if, …) is refused when the emulator
// starts, rather than rendered wrongly.
func renderTemplate(tpl string, env renderEnv) string {
	return contextRef.ReplaceAllStringFunc(tpl, func(ref string) string {
		m := contextRef.FindStringSubmatch(ref)
		name := m[2]
		if name == "" {
			name = m[3]
		}
		return env.context[strings.TrimPrefix(name, ".")]
	})
}

// checkTemplate reports VTL the emulator cannot render faithfully.
func checkTemplate(tpl string) error {
	rest := contextRef.ReplaceAllString(tpl, "")
	if i := strings.IndexAny(rest, "$#"); i >= 0 {
		end := min(i+20, len(rest))
		return fmt.Errorf("unsupported template syntax near %q: only $context references are emulated", rest[i:end])
	}
	return nil
}

// mapHeaderValue evaluates a Gateway Response header mapping expression.
func mapHeaderValue(expr string, env renderEnv) (string, error) {
	switch {
	case len(expr) >= 2 && expr[0] == '\'' && expr[len(expr)-1] == '\'':
		return expr[1 : len(expr)-1], nil
	case strings.HasPrefix(expr, "context."):
		return env.context[strings.TrimPrefix(expr, "context.")], nil
	case strings.HasPrefix(expr, "method.request.header."):
		return env.headers.Get(strings.TrimPrefix(expr, "method.request.header.")), nil
	case strings.HasPrefix(expr, "method.request.querystring."):
		return env.query[strings.TrimPrefix(expr, "method.request.querystring.")], nil
	case strings.HasPrefix(expr, "method.request.path."):
		return env.path[strings.TrimPrefix(expr, "method.request.path.")], nil
	}
	return "", fmt.Errorf("unsupported header mapping expression %q", expr)
}

// checkGatewayResponses refuses, at start-up, anything the emulator would not
// render the way API Gateway does.
func checkGatewayResponses(responses map[string]samtemplate.GatewayResponse) error {
	for typ, gr := range responses {
		for name, expr := range gr.Headers {
			if _, err := mapHeaderValue(expr, renderEnv{headers: http.Header{}}); err != nil {
				return fmt.Errorf("gateway response %s header %s: %w", typ, name, err)
			}
		}
		for ct, tpl := range gr.Templates {
			if err := checkTemplate(tpl); err != nil {
				return fmt.Errorf("gateway response %s template %s: %w", typ, ct, err)
			}
		}
	}
	return nil
}

// gatewayResponse writes API Gateway's own answer of type typ. Only
// ACCESS_DENIED sees the authorizer's context: that is what API Gateway
// offers, and the reason the authorizer answers refusals with a Deny.
func (s *Server) gatewayResponse(w http.ResponseWriter, typ ResponseType, message string, env renderEnv, authorizerContext map[string]string) {
	def := responseDefaults[typ]
	if message == "" {
		message = def.message
	}
	quoted, _ := json.Marshal(message)
	env.context["error.message"] = message
	env.context["error.messageString"] = string(quoted)
	env.context["error.responseType"] = string(typ)
	if typ == AccessDenied {
		for k, v := range authorizerContext {
			env.context["authorizer."+k] = v
		}
	}

	status := def.status
	specific, hasSpecific := s.api.GatewayResponses[string(typ)]
	fallbackType := default4XX
	if status >= 500 {
		fallbackType = default5XX
	}
	fallback, hasFallback := s.api.GatewayResponses[string(fallbackType)]
	chosen := samtemplate.GatewayResponse{Templates: map[string]string{"application/json": builtinTemplate}}
	switch {
	case hasSpecific:
		chosen = specific
		if len(chosen.Templates) == 0 && hasFallback {
			chosen.Templates = fallback.Templates
		}
	case hasFallback:
		chosen = fallback
	}
	if hasSpecific && specific.StatusCode != 0 {
		status = specific.StatusCode
	} else if !hasSpecific && hasFallback && fallback.StatusCode != 0 {
		status = fallback.StatusCode
	}

	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("x-amzn-RequestId", env.context["requestId"])
	h.Set("x-amzn-ErrorType", def.errorType)
	for name, expr := range chosen.Headers {
		v, err := mapHeaderValue(expr, env)
		if err == nil && v != "" {
			h.Set(name, v)
		}
	}
	tpl, ok := chosen.Templates["application/json"]
	if !ok {
		for _, t := range chosen.Templates {
			tpl = t
			break
		}
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(renderTemplate(tpl, env)))
	s.log.Info("gateway response", "request_id", env.context["requestId"], "type", string(typ), "status", status)
}
