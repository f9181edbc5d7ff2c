package authcontext

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aistats/edge/pkg/gateway"
)

// Context keys. They are part of the deployed contract between functions:
// rename one only together with every reader.
const (
	keyKID           = "kid"
	keyWorkspace     = "workspace"
	keyKind          = "kind"
	keyModels        = "models"
	keyProviders     = "providers"
	keyPlanModels    = "plan_models"
	keyPlanProviders = "plan_providers"
	keyScopes        = "scopes"
	keyLimitName     = "ratelimit_name"
	keyLimit         = "ratelimit_limit"
	keyRemaining     = "ratelimit_remaining"
	keyReset         = "ratelimit_reset"
	keyRateLimited   = "rate_limited"
	// KeyCode and KeyMessage carry a refusal's reason in a Deny; the
	// ACCESS_DENIED Gateway Response in template.yaml renders them.
	KeyCode    = "code"
	KeyMessage = "message"
)

// RateLimit is the standing of the tightest limit on a request.
type RateLimit struct {
	// Name is the limit's name (requests_per_minute, …).
	Name      string
	Limit     int64
	Remaining int64
	// ResetSeconds is how long until the window resets, rounded up.
	ResetSeconds int64
}

// Context is what the authorizer tells an integration about a request.
type Context struct {
	KID         string
	WorkspaceID string
	Kind        gateway.KeyKind
	// Models and Providers are the key's own allow-lists; empty means the
	// plan's. PlanModels and PlanProviders are the workspace plan's ("*"
	// allows all).
	Models, Providers         []string
	PlanModels, PlanProviders []string
	Scopes                    []string
	// RateLimit is the tightest limit; nil when the key has none.
	RateLimit *RateLimit
	// RateLimited is set when a limit refused the request: the integration
	// must answer 429 at once.
	RateLimited bool
}

// Encode renders c as an authorizer context: strings only, lists joined by
// commas (names of models, providers and scopes never contain one).
func (c Context) Encode() map[string]any {
	m := make(map[string]any, 13) // sized once: this runs on every request
	m[keyKID] = c.KID
	m[keyWorkspace] = c.WorkspaceID
	m[keyKind] = string(c.Kind)
	// Empty lists are left out: Decode reads a missing key as empty, and
	// every entry costs an allocation on the hot path.
	setList(m, keyModels, c.Models)
	setList(m, keyProviders, c.Providers)
	setList(m, keyPlanModels, c.PlanModels)
	setList(m, keyPlanProviders, c.PlanProviders)
	setList(m, keyScopes, c.Scopes)
	if c.RateLimit != nil {
		m[keyLimitName] = c.RateLimit.Name
		m[keyLimit] = strconv.FormatInt(c.RateLimit.Limit, 10)
		m[keyRemaining] = strconv.FormatInt(c.RateLimit.Remaining, 10)
		m[keyReset] = strconv.FormatInt(c.RateLimit.ResetSeconds, 10)
	}
	if c.RateLimited {
		m[keyRateLimited] = "true"
	}
	return m
}

func setList(m map[string]any, key string, list []string) {
	if len(list) > 0 {
		m[key] = strings.Join(list, ",")
	}
}

// Refusal renders a refused key's reason for a Deny. The message is put into
// JSON by a Gateway Response template without escaping, so it must not
// contain characters that need escaping in a JSON string.
func Refusal(code gateway.Code, message string) map[string]any {
	return map[string]any{KeyCode: string(code), KeyMessage: message}
}

// SafeForTemplate reports whether s can be placed inside a JSON string
// verbatim.
func SafeForTemplate(s string) bool {
	for _, r := range s {
		if r == '"' || r == '\\' || r < 0x20 {
			return false
		}
	}
	return true
}

func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// Decode reads the context API Gateway passed to an integration.
func Decode(m map[string]any) (Context, error) {
	get := func(k string) string {
		s, _ := m[k].(string)
		return s
	}
	c := Context{
		KID:           get(keyKID),
		WorkspaceID:   get(keyWorkspace),
		Kind:          gateway.KeyKind(get(keyKind)),
		Models:        split(get(keyModels)),
		Providers:     split(get(keyProviders)),
		PlanModels:    split(get(keyPlanModels)),
		PlanProviders: split(get(keyPlanProviders)),
		Scopes:        split(get(keyScopes)),
		RateLimited:   get(keyRateLimited) == "true",
	}
	if c.KID == "" || c.WorkspaceID == "" || (c.Kind != gateway.KindInference && c.Kind != gateway.KindManagement) {
		return Context{}, errors.New("authorizer context lacks kid, workspace or kind")
	}
	if name := get(keyLimitName); name != "" {
		rl := RateLimit{Name: name}
		var err1, err2, err3 error
		rl.Limit, err1 = strconv.ParseInt(get(keyLimit), 10, 64)
		rl.Remaining, err2 = strconv.ParseInt(get(keyRemaining), 10, 64)
		rl.ResetSeconds, err3 = strconv.ParseInt(get(keyReset), 10, 64)
		if err := errors.Join(err1, err2, err3); err != nil {
			return Context{}, fmt.Errorf("authorizer context has a malformed rate limit: %w", err)
		}
		c.RateLimit = &rl
	}
	if c.RateLimited && c.RateLimit == nil {
		return Context{}, errors.New("authorizer context is rate limited without a limit")
	}
	return c, nil
}

// Headers returns the headers every response of an integration carries: the
// request id and, where the context has them, the RateLimit headers.
func (c Context) Headers(requestID string) map[string]string {
	h := map[string]string{"x-request-id": requestID}
	if rl := c.RateLimit; rl != nil {
		reset := strconv.FormatInt(rl.ResetSeconds, 10)
		h["RateLimit-Limit"] = strconv.FormatInt(rl.Limit, 10)
		h["RateLimit-Remaining"] = strconv.FormatInt(rl.Remaining, 10)
		h["RateLimit-Reset"] = reset
		h["x-ratelimit-limit-requests"] = h["RateLimit-Limit"]
		h["x-ratelimit-remaining-requests"] = h["RateLimit-Remaining"]
		h["x-ratelimit-reset-requests"] = (time.Duration(rl.ResetSeconds) * time.Second).String()
		if c.RateLimited {
			h["Retry-After"] = reset
		}
	}
	return h
}

// ErrorResponse renders err as a proxy response with the body of DESIGN.md §3.
func ErrorResponse(err error, headers map[string]string, requestID string) events.APIGatewayProxyResponse {
	if headers == nil {
		headers = map[string]string{"x-request-id": requestID}
	}
	headers["Content-Type"] = "application/json"
	return events.APIGatewayProxyResponse{
		StatusCode: gateway.HTTPStatus(gateway.ErrorCode(err)),
		Headers:    headers,
		Body:       string(gateway.MarshalErrorBody(err, requestID)),
	}
}

// Check is what every integration runs first. It decodes the authorizer's
// context; when the request was rate limited it returns the 429 to send at
// once, with Retry-After and the RateLimit headers. A request that arrives
// without a valid context is refused with 500: it means the API is wired
// wrongly, and failing closed is the only safe answer.
func Check(req events.APIGatewayProxyRequest) (Context, *events.APIGatewayProxyResponse) {
	requestID := req.RequestContext.RequestID
	c, err := Decode(req.RequestContext.Authorizer)
	if err != nil {
		resp := ErrorResponse(gateway.Internal(err), nil, requestID)
		return Context{}, &resp
	}
	if c.RateLimited {
		rl := c.RateLimit
		e := gateway.Errorf(gateway.CodeRateLimited,
			"Rate limit reached: %s is %d. Retry after %d seconds.", rl.Name, rl.Limit, rl.ResetSeconds)
		resp := ErrorResponse(e, c.Headers(requestID), requestID)
		return c, &resp
	}
	return c, nil
}
