package dynamo

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/aistats/edge/pkg/gateway"
)

// usageRetention is how long rollups are kept before TTL may delete them.
const usageRetention = 400 * 24 * time.Hour

// UsageDaySK is the sort key of a key's rollup item for the UTC day of t.
// One item per key per day holds the day's totals and, in attributes named
// h<hour>_<field>, each hour's, so one write updates both rollups.
func UsageDaySK(t time.Time) string { return "d#" + t.UTC().Format("20060102") }

// UsageKeyPK is the partition key of a key's rollups.
func UsageKeyPK(kid string) string { return "key#" + kid }

// RecordUsage adds one completed request to the key's daily and hourly
// rollups with a single unconditional atomic write.
func (s *Store) RecordUsage(ctx context.Context, r gateway.UsageRecord) error {
	t := r.Time.UTC()
	hour := "h" + t.Format("15") + "_"
	errs := int64(0)
	if r.Error {
		errs = 1
	}
	latency := r.Latency.Milliseconds()
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.tables.Usage),
		Key:       item{attrPK: str(UsageKeyPK(r.KID)), attrSK: str(UsageDaySK(t))},
		UpdateExpression: aws.String("SET workspace_id = if_not_exists(workspace_id, :ws), #ttl = if_not_exists(#ttl, :ttl)" +
			" ADD requests :one, errors :err, prompt_tokens :pt, completion_tokens :ct, latency_ms :lat," +
			" #hreq :one, #herr :err, #hpt :pt, #hct :ct, #hlat :lat"),
		ExpressionAttributeNames: map[string]string{
			"#ttl": attrTTL, "#hreq": hour + "requests", "#herr": hour + "errors", "#hpt": hour + "prompt_tokens",
			"#hct": hour + "completion_tokens", "#hlat": hour + "latency_ms",
		},
		ExpressionAttributeValues: item{
			":ws": str(r.WorkspaceID), ":ttl": num(t.Add(usageRetention).Unix()), ":one": num(1), ":err": num(errs),
			":pt": num(r.PromptTokens), ":ct": num(r.CompletionTokens), ":lat": num(latency),
		},
	})
	if err != nil {
		return classify("record usage of key "+r.KID, err)
	}
	return nil
}

// UsageTotals are the sums of one rollup bucket.
type UsageTotals struct {
	Requests, Errors, PromptTokens, CompletionTokens, LatencyMS int64
}

// GetDailyUsage reads a key's rollup for the UTC day of t: the day's totals
// and each hour's (indexed 0–23).
func (s *Store) GetDailyUsage(ctx context.Context, kid string, t time.Time) (UsageTotals, [24]UsageTotals, error) {
	var hours [24]UsageTotals
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.tables.Usage),
		Key:            item{attrPK: str(UsageKeyPK(kid)), attrSK: str(UsageDaySK(t))},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return UsageTotals{}, hours, classify("get usage of key "+kid, err)
	}
	r := itemReader{item: out.Item}
	read := func(prefix string) UsageTotals {
		return UsageTotals{
			Requests: r.num(prefix + "requests"), Errors: r.num(prefix + "errors"),
			PromptTokens: r.num(prefix + "prompt_tokens"), CompletionTokens: r.num(prefix + "completion_tokens"),
			LatencyMS: r.num(prefix + "latency_ms"),
		}
	}
	day := read("")
	for h := range hours {
		hours[h] = read("h" + time.Date(2000, 1, 1, h, 0, 0, 0, time.UTC).Format("15") + "_")
	}
	if r.err != nil {
		return UsageTotals{}, hours, gateway.Internal(r.err)
	}
	return day, hours, nil
}
