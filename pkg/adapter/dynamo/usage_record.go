package dynamo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go"

	"github.com/aistats/edge/pkg/adapter/backoff"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/usage"
)

// usageRetention is how long rollups are kept before TTL may delete them:
// longer than the 90 days analytics reads, and a year of history besides.
const usageRetention = 400 * 24 * time.Hour

// spillShards spreads spilled events over this many partitions, so that the
// fallback never sits on the one partition that was throttled.
const spillShards = 16

// ErrUsageLost marks an event that neither its rollup nor the spill could
// take. The caller must log the event's metadata and count it in the
// UsageEventsLost metric, which an alarm watches.
var ErrUsageLost = errors.New("usage event lost")

// RecordUsage adds one answered request to its key's hour item for its
// model: one write, one write unit.
//
// A write DynamoDB throttled was not applied, so it is safe to try again:
// twice more, quickly, since a partition over its rate stays so for a
// while. Then the event is written as a spill item on one of spillShards
// other partitions, which the rollup job folds in (FoldSpills); a throttled
// spill moves to another shard, and any other failure retries the same
// item, so a spill is never written twice. Only when ctx ends first is the
// event lost; the error then wraps ErrUsageLost. A failure (any class but
// 2xx) is also kept in the key's sample (usage_sample.go): a second write,
// whose own failure wraps usage.ErrSampleNotKept.
//
// A write whose outcome is unknown (a timeout, a broken connection) may
// have been applied; it is spilled all the same. That may count the event
// twice, which is the rarer and the lesser error: losing it is invisible.
func (s *Store) RecordUsage(ctx context.Context, e usage.Event) error {
	if err := s.recordTotals(ctx, e); err != nil {
		return err
	}
	if e.Class.IsError() {
		return s.recordSample(ctx, e)
	}
	return nil
}

// recordTotals adds the event to its hour item, or spills it.
func (s *Store) recordTotals(ctx context.Context, e usage.Event) error {
	var delta usage.Totals
	delta.Add(e)
	hour := e.Time.UTC().Truncate(time.Hour)
	// The rollup write may take two thirds of the time left, so that a
	// slow partition leaves the spill time to be written.
	writeCtx, cancel := context.WithTimeout(ctx, rollupShare(ctx))
	defer cancel()
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		if err = s.addUsage(writeCtx, e.KID, e.WorkspaceID, hour, e.Model, delta); err == nil {
			return nil
		}
		if !isThrottled(err) || !pause(writeCtx, time.Duration(10<<attempt)*time.Millisecond) {
			break
		}
	}
	if gateway.ErrorCode(err) != gateway.CodeServiceUnavailable && gateway.ErrorCode(err) != gateway.CodeInternalError {
		return fmt.Errorf("%w: %w", ErrUsageLost, err) // refused for good: a spill would be refused too
	}
	if spillErr := s.spill(ctx, e.KID, e.WorkspaceID, hour, e.Model, delta); spillErr != nil {
		return fmt.Errorf("%w: rollup: %w; spill: %w", ErrUsageLost, err, spillErr)
	}
	return nil
}

// rollupShare is two thirds of what is left of ctx (a minute without a
// deadline).
func rollupShare(ctx context.Context) time.Duration {
	if deadline, ok := ctx.Deadline(); ok {
		return time.Until(deadline) * 2 / 3
	}
	return time.Minute
}

// once turns off the SDK's own retries for a call: RecordUsage retries
// itself, and tells a throttled call (not applied) from one whose outcome
// is unknown.
func once(o *dynamodb.Options) { o.RetryMaxAttempts = 1 }

// pause waits about d, with jitter, unless ctx ends first.
func pause(ctx context.Context, d time.Duration) bool {
	return backoff.Sleep(ctx, backoff.Jittered(d)) == nil
}

// isThrottled reports a refusal for rate: DynamoDB did not apply the call.
func isThrottled(err error) bool {
	if apiErr, ok := errors.AsType[smithy.APIError](err); ok {
		switch apiErr.ErrorCode() {
		case "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded":
			return true
		}
	}
	return false
}

// addUsage adds delta to the hour item of kid's model: ADD of every nonzero
// sum, and the attributes set once (workspace, the active-hour index key,
// TTL) set only if absent, so the by_hour index is written once per item.
func (s *Store) addUsage(ctx context.Context, kid, ws string, hour time.Time, model string, delta usage.Totals) error {
	names := map[string]string{"#ws": attrWorkspaceID, "#act": attrActiveHour, "#ttl": attrTTL}
	values := item{
		":ws": str(ws), ":act": str(hour.Format(hourLayout)), ":ttl": num(hour.Add(usageRetention).Unix()),
	}
	var adds []string
	for i, a := range usageAttrs {
		v := *a.get(&delta)
		if v == 0 {
			continue
		}
		n, val := "#a"+strconv.Itoa(i), ":a"+strconv.Itoa(i)
		names[n] = a.name
		values[val] = num(v)
		adds = append(adds, n+" "+val)
	}
	update := "SET #ws = if_not_exists(#ws, :ws), #act = if_not_exists(#act, :act), #ttl = if_not_exists(#ttl, :ttl)"
	if len(adds) > 0 {
		update += " ADD " + strings.Join(adds, ", ")
	}
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.tables.Usage),
		Key:                       item{attrPK: str(usageKeyPK(kid)), attrSK: str(hourSK(hour, model))},
		UpdateExpression:          aws.String(update),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	}, once)
	if err != nil {
		return classify("record usage of key "+kid, err)
	}
	return nil
}

// Attributes of a spill item besides its totals.
const (
	attrSpillKID   = "kid"
	attrSpillHour  = "hour"
	attrSpillModel = "model"
)

// spill writes the event's delta as an item of its own on a spill shard: a
// fresh Put, so a throttled key's partition is not involved. A throttled
// Put was not applied and moves to another shard; any other failure puts
// the same item again, which is idempotent.
func (s *Store) spill(ctx context.Context, kid, ws string, hour time.Time, model string, delta usage.Totals) error {
	it := item{
		attrSK:          str(strconv.FormatInt(time.Now().UnixNano(), 10) + "#" + randHex()),
		attrSpillKID:    str(kid),
		attrWorkspaceID: str(ws),
		attrSpillHour:   str(hour.Format(hourLayout)),
		attrSpillModel:  str(model),
		attrTTL:         num(hour.Add(usageRetention).Unix()),
	}
	putTotals(it, delta)
	shard := randUint64() % spillShards
	wait := 10 * time.Millisecond
	for {
		it[attrPK] = str("spill#" + strconv.FormatUint(shard, 10))
		_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.tables.Usage), Item: it}, once)
		if err == nil {
			return nil
		}
		err = classify("spill usage of key "+kid, err)
		if gateway.ErrorCode(err) != gateway.CodeServiceUnavailable {
			return err // refused for good
		}
		if isThrottled(err) {
			shard = (shard + 1 + randUint64()%(spillShards-1)) % spillShards
		}
		if !pause(ctx, wait) {
			return err
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}

func randUint64() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	var n uint64
	for _, x := range b {
		n = n<<8 | uint64(x)
	}
	return n
}

func randHex() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// AddUsage adds whole totals to a key's hour item of one model, as many
// requests would: for loading history (the local stack's demo workspace,
// a replay of lost events from the log), never on a request's path.
func (s *Store) AddUsage(ctx context.Context, kid, ws string, hour time.Time, model string, t usage.Totals) error {
	return s.addUsage(ctx, kid, ws, hour.UTC().Truncate(time.Hour), model, t)
}
