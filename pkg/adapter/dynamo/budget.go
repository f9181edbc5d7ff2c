package dynamo

import (
	"context"
	"math"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aistats/edge/pkg/domain/budget"
)

var _ budget.Ledger = (*Store)(nil)

// reserveAttempts bounds how often one reservation is tried: a refusal is
// read, to name the budget, and tried again only when the read shows room
// (a settle gave some back meanwhile) or an expired bucket was reclaimed.
// A budget whose room is taken by holds in flight at every try is answered
// as exceeded: for now it is.
const reserveAttempts = 3

// Reserve holds a against acct's budgets in one conditional write
// (docs/architecture.md §5, "Budgets and token limits"). Every window's used
// attribute must stay at most its limit after the write; DynamoDB applies
// conditional writes to one item one at a time, so however many requests
// race, the reserved and settled amounts together never pass a limit. Only
// a refusal costs more: one read to name the budget and to find buckets left
// by requests that died, which are reclaimed before one more try.
func (s *Store) Reserve(ctx context.Context, acct budget.Account, a budget.Amount, now time.Time) (budget.Hold, []budget.Standing, error) {
	now = now.UTC()
	pk := BudgetPK(acct.Scope, acct.ID)
	for _, w := range budget.Windows {
		if lim := acct.Limits.Limit(w); lim > 0 && a.Of(w) > lim {
			return budget.Hold{}, nil, exceeded(acct, w, now) // never fits: no write
		}
	}
	var view ledgerView
	for attempt := 0; attempt < reserveAttempts; attempt++ {
		u := newLedgerUpdate()
		u.holdAmount(a, now, true)
		for _, w := range budget.Windows {
			if lim := acct.Limits.Limit(w); lim > 0 {
				n := u.name(usedAttr(w, now))
				u.conditions = append(u.conditions, "(attribute_not_exists("+n+") OR "+n+" <= "+u.value(lim-a.Of(w))+")")
			}
		}
		u.removes = append(u.removes, s.staleBudgetAttrs(pk, now)...)
		// Only the attributes written come back: the used amounts, for the
		// headers. The whole item (stale spans, expired buckets) is
		// remembered from the settle, which runs after the answer.
		out, err := s.updateLedger(ctx, pk, u, ddbtypes.ReturnValueUpdatedNew)
		if err == nil {
			view := readLedger(out.Attributes, now)
			return budget.Hold{Account: acct, At: now, Amount: a}, view.standings(acct.Limits, now), nil
		}
		if !isConditionFailed(err) {
			return budget.Hold{}, nil, classify("reserve budget of "+acct.Scope+" "+acct.ID, err)
		}
		view, err = s.readLedger(ctx, pk, now)
		if err != nil {
			return budget.Hold{}, nil, err
		}
		s.rememberBudget(pk, view)
		if expired := view.expired(now); len(expired) > 0 {
			if err := s.reclaim(ctx, pk, expired, now); err != nil {
				return budget.Hold{}, nil, err
			}
			continue
		}
		w, fits := acct.Limits.Fits(view.used, a)
		if !fits || attempt == reserveAttempts-1 {
			if fits {
				w = tightestFor(acct.Limits, view.used, a)
			}
			return budget.Hold{}, view.standings(acct.Limits, now), exceeded(acct, w, now)
		}
	}
	// The last try reclaimed expired holds and was not tried again.
	return budget.Hold{}, view.standings(acct.Limits, now), exceeded(acct, tightestFor(acct.Limits, view.used, a), now)
}

// tightestFor is the budget with the least room for a, to name when holds
// in flight kept taking the room a read showed.
func tightestFor(l budget.Limits, used [len(budget.Windows)]int64, a budget.Amount) budget.Window {
	best, room := budget.Window(0), int64(-1)
	for _, w := range budget.Windows {
		if lim := l.Limit(w); lim > 0 {
			if r := lim - used[w] - a.Of(w); room < 0 || r < room {
				best, room = w, r
			}
		}
	}
	return best
}

func exceeded(acct budget.Account, w budget.Window, now time.Time) *budget.Exceeded {
	return &budget.Exceeded{Window: w, Scope: acct.Scope, Limit: acct.Limits.Limit(w), Reset: w.Reset(now)}
}

// Settle puts the real amount in place of a hold, in one write: the
// difference is added to every window the hold counted in, and the hold is
// taken out of its bucket. The write is conditional on the bucket still
// being there; a request that outlived ReservationLife finds it reclaimed,
// its hold already given back, and adds its real amount instead. Buckets
// this container saw expire are reclaimed in the same write.
func (s *Store) Settle(ctx context.Context, h budget.Hold, actual budget.Amount, now time.Time) ([]budget.Standing, error) {
	now = now.UTC()
	pk := BudgetPK(h.Account.Scope, h.Account.ID)
	delta := budget.Amount{Tokens: actual.Tokens - h.Amount.Tokens, Cost: actual.Cost - h.Amount.Cost}
	settle := func(withReclaim bool) (*dynamodb.UpdateItemOutput, error) {
		u := newLedgerUpdate()
		for _, w := range budget.Windows {
			u.add(usedAttr(w, h.At), delta.Of(w))
		}
		rt := budgetReservedTokens + bucketID(h.At)
		u.add(rt, -h.Amount.Tokens)
		u.add(budgetReservedCost+bucketID(h.At), -int64(h.Amount.Cost))
		u.conditions = append(u.conditions, "attribute_exists("+u.name(rt)+")")
		if withReclaim {
			for _, b := range s.expiredSeen(pk, now) {
				if b.id != bucketID(h.At) {
					u.reclaim(b, now)
				}
			}
		}
		return s.updateLedger(ctx, pk, u, ddbtypes.ReturnValueAllNew)
	}
	out, err := settle(true)
	if isConditionFailed(err) {
		out, err = settle(false) // another writer reclaimed a bucket first
	}
	if isConditionFailed(err) {
		u := newLedgerUpdate()
		u.holdAmount(actual, h.At, false)
		out, err = s.updateLedger(ctx, pk, u, ddbtypes.ReturnValueAllNew)
	}
	if err != nil {
		return nil, classify("settle budget of "+h.Account.Scope+" "+h.Account.ID, err)
	}
	view := readLedger(out.Attributes, now)
	s.rememberBudget(pk, view)
	return view.standings(h.Account.Limits, now), nil
}

// Reclaim gives back the buckets of acct's budget item left by requests
// that died between reserve and settle. The detector calls it for active
// keys, so that a budget nobody reserves against again is tidied too.
func (s *Store) Reclaim(ctx context.Context, scope, id string, now time.Time) (int, error) {
	now = now.UTC()
	pk := BudgetPK(scope, id)
	view, err := s.readLedger(ctx, pk, now)
	if err != nil {
		return 0, err
	}
	expired := view.expired(now)
	if len(expired) == 0 {
		return 0, nil
	}
	return len(expired), s.reclaim(ctx, pk, expired, now)
}

// reclaim runs one conditional write for the expired buckets; a condition
// that fails means another writer reclaimed one of them first, which is not
// an error.
func (s *Store) reclaim(ctx context.Context, pk string, expired []bucket, now time.Time) error {
	u := newLedgerUpdate()
	for _, b := range expired {
		u.reclaim(b, now)
	}
	_, err := s.updateLedger(ctx, pk, u, ddbtypes.ReturnValueNone)
	if err != nil && !isConditionFailed(err) {
		return classify("reclaim reservations of "+pk, err)
	}
	return nil
}

// Standings reads acct's budgets at now, for the key's record.
func (s *Store) Standings(ctx context.Context, acct budget.Account, now time.Time) ([]budget.Standing, error) {
	now = now.UTC()
	view, err := s.readLedger(ctx, BudgetPK(acct.Scope, acct.ID), now)
	if err != nil {
		return nil, err
	}
	return view.standings(acct.Limits, now), nil
}

func (s *Store) readLedger(ctx context.Context, pk string, now time.Time) (ledgerView, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.tables.Counters), Key: item{attrPK: str(pk)}, ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return ledgerView{}, classify("read budget "+pk, err)
	}
	return readLedger(out.Item, now), nil
}

func (s *Store) updateLedger(ctx context.Context, pk string, u *ledgerUpdate, rv ddbtypes.ReturnValue) (*dynamodb.UpdateItemOutput, error) {
	in := &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.tables.Counters),
		Key:                       item{attrPK: str(pk)},
		UpdateExpression:          aws.String(u.expression()),
		ConditionExpression:       u.condition(),
		ExpressionAttributeNames:  u.names,
		ExpressionAttributeValues: u.values,
		ReturnValues:              rv,
	}
	if len(u.values) == 0 {
		in.ExpressionAttributeValues = nil
	}
	return s.client.UpdateItem(ctx, in)
}

// MarkExhausted sets, on the key's (or workspace's) state item, until when
// its budget w is spent, so that the authorizer refuses it in the write it
// makes anyway (AdmitKey's condition) instead of the proxy refusing each
// request with a reservation. It only ever moves the time later; a changed
// limit clears it (UpdateKey).
func (s *Store) MarkExhausted(ctx context.Context, acct budget.Account, w budget.Window, until time.Time) error {
	pk := KeyStatePK(acct.ID)
	if acct.Scope == budget.ScopeWorkspace {
		pk = WorkspaceStatePK(acct.ID)
	}
	ms := int64(math.MaxInt64)
	if !until.IsZero() {
		ms = until.UnixMilli()
	}
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.tables.Counters),
		Key:                       item{attrPK: str(pk)},
		UpdateExpression:          aws.String("SET #bx = :until, #bxn = :name ADD #v :one"),
		ConditionExpression:       aws.String("attribute_exists(#pk) AND (attribute_not_exists(#bx) OR #bx < :until)"),
		ExpressionAttributeNames:  map[string]string{"#bx": attrBudgetExhausted, "#bxn": attrBudgetExhaustedName, "#pk": attrPK, "#v": attrVersion},
		ExpressionAttributeValues: item{":until": num(ms), ":name": str(w.Name()), ":one": num(1)},
		ReturnValues:              ddbtypes.ReturnValueAllNew,
	})
	if isConditionFailed(err) {
		return nil
	}
	if err != nil {
		return classify("mark budget of "+acct.Scope+" "+acct.ID+" spent", err)
	}
	// A hot key's shards carry the mark too, so that whichever shard a
	// request reaches refuses it.
	if acct.Scope == budget.ScopeWorkspace {
		return nil
	}
	return s.syncShards(ctx, out.Attributes, s.now())
}
