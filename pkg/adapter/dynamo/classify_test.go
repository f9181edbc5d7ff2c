package dynamo

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/aistats/edge/pkg/domain/gateway"
)

// throttlingClient answers every call the way DynamoDB does when a table is
// throttled.
type throttlingClient struct{ Client }

func (throttlingClient) UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return nil, &ddbtypes.ProvisionedThroughputExceededException{Message: new(string)}
}

func TestThrottlingIsUnavailable(t *testing.T) {
	s := New(Config{Client: throttlingClient{}, Tables: TablesWithPrefix("t-")})
	_, _, err := s.AdmitKey(context.Background(), gateway.Admission{KID: "AbCdEfGhIjKl", Kind: gateway.KindInference, Now: time.Now()})
	if got := gateway.ErrorCode(err); got != gateway.CodeServiceUnavailable {
		t.Errorf("throttled admit: code %s (%v), want %s", got, err, gateway.CodeServiceUnavailable)
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want gateway.Code
	}{
		{context.DeadlineExceeded, gateway.CodeServiceUnavailable},
		{&smithy.GenericAPIError{Code: "ThrottlingException"}, gateway.CodeServiceUnavailable},
		{&smithy.GenericAPIError{Code: "RequestLimitExceeded"}, gateway.CodeServiceUnavailable},
		{&smithy.GenericAPIError{Code: "ValidationException"}, gateway.CodeValidationError},
		{errors.New("anything else"), gateway.CodeInternalError},
	} {
		err := classify("do it", fmt.Errorf("wrapped: %w", tc.err))
		if got := gateway.ErrorCode(err); got != tc.want {
			t.Errorf("classify(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}
