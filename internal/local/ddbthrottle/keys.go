package ddbthrottle

import (
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aistats/edge/pkg/adapter/dynamo"
)

// PartitionKeysOf names the partition key of each of the gateway's tables,
// from their definitions (the single source).
func PartitionKeysOf(t dynamo.Tables) map[string]string {
	keys := map[string]string{}
	for _, d := range t.Definitions() {
		for _, k := range d.Create.KeySchema {
			if k.KeyType == ddbtypes.KeyTypeHash {
				keys[*d.Create.TableName] = *k.AttributeName
			}
		}
	}
	return keys
}
