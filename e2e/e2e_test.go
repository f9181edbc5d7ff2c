// Package e2e tests the built Lambda binaries: each bootstrap runs under the
// AWS Lambda Runtime Interface Emulator (pinned by go.mod's tool directive),
// the API Gateway emulator fronts them over the Lambda invoke API, and real
// clients (the official OpenAI Go SDK and plain HTTP) drive the API.
package e2e

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aistats/edge/internal/testing/httpcall"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/aistats/edge/internal/local/apigateway"
	"github.com/aistats/edge/internal/local/localprovider"
	"github.com/aistats/edge/internal/local/rie"
	"github.com/aistats/edge/internal/local/samtemplate"
	"github.com/aistats/edge/internal/smoke"
	"github.com/aistats/edge/internal/testing/dynamotest"
	"github.com/aistats/edge/internal/testing/secretsmanagertest"
	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/handler/management"
)

func TestMain(m *testing.M) { os.Exit(dynamotest.Main(m)) }

// build compiles a main package into dir/name as `make build` does, for
// this machine's architecture so the emulator can run it.
func build(t *testing.T, dir, name, pkg string) string {
	t.Helper()
	out := filepath.Join(dir, name)
	if err := rie.Build("", out, pkg, "", ""); err != nil {
		t.Fatal(err)
	}
	return out
}

// runUnderRIE starts bootstrap under the Runtime Interface Emulator and
// returns its invoke API's base URL; the processes die with the test.
func runUnderRIE(t *testing.T, emulator, bootstrap string, env []string) string {
	t.Helper()
	logs, err := os.Create(bootstrap + ".log")
	if err != nil {
		t.Fatal(err)
	}
	p, err := rie.Start(emulator, bootstrap, env, logs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Stop()
		logs.Close()
		if t.Failed() {
			b, _ := os.ReadFile(bootstrap + ".log")
			t.Logf("%s log:\n%s", filepath.Base(filepath.Dir(bootstrap)), b)
		}
	})
	if err := p.WaitListening(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	return p.URL
}

// awayFromDayEnd waits out the last seconds of a UTC day: the binaries read
// the real clock, and a daily limit must not reset between two requests.
func awayFromDayEnd() {
	if left := time.Until(time.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)); left < 15*time.Second {
		time.Sleep(left + time.Second)
	}
}

func TestBuiltBinariesBehindTheGateway(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	emulator := build(t, dir, "aws-lambda-rie", rie.EmulatorPackage)

	client := dynamotest.NewClient(t)
	tables := dynamotest.NewTables(t, client)
	store := dynamo.New(dynamo.Config{Client: client, Tables: tables})
	if err := store.CreateWorkspace(ctx, gateway.Workspace{ID: "acme", Plan: gateway.Plan{Providers: []string{"*"}, Models: []string{"*"}}}); err != nil {
		t.Fatal(err)
	}
	_, mgmtKey, err := management.NewService(store, rand.Reader, nil).CreateKey(ctx,
		management.Actor{KID: management.OperatorActor, WorkspaceID: "acme"}, gateway.KindManagement,
		management.KeySpec{Name: "e2e", Scopes: management.AllScopes})
	if err != nil {
		t.Fatal(err)
	}
	provider := httptest.NewServer(localprovider.Handler())
	defer provider.Close()

	env := append(os.Environ(),
		"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local",
		"TABLE_WORKSPACES="+tables.Workspaces, "TABLE_KEYS="+tables.Keys, "TABLE_COUNTERS="+tables.Counters,
		"TABLE_USAGE="+tables.Usage, "TABLE_AUDIT="+tables.Audit, "TABLE_FINDINGS="+tables.Findings,
		"LOCAL_PROVIDER_URL="+provider.URL+"/v1",
	)
	// Provider keys come from Secrets Manager, as in AWS: a server speaking
	// its wire protocol holds this stack's OpenAI key only.
	const stackName, openAIKey = "e2e-stack", "sk-e2e-openai-provider-key"
	secrets := secretsmanagertest.NewServer(t, map[string]string{stackName + "/providers/openai": openAIKey})
	proxyEnv := []string{"PROVIDER_SECRET_PREFIX=" + stackName + "/", "AWS_ENDPOINT_URL_SECRETS_MANAGER=" + secrets.URL}
	functions := map[string]apigateway.Function{}
	bootstraps := map[string]string{}
	// Each binary reaches DynamoDB through its own recorder, so the calls it
	// makes can be held against its IAM policy once every flow has run.
	recorders := map[string]*dynamoRecorder{}
	for id, name := range map[string]string{"AuthorizerFunction": "authorizer", "ProxyFunction": "proxy", "ManagementFunction": "management"} {
		bootstrap := build(t, filepath.Join(dir, name), "bootstrap", "github.com/aistats/edge/functions/"+name)
		bootstraps[name] = bootstrap
		rec, endpoint := newDynamoRecorder(t, dynamotest.Endpoint(t), tables)
		recorders[id] = rec
		fnEnv := append(slices.Clip(env), "AWS_ENDPOINT_URL_DYNAMODB="+endpoint)
		if id == "ProxyFunction" {
			fnEnv = append(fnEnv, proxyEnv...)
		}
		functions[id] = &apigateway.RemoteFunction{URL: runUnderRIE(t, emulator, bootstrap, fnEnv)}
	}
	t.Run("a malformed setting stops each binary at start, naming it", func(t *testing.T) {
		for name, bootstrap := range bootstraps {
			cmd := exec.Command(bootstrap)
			cmd.Env = append(slices.Clip(env), "AUTH_STORE_TIMEOUT_SECONDS=abc")
			out, err := cmd.CombinedOutput()
			if exit, ok := errors.AsType[*exec.ExitError](err); !ok || exit.ExitCode() != 1 {
				t.Errorf("%s with AUTH_STORE_TIMEOUT_SECONDS=abc: got %v, want exit status 1", name, err)
			}
			if !strings.Contains(string(out), `AUTH_STORE_TIMEOUT_SECONDS=\"abc\"`) {
				t.Errorf("%s printed %q; want the variable and its value named", name, out)
			}
		}
	})
	tpl, err := samtemplate.Load(filepath.Join("..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	api, err := tpl.API("Api")
	if err != nil {
		t.Fatal(err)
	}
	gw, err := apigateway.New(apigateway.Config{API: api, Functions: functions})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	defer srv.Close()
	base := srv.URL + "/v1"

	call := func(method, path, key, body string) (int, map[string]any) {
		t.Helper()
		r := httpcall.Do(t, nil, method, base+path, httpcall.Bearer(key), body)
		return r.Status, r.Body
	}
	createKey := func(body string) (kid, key string) {
		t.Helper()
		status, m := call("POST", "/keys", mgmtKey, body)
		if status != 201 {
			t.Fatalf("create key: %d %v", status, m)
		}
		d := m["data"].(map[string]any)
		return d["kid"].(string), d["key"].(string)
	}
	sdk := func(key string) openai.Client {
		return openai.NewClient(option.WithBaseURL(base+"/"), option.WithAPIKey(key), option.WithMaxRetries(0))
	}
	wantAPIError := func(t *testing.T, err error, status int, code string) {
		t.Helper()
		if apiErr, ok := errors.AsType[*openai.Error](err); !ok || apiErr.StatusCode != status || apiErr.Code != code {
			t.Errorf("error %v, want %d %s", err, status, code)
		}
	}
	chat := openai.ChatCompletionNewParams{Model: "local/echo", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello binaries")}}

	kid, key := createKey(`{"name":"e2e app","limits":{"requests_per_minute":1000}}`)
	c := sdk(key)
	t.Run("chat", func(t *testing.T) {
		resp, err := c.Chat.Completions.New(ctx, chat)
		if err != nil || resp.Choices[0].Message.Content != "hello binaries" {
			t.Fatalf("chat: %v %+v", err, resp)
		}
	})
	t.Run("streamed chat", func(t *testing.T) {
		stream := c.Chat.Completions.NewStreaming(ctx, chat)
		var text strings.Builder
		for stream.Next() {
			if ch := stream.Current(); len(ch.Choices) > 0 {
				text.WriteString(ch.Choices[0].Delta.Content)
			}
		}
		if err := stream.Err(); err != nil || text.String() != "hello binaries" {
			t.Errorf("stream: %v %q", err, text.String())
		}
	})
	t.Run("401", func(t *testing.T) {
		bad := sdk(key[:len(key)-1] + map[bool]string{true: "A", false: "B"}[key[len(key)-1] != 'A'])
		_, err := bad.Chat.Completions.New(ctx, chat)
		wantAPIError(t, err, 401, "invalid_key_format")
		if status, m := call("GET", "/models", "", ""); status != 401 || m["error"].(map[string]any)["code"] != "missing_authorization" {
			t.Errorf("no key: %d %v", status, m)
		}
	})
	t.Run("403", func(t *testing.T) {
		_, narrow := createKey(`{"name":"narrow","models":["openai/*"]}`)
		nc := sdk(narrow)
		_, err := nc.Chat.Completions.New(ctx, chat)
		wantAPIError(t, err, 403, "model_not_allowed")
	})
	t.Run("429", func(t *testing.T) {
		awayFromDayEnd()
		_, once := createKey(`{"name":"once","limits":{"requests_per_day":1}}`)
		oc := sdk(once)
		if _, err := oc.Chat.Completions.New(ctx, chat); err != nil {
			t.Fatal(err)
		}
		_, err := oc.Chat.Completions.New(ctx, chat)
		wantAPIError(t, err, 429, "rate_limit_exceeded")
	})
	t.Run("rotate and revoke", func(t *testing.T) {
		status, m := call("POST", "/keys/"+kid+"/rotate", mgmtKey, `{"previous_key_expires_in":0}`)
		if status != 201 {
			t.Fatalf("rotate: %d %v", status, m)
		}
		newKey := m["data"].(map[string]any)["key"].(string)
		newKID := m["data"].(map[string]any)["kid"].(string)
		_, err := c.Chat.Completions.New(ctx, chat)
		wantAPIError(t, err, 401, "key_revoked")
		fresh := sdk(newKey)
		if _, err := fresh.Chat.Completions.New(ctx, chat); err != nil {
			t.Errorf("new key: %v", err)
		}
		if status, _ := call("DELETE", "/keys/"+newKID, mgmtKey, ""); status != 204 {
			t.Errorf("revoke: %d", status)
		}
		_, err = fresh.Chat.Completions.New(ctx, chat)
		wantAPIError(t, err, 401, "key_revoked")
	})
	t.Run("metrics as CloudWatch EMF lines", func(t *testing.T) {
		for name, metric := range map[string]string{"authorizer": `"Allowed":1`, "proxy": `"CompletionTokens":`} {
			logs, err := os.ReadFile(bootstraps[name] + ".log")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(logs), `"CloudWatchMetrics":[{"Namespace":"aistats","Dimensions":[["Workspace"]]`) || !strings.Contains(string(logs), metric) {
				t.Errorf("the %s binary wrote no EMF line with %s", name, metric)
			}
			if strings.Contains(string(logs), mgmtKey) || strings.Contains(string(logs), key) {
				t.Errorf("a key reached the %s binary's log", name)
			}
		}
	})
	t.Run("usage recorded by the proxy binary", func(t *testing.T) {
		status, m := call("GET", fmt.Sprintf("/keys/%s/usage?granularity=day", kid), mgmtKey, "")
		var requests float64
		for _, b := range m["data"].([]any) {
			requests += b.(map[string]any)["requests"].(float64)
		}
		// chat, streamed chat, and the refused request after rotation.
		if status != 200 || requests < 2 {
			t.Errorf("usage: %d, %v requests", status, requests)
		}
	})
	t.Run("every other management call", func(t *testing.T) {
		ownKID, own := createKey(`{"name":"reads its own record"}`)
		if status, m := call("GET", "/key", own, ""); status != 200 {
			t.Errorf("GET /key with the inference key: %d %v", status, m)
		}
		status, m := call("POST", "/management-keys", mgmtKey, `{"name":"ci","scopes":["keys:read"]}`)
		if status != 201 {
			t.Fatalf("POST /management-keys: %d %v", status, m)
		}
		mk := m["data"].(map[string]any)["kid"].(string)
		for _, c := range []struct{ method, path, body string }{
			{"PATCH", "/keys/" + ownKID, `{"name":"renamed","limits":{"requests_per_day":10}}`},
			{"GET", "/keys?unused_for_days=0", ""},
			{"GET", "/keys/" + ownKID, ""},
			{"GET", "/keys/" + kid + "/usage?granularity=hour", ""},
			{"GET", "/management-keys", ""},
			{"DELETE", "/management-keys/" + mk, ""},
			{"GET", "/audit-events", ""},
		} {
			if status, m := call(c.method, c.path, mgmtKey, c.body); status != 200 && status != 204 {
				t.Errorf("%s %s: %d %v", c.method, c.path, status, m)
			}
		}
	})
	t.Run("provider keys from Secrets Manager under the stack's prefix", func(t *testing.T) {
		_, lister := createKey(`{"name":"lists models"}`)
		status, m := call("GET", "/models", lister, "")
		var ids []string
		for _, d := range asList(m["data"]) {
			ids = append(ids, fmt.Sprint(d.(map[string]any)["id"]))
		}
		if status != 200 || !slices.Contains(ids, "openai/gpt-4o-mini") || slices.Contains(ids, "groq/llama-3.1-8b-instant") {
			t.Errorf("models %d %v: want OpenAI's (its secret exists) and not Groq's (it has none)", status, ids)
		}
		asked := secrets.Asked()
		if !slices.Contains(asked, stackName+"/providers/openai") {
			t.Errorf("the proxy asked Secrets Manager for %v, not %s/providers/openai", asked, stackName)
		}
		checkSecretsIAM(t, tpl, "ProxyFunction", stackName, asked)
		for _, name := range []string{"proxy", "authorizer", "management"} {
			if logs, _ := os.ReadFile(bootstraps[name] + ".log"); strings.Contains(string(logs), openAIKey) {
				t.Errorf("the provider key reached the %s binary's log", name)
			}
		}
	})
	t.Run("a key with a budget is served until the budget cannot hold a request, then refused 429 budget_exceeded", func(t *testing.T) {
		_, budgeted := createKey(`{"name":"e2e budget","limits":{"cost_usd":0.00015,"tokens_per_minute":100000}}`)
		b := sdk(budgeted)
		small := chat
		small.MaxTokens = openai.Int(4)
		served := 0
		var err error
		for range 20 {
			if _, err = b.Chat.Completions.New(ctx, small); err != nil {
				break
			}
			served++
		}
		if served == 0 {
			t.Errorf("no request served before the refusal: %v", err)
		}
		wantAPIError(t, err, 429, "budget_exceeded")
	})
	t.Run("the post-deploy smoke check passes against the built binaries", func(t *testing.T) {
		awayFromDayEnd() // its throwaway key has a daily limit
		var out strings.Builder
		if err := smoke.Run(ctx, smoke.Config{BaseURL: base, ManagementKey: mgmtKey, Model: "local/echo"}, &out); err != nil {
			t.Errorf("%v\n%s", err, out.String())
		}
	})
	t.Run("the scheduled detector runs under the emulator on what the flows left", func(t *testing.T) {
		bootstrap := build(t, filepath.Join(dir, "detector"), "bootstrap", "github.com/aistats/edge/functions/detector")
		rec, endpoint := newDynamoRecorder(t, dynamotest.Endpoint(t), tables)
		recorders["DetectorFunction"] = rec
		fn := &apigateway.RemoteFunction{URL: runUnderRIE(t, emulator, bootstrap, append(slices.Clip(env), "AWS_ENDPOINT_URL_DYNAMODB="+endpoint))}
		// What EventBridge sends on a schedule; the detector reads none of it.
		out, err := fn.Invoke(ctx, []byte(`{"source":"aws.events","detail-type":"Scheduled Event","detail":{}}`))
		if err != nil {
			t.Fatal(err)
		}
		var rep struct {
			ActiveKeys int `json:"active_keys"`
			Items      int `json:"rollup_items_written"`
		}
		if err := json.Unmarshal(out, &rep); err != nil || rep.ActiveKeys == 0 || rep.Items == 0 {
			t.Errorf("detector answered %s (%v); want the keys the flows used rolled up", out, err)
		}
	})
	t.Run("every DynamoDB call is granted by template.yaml", func(t *testing.T) {
		checkIAM(t, tpl, recorders)
	})
}
