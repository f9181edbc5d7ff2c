package samtemplate

import (
	"fmt"
	"sort"
	"strings"
)

// API is what an AWS::Serverless::Api and the functions wired to it declare:
// everything the local API Gateway emulator needs to behave like the
// deployed one.
type API struct {
	LogicalID string
	StageName string
	// Authorizer is the default authorizer; nil when the API has none.
	Authorizer *Authorizer
	Routes     []Route
	// GatewayResponses by response type (UNAUTHORIZED, DEFAULT_4XX, …).
	GatewayResponses map[string]GatewayResponse
	// BinaryMediaTypes are the request content types API Gateway hands a
	// proxy integration base64-encoded ("multipart/form-data", "image/*").
	BinaryMediaTypes []string
}

// Authorizer is a Lambda REQUEST authorizer.
type Authorizer struct {
	Name string
	// FunctionID is the logical id of the authorizer's function.
	FunctionID string
	// IdentityHeaders must all be present and non-empty, or API Gateway
	// answers 401 itself without calling the authorizer.
	IdentityHeaders  []string
	ReauthorizeEvery int64
}

// Route is one method on one resource path, served by a function.
type Route struct {
	Method string // upper case, or ANY
	// Path is the resource path below the stage, e.g. /keys/{kid}.
	Path       string
	FunctionID string
	// Authorized is false for routes declared with Auth: {Authorizer: NONE}.
	Authorized bool
	// Streaming marks a route whose integration streams its response: an Api
	// event with ResponseTransferMode RESPONSE_STREAM, or responseTransferMode
	// STREAM in the API's DefinitionBody.
	Streaming bool
}

// GatewayResponse is the answer API Gateway gives itself for one response type.
type GatewayResponse struct {
	// StatusCode replaces the type's default status; 0 keeps it.
	StatusCode int
	// Headers maps a header name to a mapping expression: 'static',
	// context.x or method.request.header.x.
	Headers map[string]string
	// Templates maps a content type to a body template.
	Templates map[string]string
}

// API returns the API with the given logical id.
func (t *Template) API(logicalID string) (*API, error) {
	res, ok := t.Resources[logicalID]
	if !ok || res.Type != "AWS::Serverless::Api" {
		return nil, fmt.Errorf("template has no AWS::Serverless::Api %s", logicalID)
	}
	api := &API{LogicalID: logicalID, StageName: String(res.Properties, "StageName"), GatewayResponses: map[string]GatewayResponse{}}
	if api.StageName == "" {
		return nil, fmt.Errorf("api %s: no StageName", logicalID)
	}
	if name := String(res.Properties, "Auth", "DefaultAuthorizer"); name != "" {
		a, err := parseAuthorizer(res.Properties, name)
		if err != nil {
			return nil, fmt.Errorf("api %s: %w", logicalID, err)
		}
		api.Authorizer = a
	}
	if raw, ok := Lookup(res.Properties, "GatewayResponses"); ok {
		m, ok := raw.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("api %s: GatewayResponses is not a mapping", logicalID)
		}
		for typ, v := range m {
			gr, err := parseGatewayResponse(v)
			if err != nil {
				return nil, fmt.Errorf("api %s: gateway response %s: %w", logicalID, typ, err)
			}
			api.GatewayResponses[typ] = gr
		}
	}
	if raw, ok := Lookup(res.Properties, "BinaryMediaTypes"); ok {
		list, _ := raw.([]any)
		for _, v := range list {
			mt, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("api %s: BinaryMediaTypes holds a non-string", logicalID)
			}
			// SAM writes "/" as "~1" (a JSON Pointer escape) here.
			api.BinaryMediaTypes = append(api.BinaryMediaTypes, strings.ReplaceAll(mt, "~1", "/"))
		}
	}
	defined, err := t.definitionRoutes(res.Properties, api.Authorizer)
	if err != nil {
		return nil, fmt.Errorf("api %s: %w", logicalID, err)
	}
	api.Routes = append(api.Routes, defined...)
	// SAM adds a function's Api events to an API that has its own
	// DefinitionBody only when MergeDefinitions is true; otherwise it drops
	// them without a word and the deployed API lacks those routes.
	_, hasBody := Lookup(res.Properties, "DefinitionBody")
	merge, _ := Lookup(res.Properties, "MergeDefinitions")
	eventsDeployed := !hasBody || merge == true
	seen := map[string]bool{}
	for _, r := range api.Routes {
		seen[r.Method+" "+r.Path] = true
	}
	for _, fnID := range t.OfType("AWS::Serverless::Function") {
		events, _ := Lookup(t.Resources[fnID].Properties, "Events")
		evMap, _ := events.(map[string]any)
		names := make([]string, 0, len(evMap))
		for name := range evMap {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			ev := evMap[name]
			if String(ev, "Type") != "Api" {
				continue
			}
			restAPI, _ := Lookup(ev, "Properties", "RestApiId")
			if target, _ := RefTarget(restAPI); target != logicalID {
				continue
			}
			r := Route{
				Method:     strings.ToUpper(String(ev, "Properties", "Method")),
				Path:       String(ev, "Properties", "Path"),
				FunctionID: fnID,
				Authorized: api.Authorizer != nil && String(ev, "Properties", "Auth", "Authorizer") != "NONE",
				// SAM's name for STREAM; it also switches the integration to
				// InvokeWithResponseStream.
				Streaming: String(ev, "Properties", "ResponseTransferMode") == "RESPONSE_STREAM",
			}
			if r.Method == "" || !strings.HasPrefix(r.Path, "/") {
				return nil, fmt.Errorf("function %s event %s: Method and Path (starting with /) are required", fnID, name)
			}
			if !eventsDeployed {
				return nil, fmt.Errorf("function %s event %s: api %s has a DefinitionBody without MergeDefinitions: true, so SAM would not deploy this route", fnID, name, logicalID)
			}
			if seen[r.Method+" "+r.Path] {
				return nil, fmt.Errorf("function %s event %s: %s %s is declared twice on api %s", fnID, name, r.Method, r.Path, logicalID)
			}
			seen[r.Method+" "+r.Path] = true
			api.Routes = append(api.Routes, r)
		}
	}
	return api, nil
}

// definitionRoutes reads the Lambda proxy routes declared in the API's
// DefinitionBody (OpenAPI with x-amazon-apigateway-integration): the routes
// SAM events cannot express, such as streaming integrations.
func (t *Template) definitionRoutes(props map[string]any, authorizer *Authorizer) ([]Route, error) {
	paths, ok := Lookup(props, "DefinitionBody", "paths")
	if !ok {
		return nil, nil
	}
	pathMap, ok := paths.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("DefinitionBody.paths is not a mapping")
	}
	var routes []Route
	for path, ops := range pathMap {
		opMap, _ := ops.(map[string]any)
		for method, op := range opMap {
			integration, ok := Lookup(op, "x-amazon-apigateway-integration")
			if !ok {
				return nil, fmt.Errorf("%s %s has no x-amazon-apigateway-integration", method, path)
			}
			if String(integration, "type") != "aws_proxy" {
				return nil, fmt.Errorf("%s %s: only aws_proxy integrations are emulated", method, path)
			}
			uri, _ := Lookup(integration, "uri")
			fnID := t.functionInURI(uri)
			if fnID == "" {
				return nil, fmt.Errorf("%s %s: the integration uri names no function of this template", method, path)
			}
			r := Route{Method: strings.ToUpper(method), Path: path, FunctionID: fnID,
				Streaming: String(integration, "responseTransferMode") == "STREAM"}
			if authorizer != nil {
				security, _ := Lookup(op, "security")
				list, _ := security.([]any)
				for _, req := range list {
					if _, ok := Lookup(req, authorizer.Name); ok {
						r.Authorized = true
					}
				}
			}
			routes = append(routes, r)
		}
	}
	sort.Slice(routes, func(i, j int) bool { return routes[i].Method+routes[i].Path < routes[j].Method+routes[j].Path })
	return routes, nil
}

// functionInURI finds the function whose ARN an integration uri (!Sub)
// interpolates.
func (t *Template) functionInURI(uri any) string {
	in, ok := uri.(Intrinsic)
	if !ok || in.Name != "Fn::Sub" {
		return ""
	}
	s, _ := in.Value.(string)
	for _, id := range t.OfType("AWS::Serverless::Function") {
		if strings.Contains(s, "${"+id+".Arn}") {
			return id
		}
	}
	return ""
}

func parseAuthorizer(props map[string]any, name string) (*Authorizer, error) {
	def, ok := Lookup(props, "Auth", "Authorizers", name)
	if !ok {
		return nil, fmt.Errorf("default authorizer %s is not declared", name)
	}
	if typ := String(def, "FunctionPayloadType"); typ != "REQUEST" {
		return nil, fmt.Errorf("authorizer %s: FunctionPayloadType %q, only REQUEST is supported", name, typ)
	}
	arn, _ := Lookup(def, "FunctionArn")
	fnID, ok := RefTarget(arn)
	if !ok {
		return nil, fmt.Errorf("authorizer %s: FunctionArn must be !GetAtt <Function>.Arn", name)
	}
	a := &Authorizer{Name: name, FunctionID: fnID}
	headers, _ := Lookup(def, "Identity", "Headers")
	list, _ := headers.([]any)
	for _, h := range list {
		s, ok := h.(string)
		if !ok {
			return nil, fmt.Errorf("authorizer %s: identity header is not a string", name)
		}
		a.IdentityHeaders = append(a.IdentityHeaders, s)
	}
	// SAM's default is a 300 s cache; the emulator refuses to pretend it
	// caches, so the template must say 0.
	every, ok := Lookup(def, "Identity", "ReauthorizeEvery")
	if !ok {
		return nil, fmt.Errorf("authorizer %s: Identity.ReauthorizeEvery must be set (SAM defaults to caching for 300 s)", name)
	}
	n, ok := every.(int64)
	if !ok {
		return nil, fmt.Errorf("authorizer %s: ReauthorizeEvery is not a number", name)
	}
	a.ReauthorizeEvery = n
	return a, nil
}

func parseGatewayResponse(v any) (GatewayResponse, error) {
	gr := GatewayResponse{Headers: map[string]string{}, Templates: map[string]string{}}
	if code, ok := Lookup(v, "StatusCode"); ok {
		switch c := code.(type) {
		case int64:
			gr.StatusCode = int(c)
		case string:
			if _, err := fmt.Sscan(c, &gr.StatusCode); err != nil {
				return gr, fmt.Errorf("StatusCode %q is not a number", c)
			}
		default:
			return gr, fmt.Errorf("StatusCode is not a number")
		}
	}
	if err := readStrings(v, gr.Headers, "ResponseParameters", "Headers"); err != nil {
		return gr, err
	}
	if err := readStrings(v, gr.Templates, "ResponseTemplates"); err != nil {
		return gr, err
	}
	return gr, nil
}

// LoadAPI reads the template at path and returns its API logicalID.
func LoadAPI(path, logicalID string) (*API, error) {
	t, err := Load(path)
	if err != nil {
		return nil, err
	}
	return t.API(logicalID)
}

// readStrings copies the mapping of strings at path in v into into; a
// missing mapping is no error, anything but strings is.
func readStrings(v any, into map[string]string, path ...string) error {
	raw, ok := Lookup(v, path...)
	if !ok {
		return nil
	}
	where := strings.Join(path, ".")
	m, ok := raw.(map[string]any)
	if !ok {
		return fmt.Errorf("%s is not a mapping", where)
	}
	for k, v := range m {
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s.%s is not a string", where, k)
		}
		into[k] = s
	}
	return nil
}
