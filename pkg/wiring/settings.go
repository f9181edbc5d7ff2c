package wiring

import (
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/handler/management"
)

// Settings is every function's configuration. The zero value is not valid:
// build it with FromEnv, which fills the defaults.
type Settings struct {
	// Tables are the six DynamoDB tables (TABLE_WORKSPACES, TABLE_KEYS,
	// TABLE_COUNTERS, TABLE_USAGE, TABLE_AUDIT, TABLE_FINDINGS); all are required.
	Tables dynamo.Tables
	// AuthCacheTTL is how long the authorizer trusts a cached workspace
	// (AUTH_CACHE_TTL_SECONDS; 0 or unset means the default, 30 s, which is
	// also the maximum).
	AuthCacheTTL time.Duration
	// AuthStoreTimeout bounds the authorizer's DynamoDB calls of one request
	// (AUTH_STORE_TIMEOUT_SECONDS, default 2 s).
	AuthStoreTimeout time.Duration
	// PerKeyMetrics adds the kid as a metric dimension (PER_KEY_METRICS=true).
	PerKeyMetrics bool
	// ProviderCredentials says where the proxy reads provider keys:
	// "secretsmanager" (the default, as deployed) or "env" (the variables the
	// registry names, OPENAI_API_KEY and so on: the local stack and tests).
	ProviderCredentials string
	// ProviderSecretPrefix is put before each registry secret name
	// (PROVIDER_SECRET_PREFIX; the template sets "<stack>/").
	ProviderSecretPrefix string
	// LocalProviderURL is the base URL of the offline provider "local"
	// (LOCAL_PROVIDER_URL). Empty in AWS, where "local" is then unconfigured
	// and hidden like any provider without a credential.
	LocalProviderURL string
	// ProxyLogSuccessEvery samples the proxy's log line of successful
	// requests: one in N is written (PROXY_LOG_SUCCESS_EVERY, default 1,
	// every one). Failures are always logged.
	ProxyLogSuccessEvery int
	// FindingsTopicARN is the SNS topic each new finding is published to
	// (FINDINGS_TOPIC_ARN; template.yaml sets it). Empty skips SNS, as in
	// the local stack, which says so once at start.
	FindingsTopicARN string
	// WebhookAllowLoopbackHTTP lets webhook URLs be http to a loopback
	// address (WEBHOOK_ALLOW_LOOPBACK_HTTP=true): only the local stack sets
	// it. Deployed, a webhook must be https to a public address.
	WebhookAllowLoopbackHTTP bool
	// GitHubSecretScanningKeys are the PEM public keys that GitHub's secret
	// scanning signs its reports with (GITHUB_SECRET_SCANNING_PUBLIC_KEYS,
	// from https://api.github.com/meta/public_keys/secret_scanning). None:
	// signed reports are refused; unsigned ones still work.
	GitHubSecretScanningKeys []*ecdsa.PublicKey
}

// Credential sources for Settings.ProviderCredentials.
const (
	CredentialsFromSecretsManager = "secretsmanager"
	CredentialsFromEnv            = "env"
)

// FromEnv reads Settings from getenv (os.Getenv in a Lambda). Every
// malformed or missing value is reported, each naming its variable.
func FromEnv(getenv func(string) string) (Settings, error) {
	var errs []error
	tables, err := dynamo.TablesFromEnv(getenv)
	errs = append(errs, err)
	s := Settings{
		Tables:               tables,
		ProviderSecretPrefix: getenv("PROVIDER_SECRET_PREFIX"),
		LocalProviderURL:     getenv("LOCAL_PROVIDER_URL"),
	}
	// At most 30 s: how long a disabled workspace's key can still be
	// admitted (docs/architecture.md §5).
	s.AuthCacheTTL, err = seconds(getenv, "AUTH_CACHE_TTL_SECONDS", 30*time.Second, 30*time.Second)
	errs = append(errs, err)
	s.AuthStoreTimeout, err = seconds(getenv, "AUTH_STORE_TIMEOUT_SECONDS", 2*time.Second, time.Hour)
	errs = append(errs, err)
	s.PerKeyMetrics, err = boolean(getenv, "PER_KEY_METRICS")
	errs = append(errs, err)
	s.ProxyLogSuccessEvery, err = count(getenv, "PROXY_LOG_SUCCESS_EVERY", 1)
	errs = append(errs, err)
	s.FindingsTopicARN = strings.TrimSpace(getenv("FINDINGS_TOPIC_ARN"))
	if s.FindingsTopicARN != "" && !strings.HasPrefix(s.FindingsTopicARN, "arn:") {
		errs = append(errs, fmt.Errorf("FINDINGS_TOPIC_ARN=%q: want an SNS topic ARN", clip(s.FindingsTopicARN)))
	}
	s.WebhookAllowLoopbackHTTP, err = boolean(getenv, "WEBHOOK_ALLOW_LOOPBACK_HTTP")
	errs = append(errs, err)
	if s.GitHubSecretScanningKeys, err = management.ParseGitHubKeys(getenv("GITHUB_SECRET_SCANNING_PUBLIC_KEYS")); err != nil {
		errs = append(errs, fmt.Errorf("GITHUB_SECRET_SCANNING_PUBLIC_KEYS: %w", err))
	}
	switch v := getenv("PROVIDER_CREDENTIALS"); v {
	case "", CredentialsFromSecretsManager:
		s.ProviderCredentials = CredentialsFromSecretsManager
	case CredentialsFromEnv:
		s.ProviderCredentials = CredentialsFromEnv
	default:
		errs = append(errs, fmt.Errorf("PROVIDER_CREDENTIALS=%q: want %s or %s", clip(v), CredentialsFromSecretsManager, CredentialsFromEnv))
	}
	if err := errors.Join(errs...); err != nil {
		return Settings{}, fmt.Errorf("read settings from the environment: %w", err)
	}
	return s, nil
}

// seconds reads a number of seconds from 0 to most; unset or 0 means def.
// A value too small to be a duration (under a nanosecond) is refused, not
// quietly read as 0 and so as the default.
func seconds(getenv func(string) string, name string, def, most time.Duration) (time.Duration, error) {
	raw := strings.TrimSpace(getenv(name))
	if raw == "" {
		return def, nil
	}
	v, err := strconv.ParseFloat(raw, 64)
	d := time.Duration(v * float64(time.Second))
	if err != nil || math.IsNaN(v) || v < 0 || v > most.Seconds() || (v > 0 && d == 0) {
		return 0, fmt.Errorf("%s=%q: want a number of seconds from 0 to %g", name, clip(raw), most.Seconds())
	}
	if d == 0 {
		return def, nil
	}
	return d, nil
}

// count reads a whole number from 1 to 1,000,000; unset means def.
func count(getenv func(string) string, name string, def int) (int, error) {
	raw := strings.TrimSpace(getenv(name))
	if raw == "" {
		return def, nil
	}
	v, err := strconv.Atoi(raw)
	if err != nil || v < 1 || v > 1_000_000 {
		return 0, fmt.Errorf("%s=%q: want a whole number from 1 to 1000000", name, clip(raw))
	}
	return v, nil
}

// boolean reads "true" or "false"; unset means false.
func boolean(getenv func(string) string, name string) (bool, error) {
	switch raw := strings.TrimSpace(getenv(name)); raw {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, fmt.Errorf("%s=%q: want true or false", name, clip(raw))
	}
}

// clip keeps an echoed value short: a setting is not a secret, but a long
// one has no place in a start-up error.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
