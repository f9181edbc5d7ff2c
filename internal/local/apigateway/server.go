package apigateway

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/aistats/edge/internal/local/samtemplate"
)

// Function is a Lambda function as an invoke sees it: a JSON event in, a
// JSON result or an error out. lambda.NewHandler(h) satisfies it.
type Function interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

// Config configures a Server.
type Config struct {
	// API is the API declared in template.yaml.
	API *samtemplate.API
	// Functions maps a function's logical id to its implementation. A route
	// whose function is missing answers 502 and logs why.
	Functions map[string]Function
	// Region, AccountID and APIID make up the method ARN.
	Region, AccountID, APIID string
	// AuthorizerTimeout and IntegrationTimeout bound each invoke; API
	// Gateway's integration limit is 29 s.
	AuthorizerTimeout  time.Duration
	IntegrationTimeout time.Duration
	Logger             *slog.Logger
	Now                func() time.Time
}

// MaxPayloadBytes is API Gateway's request payload limit.
const MaxPayloadBytes = 10 << 20

// MaxInvokePayloadBytes is Lambda's limit for a synchronous invocation, in
// each direction: the whole event (body escaped or base64, headers, request
// context), and the whole buffered response. Beyond it Lambda refuses the
// invocation or fails the response, and API Gateway answers a 5xx: the
// emulator does the same, so a body or an answer that fits locally fits in
// AWS.
const MaxInvokePayloadBytes = 6 << 20

// Server serves an API with API Gateway REST semantics.
type Server struct {
	api       *samtemplate.API
	functions map[string]Function
	region    string
	account   string
	apiID     string
	authT     time.Duration
	intT      time.Duration
	log       *slog.Logger
	now       func() time.Time
}

// New checks cfg against what the emulator can faithfully reproduce and
// returns a Server.
func New(cfg Config) (*Server, error) {
	if cfg.API == nil {
		return nil, errors.New("apigateway: no API")
	}
	if a := cfg.API.Authorizer; a != nil && a.ReauthorizeEvery != 0 {
		return nil, fmt.Errorf("apigateway: authorizer %s caches results for %d s; only 0 is emulated", a.Name, a.ReauthorizeEvery)
	}
	if err := checkGatewayResponses(cfg.API.GatewayResponses); err != nil {
		return nil, fmt.Errorf("apigateway: %w", err)
	}
	s := &Server{
		api: cfg.API, functions: cfg.Functions,
		region: cfg.Region, account: cfg.AccountID, apiID: cfg.APIID,
		authT: cfg.AuthorizerTimeout, intT: cfg.IntegrationTimeout,
		log: cfg.Logger, now: cfg.Now,
	}
	if s.region == "" {
		s.region = "us-east-1"
	}
	if s.account == "" {
		s.account = "000000000000"
	}
	if s.apiID == "" {
		s.apiID = "local"
	}
	if s.authT == 0 {
		s.authT = 10 * time.Second
	}
	if s.intT == 0 {
		s.intT = 29 * time.Second
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// match finds the route for method and resource path, preferring literal
// segments over {parameters} as API Gateway does. Like the REST API, it
// serves a path with one trailing slash from the same resource and matches
// no resource for a path with any other empty segment (/v1//models); the
// authorizer's route check (routePath in pkg/handler/authorizer) follows the
// same rule, so the two agree on which key may call what.
func (s *Server) match(method, path string) (samtemplate.Route, map[string]string, bool) {
	segments := strings.Split(strings.TrimSuffix(strings.TrimPrefix(path, "/"), "/"), "/")
	if slices.Contains(segments, "") && path != "/" {
		return samtemplate.Route{}, nil, false
	}
	type candidate struct {
		route  samtemplate.Route
		params map[string]string
		score  int
	}
	var found []candidate
	for _, r := range s.api.Routes {
		if r.Method != method && r.Method != "ANY" {
			continue
		}
		pattern := strings.Split(strings.Trim(r.Path, "/"), "/")
		if len(pattern) != len(segments) {
			continue
		}
		params := map[string]string{}
		score, ok := 0, true
		for i, p := range pattern {
			switch {
			case strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}"):
				if segments[i] == "" {
					ok = false
				}
				params[p[1:len(p)-1]] = segments[i]
			case p == segments[i]:
				score++
			default:
				ok = false
			}
		}
		if ok {
			found = append(found, candidate{r, params, score})
		}
	}
	if len(found) == 0 {
		return samtemplate.Route{}, nil, false
	}
	sort.SliceStable(found, func(i, j int) bool { return found[i].score > found[j].score })
	return found[0].route, found[0].params, true
}

func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// ServeHTTP answers one request the way API Gateway would.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := s.now()
	requestID := newRequestID()
	env := renderEnv{
		context: map[string]string{
			"requestId": requestID, "extendedRequestId": requestID, "stage": s.api.StageName,
			"apiId": s.apiID, "accountId": s.account, "httpMethod": r.Method, "path": r.URL.Path,
			"domainName": r.Host, "identity.sourceIp": clientIP(r),
		},
		headers: r.Header,
		query:   firstValues(r.URL.Query()),
	}
	stagePrefix := "/" + s.api.StageName
	if r.URL.Path != stagePrefix && !strings.HasPrefix(r.URL.Path, stagePrefix+"/") {
		// No such stage: API Gateway answers before any Gateway Response.
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("x-amzn-RequestId", requestID)
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `{"message":"Forbidden"}`)
		return
	}
	resourcePath := strings.TrimPrefix(r.URL.Path, stagePrefix)
	if resourcePath == "" {
		resourcePath = "/"
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxPayloadBytes+1))
	if err != nil {
		s.gatewayResponse(w, default4XX, "Could not read the request body", env, nil)
		return
	}
	if len(body) > MaxPayloadBytes {
		s.gatewayResponse(w, RequestTooLarge, "", env, nil)
		return
	}
	route, params, ok := s.match(r.Method, resourcePath)
	if !ok {
		s.gatewayResponse(w, MissingAuthenticationToken, "", env, nil)
		return
	}
	env.path = params
	env.context["resourcePath"] = route.Path
	methodARN := fmt.Sprintf("arn:aws:execute-api:%s:%s:%s/%s/%s%s", s.region, s.account, s.apiID, s.api.StageName, r.Method, resourcePath)

	var authorizer map[string]any
	if route.Authorized {
		var done bool
		authorizer, done = s.authorize(w, r, route, params, methodARN, env)
		if done {
			return
		}
	}
	s.integrate(w, r, route, params, body, authorizer, env, start)
}

// authorize runs the REQUEST authorizer. It returns the context for the
// integration, or done=true when it has already answered.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, route samtemplate.Route, params map[string]string, methodARN string, env renderEnv) (map[string]any, bool) {
	a := s.api.Authorizer
	for _, h := range a.IdentityHeaders {
		if strings.TrimSpace(r.Header.Get(h)) == "" {
			// API Gateway never calls the authorizer without the identity source.
			s.gatewayResponse(w, Unauthorized, "", env, nil)
			return nil, true
		}
	}
	fn, ok := s.functions[a.FunctionID]
	if !ok {
		s.log.Error("authorizer function is not available in this build", "function", a.FunctionID)
		s.gatewayResponse(w, AuthorizerFailure, "", env, nil)
		return nil, true
	}
	event := events.APIGatewayCustomAuthorizerRequestTypeRequest{
		Type: "REQUEST", MethodArn: methodARN, Resource: route.Path, Path: r.URL.Path, HTTPMethod: r.Method,
		Headers: firstValues(r.Header), MultiValueHeaders: r.Header,
		QueryStringParameters: firstValues(r.URL.Query()), MultiValueQueryStringParameters: r.URL.Query(),
		PathParameters: params, StageVariables: map[string]string{},
		RequestContext: events.APIGatewayCustomAuthorizerRequestTypeRequestContext{
			Path: r.URL.Path, AccountID: s.account, ResourceID: route.Path, Stage: s.api.StageName,
			RequestID: env.context["requestId"], ResourcePath: route.Path, HTTPMethod: r.Method, APIID: s.apiID,
			Identity: events.APIGatewayCustomAuthorizerRequestTypeRequestIdentity{SourceIP: env.context["identity.sourceIp"]},
		},
	}
	payload, err := json.Marshal(event)
	if err != nil {
		s.gatewayResponse(w, AuthorizerFailure, "", env, nil)
		return nil, true
	}
	out, err := s.invoke(r.Context(), fn, payload, s.authT)
	if err != nil {
		if err.Error() == "Unauthorized" {
			// The one error message API Gateway maps to 401.
			s.gatewayResponse(w, Unauthorized, "", env, nil)
			return nil, true
		}
		s.log.Warn("authorizer failed", "request_id", env.context["requestId"], "error", err)
		s.gatewayResponse(w, AuthorizerFailure, "", env, nil)
		return nil, true
	}
	var resp struct {
		PrincipalID    string          `json:"principalId"`
		PolicyDocument *PolicyDocument `json:"policyDocument"`
		Context        map[string]any  `json:"context"`
	}
	if err := json.Unmarshal(out, &resp); err != nil || resp.PolicyDocument == nil || resp.PrincipalID == "" {
		s.log.Error("authorizer returned a malformed response", "request_id", env.context["requestId"], "error", err)
		s.gatewayResponse(w, AuthorizerConfigurationError, "", env, nil)
		return nil, true
	}
	contextStrings, err := stringifyContext(resp.Context)
	if err != nil {
		s.log.Error("authorizer context is invalid", "request_id", env.context["requestId"], "error", err)
		s.gatewayResponse(w, AuthorizerConfigurationError, "", env, nil)
		return nil, true
	}
	decision, err := Evaluate(*resp.PolicyDocument, methodARN)
	if err != nil {
		s.log.Error("authorizer policy is invalid", "request_id", env.context["requestId"], "error", err)
		s.gatewayResponse(w, AuthorizerConfigurationError, "", env, nil)
		return nil, true
	}
	if decision != Allow {
		message := "User is not authorized to access this resource"
		if decision == ExplicitDeny {
			message += " with an explicit deny"
		}
		s.gatewayResponse(w, AccessDenied, message, env, contextStrings)
		return nil, true
	}
	integrationContext := map[string]any{"principalId": resp.PrincipalID}
	for k, v := range contextStrings {
		integrationContext[k] = v
	}
	return integrationContext, false
}

// stringifyContext checks that every context value is a string, number or
// boolean, as API Gateway demands, and turns each into a string.
func stringifyContext(ctx map[string]any) (map[string]string, error) {
	out := make(map[string]string, len(ctx))
	for k, v := range ctx {
		switch v := v.(type) {
		case string:
			out[k] = v
		case bool:
			out[k] = strconv.FormatBool(v)
		case float64:
			out[k] = strconv.FormatFloat(v, 'f', -1, 64)
		default:
			return nil, fmt.Errorf("context key %q holds %T; only strings, numbers and booleans are allowed", k, v)
		}
	}
	return out, nil
}

// integrate invokes the route's function with the proxy event, buffered or
// streamed as the route says, and relays its answer.
func (s *Server) integrate(w http.ResponseWriter, r *http.Request, route samtemplate.Route, params map[string]string, body []byte, authorizer map[string]any, env renderEnv, start time.Time) {
	fn, ok := s.functions[route.FunctionID]
	if !ok {
		s.integrationFailed(w, env, route, "function is not available in this build", "route", route.Method+" "+route.Path)
		return
	}
	if authorizer != nil {
		authorizer["integrationLatency"] = s.now().Sub(start).Milliseconds()
	}
	payload, err := json.Marshal(s.proxyEvent(r, route, params, body, authorizer, env, start))
	if err != nil {
		s.integrationFailed(w, env, route, "could not encode the event", "error", err)
		return
	}
	if len(payload) > MaxInvokePayloadBytes {
		s.integrationFailed(w, env, route, "the event is larger than Lambda accepts", "bytes", len(payload))
		return
	}
	if route.Streaming {
		s.integrateStream(w, r, fn, route, payload, env)
		return
	}
	s.integrateBuffered(w, r, fn, route, payload, env)
}

// proxyEvent is the Lambda proxy event API Gateway sends the integration.
func (s *Server) proxyEvent(r *http.Request, route samtemplate.Route, params map[string]string, body []byte, authorizer map[string]any, env renderEnv, start time.Time) events.APIGatewayProxyRequest {
	event := events.APIGatewayProxyRequest{
		Resource: route.Path, Path: strings.TrimPrefix(r.URL.Path, "/"+s.api.StageName), HTTPMethod: r.Method,
		Headers: firstValues(r.Header), MultiValueHeaders: r.Header,
		QueryStringParameters: firstValues(r.URL.Query()), MultiValueQueryStringParameters: r.URL.Query(),
		PathParameters: params, Body: string(body),
		RequestContext: events.APIGatewayProxyRequestContext{
			AccountID: s.account, ResourceID: route.Path, Stage: s.api.StageName, RequestID: env.context["requestId"],
			ExtendedRequestID: env.context["requestId"], ResourcePath: route.Path, Path: r.URL.Path,
			HTTPMethod: r.Method, APIID: s.apiID, Authorizer: authorizer, DomainName: r.Host, Protocol: r.Proto,
			RequestTimeEpoch: start.UnixMilli(),
			Identity:         events.APIGatewayRequestIdentity{SourceIP: env.context["identity.sourceIp"], UserAgent: r.UserAgent()},
		},
	}
	if len(params) == 0 {
		event.PathParameters = nil
	}
	if s.binaryMediaType(r.Header.Get("Content-Type")) {
		// API Gateway hands a body of a binary media type to a proxy
		// integration base64-encoded, and flags it.
		event.Body, event.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	return event
}

// binaryMediaType reports whether a request's Content-Type is one of the
// API's binaryMediaTypes, which may end in a wildcard ("image/*", "*/*").
func (s *Server) binaryMediaType(contentType string) bool {
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	for _, bt := range s.api.BinaryMediaTypes {
		if bt == mediaType || bt == "*/*" || (strings.HasSuffix(bt, "/*") && strings.HasPrefix(mediaType, strings.TrimSuffix(bt, "*"))) {
			return true
		}
	}
	return false
}

// integrateStream invokes fn with response streaming and relays the stream.
func (s *Server) integrateStream(w http.ResponseWriter, r *http.Request, fn Function, route samtemplate.Route, payload []byte, env renderEnv) {
	sf, ok := fn.(StreamingFunction)
	if !ok {
		s.integrationFailed(w, env, route, "function cannot stream but its route is a STREAM integration")
		return
	}
	// A streamed response may outlive the buffered 29 s limit; the
	// client's disconnect cancels it.
	ctx := lambdacontext.NewContext(r.Context(), &lambdacontext.LambdaContext{AwsRequestID: newRequestID()})
	out, err := sf.InvokeStream(ctx, payload)
	if err != nil {
		s.integrationFailed(w, env, route, "function failed", "error", err)
		return
	}
	s.streamResponse(w, out, env)
}

// integrateBuffered invokes fn within the integration timeout and relays
// its proxy response.
func (s *Server) integrateBuffered(w http.ResponseWriter, r *http.Request, fn Function, route samtemplate.Route, payload []byte, env renderEnv) {
	out, err := s.invoke(r.Context(), fn, payload, s.intT)
	if errors.Is(err, context.DeadlineExceeded) {
		s.gatewayResponse(w, IntegrationTimeout, "", env, nil)
		return
	}
	if err != nil {
		s.integrationFailed(w, env, route, "function failed", "error", err)
		return
	}
	if len(out) > MaxInvokePayloadBytes {
		s.integrationFailed(w, env, route, "the function's response is larger than Lambda returns", "bytes", len(out))
		return
	}
	var resp events.APIGatewayProxyResponse
	if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode < 100 || resp.StatusCode > 599 {
		s.integrationFailed(w, env, route, "function returned a malformed proxy response")
		return
	}
	respBody := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if respBody, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			s.integrationFailed(w, env, route, "function returned a body that is not base64", "error", err)
			return
		}
	}
	setIntegrationHeaders(w.Header(), resp.Headers, resp.MultiValueHeaders, env)
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(respBody)
}

// integrationFailed logs why an integration failed, with the request id and
// function, and answers as API Gateway does: 502 through DEFAULT_5XX.
func (s *Server) integrationFailed(w http.ResponseWriter, env renderEnv, route samtemplate.Route, why string, attrs ...any) {
	s.log.Error(why, append([]any{"request_id", env.context["requestId"], "function", route.FunctionID}, attrs...)...)
	s.gatewayResponse(w, integrationFailure, "", env, nil)
}

// setIntegrationHeaders copies an integration's headers as API Gateway does:
// multi-value headers first, single-value ones replacing them.
func setIntegrationHeaders(h http.Header, single map[string]string, multi map[string][]string, env renderEnv) {
	for k, vs := range multi {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	for k, v := range single {
		h.Set(k, v)
	}
	h.Set("x-amzn-RequestId", env.context["requestId"])
}

// invoke calls fn with a Lambda context carrying the request id and deadline,
// as the Lambda runtime would.
func (s *Server) invoke(ctx context.Context, fn Function, payload []byte, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: newRequestID()})
	type result struct {
		out []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := fn.Invoke(ctx, payload)
		done <- result{out, err}
	}()
	select {
	case res := <-done:
		return res.out, res.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func firstValues(m map[string][]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, vs := range m {
		if len(vs) > 0 {
			out[k] = vs[len(vs)-1]
		}
	}
	return out
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
