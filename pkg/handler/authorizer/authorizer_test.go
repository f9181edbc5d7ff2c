package authorizer_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aistats/edge/internal/testing/testclock"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/aistats/edge/internal/testing/dynamotest"
	"github.com/aistats/edge/internal/testing/syncbuf"
	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/keyformat"
	"github.com/aistats/edge/pkg/handler/authcontext"
	"github.com/aistats/edge/pkg/handler/authorizer"
)

func TestMain(m *testing.M) { os.Exit(dynamotest.Main(m)) }

// clock is a settable test clock.
// env is an authorizer over a fresh set of dynalite tables, with every
// DynamoDB call counted.
type env struct {
	t      *testing.T
	client *dynamodb.Client
	store  *dynamo.Store
	// usage records refusals through a client of its own, so that the
	// calls counted are the decision's only.
	usage   *dynamo.Store
	tables  dynamo.Tables
	calls   *atomic.Int64
	clock   *testclock.Clock
	logs    *syncbuf.Buffer
	handler *authorizer.Handler
	invoke  lambda.Handler
}

func newEnv(t *testing.T) *env {
	t.Helper()
	calls := &atomic.Int64{}
	client := dynamotest.NewClient(t, dynamo.CountCalls(calls))
	tables := dynamotest.NewTables(t, client)
	c := testclock.At(time.Date(2026, 11, 27, 12, 0, 10, 0, time.UTC))
	store := dynamo.New(dynamo.Config{Client: client, Tables: tables, Now: c.Now})
	e := &env{t: t, client: client, store: store, tables: tables, calls: calls, clock: c, logs: &syncbuf.Buffer{},
		usage: dynamo.New(dynamo.Config{Client: dynamotest.NewClient(t), Tables: tables, Now: c.Now})}
	e.newHandler()
	e.workspace("acme", 0)
	return e
}

// newHandler starts a cold container: nothing cached.
func (e *env) newHandler() {
	e.t.Helper()
	h, err := authorizer.New(authorizer.Config{
		Store: e.store, Now: e.clock.Now, Logger: slog.New(slog.NewJSONHandler(e.logs, nil)), Usage: e.usage,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	e.handler, e.invoke = h, lambda.NewHandler(h.Handle)
}

func (e *env) workspace(id string, rpm int64) {
	e.t.Helper()
	err := e.store.CreateWorkspace(context.Background(), gateway.Workspace{ID: id, Name: id,
		Plan: gateway.Plan{Providers: []string{"*"}, Models: []string{"local/echo"}, RequestsPerMinute: rpm}})
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) key(workspace string, kind gateway.KeyKind, limits gateway.Limits) (text string, kid string) {
	e.t.Helper()
	g, err := keyformat.Generate(rand.Reader, kind)
	if err != nil {
		e.t.Fatal(err)
	}
	k := gateway.Key{KID: g.Token.KID, WorkspaceID: workspace, Kind: kind, Name: "k", Prefix: g.Token.Prefix(),
		SecretHash: g.Hash, Limits: limits, Models: []string{"local/echo"}}
	if kind == gateway.KindManagement {
		k.Scopes = []string{"keys:read", "keys:write"}
	}
	if err := e.store.CreateKey(context.Background(), k); err != nil {
		e.t.Fatal(err)
	}
	return g.Text, g.Token.KID
}

// result is a decoded authorizer response.
type result struct {
	Effect    string
	Resources []string
	Context   map[string]any
	Calls     int64
	Err       error
}

func (r result) code() string { s, _ := r.Context["code"].(string); return s }

func (e *env) authorize(fixtureName, key string) result {
	e.t.Helper()
	payload := fixture(e.t, fixtureName, key)
	before := e.calls.Load()
	out, err := e.invoke.Invoke(context.Background(), []byte(payload))
	r := decodeResult(e.t, out, err)
	r.Calls = e.calls.Load() - before
	return r
}

// fixture is a testdata event with the key put in.
func fixture(t *testing.T, name, key string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(raw), "${KEY}", key)
}

// decodeResult reads an authorizer's answer to one invocation.
func decodeResult(t *testing.T, out []byte, err error) result {
	t.Helper()
	r := result{Err: err}
	if err != nil {
		return r
	}
	var resp events.APIGatewayCustomAuthorizerResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("response %s: %v", out, err)
	}
	if len(resp.PolicyDocument.Statement) != 1 {
		t.Fatalf("policy has %d statements, want 1", len(resp.PolicyDocument.Statement))
	}
	st := resp.PolicyDocument.Statement[0]
	r.Effect, r.Resources, r.Context = st.Effect, st.Resource, resp.Context
	for k, v := range resp.Context {
		if _, ok := v.(string); !ok {
			t.Errorf("context %s = %#v is not a string", k, v)
		}
	}
	return r
}

func wantDeny(t *testing.T, r result, code gateway.Code) {
	t.Helper()
	if r.Err != nil || r.Effect != "Deny" || r.code() != string(code) {
		t.Fatalf("got %s %q (err %v), want Deny %s", r.Effect, r.code(), r.Err, code)
	}
	msg, _ := r.Context["message"].(string)
	if msg == "" || !authcontext.SafeForTemplate(msg) {
		t.Errorf("deny message %q is empty or unsafe for the Gateway Response template", msg)
	}
}

func wantAllow(t *testing.T, r result) authcontext.Context {
	t.Helper()
	if r.Err != nil || r.Effect != "Allow" {
		t.Fatalf("got %s %q (err %v), want Allow", r.Effect, r.code(), r.Err)
	}
	c, err := authcontext.Decode(r.Context)
	if err != nil {
		t.Fatal(err)
	}
	if c.RateLimited {
		t.Fatalf("allowed but rate limited: %+v", c.RateLimit)
	}
	return c
}

func TestOutcomesOfFixtures(t *testing.T) {
	e := newEnv(t)
	inference, kid := e.key("acme", gateway.KindInference, gateway.Limits{})
	management, _ := e.key("acme", gateway.KindManagement, gateway.Limits{})
	badChecksum := inference[:len(inference)-1] + map[bool]string{true: "A", false: "B"}[inference[len(inference)-1] != 'A']
	unknown, _ := keyformat.Generate(rand.Reader, gateway.KindInference)
	// The kid of a real key with another key's random part and a valid
	// checksum: well-formed, so only the stored digest can refuse it.
	otherRandom := unknown.Token.Secret()[:keyformat.RandomLength]
	wrongSecret := keyformat.WithChecksum(keyformat.Prefix(gateway.KindInference, kid) + "_" + otherRandom)

	cases := []struct {
		fixture string
		key     string
		allow   bool
		code    gateway.Code
		calls   int64 // -1: not checked here
	}{
		{"missing_authorization.json", "", false, gateway.CodeMissingAuthorization, 0},
		{"bearer_without_key.json", "", false, gateway.CodeMissingAuthorization, 0},
		{"basic_scheme.json", inference, false, gateway.CodeInvalidKeyFormat, 0},
		{"key_without_bearer.json", inference, false, gateway.CodeInvalidKeyFormat, 0},
		{"chat_completions.json", "not-a-key", false, gateway.CodeInvalidKeyFormat, 0},
		{"chat_completions.json", badChecksum, false, gateway.CodeInvalidKeyFormat, 0},
		{"chat_completions.json", management, false, gateway.CodeWrongKeyKind, 0},
		{"list_keys.json", inference, false, gateway.CodeWrongKeyKind, 0},
		{"rotate_key.json", inference, false, gateway.CodeWrongKeyKind, 0},
		{"chat_completions.json", unknown.Text, false, gateway.CodeInvalidKey, -1},
		{"chat_completions.json", wrongSecret, false, gateway.CodeInvalidKey, -1},
		{"chat_completions.json", inference, true, "", -1},
		{"x_api_key.json", inference, true, "", -1},
		{"x_api_key_on_chat_completions.json", inference, true, "", -1},
		{"x_api_key_and_same_bearer.json", inference, true, "", -1},
		{"x_api_key_and_other_bearer.json", inference, false, gateway.CodeInvalidKeyFormat, 0},
		{"x_api_key_empty.json", "", false, gateway.CodeMissingAuthorization, 0},
		{"x_api_key.json", "not-a-key", false, gateway.CodeInvalidKeyFormat, 0},
		{"x_api_key.json", management, false, gateway.CodeWrongKeyKind, 0},
		{"lowercase_authorization_header.json", inference, true, "", -1},
		{"authorization_only_in_multivalue_headers.json", inference, true, "", -1},
		{"bearer_with_extra_spaces.json", inference, true, "", -1},
		{"bearer_with_tab.json", inference, true, "", -1},
		{"models.json", inference, true, "", -1},
		{"own_key.json", inference, true, "", -1},
		{"own_key.json", management, true, "", -1},
		{"list_keys.json", management, true, "", -1},
		{"rotate_key.json", management, true, "", -1},
	}
	for _, tc := range cases {
		outcome := string(tc.code)
		if tc.allow {
			outcome = "allow"
		}
		t.Run(strings.TrimSuffix(tc.fixture, ".json")+"/"+outcome, func(t *testing.T) {
			r := e.authorize(tc.fixture, tc.key)
			if tc.allow {
				c := wantAllow(t, r)
				if c.WorkspaceID != "acme" || c.KID == "" {
					t.Errorf("context %+v lacks workspace or kid", c)
				}
			} else {
				wantDeny(t, r, tc.code)
			}
			if tc.calls >= 0 && r.Calls != tc.calls {
				t.Errorf("DynamoDB calls = %d, want %d", r.Calls, tc.calls)
			}
		})
	}
	t.Run("unknown kid and wrong secret answer alike", func(t *testing.T) {
		a, b := e.authorize("chat_completions.json", unknown.Text), e.authorize("chat_completions.json", wrongSecret)
		if a.Context["message"] != b.Context["message"] || a.code() != b.code() {
			t.Errorf("unknown kid %v, wrong secret %v: want the same answer", a.Context, b.Context)
		}
	})
	t.Run("no secret in logs", func(t *testing.T) {
		logs := e.logs.String()
		for _, secret := range []string{inference, management, strings.TrimPrefix(inference, keyformat.Prefix(gateway.KindInference, kid)+"_")} {
			if strings.Contains(logs, secret) {
				t.Fatal("a key secret reached the log")
			}
		}
		if n := strings.Count(logs, `"msg":"authorize"`); n < len(cases) {
			t.Errorf("%d log lines for %d decisions, want one each", n, len(cases))
		}
	})
}

func TestAllowPolicyCoversEveryRouteOfTheKind(t *testing.T) {
	e := newEnv(t)
	inference, _ := e.key("acme", gateway.KindInference, gateway.Limits{})
	r := wantAllowResult(t, e.authorize("chat_completions.json", inference))
	base := "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/v1/"
	want := []string{base + "POST/chat/completions", base + "POST/embeddings", base + "GET/models", base + "GET/key",
		base + "POST/messages", base + "POST/responses", base + "GET/responses/*",
		base + "POST/moderations", base + "POST/images/generations", base + "POST/audio/speech", base + "POST/audio/transcriptions"}
	if strings.Join(r.Resources, " ") != strings.Join(want, " ") {
		t.Errorf("resources %v, want %v", r.Resources, want)
	}
}

// A route named with a trailing slash is allowed, and the policy covers the
// ARN as API Gateway sent it as well as every route of the kind.
func TestAllowPolicyCoversARouteWithATrailingSlash(t *testing.T) {
	e := newEnv(t)
	inference, _ := e.key("acme", gateway.KindInference, gateway.Limits{})
	base := "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/v1/"
	event := strings.ReplaceAll(fixture(t, "chat_completions.json", inference), base+"POST/chat/completions", base+"POST/chat/completions/")
	out, err := e.invoke.Invoke(context.Background(), []byte(event))
	r := wantAllowResult(t, decodeResult(t, out, err))
	if !slices.Contains(r.Resources, base+"POST/chat/completions/") || !slices.Contains(r.Resources, base+"GET/models") {
		t.Errorf("resources %v lack the requested ARN or the kind's routes", r.Resources)
	}
	// The cached list for the kind is not changed by the extra ARN.
	again := wantAllowResult(t, e.authorize("chat_completions.json", inference))
	if slices.Contains(again.Resources, base+"POST/chat/completions/") {
		t.Errorf("a later request's resources %v kept the trailing-slash ARN", again.Resources)
	}
}

func wantAllowResult(t *testing.T, r result) result {
	t.Helper()
	wantAllow(t, r)
	return r
}

func lambdaHandler(h *authorizer.Handler) lambda.Handler { return lambda.NewHandler(h.Handle) }
