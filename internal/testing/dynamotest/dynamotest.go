package dynamotest

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/aistats/edge/internal/local/dynalite"
	"github.com/aistats/edge/pkg/adapter/dynamo"
)

// EndpointVariable is the SDK's standard variable for a DynamoDB endpoint.
const EndpointVariable = "AWS_ENDPOINT_URL_DYNAMODB"

// Main runs a package's tests with a DynamoDB endpoint available. Use it from
// TestMain: os.Exit(dynamotest.Main(m)).
func Main(m *testing.M) int {
	if os.Getenv(EndpointVariable) != "" {
		return m.Run()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	server, err := dynalite.Start(ctx, dynalite.Config{Output: os.Stderr})
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "dynamotest: start dynalite: %v\n", err)
		return 1
	}
	defer server.Stop()
	os.Setenv(EndpointVariable, server.Endpoint())
	defer os.Unsetenv(EndpointVariable)
	return m.Run()
}

// Endpoint returns the endpoint Main provided.
func Endpoint(t testing.TB) string {
	t.Helper()
	endpoint := os.Getenv(EndpointVariable)
	if endpoint == "" {
		t.Fatalf("%s is unset: call dynamotest.Main from TestMain", EndpointVariable)
	}
	return endpoint
}

// NewClient returns a client for the test endpoint.
func NewClient(t testing.TB, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	t.Helper()
	return dynalite.NewClient(Endpoint(t), optFns...)
}

var unsafeTableChars = regexp.MustCompile(`[^a-zA-Z0-9_.-]`)

// NewTables creates a fresh set of tables with a prefix unique to this test,
// so tests never see each other's items and may run in parallel.
func NewTables(t testing.TB, client *dynamodb.Client) dynamo.Tables {
	t.Helper()
	name := unsafeTableChars.ReplaceAllString(t.Name(), "-")
	if len(name) > 100 {
		name = name[:100]
	}
	tables := dynamo.TablesWithPrefix(fmt.Sprintf("test-%s-%s-", name, rand.Text()[:6]))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := dynamo.CreateTables(ctx, client, tables); err != nil {
		t.Fatalf("create tables: %v", err)
	}
	return tables
}
