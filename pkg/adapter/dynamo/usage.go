package dynamo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/aistats/edge/pkg/domain/gateway"
)

// usageRetention is how long rollups are kept before TTL may delete them.
const usageRetention = 400 * 24 * time.Hour

// UsageDaySK is the sort key of a key's rollup item for the UTC day of t.
// One item per key per day holds the day's totals and, in attributes named
// h<hour>_<field>, each hour's, so one write updates both rollups.
func UsageDaySK(t time.Time) string { return "d#" + t.UTC().Format("20060102") }

// hourPrefix prefixes the attributes of one hour's totals in a day's rollup.
func hourPrefix(hour int) string { return fmt.Sprintf("h%02d_", hour) }

// UsageKeyPK is the partition key of a key's rollups.
func UsageKeyPK(kid string) string { return "key#" + kid }

// RecordUsage adds one completed request to the key's daily and hourly
// rollups with a single unconditional atomic write.
func (s *Store) RecordUsage(ctx context.Context, r gateway.UsageRecord) error {
	t := r.Time.UTC()
	hour := hourPrefix(t.Hour())
	errs := int64(0)
	if r.Error {
		errs = 1
	}
	latency := r.Latency.Milliseconds()
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.tables.Usage),
		Key:       item{attrPK: str(UsageKeyPK(r.KID)), attrSK: str(UsageDaySK(t))},
		UpdateExpression: aws.String("SET #ws = if_not_exists(#ws, :ws), #ttl = if_not_exists(#ttl, :ttl)" +
			" ADD #req :one, #err :err, #pt :pt, #ct :ct, #lat :lat," +
			" #hreq :one, #herr :err, #hpt :pt, #hct :ct, #hlat :lat"),
		ExpressionAttributeNames: map[string]string{
			"#ws": attrWorkspaceID, "#ttl": attrTTL,
			"#req": attrRequests, "#err": attrErrors, "#pt": attrPromptTokens, "#ct": attrCompletionTokens, "#lat": attrLatencyMS,
			"#hreq": hour + attrRequests, "#herr": hour + attrErrors, "#hpt": hour + attrPromptTokens,
			"#hct": hour + attrCompletionTokens, "#hlat": hour + attrLatencyMS,
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

// GetDailyUsage reads a key's rollup for the UTC day of t: the day's totals
// and each hour's (indexed 0–23). A day without traffic is all zeros.
func (s *Store) GetDailyUsage(ctx context.Context, kid string, t time.Time) (gateway.UsageTotals, [24]gateway.UsageTotals, error) {
	days, err := s.QueryUsage(ctx, kid, t, t)
	if err != nil || len(days) == 0 {
		return gateway.UsageTotals{}, [24]gateway.UsageTotals{}, err
	}
	return days[0].Total, days[0].Hours, nil
}

// QueryUsage reads a key's daily rollups for the UTC days from first to last,
// inclusive; days without traffic are absent.
func (s *Store) QueryUsage(ctx context.Context, kid string, first, last time.Time) ([]gateway.DayUsage, error) {
	var days []gateway.DayUsage
	var start item
	for {
		out, err := s.client.Query(ctx, &dynamodb.QueryInput{
			TableName:              aws.String(s.tables.Usage),
			KeyConditionExpression: aws.String(attrPK + " = :pk AND " + attrSK + " BETWEEN :from AND :to"),
			ExpressionAttributeValues: item{
				":pk": str(UsageKeyPK(kid)), ":from": str(UsageDaySK(first)), ":to": str(UsageDaySK(last)),
			},
			ExclusiveStartKey: start,
		})
		if err != nil {
			return nil, classify("query usage of key "+kid, err)
		}
		for _, it := range out.Items {
			d, err := decodeDayUsage(it)
			if err != nil {
				return nil, err
			}
			days = append(days, d)
		}
		if len(out.LastEvaluatedKey) == 0 {
			return days, nil
		}
		start = out.LastEvaluatedKey
	}
}

func decodeDayUsage(it item) (gateway.DayUsage, error) {
	r := itemReader{item: it}
	read := func(prefix string) gateway.UsageTotals {
		return gateway.UsageTotals{
			Requests: r.num(prefix + attrRequests), Errors: r.num(prefix + attrErrors),
			PromptTokens: r.num(prefix + attrPromptTokens), CompletionTokens: r.num(prefix + attrCompletionTokens),
			LatencyMS: r.num(prefix + attrLatencyMS),
		}
	}
	var d gateway.DayUsage
	day, err := time.Parse("20060102", strings.TrimPrefix(r.str(attrSK), "d#"))
	if err != nil {
		return gateway.DayUsage{}, gateway.Internal(fmt.Errorf("decode usage day: %w", err))
	}
	d.Day = day
	d.Total = read("")
	for h := range d.Hours {
		d.Hours[h] = read(hourPrefix(h))
	}
	if r.err != nil {
		return gateway.DayUsage{}, gateway.Internal(r.err)
	}
	return d, nil
}
