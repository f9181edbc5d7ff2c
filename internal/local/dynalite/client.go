package dynalite

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// NewClient returns a client for a DynamoDB-compatible server on this
// machine (dynalite), with placeholder credentials: the server checks that a
// request is signed, not by whom. Deployed functions use config.LoadDefaultConfig
// instead.
func NewClient(endpoint string, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	cfg := aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
		// Fail fast locally: a dynalite that is down should not be retried
		// for seconds.
		RetryMaxAttempts: 2,
	}
	return dynamodb.NewFromConfig(cfg, append([]func(*dynamodb.Options){func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(endpoint)
	}}, optFns...)...)
}
