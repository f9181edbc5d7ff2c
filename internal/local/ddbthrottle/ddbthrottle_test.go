package ddbthrottle_test

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aistats/edge/internal/testing/testclock"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aistats/edge/internal/local/ddbthrottle"
	"github.com/aistats/edge/internal/local/dynalite"
	"github.com/aistats/edge/internal/testing/dynamotest"
	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/keyformat"
)

func TestMain(m *testing.M) { os.Exit(dynamotest.Main(m)) }

// setup puts a shim with the given write rate, on a clock the test moves,
// in front of this test's tables, and returns an SDK client for it that
// does not retry, so every refusal is seen.
func setup(t *testing.T, writeRate float64) (*dynamodb.Client, dynamo.Tables, *ddbthrottle.Shim, *testclock.Clock) {
	t.Helper()
	tables := dynamotest.NewTables(t, dynamotest.NewClient(t))
	c := testclock.At(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	shim, err := ddbthrottle.New(ddbthrottle.Config{Target: dynamotest.Endpoint(t), PartitionKeys: ddbthrottle.PartitionKeysOf(tables),
		WriteUnitsPerSecond: writeRate, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(shim)
	t.Cleanup(srv.Close)
	client := dynalite.NewClient(srv.URL, func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	return client, tables, shim, c
}

func put(client *dynamodb.Client, table, pk, payload string) error {
	_, err := client.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]ddbtypes.AttributeValue{
		"pk": &ddbtypes.AttributeValueMemberS{Value: pk}, "payload": &ddbtypes.AttributeValueMemberS{Value: payload},
	}})
	return err
}

// writes counts how many of n writes to one partition succeed, and checks
// that every refusal is DynamoDB's throttling error as the SDK decodes it.
func writes(t *testing.T, client *dynamodb.Client, table, pk, payload string, n int) int {
	t.Helper()
	ok := 0
	for range n {
		err := put(client, table, pk, payload)
		if err == nil {
			ok++
			continue
		}
		if _, throttled := errors.AsType[*ddbtypes.ProvisionedThroughputExceededException](err); !throttled {
			t.Fatalf("refused with %v, want ProvisionedThroughputExceededException", err)
		}
		if !retry.NewStandard().IsErrorRetryable(err) {
			t.Errorf("the SDK would not retry %v", err)
		}
		if (retry.ThrottleErrorCode{Codes: retry.DefaultThrottleErrorCodes}).IsErrorThrottle(err) != aws.TrueTernary {
			t.Errorf("the SDK does not see %v as throttling", err)
		}
	}
	return ok
}

func TestEachPartitionIsServedAtItsRate(t *testing.T) {
	client, tables, shim, c := setup(t, 20)
	if got := writes(t, client, tables.Counters, "key#hot", "x", 30); got != 20 {
		t.Errorf("%d of 30 writes in one instant admitted, want the rate, 20", got)
	}
	if got := writes(t, client, tables.Counters, "key#cold", "x", 5); got != 5 {
		t.Errorf("another partition: %d of 5 admitted, want all: the limit is per partition", got)
	}
	c.Advance(500 * time.Millisecond)
	if got := writes(t, client, tables.Counters, "key#hot", "x", 30); got != 10 {
		t.Errorf("half a second later: %d admitted, want 10", got)
	}
	if shim.Throttled() != 10+20 {
		t.Errorf("throttled %d, want 30", shim.Throttled())
	}
}

// A write costs what DynamoDB bills: one unit per started KB of the item.
func TestAWriteCostsOneUnitPerStartedKB(t *testing.T) {
	client, tables, _, _ := setup(t, 30)
	big := strings.Repeat("x", 2500) // with its names, a 3-unit item
	if got := writes(t, client, tables.Counters, "key#big", big, 15); got != 10 {
		t.Errorf("%d writes of a 2.5 KB item admitted at 30 units a second, want 10", got)
	}
}

// The shim asks dynalite for the consumed capacity to charge it, and hands
// it on only to a caller who asked.
func TestTheAnswerIsWhatTheCallerAskedFor(t *testing.T) {
	client, tables, _, _ := setup(t, 100)
	item := map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "key#a"}}
	out, err := client.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(tables.Counters), Item: item})
	if err != nil {
		t.Fatal(err)
	}
	if out.ConsumedCapacity != nil {
		t.Errorf("consumed capacity %+v handed to a caller who did not ask", out.ConsumedCapacity)
	}
	out, err = client.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(tables.Counters), Item: item,
		ReturnConsumedCapacity: ddbtypes.ReturnConsumedCapacityTotal})
	if err != nil {
		t.Fatal(err)
	}
	if out.ConsumedCapacity == nil || aws.ToFloat64(out.ConsumedCapacity.CapacityUnits) != 1 {
		t.Errorf("consumed capacity %+v, want 1 unit for the caller who asked", out.ConsumedCapacity)
	}
}

// Today's design behind the shim: one key's state item is one partition, so
// past its rate the store's counting write is throttled and the gateway can
// only answer 503 (issue 15's ceiling, on the time-scaled rate).
func TestOneKeyIsCappedAtItsPartitionsRate(t *testing.T) {
	ctx := context.Background()
	client, tables, _, c := setup(t, 5)
	store := dynamo.New(dynamo.Config{Client: client, Tables: tables, Now: c.Now})
	if err := store.CreateWorkspace(ctx, gateway.Workspace{ID: "acme", Plan: gateway.Plan{Providers: []string{"*"}, Models: []string{"*"}}}); err != nil {
		t.Fatal(err)
	}
	g, err := keyformat.Generate(rand.Reader, gateway.KindInference)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateKey(ctx, gateway.Key{KID: g.Token.KID, WorkspaceID: "acme", Kind: gateway.KindInference, Name: "hot",
		Prefix: g.Token.Prefix(), SecretHash: g.Hash}); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Second) // the key's creation used its partition's units
	admitted, unavailable := 0, 0
	for range 8 {
		_, ok, err := store.AdmitKey(ctx, gateway.Admission{KID: g.Token.KID, Kind: gateway.KindInference, SecretHash: g.Hash, Now: c.Now()})
		switch {
		case err == nil && ok:
			admitted++
		case gateway.ErrorCode(err) == gateway.CodeServiceUnavailable:
			unavailable++
		default:
			t.Fatalf("admit: %v %v", ok, err)
		}
	}
	if admitted != 5 || unavailable != 3 {
		t.Errorf("admitted %d, unavailable %d of 8 in one instant at 5 units a second; want 5 and 3", admitted, unavailable)
	}
}
