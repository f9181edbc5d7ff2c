package wiring

import (
	"strings"
	"testing"
	"time"
)

// tables is a complete set of table variables, the minimum FromEnv accepts.
var tables = map[string]string{
	"TABLE_WORKSPACES": "w", "TABLE_KEYS": "k", "TABLE_COUNTERS": "c", "TABLE_USAGE": "u", "TABLE_AUDIT": "a", "TABLE_FINDINGS": "f",
}

func env(extra map[string]string) func(string) string {
	return func(name string) string {
		if v, ok := extra[name]; ok {
			return v
		}
		return tables[name]
	}
}

func TestFromEnvDefaults(t *testing.T) {
	s, err := FromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if s.AuthCacheTTL != 30*time.Second || s.AuthStoreTimeout != 2*time.Second {
		t.Errorf("got cache TTL %v, store timeout %v; want 30s and 2s", s.AuthCacheTTL, s.AuthStoreTimeout)
	}
	if s.ProviderCredentials != CredentialsFromSecretsManager || s.PerKeyMetrics || s.LocalProviderURL != "" || s.ProxyLogSuccessEvery != 1 {
		t.Errorf("got %+v; want Secrets Manager, no per-key metrics, no local provider", s)
	}
	if s.Tables.Keys != "k" || s.Tables.Audit != "a" {
		t.Errorf("got tables %+v", s.Tables)
	}
}

func TestFromEnvReadsEverySetting(t *testing.T) {
	s, err := FromEnv(env(map[string]string{
		"AUTH_CACHE_TTL_SECONDS": "5", "AUTH_STORE_TIMEOUT_SECONDS": "0.5", "PER_KEY_METRICS": "true",
		"PROVIDER_CREDENTIALS": "env", "PROVIDER_SECRET_PREFIX": "stack/", "LOCAL_PROVIDER_URL": "http://127.0.0.1:1/v1",
		"PROXY_LOG_SUCCESS_EVERY": "10",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := Settings{Tables: s.Tables, AuthCacheTTL: 5 * time.Second, AuthStoreTimeout: 500 * time.Millisecond,
		PerKeyMetrics: true, ProviderCredentials: CredentialsFromEnv, ProviderSecretPrefix: "stack/",
		LocalProviderURL: "http://127.0.0.1:1/v1", ProxyLogSuccessEvery: 10}
	if s != want {
		t.Errorf("got %+v, want %+v", s, want)
	}
}

// Zero keeps meaning "the default", as the README documents for
// AUTH_CACHE_TTL_SECONDS.
func TestFromEnvZeroMeansDefault(t *testing.T) {
	s, err := FromEnv(env(map[string]string{"AUTH_CACHE_TTL_SECONDS": "0"}))
	if err != nil {
		t.Fatal(err)
	}
	if s.AuthCacheTTL != 30*time.Second {
		t.Errorf("got %v, want 30s", s.AuthCacheTTL)
	}
}

func TestFromEnvRefusesMalformedSettings(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"timeout not a number", map[string]string{"AUTH_STORE_TIMEOUT_SECONDS": "abc"}, `AUTH_STORE_TIMEOUT_SECONDS="abc"`},
		{"negative TTL", map[string]string{"AUTH_CACHE_TTL_SECONDS": "-1"}, `AUTH_CACHE_TTL_SECONDS="-1"`},
		{"TTL past the authorizer's bound", map[string]string{"AUTH_CACHE_TTL_SECONDS": "60"}, `AUTH_CACHE_TTL_SECONDS="60": want a number of seconds from 0 to 30`},
		{"TTL too small to be a duration", map[string]string{"AUTH_CACHE_TTL_SECONDS": "1e-10"}, `AUTH_CACHE_TTL_SECONDS="1e-10"`},
		{"NaN timeout", map[string]string{"AUTH_STORE_TIMEOUT_SECONDS": "NaN"}, `AUTH_STORE_TIMEOUT_SECONDS="NaN"`},
		{"metrics flag", map[string]string{"PER_KEY_METRICS": "yes"}, `PER_KEY_METRICS="yes": want true or false`},
		{"credential source", map[string]string{"PROVIDER_CREDENTIALS": "vault"}, `PROVIDER_CREDENTIALS="vault"`},
		{"log sampling", map[string]string{"PROXY_LOG_SUCCESS_EVERY": "0"}, `PROXY_LOG_SUCCESS_EVERY="0"`},
		{"missing table", map[string]string{"TABLE_AUDIT": ""}, "TABLE_AUDIT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FromEnv(env(tc.env))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// Every problem is named at once, so a deploy is fixed in one round.
func TestFromEnvReportsEveryProblem(t *testing.T) {
	_, err := FromEnv(env(map[string]string{"AUTH_STORE_TIMEOUT_SECONDS": "abc", "PER_KEY_METRICS": "1"}))
	if err == nil || !strings.Contains(err.Error(), "AUTH_STORE_TIMEOUT_SECONDS") || !strings.Contains(err.Error(), "PER_KEY_METRICS") {
		t.Errorf("got %v, want both variables named", err)
	}
}

func TestAHalfConfiguredProxyDoesNotStart(t *testing.T) {
	s, err := FromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Proxy(s, Deps{}); err == nil {
		t.Error("a proxy without a DynamoDB client started")
	}
}
