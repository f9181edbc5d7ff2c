package wiring

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"reflect"
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
		"PROXY_LOG_SUCCESS_EVERY": "10", "FINDINGS_TOPIC_ARN": "arn:aws:sns:eu-west-1:1:findings",
		"WEBHOOK_ALLOW_LOOPBACK_HTTP": "true",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := Settings{Tables: s.Tables, AuthCacheTTL: 5 * time.Second, AuthStoreTimeout: 500 * time.Millisecond,
		PerKeyMetrics: true, ProviderCredentials: CredentialsFromEnv, ProviderSecretPrefix: "stack/",
		LocalProviderURL: "http://127.0.0.1:1/v1", ProxyLogSuccessEvery: 10,
		FindingsTopicARN: "arn:aws:sns:eu-west-1:1:findings", WebhookAllowLoopbackHTTP: true}
	if !reflect.DeepEqual(s, want) {
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
		{"missing findings table", map[string]string{"TABLE_FINDINGS": ""}, "TABLE_FINDINGS"},
		{"topic not an ARN", map[string]string{"FINDINGS_TOPIC_ARN": "findings"}, `FINDINGS_TOPIC_ARN="findings"`},
		{"loopback flag", map[string]string{"WEBHOOK_ALLOW_LOOPBACK_HTTP": "1"}, "WEBHOOK_ALLOW_LOOPBACK_HTTP"},
		{"GitHub keys not PEM", map[string]string{"GITHUB_SECRET_SCANNING_PUBLIC_KEYS": "abc"}, "GITHUB_SECRET_SCANNING_PUBLIC_KEYS"},
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

// GitHub's secret scanning keys are read as PEM, one block or several, as
// https://api.github.com/meta/public_keys/secret_scanning publishes them.
func TestFromEnvReadsGitHubKeys(t *testing.T) {
	var blocks []string
	for range 2 {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
		blocks = append(blocks, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
	}
	s, err := FromEnv(env(map[string]string{"GITHUB_SECRET_SCANNING_PUBLIC_KEYS": strings.Join(blocks, "\n")}))
	if err != nil || len(s.GitHubSecretScanningKeys) != 2 {
		t.Errorf("got %d keys, %v; want 2", len(s.GitHubSecretScanningKeys), err)
	}
}
