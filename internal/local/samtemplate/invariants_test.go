package samtemplate_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aistats/edge/internal/local/samtemplate"
	"github.com/aistats/edge/pkg/domain/providers"
)

// statements returns every IAM statement in a function's inline Policies.
func statements(t *testing.T, tpl *samtemplate.Template, fnID string) []samtemplate.Statement {
	t.Helper()
	sts, err := tpl.Statements(fnID)
	if err != nil {
		t.Fatal(err)
	}
	return sts
}

func strs(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			out = append(out, fmt.Sprint(e))
		}
		return out
	}
	return []string{fmt.Sprint(v)}
}

func TestFunctionsAreLeastPrivilege(t *testing.T) {
	tpl := loadRepoTemplate(t)
	for _, id := range tpl.OfType("AWS::Serverless::Function") {
		fn := tpl.Resources[id]
		if _, ok := fn.Properties["Policies"].([]any); !ok {
			t.Errorf("%s: Policies must be a list of inline statements", id)
			continue
		}
		sts := statements(t, tpl, id)
		if len(sts) == 0 {
			t.Errorf("%s has no inline policy statements", id)
		}
		for _, st := range sts {
			for _, a := range st.Actions {
				if a == "*" || strings.HasSuffix(a, ":*") {
					t.Errorf("%s is granted the action %s", id, a)
				}
			}
			for _, r := range st.Resources {
				if r == "*" {
					t.Errorf("%s is granted every resource", id)
				}
			}
		}
	}
	// The authorizer reads and counts on the counters table, and adds to
	// the usage table only: a refusal of a real key is counted there (an
	// UpdateItem, or a spill PutItem). It may never delete, query or touch
	// key records.
	allowed := map[string][]string{
		"CountersTable": {"dynamodb:GetItem", "dynamodb:UpdateItem"},
		"UsageTable":    {"dynamodb:UpdateItem", "dynamodb:PutItem"},
	}
	for _, st := range statements(t, tpl, "AuthorizerFunction") {
		for _, r := range st.Resources {
			target, _ := samtemplate.RefTarget(r)
			actions, ok := allowed[target]
			if !ok {
				t.Errorf("the authorizer reaches %v; it needs only the counters and usage tables", r)
				continue
			}
			for _, a := range st.Actions {
				if !slices.Contains(actions, a) {
					t.Errorf("the authorizer gets %s on %s; it may only %v there", a, target, actions)
				}
			}
		}
	}
}

func TestFunctionRuntimeAndBuild(t *testing.T) {
	tpl := loadRepoTemplate(t)
	g, _ := samtemplate.Lookup(tpl.Globals, "Function")
	if samtemplate.String(g, "Runtime") != "provided.al2023" || samtemplate.String(g, "Handler") != "bootstrap" {
		t.Errorf("Globals.Function = %v, want provided.al2023 with Handler bootstrap", g)
	}
	if arch := strs(mustLookup(g, "Architectures")); len(arch) != 1 || arch[0] != "arm64" {
		t.Errorf("architectures %v, want [arm64]", arch)
	}
	for _, id := range tpl.OfType("AWS::Serverless::Function") {
		if tpl.Resources[id].Metadata["BuildMethod"] != "makefile" {
			t.Errorf("%s: BuildMethod must be makefile (Makefile target build-%s)", id, id)
		}
		logs := false
		for _, lg := range tpl.OfType("AWS::Logs::LogGroup") {
			name, _ := tpl.Resources[lg].Properties["LogGroupName"].(samtemplate.Intrinsic)
			if strings.Contains(fmt.Sprint(name.Value), "${"+id+"}") && tpl.Resources[lg].Properties["RetentionInDays"] != nil {
				logs = true
			}
		}
		if !logs {
			t.Errorf("%s has no log group with a retention", id)
		}
	}
}

func mustLookup(v any, key string) any {
	got, _ := samtemplate.Lookup(v, key)
	return got
}

// TestProviderSecretsComeFromParameters: each registry secret is created
// from a NoEcho parameter, never a literal, under the name the proxy reads:
// its PROVIDER_SECRET_PREFIX (the stack's name) and the registry's name, so
// two stacks in one account neither collide nor read each other's keys.
func TestProviderSecretsComeFromParameters(t *testing.T) {
	tpl := loadRepoTemplate(t)
	reg, err := providers.Default()
	if err != nil {
		t.Fatal(err)
	}
	const stackPrefix = "${AWS::StackName}/"
	prefix, _ := samtemplate.Lookup(tpl.Resources["ProxyFunction"].Properties, "Environment", "Variables", "PROVIDER_SECRET_PREFIX")
	if in, ok := prefix.(samtemplate.Intrinsic); !ok || in.Name != "Fn::Sub" || in.Value != stackPrefix {
		t.Errorf("ProxyFunction PROVIDER_SECRET_PREFIX = %v, want !Sub %q", prefix, stackPrefix)
	}
	policy := fmt.Sprint(tpl.Resources["ProxyFunction"].Properties["Policies"])
	if !strings.Contains(policy, ":secret:"+stackPrefix+"providers/*") {
		t.Errorf("the proxy may not read this stack's provider secrets, or reads more: %s", policy)
	}
	names := map[string]string{}
	for _, id := range tpl.OfType("AWS::SecretsManager::Secret") {
		p := tpl.Resources[id].Properties
		param, ok := samtemplate.RefTarget(p["SecretString"])
		if !ok {
			t.Errorf("%s: SecretString is not a !Ref to a parameter", id)
			continue
		}
		if echo, _ := samtemplate.Lookup(tpl.Parameters, param, "NoEcho"); echo != true {
			t.Errorf("parameter %s must be NoEcho", param)
		}
		name, ok := p["Name"].(samtemplate.Intrinsic)
		if !ok || name.Name != "Fn::Sub" {
			t.Errorf("%s: Name is not a !Sub under the stack's name", id)
			continue
		}
		sub, _ := name.Value.(string)
		names[sub] = id
	}
	for _, p := range reg.Providers {
		if p.Credential.Secret == "" {
			continue
		}
		if _, ok := names[stackPrefix+p.Credential.Secret]; !ok {
			t.Errorf("no secret resource named %s%s for provider %s", stackPrefix, p.Credential.Secret, p.ID)
		}
	}
}

// TestChatCompletionsStreams: the routes that may answer a stream or take
// longer than 29 s (chat completions, Anthropic messages, OpenAI responses,
// images, audio), and only they, are
// streaming routes to the proxy, behind the authorizer. That SAM renders
// them as STREAM integrations invoking InvokeWithResponseStream, and lets
// API Gateway invoke the proxy for them, is TestDeployedAPIIsTheEmulatedAPI's
// to check.
func TestChatCompletionsStreams(t *testing.T) {
	tpl := loadRepoTemplate(t)
	api, err := tpl.API("Api")
	if err != nil {
		t.Fatal(err)
	}
	streaming := map[string]bool{"POST /chat/completions": false, "POST /messages": false, "POST /responses": false,
		"POST /images/generations": false, "POST /audio/speech": false, "POST /audio/transcriptions": false}
	for _, r := range api.Routes {
		route := r.Method + " " + r.Path
		if _, ok := streaming[route]; ok {
			streaming[route] = true
			if !r.Streaming || !r.Authorized || r.FunctionID != "ProxyFunction" {
				t.Errorf("route %+v, want a streaming, authorized route to the proxy", r)
			}
		} else if r.Streaming {
			t.Errorf("%s streams; only %v should", route, streaming)
		}
	}
	for route, found := range streaming {
		if !found {
			t.Errorf("no %s route", route)
		}
	}
}

func TestAlarmsAndDashboard(t *testing.T) {
	tpl := loadRepoTemplate(t)
	alarms := map[string]string{}
	for _, id := range tpl.OfType("AWS::CloudWatch::Alarm") {
		p := tpl.Resources[id].Properties
		name := samtemplate.String(p, "MetricName")
		if name == "" {
			metrics, _ := p["Metrics"].([]any)
			for _, m := range metrics {
				if n := samtemplate.String(m, "MetricStat", "Metric", "MetricName"); n != "" {
					name = n
				}
			}
		}
		alarms[name] = id
		if actions, _ := p["AlarmActions"].([]any); len(actions) == 0 {
			t.Errorf("alarm %s notifies nobody", id)
		}
	}
	for metric, what := range map[string]string{"Errors": "authorizer errors", "5XXError": "5xx rate", "Throttles": "throttles"} {
		if alarms[metric] == "" {
			t.Errorf("no alarm on %s (%s)", metric, what)
		}
	}
	dash := tpl.Resources["Dashboard"].Properties["DashboardBody"]
	body, _ := dash.(samtemplate.Intrinsic)
	text, _ := body.Value.(string)
	// Substitute the placeholders as CloudFormation would, then the body
	// must be valid JSON.
	for _, ph := range []string{"${AWS::Region}", "${AWS::StackName}", "${AuthorizerFunction}", "${ProxyFunction}"} {
		text = strings.ReplaceAll(text, ph, "x")
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		t.Errorf("dashboard body is not JSON once substituted: %v", err)
	}
}
