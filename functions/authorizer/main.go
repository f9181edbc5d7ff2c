// Command authorizer is the API Gateway REQUEST authorizer Lambda. It only
// wires: configuration from the environment, clients built once per
// container, then pkg/authorizer does the work.
package main

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/adapter/emf"
	"github.com/aistats/edge/pkg/handler/authorizer"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	tables, err := dynamo.TablesFromEnv(os.Getenv)
	if err != nil {
		log.Error("configure authorizer", "error", err.Error())
		os.Exit(1)
	}
	awsCfg, err := config.LoadDefaultConfig(context.Background(), config.WithRetryMaxAttempts(2))
	if err != nil {
		log.Error("load AWS configuration", "error", err.Error())
		os.Exit(1)
	}
	store := dynamo.New(dynamo.Config{Client: dynamodb.NewFromConfig(awsCfg), Tables: tables})
	h, err := authorizer.New(authorizer.Config{
		Store:        store,
		CacheTTL:     secondsFromEnv("AUTH_CACHE_TTL_SECONDS", 30*time.Second),
		StoreTimeout: secondsFromEnv("AUTH_STORE_TIMEOUT_SECONDS", 2*time.Second),
		Logger:       log,
		Metrics:      emf.New(os.Stdout, os.Getenv("PER_KEY_METRICS") == "true"),
	})
	if err != nil {
		log.Error("configure authorizer", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}

func secondsFromEnv(name string, def time.Duration) time.Duration {
	if v, err := strconv.ParseFloat(os.Getenv(name), 64); err == nil && v >= 0 {
		return time.Duration(v * float64(time.Second))
	}
	return def
}
