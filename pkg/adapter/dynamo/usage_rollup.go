package dynamo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aistats/edge/pkg/domain/usage"
)

// ActiveKey is a key that had traffic in an hour, with its workspace.
type ActiveKey struct {
	KID, WorkspaceID string
}

// Rollup is what one run of the rollup job did.
type Rollup struct {
	// Active lists the keys with traffic in the hours rolled up.
	Active []ActiveKey
	// Folded counts spilled events added to their hour items.
	Folded int
	// Items counts the workspace items written.
	Items int
}

// RollUp brings the workspace rollups of the hours from the hour of from to
// the hour of to up to date, after folding any spilled events in. It finds
// the keys active in each hour through the by_hour index, reads their hour
// items, and writes each workspace's sums by model and by key, for the hour
// and for its day. Every write is a Put of a sum recomputed from the key
// items, so a run repeated or overlapping another converges on the same
// items. Its cost follows the number of active key-model hours, not the
// number of keys.
func (s *Store) RollUp(ctx context.Context, from, to time.Time) (Rollup, error) {
	var done Rollup
	folded, err := s.FoldSpills(ctx)
	done.Folded = folded
	if err != nil {
		return done, err
	}
	seen := map[ActiveKey]bool{}
	days := map[time.Time]map[string]bool{} // day → workspaces to re-sum
	for hour := from.UTC().Truncate(time.Hour); !hour.After(to); hour = hour.Add(time.Hour) {
		keys, err := s.activeItems(ctx, hour)
		if err != nil {
			return done, err
		}
		rollups, err := s.getUsageItems(ctx, keys)
		if err != nil {
			return done, err
		}
		byModel := map[[2]string]*usage.Totals{} // workspace, model
		byKey := map[[2]string]*usage.Totals{}   // workspace, kid
		for _, r := range rollups {
			if !seen[ActiveKey{r.KID, r.ws}] {
				seen[ActiveKey{r.KID, r.ws}] = true
				done.Active = append(done.Active, ActiveKey{KID: r.KID, WorkspaceID: r.ws})
			}
			add(byModel, [2]string{r.ws, r.Model}, r.Totals)
			add(byKey, [2]string{r.ws, r.KID}, r.Totals)
			day := hour.Truncate(24 * time.Hour)
			if days[day] == nil {
				days[day] = map[string]bool{}
			}
			days[day][r.ws] = true
		}
		var items []item
		for k, t := range byModel {
			items = append(items, workspaceRollupItem(k[0], "h#"+hour.Format(hourLayout)+"#"+k[1], hour, *t))
		}
		for k, t := range byKey {
			items = append(items, workspaceRollupItem(k[0], "k#"+hour.Format(hourLayout)+"#"+k[1], hour, *t))
		}
		if err := s.putItems(ctx, items); err != nil {
			return done, err
		}
		done.Items += len(items)
	}
	for day, workspaces := range days {
		for ws := range workspaces {
			n, err := s.sumWorkspaceDay(ctx, ws, day)
			done.Items += n
			if err != nil {
				return done, err
			}
		}
	}
	return done, nil
}

func add[K comparable](m map[K]*usage.Totals, k K, t usage.Totals) {
	if m[k] == nil {
		m[k] = &usage.Totals{}
	}
	m[k].Merge(t)
}

// sumWorkspaceDay re-sums a workspace's day items (by model and by key) from
// its hour items of that day.
func (s *Store) sumWorkspaceDay(ctx context.Context, ws string, day time.Time) (int, error) {
	var items []item
	for _, kind := range []struct{ hour, day string }{{"h", "d"}, {"k", "j"}} {
		sums := map[string]*usage.Totals{}
		lo := kind.hour + "#" + day.Format(hourLayout)
		hi := kind.hour + "#" + day.Add(23*time.Hour).Format(hourLayout) + "#\uffff"
		err := s.queryUsage(ctx, usageWorkspacePK(ws), lo, hi, func(r *itemReader, _ byte, _ time.Time, rest string, _ bool) {
			add(sums, rest, readTotals(r))
		})
		if err != nil {
			return 0, err
		}
		for rest, t := range sums {
			items = append(items, workspaceRollupItem(ws, kind.day+"#"+day.Format(dayLayout)+"#"+rest, day, *t))
		}
	}
	return len(items), s.putItems(ctx, items)
}

func workspaceRollupItem(ws, sk string, start time.Time, t usage.Totals) item {
	it := item{attrPK: str(usageWorkspacePK(ws)), attrSK: str(sk), attrTTL: num(start.Add(usageRetention).Unix())}
	putTotals(it, t)
	return it
}

// putItems writes items to the usage table 25 at a time (BatchWriteItem's
// most), and writes again whatever DynamoDB left unprocessed: the same
// write units as one Put each, in a twenty-fifth of the calls.
func (s *Store) putItems(ctx context.Context, items []item) error {
	for len(items) > 0 {
		n := min(len(items), 25)
		reqs := make([]ddbtypes.WriteRequest, n)
		for i, it := range items[:n] {
			reqs[i] = ddbtypes.WriteRequest{PutRequest: &ddbtypes.PutRequest{Item: it}}
		}
		items = items[n:]
		for wait := 20 * time.Millisecond; len(reqs) > 0; wait = min(2*wait, time.Second) {
			out, err := s.client.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
				RequestItems: map[string][]ddbtypes.WriteRequest{s.tables.Usage: reqs},
			})
			if err != nil {
				return classify("write workspace rollups", err)
			}
			reqs = out.UnprocessedItems[s.tables.Usage]
			if len(reqs) > 0 && !pause(ctx, wait) {
				return classify("write workspace rollups", ctx.Err())
			}
		}
	}
	return nil
}

// activeItems lists the primary keys of the key-hour items of one hour.
func (s *Store) activeItems(ctx context.Context, hour time.Time) ([]item, error) {
	var keys []item
	var start item
	for {
		out, err := s.client.Query(ctx, &dynamodb.QueryInput{
			TableName:                 aws.String(s.tables.Usage),
			IndexName:                 aws.String(IndexUsageByHour),
			KeyConditionExpression:    aws.String(attrActiveHour + " = :h"),
			ExpressionAttributeValues: item{":h": str(hour.Format(hourLayout))},
			ExclusiveStartKey:         start,
		})
		if err != nil {
			return nil, classify("list keys active in "+hour.Format(hourLayout), err)
		}
		for _, it := range out.Items {
			keys = append(keys, item{attrPK: it[attrPK], attrSK: it[attrSK]})
		}
		if len(out.LastEvaluatedKey) == 0 {
			return keys, nil
		}
		start = out.LastEvaluatedKey
	}
}

// keyRollup is a key's hour item as read back, with its workspace.
type keyRollup struct {
	usage.Rollup
	ws string
}

// getUsageItems reads key-hour items by primary key, 100 at a time, and
// reads again whatever DynamoDB left unprocessed.
func (s *Store) getUsageItems(ctx context.Context, keys []item) ([]keyRollup, error) {
	var out []keyRollup
	for len(keys) > 0 {
		n := min(len(keys), 100)
		batch := keys[:n]
		keys = keys[n:]
		for len(batch) > 0 {
			res, err := s.client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{
				RequestItems: map[string]ddbtypes.KeysAndAttributes{s.tables.Usage: {Keys: batch}},
			})
			if err != nil {
				return nil, classify("read usage items", err)
			}
			for _, it := range res.Responses[s.tables.Usage] {
				r := &itemReader{item: it}
				_, at, model, _, err := parseUsageSK(r.str(attrSK))
				if err != nil {
					return nil, err
				}
				kr := keyRollup{ws: r.str(attrWorkspaceID), Rollup: usage.Rollup{
					Start: at, KID: strings.TrimPrefix(r.str(attrPK), "key#"), Model: model, Totals: readTotals(r)}}
				if r.err != nil {
					return nil, r.err
				}
				out = append(out, kr)
			}
			batch = res.UnprocessedKeys[s.tables.Usage].Keys
			if len(batch) > 0 {
				select {
				case <-ctx.Done():
					return nil, classify("read usage items", ctx.Err())
				case <-time.After(50 * time.Millisecond):
				}
			}
		}
	}
	return out, nil
}

// FoldSpills adds every spilled event to its hour item and deletes it. The
// events of one hour item are summed first and added in one write: an item
// whose writes were throttled is the one a spill comes from, so folding
// must not write it once per event. Each spill is claimed by a delete that
// returns it, so two runs never both add one event; if the add then fails,
// the claimed items are put back for the next run. It returns how many
// events it folded.
func (s *Store) FoldSpills(ctx context.Context) (int, error) {
	groups := map[spillTarget]*spillGroup{}
	for shard := range spillShards {
		var start item
		for {
			out, err := s.client.Query(ctx, &dynamodb.QueryInput{
				TableName:                 aws.String(s.tables.Usage),
				KeyConditionExpression:    aws.String(attrPK + " = :pk"),
				ExpressionAttributeValues: item{":pk": str("spill#" + strconv.Itoa(shard))},
				ExclusiveStartKey:         start,
			})
			if err != nil {
				return 0, classify("list spilled usage", err)
			}
			for _, it := range out.Items {
				del, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
					TableName:    aws.String(s.tables.Usage),
					Key:          item{attrPK: it[attrPK], attrSK: it[attrSK]},
					ReturnValues: ddbtypes.ReturnValueAllOld,
				})
				if err != nil {
					return 0, errors.Join(classify("claim spilled usage", err), s.putBack(ctx, groups))
				}
				if len(del.Attributes) == 0 {
					continue // another run claimed it
				}
				r := &itemReader{item: del.Attributes}
				t := spillTarget{kid: r.str(attrSpillKID), ws: r.str(attrWorkspaceID), hour: r.str(attrSpillHour), model: r.str(attrSpillModel)}
				g := groups[t]
				if g == nil {
					g = &spillGroup{}
					groups[t] = g
				}
				g.sum.Merge(readTotals(r))
				g.items = append(g.items, del.Attributes)
			}
			if len(out.LastEvaluatedKey) == 0 {
				break
			}
			start = out.LastEvaluatedKey
		}
	}
	folded := 0
	var failed []error
	for t, g := range groups {
		hour, err := time.Parse(hourLayout, t.hour)
		if err == nil {
			err = s.addUsage(ctx, t.kid, t.ws, hour, t.model, g.sum)
		}
		if err != nil {
			failed = append(failed, err, s.putBackItems(ctx, g.items))
			continue
		}
		folded += len(g.items)
	}
	return folded, errors.Join(failed...)
}

// spillTarget is the hour item spilled events belong to.
type spillTarget struct{ kid, ws, hour, model string }

// spillGroup is the claimed spills of one hour item and their sum.
type spillGroup struct {
	sum   usage.Totals
	items []item
}

// putBack puts claimed spill items back, for a fold that stopped early.
func (s *Store) putBack(ctx context.Context, groups map[spillTarget]*spillGroup) error {
	var errs []error
	for _, g := range groups {
		errs = append(errs, s.putBackItems(ctx, g.items))
	}
	return errors.Join(errs...)
}

// putBackItems writes claimed spill items back as they were. One that
// cannot be written back is an event lost: the error says so.
func (s *Store) putBackItems(ctx context.Context, items []item) error {
	var errs []error
	for _, it := range items {
		if _, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.tables.Usage), Item: it}); err != nil {
			errs = append(errs, fmt.Errorf("%w: put back a spilled event: %w", ErrUsageLost, classify("put back spilled usage", err)))
		}
	}
	return errors.Join(errs...)
}

func sortRollups(rs []usage.Rollup) {
	slices.SortStableFunc(rs, func(a, b usage.Rollup) int {
		return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.KID, b.KID), cmp.Compare(a.Model, b.Model))
	})
}

// SpilledEvents counts the spill items not folded in yet (for make bench
// and tests).
func (s *Store) SpilledEvents(ctx context.Context) (int64, error) {
	var n int64
	for shard := range spillShards {
		p := dynamodb.NewQueryPaginator(s.client, &dynamodb.QueryInput{
			TableName:                 aws.String(s.tables.Usage),
			KeyConditionExpression:    aws.String(attrPK + " = :pk"),
			ExpressionAttributeValues: item{":pk": str("spill#" + strconv.Itoa(shard))},
			Select:                    ddbtypes.SelectCount,
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return n, classify("count spilled usage", err)
			}
			n += int64(page.Count)
		}
	}
	return n, nil
}
