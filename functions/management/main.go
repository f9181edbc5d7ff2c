// Command management is the management API Lambda. It only wires:
// configuration from the environment, clients built once per container,
// then pkg/management does the work.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/handler/management"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	tables, err := dynamo.TablesFromEnv(os.Getenv)
	if err != nil {
		log.Error("configure management", "error", err.Error())
		os.Exit(1)
	}
	awsCfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Error("load AWS configuration", "error", err.Error())
		os.Exit(1)
	}
	store := dynamo.New(dynamo.Config{Client: dynamodb.NewFromConfig(awsCfg), Tables: tables})
	h, err := management.New(management.Config{Store: store, Usage: store, Logger: log})
	if err != nil {
		log.Error("configure management", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}
