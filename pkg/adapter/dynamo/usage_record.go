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
// model: one write, one write unit. A write that fails is retried with
// backoff while ctx allows, keeping back a little for the fallback: the
// event is then written as a spill item on another partition, which the
// rollup job folds in (FoldSpills). Only if that fails too is the event
// lost, and the error wraps ErrUsageLost.
func (s *Store) RecordUsage(ctx context.Context, e usage.Event) error {
	var delta usage.Totals
	delta.Add(e)
	hour := e.Time.UTC().Truncate(time.Hour)
	writeCtx := ctx
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		writeCtx, cancel = context.WithDeadline(ctx, deadline.Add(-spillReserve))
		defer cancel()
	}
	err := retryUsage(writeCtx, func() error {
		return s.addUsage(writeCtx, e.KID, e.WorkspaceID, hour, e.Model, delta)
	})
	if err == nil {
		return nil
	}
	if spillErr := s.spill(ctx, e.KID, e.WorkspaceID, hour, e.Model, delta); spillErr != nil {
		return fmt.Errorf("%w: rollup: %w; spill: %w", ErrUsageLost, err, spillErr)
	}
	return nil
}

// spillReserve is the part of a recording's time kept for the spill write.
const spillReserve = 300 * time.Millisecond

// retryUsage calls write until it succeeds, fails for good (a refusal that
// a retry cannot change) or ctx ends, backing off from 20 ms and doubling,
// with jitter, up to 400 ms between tries. The SDK's own retries run inside
// each call.
func retryUsage(ctx context.Context, write func() error) error {
	wait := 20 * time.Millisecond
	for {
		err := write()
		if err == nil || gateway.ErrorCode(err) != gateway.CodeServiceUnavailable || ctx.Err() != nil {
			return err
		}
		jitter := time.Duration(randUint64() % uint64(wait))
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait/2 + jitter):
		}
		wait = min(2*wait, 400*time.Millisecond)
	}
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
	})
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

// spill writes the event's delta as an item of its own on a random spill
// partition: a fresh Put, so a throttled key's partition is not involved.
func (s *Store) spill(ctx context.Context, kid, ws string, hour time.Time, model string, delta usage.Totals) error {
	it := item{
		attrPK:          str("spill#" + strconv.FormatUint(randUint64()%spillShards, 10)),
		attrSK:          str(strconv.FormatInt(time.Now().UnixNano(), 10) + "#" + randHex()),
		attrSpillKID:    str(kid),
		attrWorkspaceID: str(ws),
		attrSpillHour:   str(hour.Format(hourLayout)),
		attrSpillModel:  str(model),
		attrTTL:         num(hour.Add(usageRetention).Unix()),
	}
	putTotals(it, delta)
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.tables.Usage), Item: it})
	if err != nil {
		return classify("spill usage of key "+kid, err)
	}
	return nil
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
