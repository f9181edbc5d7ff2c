package wiring

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// LoadAWS reads the settings from the environment and builds the AWS
// clients of a deployed function, once per container. retryMaxAttempts
// bounds the SDK's attempts per call (0 keeps the SDK's default): the
// authorizer uses 2, since its whole answer must fit its store timeout.
func LoadAWS(ctx context.Context, getenv func(string) string, log *slog.Logger, retryMaxAttempts int) (Settings, Deps, error) {
	s, err := FromEnv(getenv)
	if err != nil {
		return Settings{}, Deps{}, err
	}
	var opts []func(*config.LoadOptions) error
	if retryMaxAttempts > 0 {
		opts = append(opts, config.WithRetryMaxAttempts(retryMaxAttempts))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return Settings{}, Deps{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	d := Deps{
		DynamoDB: dynamodb.NewFromConfig(awsCfg),
		AWS:      &awsCfg,
		Getenv:   getenv,
		Logger:   log,
		Metrics:  os.Stdout,
	}
	return s, d, nil
}

// Start is a deployed function's main: it reads the settings, builds the
// clients and the handler once per container, and hands handler(h) to the
// Lambda runtime. A function that cannot start logs why, naming the
// setting, and exits 1, which fails its first invocation loudly.
func Start[H any](function string, retryMaxAttempts int, build func(Settings, Deps) (H, error), handler func(H) any) {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	settings, deps, err := LoadAWS(context.Background(), os.Getenv, log, retryMaxAttempts)
	if err != nil {
		log.Error("start "+function, "error", err.Error())
		os.Exit(1)
	}
	h, err := build(settings, deps)
	if err != nil {
		log.Error("start "+function, "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(handler(h))
}
