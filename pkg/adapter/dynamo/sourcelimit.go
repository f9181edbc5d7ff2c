package dynamo

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// attrSourceRequests counts one source's requests in one minute.
const attrSourceRequests = "requests"

// CountBySource counts one request of purpose from source (an address or
// prefix) in the current UTC minute, refusing it when limit requests were
// already counted there; when refused, it also returns how long until the
// minute ends. It is the limit of the routes that no key authorizes (the
// leaked-key report), and works like the key windows (docs/architecture.md
// §5): one conditional write on a small Counters item, so it is exact under
// concurrency and a refused request changes nothing. Items expire by TTL a
// minute after their window; nothing depends on it.
func (s *Store) CountBySource(ctx context.Context, purpose, source string, limit int64) (bool, time.Duration, error) {
	now := s.now().UTC()
	window := now.Truncate(time.Minute)
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.tables.Counters),
		Key:                       item{attrPK: str("src#" + purpose + "#" + source + "#" + window.Format("200601021504"))},
		UpdateExpression:          aws.String("ADD #n :one SET #ttl = :ttl"),
		ConditionExpression:       aws.String("attribute_not_exists(#n) OR #n < :limit"),
		ExpressionAttributeNames:  map[string]string{"#n": attrSourceRequests, "#ttl": attrTTL},
		ExpressionAttributeValues: item{":one": num(1), ":limit": num(limit), ":ttl": num(window.Add(2 * time.Minute).Unix())},
	})
	if isConditionFailed(err) {
		return false, window.Add(time.Minute).Sub(now), nil
	}
	if err != nil {
		return false, 0, classify("count a request of "+purpose+" by source", err)
	}
	return true, 0, nil
}
