package wiring

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
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
		Getenv:   getenv,
		Logger:   log,
		Metrics:  os.Stdout,
	}
	if s.ProviderCredentials == CredentialsFromSecretsManager {
		d.SecretsManager = sm.NewFromConfig(awsCfg)
	}
	return s, d, nil
}

// Fatal logs why a function cannot start and exits, for main.
func Fatal(log *slog.Logger, function string, err error) {
	log.Error("start "+function, "error", err.Error())
	os.Exit(1)
}
