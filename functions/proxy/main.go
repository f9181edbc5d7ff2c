// Command proxy is the proxy Lambda. It only wires: configuration from the
// environment, clients built once per container, then pkg/proxy does the
// work.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/adapter/emf"
	"github.com/aistats/edge/pkg/adapter/secretsmanager"
	"github.com/aistats/edge/pkg/adapter/upstream"
	"github.com/aistats/edge/pkg/domain/providers"
	"github.com/aistats/edge/pkg/handler/proxy"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	fail := func(doing string, err error) {
		log.Error(doing, "error", err.Error())
		os.Exit(1)
	}
	tables, err := dynamo.TablesFromEnv(os.Getenv)
	if err != nil {
		fail("configure proxy", err)
	}
	registry, err := providers.Default()
	if err != nil {
		fail("load provider registry", err)
	}
	awsCfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		fail("load AWS configuration", err)
	}
	// Provider credentials come from Secrets Manager, under the stack's
	// PROVIDER_SECRET_PREFIX; PROVIDER_CREDENTIALS=env reads the variables
	// the registry names instead (local runs and tests).
	var creds proxy.Credentials = &secretsmanager.Credentials{Client: sm.NewFromConfig(awsCfg), Prefix: os.Getenv("PROVIDER_SECRET_PREFIX")}
	switch v := os.Getenv("PROVIDER_CREDENTIALS"); v {
	case "", "secretsmanager":
	case "env":
		creds = &proxy.EnvCredentials{Getenv: os.Getenv}
	default:
		fail("configure proxy", fmt.Errorf("PROVIDER_CREDENTIALS=%q: want secretsmanager or env", v))
	}
	// LOCAL_PROVIDER_URL enables the offline provider "local" (tests only).
	baseURLs := map[string]string{}
	if u := os.Getenv("LOCAL_PROVIDER_URL"); u != "" {
		baseURLs["local"] = u
	}
	h, err := proxy.New(proxy.Config{
		Registry: registry,
		BaseURLs: baseURLs,
		Upstream: upstream.New(upstream.Config{HTTP: &http.Client{Transport: &http.Transport{
			ResponseHeaderTimeout: 60 * time.Second, MaxIdleConnsPerHost: 16, ForceAttemptHTTP2: true,
		}}}),
		Credentials: creds,
		Usage:       dynamo.New(dynamo.Config{Client: dynamodb.NewFromConfig(awsCfg), Tables: tables}),
		Logger:      log,
		Metrics:     emf.New(os.Stdout, os.Getenv("PER_KEY_METRICS") == "true"),
	})
	if err != nil {
		fail("configure proxy", err)
	}
	lambda.Start(h.Handle)
}
