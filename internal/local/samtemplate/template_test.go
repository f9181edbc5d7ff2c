package samtemplate_test

import (
	"fmt"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aistats/edge/internal/local/samtemplate"
	"github.com/aistats/edge/pkg/adapter/dynamo"
)

func loadRepoTemplate(t *testing.T) *samtemplate.Template {
	t.Helper()
	tpl, err := samtemplate.Load(filepath.Join("..", "..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

func TestParseIntrinsics(t *testing.T) {
	tpl, err := samtemplate.Parse([]byte(`
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      A: !Ref Table
      B: !GetAtt Table.Arn
      C: {"Fn::GetAtt": [Table, Arn]}
      D: !Sub "${Table.Arn}/index/x"
      E: {Ref: Other}
`))
	if err != nil {
		t.Fatal(err)
	}
	props := tpl.Resources["Fn"].Properties
	for _, tc := range []struct{ key, want string }{{"A", "Table"}, {"B", "Table"}, {"C", "Table"}, {"E", "Other"}} {
		if got, ok := samtemplate.RefTarget(props[tc.key]); !ok || got != tc.want {
			t.Errorf("RefTarget(%s) = %q, %v; want %q", tc.key, got, ok, tc.want)
		}
	}
	if sub, ok := props["D"].(samtemplate.Intrinsic); !ok || sub.Name != "Fn::Sub" || sub.Value != "${Table.Arn}/index/x" {
		t.Errorf("!Sub parsed as %#v", props["D"])
	}
	if _, err := samtemplate.Parse([]byte("Resources:\n  X: !Bogus y\n")); err == nil {
		t.Error("unknown tag accepted, want error")
	}
}

func TestRepoTemplateAPI(t *testing.T) {
	api, err := loadRepoTemplate(t).API("Api")
	if err != nil {
		t.Fatal(err)
	}
	if api.StageName != "v1" {
		t.Errorf("stage = %q, want v1", api.StageName)
	}
	a := api.Authorizer
	if a == nil || a.FunctionID != "AuthorizerFunction" || len(a.IdentityHeaders) != 0 || a.ReauthorizeEvery != 0 {
		// No identity source: a key in x-api-key alone must reach the
		// authorizer, which API Gateway refuses to call unless every
		// identity source is present.
		t.Errorf("authorizer = %+v, want AuthorizerFunction with no identity source, never cached", a)
	}
	for _, typ := range []string{"UNAUTHORIZED", "ACCESS_DENIED", "AUTHORIZER_FAILURE", "AUTHORIZER_CONFIGURATION_ERROR", "DEFAULT_4XX", "DEFAULT_5XX"} {
		gr, ok := api.GatewayResponses[typ]
		if !ok {
			t.Errorf("gateway response %s missing", typ)
			continue
		}
		if gr.Headers["x-request-id"] != "context.requestId" || gr.Templates["application/json"] == "" {
			t.Errorf("gateway response %s lacks x-request-id or a JSON body", typ)
		}
	}
	if got := api.GatewayResponses["ACCESS_DENIED"].StatusCode; got != 401 {
		t.Errorf("ACCESS_DENIED status = %d, want 401", got)
	}
	routes := map[string]string{}
	// Only the leaked-key report and the dashboard's static page are open:
	// whoever finds a key reports it with no key of their own, and the page
	// holds no data (it calls the API with the key pasted into it).
	unauthorized := map[string]bool{"POST /security/report-leaked-key": true, "GET /dashboard": true, "GET /dashboard/{asset}": true}
	for _, r := range api.Routes {
		if r.Authorized == unauthorized[r.Method+" "+r.Path] {
			t.Errorf("route %s %s: authorized %v", r.Method, r.Path, r.Authorized)
		}
		routes[r.Method+" "+r.Path] = r.FunctionID
	}
	for route, fn := range map[string]string{
		"POST /chat/completions": "ProxyFunction", "POST /embeddings": "ProxyFunction", "GET /models": "ProxyFunction",
		"GET /key": "ManagementFunction", "POST /keys": "ManagementFunction", "DELETE /keys/{kid}": "ManagementFunction",
		"POST /keys/{kid}/rotate": "ManagementFunction", "GET /keys/{kid}/usage": "ManagementFunction",
		"GET /audit-events": "ManagementFunction", "POST /management-keys": "ManagementFunction",
	} {
		if routes[route] != fn {
			t.Errorf("route %s served by %q, want %s", route, routes[route], fn)
		}
	}
}

// TestEventsOnADefinitionBodyNeedMergeDefinitions: SAM ignores a function's
// Api events on an API with its own DefinitionBody unless MergeDefinitions
// is true, so the parser refuses such a template rather than emulate routes
// that would never be deployed.
func TestEventsOnADefinitionBodyNeedMergeDefinitions(t *testing.T) {
	const template = `
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: v1%s
      DefinitionBody:
        openapi: "3.0.1"
        paths:
          /a:
            post:
              x-amazon-apigateway-integration:
                type: aws_proxy
                uri: !Sub "arn:aws:apigateway:r:lambda:path/2015-03-31/functions/${Fn.Arn}/invocations"
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        B:
          Type: Api
          Properties: {RestApiId: !Ref Api, Path: %s, Method: get}
`
	for _, tc := range []struct {
		name, merge, path string
		routes            int
	}{
		{"without MergeDefinitions", "", "/b", 0},
		{"with MergeDefinitions", "\n      MergeDefinitions: true", "/b", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tpl, err := samtemplate.Parse(fmt.Appendf(nil, template, tc.merge, tc.path))
			if err != nil {
				t.Fatal(err)
			}
			api, err := tpl.API("Api")
			if tc.routes == 0 {
				if err == nil || !strings.Contains(err.Error(), "MergeDefinitions") {
					t.Errorf("API() = %v routes, %v; want an error naming MergeDefinitions", api, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(api.Routes) != tc.routes {
				t.Errorf("routes %+v, want %d", api.Routes, tc.routes)
			}
		})
	}
	dup := strings.Replace(fmt.Sprintf(template, "\n      MergeDefinitions: true", "/a"), "Method: get", "Method: post", 1)
	tpl, err := samtemplate.Parse([]byte(dup))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tpl.API("Api"); err == nil || !strings.Contains(err.Error(), "declared twice") {
		t.Errorf("POST /a in both the DefinitionBody and an event: %v, want an error", err)
	}
}

// TestTablesMatchCode keeps the single table definition single: the template's
// tables must equal pkg/adapter/dynamo's, attribute for attribute.
func TestTablesMatchCode(t *testing.T) {
	tpl := loadRepoTemplate(t)
	defs := dynamo.TablesWithPrefix("").Definitions()
	var want []string
	for _, def := range defs {
		want = append(want, def.Role+"Table")
		res, ok := tpl.Resources[def.Role+"Table"]
		if !ok || res.Type != "AWS::DynamoDB::Table" {
			t.Errorf("template lacks table %sTable", def.Role)
			continue
		}
		p := res.Properties
		if got := samtemplate.String(p, "BillingMode"); got != string(def.Create.BillingMode) {
			t.Errorf("%s: BillingMode %s, want %s", def.Role, got, def.Create.BillingMode)
		}
		if got, want := templateAttrs(p["AttributeDefinitions"]), codeAttrs(def.Create.AttributeDefinitions); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: attributes %v, want %v", def.Role, got, want)
		}
		if got, want := templateKeys(p["KeySchema"]), codeKeys(def.Create.KeySchema); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: key schema %v, want %v", def.Role, got, want)
		}
		gsis, _ := p["GlobalSecondaryIndexes"].([]any)
		if len(gsis) != len(def.Create.GlobalSecondaryIndexes) {
			t.Errorf("%s: %d indexes, want %d", def.Role, len(gsis), len(def.Create.GlobalSecondaryIndexes))
		}
		for i, g := range def.Create.GlobalSecondaryIndexes {
			if i >= len(gsis) {
				break
			}
			if samtemplate.String(gsis[i], "IndexName") != aws.ToString(g.IndexName) ||
				samtemplate.String(gsis[i], "Projection", "ProjectionType") != string(g.Projection.ProjectionType) {
				t.Errorf("%s: index %d differs from %s", def.Role, i, aws.ToString(g.IndexName))
			}
			ks, _ := samtemplate.Lookup(gsis[i], "KeySchema")
			if got, want := templateKeys(ks), codeKeys(g.KeySchema); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: index key schema %v, want %v", def.Role, got, want)
			}
		}
		ttl := samtemplate.String(p, "TimeToLiveSpecification", "AttributeName")
		if ttl != def.TTLAttribute {
			t.Errorf("%s: TTL attribute %q, want %q", def.Role, ttl, def.TTLAttribute)
		}
		pitr, _ := samtemplate.Lookup(p, "PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled")
		if got := pitr == true; got != def.PointInTimeRecovery {
			t.Errorf("%s: point-in-time recovery %v, want %v", def.Role, got, def.PointInTimeRecovery)
		}
	}
	got := tpl.OfType("AWS::DynamoDB::Table")
	sort.Strings(want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("template tables %v, want exactly %v", got, want)
	}
}

func templateAttrs(v any) map[string]string {
	out := map[string]string{}
	list, _ := v.([]any)
	for _, a := range list {
		out[samtemplate.String(a, "AttributeName")] = samtemplate.String(a, "AttributeType")
	}
	return out
}

func codeAttrs(defs []ddbtypes.AttributeDefinition) map[string]string {
	out := map[string]string{}
	for _, d := range defs {
		out[aws.ToString(d.AttributeName)] = string(d.AttributeType)
	}
	return out
}

func templateKeys(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, k := range list {
		out = append(out, samtemplate.String(k, "AttributeName")+" "+samtemplate.String(k, "KeyType"))
	}
	return out
}

func codeKeys(ks []ddbtypes.KeySchemaElement) []string {
	var out []string
	for _, k := range ks {
		out = append(out, aws.ToString(k.AttributeName)+" "+string(k.KeyType))
	}
	return out
}
