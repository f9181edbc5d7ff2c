package wiring

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/adapter/emf"
	"github.com/aistats/edge/pkg/adapter/secretsmanager"
	"github.com/aistats/edge/pkg/adapter/sns"
	"github.com/aistats/edge/pkg/adapter/upstream"
	"github.com/aistats/edge/pkg/adapter/webhook"
	"github.com/aistats/edge/pkg/domain/providers"
	"github.com/aistats/edge/pkg/handler/alerts"
	"github.com/aistats/edge/pkg/handler/authorizer"
	"github.com/aistats/edge/pkg/handler/detector"
	"github.com/aistats/edge/pkg/handler/management"
	"github.com/aistats/edge/pkg/handler/proxy"
)

// Deps are the clients a function is built with: AWS's in a Lambda
// (LoadAWS), local ones under `make dev` and in tests.
type Deps struct {
	// DynamoDB is required by every function.
	DynamoDB dynamo.Client
	// AWS is the SDK configuration of a deployed function, for the clients
	// only one function needs: the proxy builds its Secrets Manager client
	// from it when Settings says "secretsmanager".
	AWS *aws.Config
	// Getenv reads provider credentials when Settings says "env".
	Getenv func(string) string
	// Logger receives the JSON log lines; nil discards them.
	Logger *slog.Logger
	// Metrics receives CloudWatch EMF lines (os.Stdout in a Lambda); nil
	// emits none.
	Metrics io.Writer
	// Now is every handler's clock; nil means time.Now.
	Now func() time.Time
	// SNS publishes findings; nil builds one from AWS when
	// Settings.FindingsTopicARN is set.
	SNS sns.Client
}

func (d Deps) store(s Settings) (*dynamo.Store, error) {
	if d.DynamoDB == nil {
		return nil, errors.New("no DynamoDB client")
	}
	return dynamo.New(dynamo.Config{Client: d.DynamoDB, Tables: s.Tables}), nil
}

func (d Deps) metrics(s Settings) *emf.Emitter {
	if d.Metrics == nil {
		return nil
	}
	return emf.New(d.Metrics, s.PerKeyMetrics)
}

// Authorizer builds the REQUEST authorizer.
func Authorizer(s Settings, d Deps) (*authorizer.Handler, error) {
	store, err := d.store(s)
	if err != nil {
		return nil, err
	}
	return authorizer.New(authorizer.Config{
		Store:        store,
		Now:          d.Now,
		CacheTTL:     s.AuthCacheTTL,
		StoreTimeout: s.AuthStoreTimeout,
		Logger:       d.Logger,
		Metrics:      d.metrics(s),
		Usage:        store,
	})
}

// Management builds the management API, with the alerts raiser its
// leaked-key report raises through.
func Management(s Settings, d Deps) (*management.Handler, error) {
	store, err := d.store(s)
	if err != nil {
		return nil, err
	}
	raiser, err := Alerts(s, d)
	if err != nil {
		return nil, err
	}
	return management.New(management.Config{Store: store, Usage: store, Logger: d.Logger, Now: d.Now, Metrics: d.metrics(s),
		Findings: store, Alerts: store, Budgets: store, WebhookRule: webhookRule(s), Raiser: raiser, Sources: store,
		GitHubKeys: s.GitHubSecretScanningKeys})
}

func webhookRule(s Settings) webhook.Rule {
	return webhook.Rule{AllowLoopbackHTTP: s.WebhookAllowLoopbackHTTP}
}

// Alerts builds the one entry point that raises findings: store (dedup
// while open), auto_disable, then SNS and the workspace's webhook. The
// scheduled detector calls Raise on what it finds; so does the leaked-key
// report.
func Alerts(s Settings, d Deps) (*alerts.Raiser, error) {
	store, err := d.store(s)
	if err != nil {
		return nil, err
	}
	cfg := alerts.Config{
		Findings: store, Workspaces: store, Logger: d.Logger, Metrics: d.metrics(s), Now: d.Now,
		// Signed with the wall clock, not d.Now: a receiver checks the
		// signature's time against its own clock.
		Webhooks: webhook.New(webhook.Config{Rule: webhookRule(s)}),
		Disabler: management.NewService(store, nil, d.Now),
	}
	if s.FindingsTopicARN != "" {
		client := d.SNS
		if client == nil {
			if d.AWS == nil {
				return nil, errors.New("FINDINGS_TOPIC_ARN is set, but there is no AWS configuration to publish with")
			}
			client = awssns.NewFromConfig(*d.AWS)
		}
		cfg.Topic = sns.Topic{Client: client, ARN: s.FindingsTopicARN}
	}
	return alerts.New(cfg)
}

// Proxy builds the proxy.
func Proxy(s Settings, d Deps) (*proxy.Handler, error) {
	store, err := d.store(s)
	if err != nil {
		return nil, err
	}
	registry, err := providers.Default()
	if err != nil {
		return nil, err
	}
	creds, err := providerCredentials(s, d)
	if err != nil {
		return nil, err
	}
	baseURLs := map[string]string{}
	if s.LocalProviderURL != "" {
		baseURLs["local"] = s.LocalProviderURL
	}
	return proxy.New(proxy.Config{
		Registry: registry,
		BaseURLs: baseURLs,
		// No ResponseHeaderTimeout: each route's deadline (proxy.Config)
		// bounds the whole call, and a shorter header timeout would cut a
		// long non-streamed completion and retry it, paying twice.
		Upstream: upstream.New(upstream.Config{HTTP: &http.Client{Transport: &http.Transport{
			MaxIdleConnsPerHost: 16, ForceAttemptHTTP2: true,
		}}}),
		LogSuccessEvery: s.ProxyLogSuccessEvery,
		Credentials:     creds,
		Usage:           store,
		Budgets:         store,
		Now:             d.Now,
		Logger:          d.Logger,
		Metrics:         d.metrics(s),
	})
}

func providerCredentials(s Settings, d Deps) (proxy.Credentials, error) {
	switch s.ProviderCredentials {
	case CredentialsFromEnv:
		if d.Getenv == nil {
			return nil, errors.New("provider credentials from the environment, but no Getenv")
		}
		return &proxy.EnvCredentials{Getenv: d.Getenv}, nil
	case CredentialsFromSecretsManager:
		if d.AWS == nil {
			return nil, errors.New("provider credentials from Secrets Manager, but no AWS configuration")
		}
		return &secretsmanager.Credentials{Client: sm.NewFromConfig(*d.AWS), Prefix: s.ProviderSecretPrefix}, nil
	default:
		return nil, errors.New("provider credentials: Settings not read with FromEnv")
	}
}

// Detector builds the scheduled detector: the rollup job and anomaly
// detection over the keys active in the last hours, raising what it finds
// through the same Alerts as the leaked-key report.
func Detector(s Settings, d Deps) (*detector.Handler, error) {
	store, err := d.store(s)
	if err != nil {
		return nil, err
	}
	raiser, err := Alerts(s, d)
	if err != nil {
		return nil, err
	}
	return detector.New(detector.Config{Store: store, Budgets: store, Raiser: raiser, Now: d.Now, Logger: d.Logger, Metrics: d.metrics(s)})
}
