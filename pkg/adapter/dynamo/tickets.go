package dynamo

import (
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

	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/limits"
)

// Tickets make a counting write's outcome knowable (docs/architecture.md
// §5). A counting write that times out may still be applied by DynamoDB
// after its caller has answered 503; without a trace of it, nothing could
// give its count back. So each counting write on a key carries a
// gateway.Ticket and records it on the item it counts on, in the same
// write: the attribute t_<writer> holds the writer's latest sequence
// number, and the write is refused unless that attribute is below its own.
//
// A writer's withdrawal of ticket s is then made of two single-item
// conditional writes, of which exactly one can apply (withdraw says what
// happens when the item changes between them):
//   - the undo, if t_<writer> = s: the write was applied. Its counts come
//     off, and the attribute moves to s+1, so it is never undone twice.
//   - the fence, if t_<writer> < s, or is absent: the write was not
//     applied (yet). The attribute moves to s+1, which the write's own
//     condition refuses if it arrives later.
//
// DynamoDB applies writes to one item one at a time, so whichever of the
// write and its withdrawal comes second sees the first: no transaction is
// needed, and dynalite, which has none, runs the same code.
//
// A writer is one invocation slot of one authorizer container, so its
// writes never overlap. An item keeps one attribute per writer that
// touched it lately; attributes older than gateway.TicketHorizon are
// removed by later counting writes, so the item's size follows the number
// of containers that wrote it in that time (19 bytes each).
const ticketPrefix = "t_"

// maxTicketRemovals bounds how many stale tickets one counting write
// removes, so that its expression stays small.
const maxTicketRemovals = 8

func ticketAttr(writer string) string { return ticketPrefix + writer }

// ticketSeq is the sequence number an item holds for writer (0: none).
func ticketSeq(it item, writer string) int64 {
	v, ok := it[ticketAttr(writer)].(*ddbtypes.AttributeValueMemberN)
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(v.Value, 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// staleTicket reports whether the attribute name is a ticket older than
// gateway.TicketHorizon at now. A ticket's sequence number is its write's time in
// Unix milliseconds, or a little past it.
func staleTicket(name string, v ddbtypes.AttributeValue, now time.Time) bool {
	if !strings.HasPrefix(name, ticketPrefix) {
		return false
	}
	n, ok := v.(*ddbtypes.AttributeValueMemberN)
	if !ok {
		return true
	}
	seq, err := strconv.ParseInt(n.Value, 10, 64)
	return err != nil || seq < now.Add(-gateway.TicketHorizon).UnixMilli()
}

// addTicket adds ticket t to a counting write: the write records it, and is
// refused if the item holds this writer's ticket at or past it (the same
// write applied already, or withdrawn).
func (e *expression) addTicket(t gateway.Ticket) (set, condition string) {
	if t.Writer == "" {
		return "", ""
	}
	e.names["#tk"] = ticketAttr(t.Writer)
	e.values[":tk"] = num(t.Seq)
	return ", #tk = :tk", " AND (attribute_not_exists(#tk) OR #tk < :tk)"
}

// removeStale builds the REMOVE clause for stale counters and tickets, and
// the condition that guards the tickets: one is removed only if it is still
// stale when the write applies, for its writer may have written again since
// it was seen. The writer's own ticket is never removed by its own write.
func (e *expression) removeStale(now time.Time, stale []string, own gateway.Ticket, windows ...limits.Window) (remove, guard string) {
	names := removals(now, stale, windows...)
	kept := names[:0]
	tickets := 0
	for _, n := range names {
		if strings.HasPrefix(n, ticketPrefix) {
			if n == ticketAttr(own.Writer) || tickets == maxTicketRemovals {
				continue
			}
			tickets++
		}
		kept = append(kept, n)
	}
	remove = e.removeClause(kept)
	if tickets == 0 {
		return remove, ""
	}
	e.values[":horizon"] = num(now.Add(-gateway.TicketHorizon).UnixMilli())
	var b strings.Builder
	for i, n := range kept { // removeClause names kept[i] #r<i>
		if strings.HasPrefix(n, ticketPrefix) {
			alias := "#r" + strconv.Itoa(i)
			b.WriteString(" AND (attribute_not_exists(" + alias + ") OR " + alias + " < :horizon)")
		}
	}
	return remove, b.String()
}

// countedAnyway reports whether a refused counting write with ticket t was
// in fact applied: an earlier attempt of the same write (the SDK retries a
// request whose answer was lost) counted it, and the retry found its own
// ticket. it is the item as the refusal saw it.
func countedAnyway(it item, t gateway.Ticket) bool {
	return t.Writer != "" && ticketSeq(it, t.Writer) == t.Seq
}

// WithdrawKey takes back the counting write of admission a (gateway.Admitter):
// exactly, whether or not it was applied, and safely repeated.
func (s *Store) WithdrawKey(ctx context.Context, a gateway.Admission, at time.Time) (bool, error) {
	pk := KeyStatePK(a.KID)
	if a.Shard > 0 {
		pk = KeyShardPK(a.KID, a.Shard-1)
	}
	counted, err := s.withdraw(ctx, pk, a.Ticket, stillCurrent(a.Now, at, limits.Windows[:]...), a.Shard > 0)
	if err != nil {
		return false, classify("withdraw request of key "+a.KID, err)
	}
	return counted, nil
}

// stillCurrent names the counters that a write at counted made and that are
// still current at at: a window that has ended has nothing to give back.
func stillCurrent(counted, at time.Time, windows ...limits.Window) []string {
	counted, at = counted.UTC(), at.UTC()
	var out []string
	for _, w := range windows {
		if id := w.ID(counted); id == w.ID(at) {
			out = append(out, counterAttr(w, id))
		}
	}
	return out
}

// maxWithdrawalRounds bounds a withdrawal's rounds of undo and fence. Each
// refused round means the item changed under it: the write landed, or a
// counter went; two rounds settle every case, the rest is margin.
const maxWithdrawalRounds = 4

// withdraw runs the conditional writes of a withdrawal (see the top of this
// file) until one applies:
//   - the undo, which also requires every counter it takes from to exist
//     (a request of the next window, on a container whose clock is a
//     moment ahead, may have removed this window's: taking from it would
//     recreate it negative);
//   - the fence, when the undo was refused;
//   - when both were refused, a read: the write landed between them (undo
//     again), a counter is gone (undo the others), or the ticket is past
//     s (withdrawn already).
//
// A shard may be missing when its write is withdrawn (sharding writes its
// shards one by one), and be created later, with the write still on its
// way. So on a shard the fence may create the item, holding only the
// ticket; a counting write and a shard's creation read such an item as
// missing (stateless), and the creation fills it in.
func (s *Store) withdraw(ctx context.Context, pk string, t gateway.Ticket, counters []string, mayAppear bool) (counted bool, err error) {
	if t.Writer == "" {
		return false, errors.New("no ticket to withdraw")
	}
	for range maxWithdrawalRounds {
		err := s.undo(ctx, pk, t, counters)
		if err == nil {
			return true, nil
		}
		if !isConditionFailed(err) {
			return false, err
		}
		if err := s.fence(ctx, pk, t, mayAppear); !isConditionFailed(err) {
			return false, err
		}
		it, found, err := s.readStateItem(ctx, pk)
		if err != nil {
			return false, err
		}
		seq := ticketSeq(it, t.Writer)
		if !found || seq > t.Seq {
			return false, nil // withdrawn already, or no item: nothing to count on
		}
		if seq == t.Seq {
			counters = slices.DeleteFunc(counters, func(c string) bool { return it[c] == nil })
		}
	}
	return false, fmt.Errorf("withdrawal of %s on %s did not settle in %d rounds", ticketAttr(t.Writer), pk, maxWithdrawalRounds)
}

// undo takes the counts of an applied write back, if the item holds its
// ticket and every counter named.
//
// A key's own item may have been sharded since the write applied: sharding
// took what the item had counted, this write included, off the shards'
// shares, so the undo there gives nothing back to the shards. The key then
// admits one request fewer in the window, never more (a shard created from
// the item after the undo takes the lower count: the shards' counts stay
// between the two). Giving it back on a shard would need to know which
// shards were created before the undo.
func (s *Store) undo(ctx context.Context, pk string, t gateway.Ticket, counters []string) error {
	names := map[string]string{"#tk": ticketAttr(t.Writer)}
	values := item{":tk": num(t.Seq), ":done": num(t.Seq + 1)}
	update, condition := "SET #tk = :done", "#tk = :tk"
	if len(counters) > 0 {
		values[":minus"] = num(-1)
		adds := make([]string, len(counters))
		for i, c := range counters {
			alias := "#c" + strconv.Itoa(i)
			names[alias] = c
			adds[i] = alias + " :minus"
			condition += " AND attribute_exists(" + alias + ")"
		}
		update += " ADD " + strings.Join(adds, ", ")
	}
	return s.conditionalUpdate(ctx, pk, update, condition, names, values)
}

// fence makes a write that has not applied never apply: its ticket moves
// past it. Only a shard may be created by it (see withdraw).
func (s *Store) fence(ctx context.Context, pk string, t gateway.Ticket, mayAppear bool) error {
	names := map[string]string{"#tk": ticketAttr(t.Writer)}
	condition := "attribute_not_exists(#tk) OR #tk < :tk"
	if !mayAppear {
		names["#pk"] = attrPK
		condition = "attribute_exists(#pk) AND (" + condition + ")"
	}
	return s.conditionalUpdate(ctx, pk, "SET #tk = :done", condition, names, item{":tk": num(t.Seq), ":done": num(t.Seq + 1)})
}

// hasState reports whether a state item is one: a shard that a withdrawal's
// fence created before sharding wrote it holds only the ticket.
func hasState(it item) bool { return it[attrState] != nil }

func (s *Store) conditionalUpdate(ctx context.Context, pk, update, condition string, names map[string]string, values item) error {
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.tables.Counters),
		Key:                       item{attrPK: str(pk)},
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String(condition),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	return err
}
