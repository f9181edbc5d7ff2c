package samtemplate_test

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aistats/edge/internal/local/samtemplate"
	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/domain/iampattern"
	"github.com/aistats/edge/pkg/handler/proxy"
)

// deployed renders template.yaml through the AWS SAM translator, the library
// `sam deploy` runs (infra/sam_transform.py), and returns its resources.
func deployed(t *testing.T) map[string]cfnResource {
	t.Helper()
	resources, err := renderOnce()
	if err != nil {
		t.Fatal(err)
	}
	return resources
}

// renderOnce runs the translator once per test binary (it takes a second).
var renderOnce = sync.OnceValues(func() (map[string]cfnResource, error) {
	cmd := exec.Command("python3", filepath.Join("..", "..", "..", "infra", "sam_transform.py"), filepath.Join("..", "..", "..", "template.yaml"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("the SAM translator could not render template.yaml (python3 needs aws-sam-translator: "+
			"run the tests through make test, which installs it into infra/.venv where it is missing): %w\n%s", err, stderr.String())
	}
	var cfn struct{ Resources map[string]cfnResource }
	if err := json.Unmarshal(out, &cfn); err != nil {
		return nil, err
	}
	return cfn.Resources, nil
})

type cfnResource struct {
	Type       string
	Properties map[string]any
}

var arnRef = regexp.MustCompile(`\$\{(\w+)\.Arn\}`)

// subString returns the template string of an Fn::Sub, in either form.
func subString(v any) string {
	m, _ := v.(map[string]any)
	switch s := m["Fn::Sub"].(type) {
	case string:
		return s
	case []any:
		str, _ := s[0].(string)
		return str
	}
	return ""
}

// TestDeployedAPIIsTheEmulatedAPI: what SAM deploys has exactly the routes
// the local emulator serves, each behind the authorizer and integrated with
// the same function (the chat route streaming), the same never-cached
// authorizer, and the same Gateway Responses, so nothing passes locally that
// would be missing or different in AWS.
func TestDeployedAPIIsTheEmulatedAPI(t *testing.T) {
	api, err := loadRepoTemplate(t).API("Api")
	if err != nil {
		t.Fatal(err)
	}
	resources := deployed(t)
	rest, ok := resources["Api"]
	if !ok || rest.Type != "AWS::ApiGateway::RestApi" {
		t.Fatalf("SAM made no AWS::ApiGateway::RestApi Api")
	}
	body, _ := rest.Properties["Body"].(map[string]any)

	emulated := map[string]string{}
	for _, r := range api.Routes {
		emulated[r.Method+" "+r.Path] = fmt.Sprintf("%s streaming=%v authorized=%v", r.FunctionID, r.Streaming, r.Authorized)
	}
	deployedRoutes := map[string]string{}
	paths, _ := body["paths"].(map[string]any)
	for path, ops := range paths {
		for method, op := range ops.(map[string]any) {
			integration, _ := samtemplate.Lookup(op, "x-amazon-apigateway-integration")
			fn := ""
			if m := arnRef.FindStringSubmatch(subString(mustMap(integration)["uri"])); m != nil {
				fn = m[1]
			}
			authorized := false
			security, _ := samtemplate.Lookup(op, "security")
			for _, req := range asSlice(security) {
				if _, ok := samtemplate.Lookup(req, api.Authorizer.Name); ok {
					authorized = true
				}
			}
			streaming := samtemplate.String(integration, "responseTransferMode") == "STREAM"
			if invokes := strings.HasSuffix(subString(mustMap(integration)["uri"]), "/response-streaming-invocations"); invokes != streaming {
				t.Errorf("%s %s: responseTransferMode STREAM is %v but InvokeWithResponseStream is %v", strings.ToUpper(method), path, streaming, invokes)
			}
			deployedRoutes[strings.ToUpper(method)+" "+path] = fmt.Sprintf("%s streaming=%v authorized=%v", fn, streaming, authorized)
		}
	}
	for route, want := range emulated {
		if got, ok := deployedRoutes[route]; !ok {
			t.Errorf("%s is served locally but SAM does not deploy it", route)
		} else if got != want {
			t.Errorf("%s: deployed as %s, emulated as %s", route, got, want)
		}
	}
	for route := range deployedRoutes {
		if _, ok := emulated[route]; !ok {
			t.Errorf("%s is deployed but not emulated", route)
		}
	}

	authorizer, _ := samtemplate.Lookup(body, "components", "securitySchemes", api.Authorizer.Name, "x-amazon-apigateway-authorizer")
	if samtemplate.String(authorizer, "type") != "request" ||
		samtemplate.String(authorizer, "identitySource") != "" ||
		mustMap(authorizer)["authorizerResultTtlInSeconds"] != float64(api.Authorizer.ReauthorizeEvery) {
		t.Errorf("deployed authorizer %v, want a REQUEST authorizer with no identity source (a key may come in Authorization or x-api-key), cached %d s", authorizer, api.Authorizer.ReauthorizeEvery)
	}
	if !strings.Contains(fmt.Sprint(mustMap(authorizer)["authorizerUri"]), api.Authorizer.FunctionID) {
		t.Errorf("deployed authorizer does not invoke %s", api.Authorizer.FunctionID)
	}

	// The request content types handed to the proxy base64-encoded: the
	// emulator encodes exactly these.
	var binary []string
	if list, ok := body["x-amazon-apigateway-binary-media-types"].([]any); ok {
		for _, v := range list {
			binary = append(binary, fmt.Sprint(v))
		}
	}
	if fmt.Sprint(binary) != fmt.Sprint(api.BinaryMediaTypes) {
		t.Errorf("deployed binary media types %v, emulated %v", binary, api.BinaryMediaTypes)
	}

	responses, _ := body["x-amazon-apigateway-gateway-responses"].(map[string]any)
	for typ, want := range api.GatewayResponses {
		got, ok := responses[typ]
		if !ok {
			t.Errorf("gateway response %s is emulated but not deployed", typ)
			continue
		}
		status, _ := strconv.Atoi(samtemplate.String(got, "statusCode"))
		if status != want.StatusCode {
			t.Errorf("gateway response %s: deployed status %d, emulated %d", typ, status, want.StatusCode)
		}
		for name, expr := range want.Headers {
			if deployedExpr := samtemplate.String(got, "responseParameters", "gatewayresponse.header."+name); deployedExpr != expr {
				t.Errorf("gateway response %s header %s: deployed %q, emulated %q", typ, name, deployedExpr, expr)
			}
		}
		for contentType, tmpl := range want.Templates {
			if deployedTmpl := samtemplate.String(got, "responseTemplates", contentType); deployedTmpl != tmpl {
				t.Errorf("gateway response %s template %s: deployed %q, emulated %q", typ, contentType, deployedTmpl, tmpl)
			}
		}
	}
	if len(responses) != len(api.GatewayResponses) {
		t.Errorf("%d gateway responses deployed, %d emulated", len(responses), len(api.GatewayResponses))
	}

	stage := ""
	for _, r := range resources {
		if r.Type == "AWS::ApiGateway::Stage" {
			stage = samtemplate.String(r.Properties, "StageName")
		}
	}
	if stage != api.StageName {
		t.Errorf("deployed stage %q, emulated %q", stage, api.StageName)
	}

	t.Run("API Gateway may invoke every function it routes to", func(t *testing.T) {
		// Each permission as (function, a pattern of stage/METHOD/path).
		type grant struct{ fn, pattern string }
		var grants []grant
		for _, r := range resources {
			if r.Type != "AWS::Lambda::Permission" || samtemplate.String(r.Properties, "Principal") != "apigateway.amazonaws.com" {
				continue
			}
			fn := refName(r.Properties["FunctionName"])
			arn := subString(r.Properties["SourceArn"])
			arn = strings.NewReplacer("${__ApiId__}", "API", "${Api}", "API", "${__Stage__}", "*").Replace(arn)
			if _, rest, ok := strings.Cut(arn, ":API/"); ok {
				grants = append(grants, grant{fn, rest})
			}
		}
		for _, r := range api.Routes {
			// A path parameter is one segment of a concrete request.
			request := api.StageName + "/" + r.Method + regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(r.Path, "x")
			if !slices.ContainsFunc(grants, func(g grant) bool { return g.fn == r.FunctionID && iampattern.Match(g.pattern, request) }) {
				t.Errorf("no permission lets API Gateway invoke %s for %s %s", r.FunctionID, r.Method, r.Path)
			}
		}
		if !slices.ContainsFunc(grants, func(g grant) bool { return g.fn == api.Authorizer.FunctionID && g.pattern == "authorizers/*" }) {
			t.Errorf("no permission lets API Gateway invoke the authorizer %s", api.Authorizer.FunctionID)
		}
	})
}

// TestDeployedFunctionsFindTheirTables: after SAM merges Globals into each
// function, every function's environment names all six tables, each by a
// Ref to the right table, as dynamo.TablesFromEnv needs at start; the proxy
// also gets its secret prefix.
func TestDeployedFunctionsFindTheirTables(t *testing.T) {
	resources := deployed(t)
	want := dynamo.Tables{Workspaces: "WorkspacesTable", Keys: "KeysTable", Counters: "CountersTable", Usage: "UsageTable", Audit: "AuditTable", Findings: "FindingsTable"}
	for _, id := range []string{"AuthorizerFunction", "ProxyFunction", "ManagementFunction"} {
		fn, ok := resources[id]
		if !ok || fn.Type != "AWS::Lambda::Function" {
			t.Errorf("SAM made no AWS::Lambda::Function %s", id)
			continue
		}
		vars, _ := samtemplate.Lookup(fn.Properties, "Environment", "Variables")
		tables, err := dynamo.TablesFromEnv(func(name string) string { return refName(mustMap(vars)[name]) })
		if err != nil || tables != want {
			t.Errorf("%s: tables %+v, %v; want each TABLE_ variable a Ref to its table", id, tables, err)
		}
		if id == "ProxyFunction" && subString(mustMap(vars)["PROVIDER_SECRET_PREFIX"]) != "${AWS::StackName}/" {
			t.Errorf("ProxyFunction: PROVIDER_SECRET_PREFIX = %v, want the stack name and a slash", mustMap(vars)["PROVIDER_SECRET_PREFIX"])
		}
	}
}

// refName returns the logical id a FunctionName points at (Ref or GetAtt).
func refName(v any) string {
	m, _ := v.(map[string]any)
	if s, ok := m["Ref"].(string); ok {
		return s
	}
	if l, ok := m["Fn::GetAtt"].([]any); ok && len(l) > 0 {
		s, _ := l[0].(string)
		return s
	}
	return ""
}

func mustMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func asSlice(v any) []any {
	l, _ := v.([]any)
	return l
}

// TestDeployedStageIsRegionalThrottledAndLogged: what SAM deploys is one
// Regional stage, so streams are not cut after 30 idle seconds at the edge
// and no stray "Stage" stage serves the routes where no alarm looks; the
// stage throttles before any function runs, and it writes one JSON access
// log line per request into a log group that expires.
func TestDeployedStageIsRegionalThrottledAndLogged(t *testing.T) {
	resources := deployed(t)
	tpl := loadRepoTemplate(t)

	types, _ := samtemplate.Lookup(resources["Api"].Properties, "EndpointConfiguration", "Types")
	if got := fmt.Sprint(types); got != "[REGIONAL]" {
		t.Errorf("endpoint types %s, want [REGIONAL]: an edge-optimized API drops a stream after 30 s without bytes", got)
	}

	// A stage is made by an AWS::ApiGateway::Stage, or by a Deployment that
	// names one (how SAM makes its stray "Stage").
	var stages []string
	var stage cfnResource
	for id, r := range resources {
		switch r.Type {
		case "AWS::ApiGateway::Stage":
			stages = append(stages, samtemplate.String(r.Properties, "StageName"))
			stage = r
		case "AWS::ApiGateway::Deployment":
			if name := samtemplate.String(r.Properties, "StageName"); name != "" {
				stages = append(stages, name+" (from the deployment "+id+")")
			}
		}
	}
	if len(stages) != 1 || stages[0] != "v1" {
		t.Fatalf("deployed stages %v, want exactly [v1]", stages)
	}

	t.Run("throttling", func(t *testing.T) {
		settings, _ := stage.Properties["MethodSettings"].([]any)
		var all map[string]any
		for _, s := range settings {
			if samtemplate.String(s, "ResourcePath") == "/*" && samtemplate.String(s, "HttpMethod") == "*" {
				all = mustMap(s)
			}
		}
		if all == nil {
			t.Fatalf("method settings %v, want one for every route (/*, *)", settings)
		}
		for setting, param := range map[string]string{"ThrottlingRateLimit": "ThrottlingRateLimit", "ThrottlingBurstLimit": "ThrottlingBurstLimit"} {
			if got := refName(all[setting]); got != param {
				t.Errorf("%s = %v, want a Ref to the parameter %s", setting, all[setting], param)
			}
			def, _ := samtemplate.Lookup(tpl.Parameters, param, "Default")
			if n, _ := strconv.Atoi(fmt.Sprint(def)); n <= 0 {
				t.Errorf("parameter %s defaults to %v, want a positive number", param, def)
			}
		}
	})

	t.Run("access logs", func(t *testing.T) {
		dest, _ := samtemplate.Lookup(stage.Properties, "AccessLogSetting", "DestinationArn")
		group := refName(dest)
		if r, ok := resources[group]; !ok || r.Type != "AWS::Logs::LogGroup" {
			t.Fatalf("access logs go to %v, want a log group of this stack", dest)
		} else if got := refName(r.Properties["RetentionInDays"]); got != "AccessLogRetentionDays" {
			t.Errorf("access log retention %v, want a Ref to the parameter AccessLogRetentionDays", r.Properties["RetentionInDays"])
		}
		format := samtemplate.String(stage.Properties, "AccessLogSetting", "Format")
		var line map[string]string
		if err := json.Unmarshal([]byte(format), &line); err != nil {
			t.Fatalf("access log format is not one JSON object: %v\n%s", err, format)
		}
		for field, variable := range map[string]string{
			"request_id": "$context.requestId", "status": "$context.status", "latency_ms": "$context.responseLatency",
			"principal": "$context.authorizer.principalId", "authorizer_code": "$context.authorizer.code",
		} {
			if line[field] != variable {
				t.Errorf("access log field %s = %q, want %s", field, line[field], variable)
			}
		}
		for field, v := range line {
			if strings.Contains(strings.ToLower(v), "header") || strings.Contains(v, "body") {
				t.Errorf("access log field %s logs %s: no header or body may reach a log", field, v)
			}
		}
	})
}

// TestEveryRouteDeadlineIsBelowItsGatewayLimit: the proxy gives up on a
// request before API Gateway does (its integration timeout: 29 s unless the
// route sets timeoutInMillis) and before Lambda stops the function, so the
// client gets the proxy's answer and usage records what the client got.
func TestEveryRouteDeadlineIsBelowItsGatewayLimit(t *testing.T) {
	resources := deployed(t)
	body, _ := resources["Api"].Properties["Body"].(map[string]any)
	paths, _ := body["paths"].(map[string]any)
	fnTimeout, _ := resources["ProxyFunction"].Properties["Timeout"].(float64)
	routes := 0
	for path, ops := range paths {
		for method, op := range ops.(map[string]any) {
			integration, _ := samtemplate.Lookup(op, "x-amazon-apigateway-integration")
			m := arnRef.FindStringSubmatch(subString(mustMap(integration)["uri"]))
			if m == nil || m[1] != "ProxyFunction" {
				continue
			}
			routes++
			limit := 29 * time.Second
			if ms, ok := mustMap(integration)["timeoutInMillis"].(float64); ok {
				limit = time.Duration(ms) * time.Millisecond
			}
			deadline := proxy.DefaultBufferedDeadline
			if samtemplate.String(integration, "responseTransferMode") == "STREAM" {
				deadline = proxy.DefaultStreamDeadline
			}
			// A second at least for the authorizer and a cold start, the
			// answer and the usage write.
			if deadline+time.Second > limit {
				t.Errorf("%s %s: the proxy's deadline %s is not below the gateway's %s", strings.ToUpper(method), path, deadline, limit)
			}
			if fn := time.Duration(fnTimeout) * time.Second; deadline+time.Second > fn {
				t.Errorf("%s %s: the proxy's deadline %s is not below the function's timeout %s", strings.ToUpper(method), path, deadline, fn)
			}
		}
	}
	if routes != 10 {
		t.Errorf("%d proxy routes deployed, want 10", routes)
	}
}
