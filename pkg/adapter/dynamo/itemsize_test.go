package dynamo

import (
	"testing"

	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestItemSizeFollowsDynamoDBsRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		item map[string]ddbtypes.AttributeValue
		want int
	}{
		{"string: name and UTF-8 bytes", map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "key#é"}}, 2 + 6},
		{"number: a byte per two significant digits, plus one", map[string]ddbtypes.AttributeValue{"n": &ddbtypes.AttributeValueMemberN{Value: "12345"}}, 1 + 3 + 1},
		{"number: zeros trimmed", map[string]ddbtypes.AttributeValue{"n": &ddbtypes.AttributeValueMemberN{Value: "1000"}}, 1 + 1 + 1},
		{"binary: raw bytes", map[string]ddbtypes.AttributeValue{"h": &ddbtypes.AttributeValueMemberB{Value: make([]byte, 32)}}, 1 + 32},
		{"boolean", map[string]ddbtypes.AttributeValue{"off": &ddbtypes.AttributeValueMemberBOOL{Value: true}}, 3 + 1},
		{"list: 3 bytes and 1 per element", map[string]ddbtypes.AttributeValue{"l": &ddbtypes.AttributeValueMemberL{Value: []ddbtypes.AttributeValue{
			&ddbtypes.AttributeValueMemberS{Value: "ab"}, &ddbtypes.AttributeValueMemberS{Value: "c"}}}}, 1 + 3 + (1 + 2) + (1 + 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ItemSize(tc.item); got != tc.want {
				t.Errorf("got %d bytes, want %d", got, tc.want)
			}
		})
	}
}

func TestWriteUnitsPerStartedKB(t *testing.T) {
	for size, want := range map[int]int{0: 1, 1: 1, 1024: 1, 1025: 2, 2560: 3} {
		if got := WriteUnits(size); got != want {
			t.Errorf("WriteUnits(%d) = %d, want %d", size, got, want)
		}
	}
}
