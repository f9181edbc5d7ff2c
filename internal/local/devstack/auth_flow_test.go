package devstack_test

import (
	"context"
	"crypto/rand"
	"strconv"
	"strings"
	"testing"

	"github.com/aistats/edge/internal/local/dynalite"
	"github.com/aistats/edge/internal/testing/httpcall"

	"github.com/aistats/edge/internal/local/devstack"
	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/keyformat"
)

// get calls url with key, as a client of `make dev` would.
func get(t *testing.T, url, key string) httpcall.Response {
	t.Helper()
	return httpcall.Do(t, nil, "GET", url, httpcall.Bearer(key), "")
}

// TestAuthorizerThroughTheLocalStack drives the real authorizer behind the
// API Gateway emulator, as a client of `make dev` would.
func TestAuthorizerThroughTheLocalStack(t *testing.T) {
	running, _, stop := startStack(t, t.TempDir(), -1)
	defer stop()
	base := running.Credentials.BaseURL

	t.Run("no key", func(t *testing.T) {
		if a := get(t, base+"/key", ""); a.Status != 401 || a.ErrorCode() != "missing_authorization" {
			t.Errorf("got %d %s", a.Status, a.Raw)
		}
	})
	t.Run("bad checksum", func(t *testing.T) {
		k := running.Credentials.APIKey
		bad := k[:len(k)-1] + map[bool]string{true: "A", false: "B"}[k[len(k)-1] != 'A']
		a := get(t, base+"/key", bad)
		if a.Status != 401 || a.ErrorCode() != "invalid_key_format" || a.Header.Get("x-request-id") == "" {
			t.Errorf("got %d %s", a.Status, a.Raw)
		}
	})
	t.Run("management key on an inference route", func(t *testing.T) {
		if a := get(t, base+"/models", running.Credentials.ManagementKey); a.Status != 401 || a.ErrorCode() != "wrong_key_kind" {
			t.Errorf("got %d %s", a.Status, a.Raw)
		}
	})
	// Issue 11 defect 11: the emulator's routing and the authorizer's route
	// check agree on odd paths, so a trailing slash is the same route and
	// an empty segment is no route, never wrong_key_kind.
	t.Run("trailing slash is the same route", func(t *testing.T) {
		for _, path := range []string{"/key/", "/models/"} {
			if a := get(t, base+path, running.Credentials.APIKey); a.Status != 200 {
				t.Errorf("GET /v1%s: %d %s", path, a.Status, a.Raw)
			}
		}
		if a := get(t, base+"/keys/", running.Credentials.ManagementKey); a.Status != 200 {
			t.Errorf("GET /v1/keys/ with a management key: %d %s", a.Status, a.Raw)
		}
	})
	t.Run("double slash is no route", func(t *testing.T) {
		for _, path := range []string{"//models", "/keys//rotate", "/models//"} {
			if a := get(t, base+path, running.Credentials.APIKey); a.Status != 404 || a.ErrorCode() != "not_found" || a.Header.Get("x-request-id") == "" {
				t.Errorf("GET /v1%s: %d %s", path, a.Status, a.Raw)
			}
		}
	})
	t.Run("a path without /v1 is API Gateway's 403", func(t *testing.T) {
		if a := get(t, strings.TrimSuffix(base, "/v1")+"/models", running.Credentials.APIKey); a.Status != 403 || a.Raw != `{"message":"Forbidden"}` {
			t.Errorf("GET /models: %d %s", a.Status, a.Raw)
		}
	})
	t.Run("demo key reads itself", func(t *testing.T) {
		a := get(t, base+"/key", running.Credentials.APIKey)
		data, _ := a.Body["data"].(map[string]any)
		if a.Status != 200 || data["status"] != "active" || !strings.HasPrefix(running.Credentials.APIKey, data["prefix"].(string)) {
			t.Errorf("got %d %s", a.Status, a.Raw)
		}
		if strings.Contains(a.Raw, running.Credentials.APIKey) {
			t.Error("the key's own secret came back")
		}
	})
	t.Run("three requests a day, then 429", func(t *testing.T) {
		client := dynalite.NewClient(running.DynamoDBEndpoint)
		store := dynamo.New(dynamo.Config{Client: client, Tables: devstack.Tables})
		g, err := keyformat.Generate(rand.Reader, gateway.KindInference)
		if err != nil {
			t.Fatal(err)
		}
		err = store.CreateKey(context.Background(), gateway.Key{
			KID: g.Token.KID, WorkspaceID: devstack.DemoWorkspace, Kind: gateway.KindInference, Name: "three a day",
			Prefix: g.Token.Prefix(), SecretHash: g.Hash, Limits: gateway.Limits{RequestsPerDay: 3},
		})
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= 3; i++ {
			a := get(t, base+"/key", g.Text)
			if a.Status != 200 || a.Header.Get("RateLimit-Limit") != "3" || a.Header.Get("RateLimit-Remaining") != strconv.Itoa(3-i) {
				t.Fatalf("request %d: %d, RateLimit %s/%s: %s", i, a.Status, a.Header.Get("RateLimit-Remaining"), a.Header.Get("RateLimit-Limit"), a.Raw)
			}
		}
		a := get(t, base+"/key", g.Text)
		if a.Status != 429 || a.ErrorCode() != "rate_limit_exceeded" {
			t.Fatalf("fourth request: %d %s", a.Status, a.Raw)
		}
		for _, h := range []string{"Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset",
			"x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests", "x-request-id"} {
			if a.Header.Get(h) == "" {
				t.Errorf("429 lacks %s", h)
			}
		}
		if a.Header.Get("RateLimit-Remaining") != "0" || a.Header.Get("Retry-After") == "0" {
			t.Errorf("429 headers: remaining %s, retry after %s", a.Header.Get("RateLimit-Remaining"), a.Header.Get("Retry-After"))
		}
	})
}
