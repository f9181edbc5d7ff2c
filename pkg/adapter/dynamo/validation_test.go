package dynamo_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aistats/edge/pkg/domain/gateway"
)

// TestOversizedKeyIsAClientError sends DynamoDB a key it refuses as
// invalid (a partition key over 2048 bytes): the answer is a 400, never a
// 500 that any client could trigger to page the operator.
func TestOversizedKeyIsAClientError(t *testing.T) {
	s, _ := newStore(t)
	_, err := s.GetKey(context.Background(), strings.Repeat("k", 3000))
	if got, want := gateway.ErrorCode(err), gateway.CodeValidationError; got != want {
		t.Fatalf("GetKey with a 3000-byte kid: code %s (%v), want %s", got, err, want)
	}
	if got, want := gateway.HTTPStatus(gateway.ErrorCode(err)), 400; got != want {
		t.Errorf("status %d, want %d", got, want)
	}
}
