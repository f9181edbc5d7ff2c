package authcontext

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aistats/edge/pkg/domain/access"
	"github.com/aistats/edge/pkg/domain/budget"
	"github.com/aistats/edge/pkg/domain/gateway"
)

// Context keys. They are part of the deployed contract between functions:
// rename one only together with Wire's JSON tags and every reader.
const (
	keyKID           = "kid"
	keyWorkspace     = "workspace"
	keyKind          = "kind"
	keyModels        = "models"
	keyProviders     = "providers"
	keyPlanModels    = "plan_models"
	keyPlanProviders = "plan_providers"
	keyScopes        = "scopes"
	keyRateLimit     = "ratelimit"
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

// Grant is what the key may use, for the allow-list checks of package access.
func (c Context) Grant() access.Grant {
	return access.Grant{Models: c.Models, Providers: c.Providers, PlanModels: c.PlanModels, PlanProviders: c.PlanProviders}
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
	// Budget and WorkspaceBudget are the key's and its workspace's token
	// and money limits, which the proxy reserves against; zero when none.
	Budget, WorkspaceBudget budget.Limits
	// BudgetSpent is set when the key's budget is used up: the integration
	// answers 429 budget_exceeded at once.
	BudgetSpent *BudgetSpent
	// TokenLimit is the tightest token budget after the proxy's reservation,
	// for the x-ratelimit-*-tokens headers; the proxy sets it, not the
	// authorizer, and it never travels in the context.
	TokenLimit *RateLimit
}

// Wire is the context as the authorizer returns it to API Gateway, which
// hands it to the integration as a map of strings: every value a string,
// lists joined by commas (names of models, providers and scopes never
// contain one), empty values left out (Decode reads a missing key as empty).
// It is a struct, not a map, because the authorizer builds one on every
// request: filling it allocates nothing but joined lists and the rate limit.
type Wire struct {
	KID           string `json:"kid,omitempty"`
	WorkspaceID   string `json:"workspace,omitempty"`
	Kind          string `json:"kind,omitempty"`
	Models        string `json:"models,omitempty"`
	Providers     string `json:"providers,omitempty"`
	PlanModels    string `json:"plan_models,omitempty"`
	PlanProviders string `json:"plan_providers,omitempty"`
	Scopes        string `json:"scopes,omitempty"`
	// RateLimit is the tightest limit as "name:limit:remaining:reset"
	// (seconds): one value, not four, to build and to pass.
	RateLimit   string `json:"ratelimit,omitempty"`
	RateLimited string `json:"rate_limited,omitempty"`
	// Budget and WorkspaceBudget are limits as "tpm:tpd:cpd:cpmo:cl";
	// BudgetSpent is "name:reset".
	Budget          string `json:"budget,omitempty"`
	WorkspaceBudget string `json:"ws_budget,omitempty"`
	BudgetSpent     string `json:"budget_spent,omitempty"`
	// Code and Message carry a refusal's reason in a Deny; the ACCESS_DENIED
	// Gateway Response in template.yaml renders them.
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// Wire renders c for API Gateway.
func (c Context) Wire() Wire {
	w := Wire{
		KID: c.KID, WorkspaceID: c.WorkspaceID, Kind: string(c.Kind),
		Models: join(c.Models), Providers: join(c.Providers),
		PlanModels: join(c.PlanModels), PlanProviders: join(c.PlanProviders),
		Scopes: join(c.Scopes),
	}
	if rl := c.RateLimit; rl != nil {
		b := make([]byte, 0, 64)
		b = append(b, rl.Name...)
		b = strconv.AppendInt(append(b, ':'), rl.Limit, 10)
		b = strconv.AppendInt(append(b, ':'), rl.Remaining, 10)
		b = strconv.AppendInt(append(b, ':'), rl.ResetSeconds, 10)
		w.RateLimit = string(b)
	}
	if c.RateLimited {
		w.RateLimited = "true"
	}
	w.Budget, w.WorkspaceBudget, w.BudgetSpent = encodeBudget(c.Budget), encodeBudget(c.WorkspaceBudget), encodeSpent(c.BudgetSpent)
	return w
}

func join(list []string) string {
	if len(list) == 1 {
		return list[0] // no copy for the common "*"
	}
	return strings.Join(list, ",")
}

// Map returns w as API Gateway passes it to an integration: the non-empty
// values under their JSON names. Tests and the local emulators use it to
// build integration events.
func (w Wire) Map() map[string]any {
	m := map[string]any{}
	for k, v := range map[string]string{
		keyKID: w.KID, keyWorkspace: w.WorkspaceID, keyKind: w.Kind,
		keyModels: w.Models, keyProviders: w.Providers, keyPlanModels: w.PlanModels, keyPlanProviders: w.PlanProviders,
		keyScopes: w.Scopes, keyRateLimit: w.RateLimit, keyRateLimited: w.RateLimited, KeyCode: w.Code, KeyMessage: w.Message,
		keyBudget: w.Budget, keyWorkspaceBudget: w.WorkspaceBudget, keyBudgetSpent: w.BudgetSpent,
	} {
		if v != "" {
			m[k] = v
		}
	}
	return m
}

// Encode is c as an integration receives it: c.Wire().Map().
func (c Context) Encode() map[string]any { return c.Wire().Map() }

// Refusal renders a refused key's reason for a Deny. The message is put into
// JSON by a Gateway Response template without escaping, so it must not
// contain characters that need escaping in a JSON string.
func Refusal(code gateway.Code, message string) Wire {
	return Wire{Code: string(code), Message: message}
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
	if s := get(keyRateLimit); s != "" {
		rl, err := decodeRateLimit(s)
		if err != nil {
			return Context{}, fmt.Errorf("authorizer context has a malformed rate limit %q: %w", s, err)
		}
		c.RateLimit = &rl
	}
	if c.RateLimited && c.RateLimit == nil {
		return Context{}, errors.New("authorizer context is rate limited without a limit")
	}
	var err1, err2, err3 error
	c.Budget, err1 = decodeBudget(get(keyBudget))
	c.WorkspaceBudget, err2 = decodeBudget(get(keyWorkspaceBudget))
	c.BudgetSpent, err3 = decodeSpent(get(keyBudgetSpent))
	if err := errors.Join(err1, err2, err3); err != nil {
		return Context{}, fmt.Errorf("authorizer context has a malformed budget: %w", err)
	}
	return c, nil
}

// decodeRateLimit reads "name:limit:remaining:reset".
func decodeRateLimit(s string) (RateLimit, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 4 || parts[0] == "" {
		return RateLimit{}, errors.New("want name:limit:remaining:reset")
	}
	rl := RateLimit{Name: parts[0]}
	var err1, err2, err3 error
	rl.Limit, err1 = strconv.ParseInt(parts[1], 10, 64)
	rl.Remaining, err2 = strconv.ParseInt(parts[2], 10, 64)
	rl.ResetSeconds, err3 = strconv.ParseInt(parts[3], 10, 64)
	return rl, errors.Join(err1, err2, err3)
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
	if tl := c.TokenLimit; tl != nil {
		h["x-ratelimit-limit-tokens"] = strconv.FormatInt(tl.Limit, 10)
		h["x-ratelimit-remaining-tokens"] = strconv.FormatInt(tl.Remaining, 10)
		h["x-ratelimit-reset-tokens"] = (time.Duration(tl.ResetSeconds) * time.Second).String()
	}
	return h
}

// ErrorResponse renders err as a proxy response with the body of docs/architecture.md §4.
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
	if c.BudgetSpent != nil {
		headers := c.Headers(requestID)
		headers["Retry-After"] = c.BudgetSpent.retryAfter()
		resp := ErrorResponse(c.spentError(), headers, requestID)
		return c, &resp
	}
	if c.RateLimited {
		rl := c.RateLimit
		e := gateway.Errorf(gateway.CodeRateLimitExceeded,
			"Rate limit reached: %s is %d. Retry after %d seconds.", rl.Name, rl.Limit, rl.ResetSeconds)
		resp := ErrorResponse(e, c.Headers(requestID), requestID)
		return c, &resp
	}
	return c, nil
}
