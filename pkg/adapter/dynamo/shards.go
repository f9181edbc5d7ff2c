package dynamo

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/limits"
)

// Hot keys (docs/architecture.md §5). One DynamoDB item takes about 1,000
// write units a second, so a key whose every request writes its state item
// cannot go faster. A hot key is spread over n shard items, key#<kid>#<i>:
// each is a copy of the key's state with share i of each limit, and an
// admission writes one shard, so n shards take n times the rate. The shares
// of a limit L add up to L exactly, so the shards together admit at most L.
//
// Sharding freezes the key's own item: one conditional write sets shards on
// it, after which no admission counts there (AdmitKey's condition refuses
// it). What was counted there by then is taken off the shards' shares in
// the same windows, so the limit holds across the switch. Every later
// change of the key's state (revocation, a new limit, a disable) is written
// to its own item first, then to each shard, each write carrying the
// item's new version, so an older state never overwrites a newer one.

var _ gateway.KeySharder = (*Store)(nil)

// KeyShardPK is the Counters-table key of shard i of a key.
func KeyShardPK(kid string, i int) string { return KeyStatePK(kid) + "#" + strconv.Itoa(i) }

// MinShareableLimit is the smallest nonzero limit, per shard, that a key
// may be sharded with: a smaller one would leave shards with no share, and
// a key that low never needs more than one item's rate anyway.
const MinShareableLimit = 4

// share is shard i's part of limit l over n shards: the parts differ by at
// most one and add up to l. 0 (no limit) stays 0; a shard left with no part
// of a nonzero limit gets -1, which admits nothing.
func share(l int64, i, n int) int64 {
	if l == 0 {
		return 0
	}
	p := l / int64(n)
	if int64(i) < l%int64(n) {
		p++
	}
	if p == 0 {
		return -1
	}
	return p
}

// shardedStateAttrs are the attributes of a key's state item that its
// shards copy: everything AdmitKey's condition or the authorizer reads,
// but the limits (shared out) and the counters (each shard's own).
var shardedStateAttrs = []string{attrState, attrWorkspaceID, attrKind, attrSecretHash, attrModels, attrProviders, attrScopes,
	attrWorkspaceOff, attrExpiresMS, attrBudgetExhausted, attrBudgetExhaustedName,
	attrTPM, attrTPD, attrCPD, attrCPM, attrCL}

// ShardKey splits an active key over n shards (gateway.KeySharder).
func (s *Store) ShardKey(ctx context.Context, kid string, n int, now time.Time) (gateway.KeyState, error) {
	if n < 2 {
		return gateway.KeyState{}, gateway.Internal(fmt.Errorf("shard key %s over %d shards", kid, n))
	}
	// Every nonzero limit must leave each shard a share (MinShareableLimit).
	main, frozen, err := s.freeze(ctx, KeyStatePK(kid), n, string(gateway.KeyActive),
		"(#lm = :zero OR #lm >= :min) AND (#ld = :zero OR #ld >= :min) AND (#lmo = :zero OR #lmo >= :min)",
		map[string]string{"#lm": attrRPM, "#ld": attrRPD, "#lmo": attrRPMo}, item{":zero": num(0)})
	if err != nil {
		return gateway.KeyState{}, err
	}
	if main == nil {
		return gateway.KeyState{}, keyNotFound(kid)
	}
	if frozen {
		if err := s.syncShards(ctx, main, now); err != nil {
			return gateway.KeyState{}, err
		}
	}
	return decodeKeyState(main, now.UTC())
}

// freeze sets shards = n on the state item pk, active and meeting
// limitCondition (over limitNames and limitValues, and :min, the least
// limit n shards can share), which stops it counting from that write on. It
// returns the item as the write left it; when it did not write (the item
// is sharded already, by another container, which writes the shards, or
// not shardable), the item as it is (nil if there is none), and frozen
// false. A shard the caller
// then fails to write (a crash, a timeout) is written by the first request
// that finds it missing (getOrCreateShard).
func (s *Store) freeze(ctx context.Context, pk string, n int, active, limitCondition string, limitNames map[string]string, limitValues item) (main item, frozen bool, err error) {
	names := map[string]string{"#pk": attrPK, "#shards": attrShards, "#v": attrVersion, "#state": attrState}
	for k, v := range limitNames {
		names[k] = v
	}
	values := item{":n": num(int64(n)), ":one": num(1), ":active": str(active), ":min": num(int64(n * MinShareableLimit))}
	for k, v := range limitValues {
		values[k] = v
	}
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.tables.Counters),
		Key:                       item{attrPK: str(pk)},
		UpdateExpression:          aws.String("SET #shards = :n ADD #v :one"),
		ConditionExpression:       aws.String("attribute_exists(#pk) AND attribute_not_exists(#shards) AND #state = :active AND " + limitCondition),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
		ReturnValues:              ddbtypes.ReturnValueAllNew,
	})
	if isConditionFailed(err) {
		main, _, err := s.readStateItem(ctx, pk)
		return main, false, err
	}
	if err != nil {
		return nil, false, classify("shard "+pk, err)
	}
	return out.Attributes, true, nil
}

// syncShards writes the state of a key's own item to each of its shards,
// creating a missing one (with what the frozen item counted taken off its
// share of each current window). A shard that holds a newer version
// already is left alone. An item that is not sharded needs nothing.
func (s *Store) syncShards(ctx context.Context, main item, now time.Time) error {
	return forEachShard(main, func(i int) error { return s.syncShard(ctx, main, i, now) })
}

// forEachShard calls sync for each shard of a frozen state item, in order,
// stopping at the first error; an item that is not sharded has none.
func forEachShard(main item, sync func(i int) error) error {
	for i := range shardCount(main) {
		if err := sync(i); err != nil {
			return err
		}
	}
	return nil
}

func shardCount(main item) int {
	r := itemReader{item: main}
	return int(r.num(attrShards))
}

// takenOff is what a frozen item had counted, used of limit, that comes
// off shard i's share of it: the shares of what is left add up to what is
// left.
func takenOff(limit, used int64, i, n int) int64 {
	if limit <= 0 || used <= 0 {
		return 0
	}
	return share(limit, i, n) - max(0, share(max(0, limit-used), i, n))
}

// writeShard writes a shard's state, built in b, carrying the version of
// the state item it copies: a shard that holds a newer version already is
// left alone, so an older state never overwrites a newer one.
func (s *Store) writeShard(ctx context.Context, pk string, b updateBuilder, version int64) error {
	b.setValue(attrVersion, num(version))
	b.names["#cond_v"] = attrVersion
	b.values[":cond_v"] = num(version)
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.tables.Counters),
		Key:                       item{attrPK: str(pk)},
		UpdateExpression:          aws.String(b.expression()),
		ConditionExpression:       aws.String("attribute_not_exists(#cond_v) OR #cond_v < :cond_v"),
		ExpressionAttributeNames:  b.names,
		ExpressionAttributeValues: b.values,
	})
	if err != nil && !isConditionFailed(err) {
		return classify("write shard "+pk, err)
	}
	return nil
}

func (s *Store) syncShard(ctx context.Context, main item, i int, now time.Time) error {
	now = now.UTC()
	state, err := decodeKeyState(main, now)
	if err != nil {
		return err
	}
	n := state.Shards
	b := updateBuilder{names: map[string]string{}, values: item{}}
	for _, name := range shardedStateAttrs {
		if v, ok := main[name]; ok {
			b.setValue(name, v)
		} else {
			b.removeAttr(name)
		}
	}
	limitOf := [...]int64{limits.Minute: state.Limits.RequestsPerMinute, limits.Day: state.Limits.RequestsPerDay, limits.Month: state.Limits.RequestsPerMonth}
	for _, w := range limits.Windows {
		b.setValue(limitAttr[w], num(share(limitOf[w], i, n)))
		// What the key's own item counted in a window that is still
		// current is taken off this shard's share, once: on the write that
		// creates the shard's counter for that window.
		if taken := takenOff(limitOf[w], state.Used[w], i, n); taken > 0 {
			b.setIfAbsent(counterAttr(w, w.ID(now)), num(taken))
		}
	}
	b.setValue(attrKeyRPM, num(state.Limits.RequestsPerMinute))
	b.setValue(attrKeyRPD, num(state.Limits.RequestsPerDay))
	b.setValue(attrKeyRPMo, num(state.Limits.RequestsPerMonth))
	b.setValue(attrShardOf, num(int64(n)))
	return s.writeShard(ctx, KeyShardPK(state.KID, i), b, (&itemReader{item: main}).num(attrVersion))
}

// GetKeyShardState reads shard i of a key, creating it from the key's own
// item if it is missing: sharding writes its shards one by one, and a
// request may reach one that is not there yet.
func (s *Store) GetKeyShardState(ctx context.Context, kid string, shard int, now time.Time) (gateway.KeyState, error) {
	it, err := s.getOrCreateShard(ctx, KeyStatePK(kid), KeyShardPK(kid, shard), shard,
		func(main item) error { return s.syncShard(ctx, main, shard, now) })
	if err != nil {
		return gateway.KeyState{}, err
	}
	if it == nil {
		return gateway.KeyState{}, keyNotFound(kid)
	}
	return decodeKeyState(it, now.UTC())
}

// getOrCreateShard reads the shard item shardPK, or, when it is missing
// (or holds only a withdrawal's fence, which the creation keeps), writes it
// from the state item mainPK with create and reads it. It
// answers nil when the state item is missing or has no such shard.
func (s *Store) getOrCreateShard(ctx context.Context, mainPK, shardPK string, shard int, create func(main item) error) (item, error) {
	it, found, err := s.readStateItem(ctx, shardPK)
	if err != nil || (found && hasState(it)) {
		return it, err
	}
	main, found, err := s.readStateItem(ctx, mainPK)
	if err != nil || !found || shard >= shardCount(main) {
		return nil, err
	}
	if err := create(main); err != nil {
		return nil, err
	}
	it, _, err = s.readStateItem(ctx, shardPK)
	return it, err
}

// readStateItem reads a state item of the Counters table, strongly
// consistent; found is false when there is none.
func (s *Store) readStateItem(ctx context.Context, pk string) (it item, found bool, err error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.tables.Counters), Key: item{attrPK: str(pk)}, ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, false, classify("get state "+pk, err)
	}
	return out.Item, out.Item != nil, nil
}
