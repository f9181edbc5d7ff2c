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

// A workspace with its own per-minute limit is written by every admitted
// request of all its keys, so it is the first item to be hot. It is sharded
// as a key is (shards.go): ws#<id>#<i> holds the workspace's status and
// plan with share i of its limit, and what the workspace's own item counted
// in the current minute is taken off the shares.

var _ gateway.WorkspaceSharder = (*Store)(nil)

// WorkspaceShardPK is the Counters-table key of shard i of a workspace.
func WorkspaceShardPK(id string, i int) string { return WorkspaceStatePK(id) + "#" + strconv.Itoa(i) }

// ShardWorkspace splits an active workspace's limit over n shards.
func (s *Store) ShardWorkspace(ctx context.Context, id string, n int, now time.Time) (gateway.WorkspaceState, error) {
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:        aws.String(s.tables.Counters),
		Key:              item{attrPK: str(WorkspaceStatePK(id))},
		UpdateExpression: aws.String("SET #shards = :n ADD #v :one"),
		ConditionExpression: aws.String("attribute_exists(#pk) AND attribute_not_exists(#shards) AND #state = :active" +
			" AND #lm >= :min"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK, "#shards": attrShards, "#v": attrVersion, "#state": attrState, "#lm": attrPlanRPM},
		ExpressionAttributeValues: item{":n": num(int64(n)), ":one": num(1), ":active": str(string(gateway.WorkspaceActive)),
			":min": num(int64(n * MinShareableLimit))},
		ReturnValues: ddbtypes.ReturnValueAllNew,
	})
	switch {
	case isConditionFailed(err):
		main, err := s.getStateItem(ctx, WorkspaceStatePK(id))
		if err != nil {
			return gateway.WorkspaceState{}, err
		}
		return decodeWorkspaceState(main, now.UTC())
	case err != nil:
		return gateway.WorkspaceState{}, classify("shard workspace "+id, err)
	}
	if err := s.syncWorkspaceShards(ctx, out.Attributes, now); err != nil {
		return gateway.WorkspaceState{}, err
	}
	return decodeWorkspaceState(out.Attributes, now.UTC())
}

// syncWorkspaceShards writes a workspace's own item's state to each of its
// shards, creating a missing one; an unsharded workspace needs nothing.
func (s *Store) syncWorkspaceShards(ctx context.Context, main item, now time.Time) error {
	for i := range shardCount(main) {
		if err := s.syncWorkspaceShard(ctx, main, i, now); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) syncWorkspaceShard(ctx context.Context, main item, i int, now time.Time) error {
	now = now.UTC()
	state, err := decodeWorkspaceState(main, now)
	if err != nil {
		return err
	}
	n := state.Shards
	r := itemReader{item: main}
	version := r.num(attrVersion)
	b := updateBuilder{names: map[string]string{}, values: item{}}
	for _, name := range []string{attrState, attrPlanProvs, attrPlanModels} {
		if v, ok := main[name]; ok {
			b.setValue(name, v)
		}
	}
	limit := state.Plan.RequestsPerMinute
	b.setValue(attrPlanRPM, num(share(limit, i, n)))
	b.setValue(attrKeyRPM, num(limit))
	if limit > 0 && state.UsedMinute > 0 {
		left := max(0, limit-state.UsedMinute)
		if taken := share(limit, i, n) - max(0, share(left, i, n)); taken > 0 {
			b.setIfAbsent(counterAttr(limits.Minute, limits.Minute.ID(now)), num(taken))
		}
	}
	b.setValue(attrShardOf, num(int64(n)))
	b.setValue(attrVersion, num(version))
	b.names["#cond_v"] = attrVersion
	b.values[":cond_v"] = num(version)
	_, err = s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.tables.Counters),
		Key:                       item{attrPK: str(WorkspaceShardPK(state.ID, i))},
		UpdateExpression:          aws.String(b.expression()),
		ConditionExpression:       aws.String("attribute_not_exists(#cond_v) OR #cond_v < :cond_v"),
		ExpressionAttributeNames:  b.names,
		ExpressionAttributeValues: b.values,
	})
	if err != nil && !isConditionFailed(err) {
		return classify(fmt.Sprintf("write shard %d of workspace %s", i, state.ID), err)
	}
	return nil
}

// GetWorkspaceShardState reads shard i of a workspace, creating it from the
// workspace's own item if it is missing.
func (s *Store) GetWorkspaceShardState(ctx context.Context, id string, shard int, now time.Time) (gateway.WorkspaceState, error) {
	it, err := s.getStateItem(ctx, WorkspaceShardPK(id, shard))
	if gateway.ErrorCode(err) == gateway.CodeKeyNotFound {
		var main item
		if main, err = s.getStateItem(ctx, WorkspaceStatePK(id)); err == nil {
			if shard >= shardCount(main) {
				return gateway.WorkspaceState{}, gateway.Errorf(gateway.CodeWorkspaceNotFound, "Workspace %s has no shard %d.", id, shard)
			}
			if err = s.syncWorkspaceShard(ctx, main, shard, now); err == nil {
				it, err = s.getStateItem(ctx, WorkspaceShardPK(id, shard))
			}
		}
	}
	if err != nil {
		return gateway.WorkspaceState{}, err
	}
	return decodeWorkspaceState(it, now.UTC())
}
