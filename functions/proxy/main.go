// Command proxy is the proxy Lambda. It only wires: configuration from the
// environment, clients built once per container, then pkg/proxy does the
// work.
package main

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/aistats/edge/pkg/dynamo"
	"github.com/aistats/edge/pkg/providers"
	"github.com/aistats/edge/pkg/proxy"
	"github.com/aistats/edge/pkg/secretsmanager"
	"github.com/aistats/edge/pkg/upstream"
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
	h, err := proxy.New(proxy.Config{
		Registry: registry,
		Upstream: upstream.New(upstream.Config{HTTP: &http.Client{Transport: &http.Transport{
			ResponseHeaderTimeout: 60 * time.Second, MaxIdleConnsPerHost: 16, ForceAttemptHTTP2: true,
		}}}),
		Credentials: &secretsmanager.Credentials{Client: sm.NewFromConfig(awsCfg)},
		Usage:       dynamo.New(dynamo.Config{Client: dynamodb.NewFromConfig(awsCfg), Tables: tables}),
		Logger:      log,
	})
	if err != nil {
		fail("configure proxy", err)
	}
	lambda.Start(h.Handle)
}
