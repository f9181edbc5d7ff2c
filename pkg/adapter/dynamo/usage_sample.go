package dynamo

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/aistats/edge/pkg/domain/usage"
)

// The sample of a key's recent failures (docs/architecture.md §6): every
// non-2xx answer is kept as a small item, sample#<kid> / <unix ms>#<random>,
// metadata only (never a body), for SampleRetention; a read shows the
// newest MaxSample. A 2xx request writes none, so only failures pay for it:
// one write unit each.
const (
	SampleRetention = 7 * 24 * time.Hour
	MaxSample       = 100
)

// Attributes of a sample item.
const (
	attrSampleRoute    = "route"
	attrSampleModel    = "model"
	attrSampleProvider = "provider"
	attrSampleStatus   = "status"
	attrSampleClass    = "class"
	attrSampleCode     = "code"
	attrSampleMS       = "latency_ms"
	attrSamplePrompt   = "pt"
	attrSampleOut      = "ct"
	attrSampleClient   = "client"
	attrSampleTime     = "at"
)

func samplePK(kid string) string { return "sample#" + kid }

// recordSample keeps a non-2xx event in its key's sample.
func (s *Store) recordSample(ctx context.Context, e usage.Event) error {
	at := e.Time.UTC()
	it := item{
		attrPK:           str(samplePK(e.KID)),
		attrSK:           str(fmt.Sprintf("%013d#%s", at.UnixMilli(), randHex()[:6])),
		attrSampleTime:   timeValue(at),
		attrSampleStatus: num(int64(e.Status)),
		attrSampleClass:  str(e.Class.String()),
		attrSampleMS:     num(e.Latency.Milliseconds()),
		attrSamplePrompt: num(e.PromptTokens),
		attrSampleOut:    num(e.CompletionTokens),
		attrTTL:          num(at.Add(SampleRetention).Unix()),
	}
	for name, v := range map[string]string{attrSampleRoute: e.Route, attrSampleModel: e.Model, attrSampleProvider: e.Provider,
		attrSampleCode: e.Code, attrSampleClient: e.Client} {
		if v != "" {
			it[name] = str(v)
		}
	}
	if _, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.tables.Usage), Item: it}); err != nil {
		return fmt.Errorf("%w: %w", usage.ErrSampleNotKept, classify("keep a failure of key "+e.KID, err))
	}
	return nil
}

// KeySample reads a key's newest kept failures, newest first: at most
// MaxSample, from the last SampleRetention (older ones may still be there
// until TTL deletes them, and are left out). One query of at most
// MaxSample small items.
func (s *Store) KeySample(ctx context.Context, kid string, now time.Time) ([]usage.Sample, error) {
	out, err := s.client.Query(ctx, &dynamodb.QueryInput{
		TableName:              aws.String(s.tables.Usage),
		KeyConditionExpression: aws.String(attrPK + " = :pk AND " + attrSK + " >= :from"),
		ExpressionAttributeValues: item{":pk": str(samplePK(kid)),
			":from": str(strconv.FormatInt(now.Add(-SampleRetention).UnixMilli(), 10))},
		ScanIndexForward: aws.Bool(false),
		Limit:            aws.Int32(MaxSample),
	})
	if err != nil {
		return nil, classify("read the failures of key "+kid, err)
	}
	samples := make([]usage.Sample, 0, len(out.Items))
	for _, it := range out.Items {
		r := &itemReader{item: it}
		samples = append(samples, usage.Sample{
			Time: r.time(attrSampleTime), Route: r.str(attrSampleRoute), Model: r.str(attrSampleModel),
			Provider: r.str(attrSampleProvider), Code: r.str(attrSampleCode), Client: r.str(attrSampleClient),
			Status: int(r.num(attrSampleStatus)), Class: r.str(attrSampleClass), LatencyMS: r.num(attrSampleMS),
			PromptTokens: r.num(attrSamplePrompt), CompletionTokens: r.num(attrSampleOut),
		})
		if r.err != nil {
			return nil, fmt.Errorf("decode a failure of key %s: %w", kid, r.err)
		}
	}
	return samples, nil
}
