package dynamo

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/limits"
)

// The authorizer's state items in the Counters table hold a projection of
// the key record (what the authorizer needs) and one counter attribute per
// current window, named c_<window>_<window id>. Counters of past windows are
// removed by later writes; correctness never depends on their removal, since
// only the current window's attribute is compared.
const counterPrefix = "c_"

var _ gateway.Admitter = (*Store)(nil)

func counterAttr(w limits.Window, id string) string {
	return counterPrefix + w.Short() + "_" + id
}

// limitAttr names the attribute holding each window's limit on a key item.
var limitAttr = [...]string{limits.Minute: attrRPM, limits.Day: attrRPD, limits.Month: attrRPMo}

// counterWindows maps the short tag in a counter attribute to its window.
var counterWindows = map[string]limits.Window{"m": limits.Minute, "d": limits.Day, "mo": limits.Month}

// readCounters splits an item's counter attributes into the current
// windows' counts and the names of stale ones, stale tickets included.
func readCounters(it item, now time.Time) (used [3]int64, stale []string) {
	for name, v := range it {
		if staleTicket(name, v, now) {
			stale = append(stale, name)
			continue
		}
		if !strings.HasPrefix(name, counterPrefix) {
			continue
		}
		tag, id, ok := strings.Cut(name[len(counterPrefix):], "_")
		w, known := counterWindows[tag]
		if !ok || !known || id != w.ID(now) {
			stale = append(stale, name)
			continue
		}
		if n, ok := v.(*ddbtypes.AttributeValueMemberN); ok {
			r := itemReader{item: item{name: n}}
			used[w] = r.num(name)
		}
	}
	return used, stale
}

// keyStateItem is the authorizer's projection of a key record.
func keyStateItem(k gateway.Key, workspaceDisabled bool) item {
	it := item{
		attrPK:           str(KeyStatePK(k.KID)),
		attrState:        str(string(k.Status)),
		attrWorkspaceID:  str(k.WorkspaceID),
		attrKind:         str(string(k.Kind)),
		attrSecretHash:   &ddbtypes.AttributeValueMemberB{Value: k.SecretHash},
		attrModels:       stringList(k.Models),
		attrProviders:    stringList(k.Providers),
		attrScopes:       stringList(k.Scopes),
		attrRPM:          num(k.Limits.RequestsPerMinute),
		attrRPD:          num(k.Limits.RequestsPerDay),
		attrRPMo:         num(k.Limits.RequestsPerMonth),
		attrWorkspaceOff: boolean(workspaceDisabled),
	}
	if k.ExpiresAt != nil {
		it[attrExpiresMS] = num(k.ExpiresAt.UnixMilli())
	}
	putBudgetLimits(it, "", k.Limits.Limits)
	return it
}

func decodeKeyState(it item, now time.Time) (gateway.KeyState, error) {
	r := itemReader{item: it}
	kid, shard, sharded := strings.Cut(strings.TrimPrefix(r.str(attrPK), "key#"), "#") // a shard's pk ends #<i>
	a := gateway.KeyState{
		KID:         kid,
		WorkspaceID: r.str(attrWorkspaceID),
		Kind:        gateway.KeyKind(r.str(attrKind)),
		SecretHash:  r.bytes(attrSecretHash),
		Status:      gateway.KeyStatus(r.str(attrState)),
		Models:      r.list(attrModels),
		Providers:   r.list(attrProviders),
		Scopes:      r.list(attrScopes),
		Limits: gateway.Limits{
			RequestsPerMinute: r.num(attrRPM),
			RequestsPerDay:    r.num(attrRPD),
			RequestsPerMonth:  r.num(attrRPMo),
			Limits:            readBudgetLimits(&r, ""),
		},
	}
	a.BudgetSpentUntil, a.BudgetSpent = readExhausted(&r)
	if v, ok := it[attrWorkspaceOff].(*ddbtypes.AttributeValueMemberBOOL); ok {
		a.WorkspaceDisabled = v.Value
	}
	if _, ok := it[attrExpiresMS]; ok {
		t := time.UnixMilli(r.num(attrExpiresMS)).UTC()
		a.ExpiresAt = &t
	}
	a.Used, a.Stale = readCounters(it, now)
	a.Shards = int(max(r.num(attrShards), r.num(attrShardOf)))
	a.KeyLimits = a.Limits
	if sharded {
		i, err := strconv.Atoi(shard)
		if err != nil {
			return gateway.KeyState{}, gateway.Internal(errors.New("decode state of key " + kid + ": shard " + shard))
		}
		a.Shard = i + 1
		a.KeyLimits = gateway.Limits{RequestsPerMinute: r.num(attrKeyRPM), RequestsPerDay: r.num(attrKeyRPD), RequestsPerMonth: r.num(attrKeyRPMo)}
	}
	if r.err != nil {
		return gateway.KeyState{}, gateway.Internal(errors.New("decode state of key " + a.KID + ": " + r.err.Error()))
	}
	return a, nil
}

func decodeWorkspaceState(it item, now time.Time) (gateway.WorkspaceState, error) {
	r := itemReader{item: it}
	id, shard, sharded := strings.Cut(strings.TrimPrefix(r.str(attrPK), "ws#"), "#") // a shard's pk ends #<i>
	a := gateway.WorkspaceState{
		ID:     id,
		Status: gateway.WorkspaceStatus(r.str(attrState)),
		Plan: gateway.Plan{
			Providers:         r.list(attrPlanProvs),
			Models:            r.list(attrPlanModels),
			RequestsPerMinute: r.num(attrPlanRPM),
			Limits:            readBudgetLimits(&r, "plan_"),
		},
	}
	used, stale := readCounters(it, now)
	a.UsedMinute, a.Stale = used[limits.Minute], stale
	a.Shards = int(max(r.num(attrShards), r.num(attrShardOf)))
	if sharded {
		i, err := strconv.Atoi(shard)
		if err != nil {
			return gateway.WorkspaceState{}, gateway.Internal(errors.New("decode state of workspace " + id + ": shard " + shard))
		}
		a.Shard, a.Share = i+1, a.Plan.RequestsPerMinute
		a.Plan.RequestsPerMinute = r.num(attrKeyRPM)
	}
	if r.err != nil {
		return gateway.WorkspaceState{}, gateway.Internal(errors.New("decode state of workspace " + a.ID + ": " + r.err.Error()))
	}
	return a, nil
}

// expression collects names and values for one request's expressions.
type expression struct {
	names  map[string]string
	values item
}

// removals lists the counter attributes to drop: the previous window of each
// kind (the usual case) and whatever stale names the caller saw.
func removals(now time.Time, stale []string, windows ...limits.Window) []string {
	current := map[string]bool{}
	for _, w := range windows {
		current[counterAttr(w, w.ID(now))] = true
	}
	seen := map[string]bool{}
	var out []string
	add := func(name string) {
		if !current[name] && !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	for _, w := range windows {
		add(counterAttr(w, w.PreviousID(now)))
	}
	for _, s := range stale {
		add(s)
	}
	return out
}

func (e *expression) removeClause(names []string) string {
	if len(names) == 0 {
		return ""
	}
	parts := make([]string, len(names))
	for i, n := range names {
		alias := "#r" + strconv.Itoa(i)
		e.names[alias] = n
		parts[i] = alias
	}
	return " REMOVE " + strings.Join(parts, ", ")
}

// AdmitKey counts one request against a key in a single conditional write
// that also refuses a revoked, disabled, expired or wrong-secret key and a
// key over any limit (docs/architecture.md §5): with limit L and any number of
// concurrent callers exactly min(attempts, L) succeed per window, and a
// refused request changes nothing. The write also keeps last_used_at
// current to the minute, so that costs no extra call.
func (s *Store) AdmitKey(ctx context.Context, a gateway.Admission) (gateway.KeyState, bool, error) {
	now := a.Now.UTC()
	e := expression{
		names: map[string]string{
			"#state": attrState, "#kind": attrKind, "#hash": attrSecretHash, "#wsoff": attrWorkspaceOff,
			"#exp": attrExpiresMS, "#last": attrLastUsed, "#shards": attrShards,
			"#cm":  counterAttr(limits.Minute, limits.Minute.ID(now)),
			"#cd":  counterAttr(limits.Day, limits.Day.ID(now)),
			"#cmo": counterAttr(limits.Month, limits.Month.ID(now)),
			"#lm":  attrRPM, "#ld": attrRPD, "#lmo": attrRPMo,
			"#bx": attrBudgetExhausted,
		},
		values: item{
			":active": str(string(gateway.KeyActive)), ":kind": str(string(a.Kind)),
			":hash": &ddbtypes.AttributeValueMemberB{Value: a.SecretHash}, ":false": boolean(false),
			":now": num(now.UnixMilli()), ":zero": num(0), ":one": num(1),
			":minute": timeValue(limits.Minute.Start(now)),
		},
	}
	setTicket, ticketCondition := e.addTicket(a.Ticket)
	remove, guard := e.removeStale(now, a.Stale, a.Ticket, limits.Windows[:]...)
	update := "SET #last = :minute" + setTicket + " ADD #cm :one, #cd :one, #cmo :one" + remove
	// A limit of 0 is none; a shard's share of -1 admits nothing (a limit
	// smaller than the number of shards leaves some without a share). A
	// sharded key's own item no longer counts: a container that has not
	// yet seen it sharded is refused here, reads it, and moves on.
	condition := "#state = :active AND #kind = :kind AND #hash = :hash AND attribute_not_exists(#shards)" +
		" AND (attribute_not_exists(#wsoff) OR #wsoff = :false)" +
		" AND (attribute_not_exists(#exp) OR #exp > :now)" +
		" AND (attribute_not_exists(#lm) OR #lm = :zero OR (attribute_not_exists(#cm) AND #lm > :zero) OR #cm < #lm)" +
		" AND (attribute_not_exists(#ld) OR #ld = :zero OR (attribute_not_exists(#cd) AND #ld > :zero) OR #cd < #ld)" +
		" AND (attribute_not_exists(#lmo) OR #lmo = :zero OR (attribute_not_exists(#cmo) AND #lmo > :zero) OR #cmo < #lmo)" +
		spentClause(a.Free, e) + ticketCondition + guard
	pk := KeyStatePK(a.KID)
	if a.Shard > 0 {
		pk = KeyShardPK(a.KID, a.Shard-1)
	}
	attrs, admitted, err := s.countingUpdate(ctx, pk, update, condition, e, a.Ticket)
	if err != nil {
		return gateway.KeyState{}, false, classify("admit request for key "+a.KID, err)
	}
	if attrs == nil {
		if a.Shard == 0 {
			return gateway.KeyState{}, false, keyNotFound(a.KID)
		}
		return gateway.KeyState{}, false, nil // a shard not written yet: the caller creates it
	}
	auth, err := decodeKeyState(attrs, now)
	return auth, admitted && err == nil, err
}

// countingUpdate runs a conditional counting write with ticket t on a state
// item. It returns the item after the write when admitted; when refused,
// the item as it was, read back if DynamoDB did not send it (dynalite never
// does), or nil if there is none (or only a fence's ticket). A refusal that
// finds the write's own ticket is an admission whose first answer was lost
// (countedAnyway).
func (s *Store) countingUpdate(ctx context.Context, pk, update, condition string, e expression, t gateway.Ticket) (attrs item, admitted bool, err error) {
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           aws.String(s.tables.Counters),
		Key:                                 item{attrPK: str(pk)},
		UpdateExpression:                    aws.String(update),
		ConditionExpression:                 aws.String(condition),
		ExpressionAttributeNames:            e.names,
		ExpressionAttributeValues:           e.values,
		ReturnValues:                        ddbtypes.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: ddbtypes.ReturnValuesOnConditionCheckFailureAllOld,
	})
	ccf, refused := errors.AsType[*ddbtypes.ConditionalCheckFailedException](err)
	if !refused {
		if err != nil {
			return nil, false, err
		}
		return out.Attributes, true, nil
	}
	attrs = ccf.Item
	if len(attrs) == 0 {
		var found bool
		if attrs, found, err = s.readStateItem(ctx, pk); err != nil || !found {
			return nil, false, err
		}
	}
	if !hasState(attrs) {
		return nil, false, nil // a shard a withdrawal's fence created: not there yet
	}
	return attrs, countedAnyway(attrs, t), nil
}

// GetKeyState reads a key's state item; a missing one is CodeKeyNotFound.
func (s *Store) GetKeyState(ctx context.Context, kid string, now time.Time) (gateway.KeyState, error) {
	it, found, err := s.readStateItem(ctx, KeyStatePK(kid))
	if err != nil {
		return gateway.KeyState{}, err
	}
	if !found {
		return gateway.KeyState{}, keyNotFound(kid)
	}
	return decodeKeyState(it, now.UTC())
}

// AdmitWorkspace counts one request against a workspace's own per-minute
// limit, refusing it when the workspace is disabled or the limit is reached.
// It returns the workspace's plan, so that a cold authorizer learns it in
// the same call.
func (s *Store) AdmitWorkspace(ctx context.Context, a gateway.WorkspaceAdmission) (gateway.WorkspaceState, bool, error) {
	now := a.Now.UTC()
	e := expression{
		names: map[string]string{
			"#state": attrState, "#cm": counterAttr(limits.Minute, limits.Minute.ID(now)), "#lm": attrPlanRPM, "#shards": attrShards,
		},
		values: item{":active": str(string(gateway.WorkspaceActive)), ":zero": num(0), ":one": num(1)},
	}
	// No ticket: a workspace's count is its minute's alone, so a lost
	// write holds a place until the minute ends at most, while a ticket per
	// container would grow the item every admitted request of every key
	// writes (docs/architecture.md §5).
	remove, guard := e.removeStale(now, a.Stale, gateway.Ticket{}, limits.Minute)
	update := "ADD #cm :one" + remove
	pk := WorkspaceStatePK(a.WorkspaceID)
	if a.Shard > 0 {
		pk = WorkspaceShardPK(a.WorkspaceID, a.Shard-1)
	}
	attrs, admitted, err := s.countingUpdate(ctx, pk, update,
		"#state = :active AND attribute_not_exists(#shards)"+
			" AND (attribute_not_exists(#lm) OR #lm = :zero OR (attribute_not_exists(#cm) AND #lm > :zero) OR #cm < #lm)"+guard, e, gateway.Ticket{})
	if err != nil {
		return gateway.WorkspaceState{}, false, classify("admit request for workspace "+a.WorkspaceID, err)
	}
	if attrs == nil {
		return gateway.WorkspaceState{}, false, nil
	}
	auth, err := decodeWorkspaceState(attrs, now)
	return auth, admitted && err == nil, err
}

// GetWorkspaceState reads a workspace's state item; a missing one is
// CodeWorkspaceNotFound.
func (s *Store) GetWorkspaceState(ctx context.Context, id string, now time.Time) (gateway.WorkspaceState, error) {
	it, found, err := s.readStateItem(ctx, WorkspaceStatePK(id))
	if err != nil {
		return gateway.WorkspaceState{}, err
	}
	if !found {
		return gateway.WorkspaceState{}, gateway.Errorf(gateway.CodeWorkspaceNotFound, "Workspace %s does not exist.", id)
	}
	return decodeWorkspaceState(it, now.UTC())
}
