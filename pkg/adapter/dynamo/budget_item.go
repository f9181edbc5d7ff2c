package dynamo

import (
	"strconv"
	"strings"
	"time"

	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aistats/edge/pkg/domain/budget"
	"github.com/aistats/edge/pkg/domain/limits"
)

// A budget item (Counters table, pk "budget#key#<kid>" or
// "budget#ws#<id>") holds, per budget window, what is used, settled and
// reserved together: u_<window>_<span id> (u_cl for the lifetime). A
// condition can compare an attribute with a value but cannot add, so the
// one attribute that the reservation's condition checks must already hold
// both; the caller passes limit minus its worst case as the value.
//
// What is reserved and not yet settled is also kept per minute of
// reservation, rt_<minute> in tokens and rc_<minute> in micro-dollars: a
// request that dies between reserve and settle leaves its amount there, and
// once no request of that minute can still be alive (ReservationLife after
// it), the whole bucket is given back in one conditional write. The item
// therefore grows with the minutes of the last few, not with the requests in
// flight: about 40 bytes a minute, under 1 KB.
const (
	budgetUsedPrefix     = "u_"
	budgetReservedTokens = "rt_"
	budgetReservedCost   = "rc_"
)

// ReservationLife is how long after its minute a reservation may still be
// settled: the proxy's longest request (285 s on the streaming route, within
// Lambda's 300 s timeout) and a minute's margin for clocks. A bucket older
// than that holds only the amounts of requests that died, and is reclaimed.
const ReservationLife = 6 * time.Minute

// BudgetPK is the Counters-table key of the budget item of a key or a
// workspace.
func BudgetPK(scope, id string) string {
	if scope == budget.ScopeWorkspace {
		return "budget#" + WorkspaceStatePK(id)
	}
	return "budget#" + KeyStatePK(id)
}

func usedAttr(w budget.Window, at time.Time) string {
	if w == budget.CostLifetime {
		return budgetUsedPrefix + w.Short()
	}
	return budgetUsedPrefix + w.Short() + "_" + w.ID(at)
}

func bucketID(at time.Time) string { return limits.Minute.ID(at) }

// bucket is what requests of one minute hold reserved.
type bucket struct {
	id           string
	tokens, cost int64
}

func (b bucket) start() time.Time {
	t, _ := time.Parse("200601021504", b.id)
	return t
}

// expired reports whether no request that reserved in b can still settle.
func (b bucket) expired(now time.Time) bool {
	return !now.Before(b.start().Add(time.Minute + ReservationLife))
}

// ledgerView is a budget item read at now.
type ledgerView struct {
	// used is each window's current span, settled and reserved.
	used    [len(budget.Windows)]int64
	buckets map[string]*bucket
	// stale names used attributes of past spans, to remove.
	stale []string
}

func readLedger(it item, now time.Time) ledgerView {
	v := ledgerView{buckets: map[string]*bucket{}}
	current := map[string]budget.Window{}
	for _, w := range budget.Windows {
		current[usedAttr(w, now)] = w
	}
	for name, av := range it {
		n, ok := av.(*ddbtypes.AttributeValueMemberN)
		if !ok {
			continue
		}
		value, err := strconv.ParseInt(n.Value, 10, 64)
		if err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(name, budgetUsedPrefix):
			if w, ok := current[name]; ok {
				v.used[w] = value
			} else {
				v.stale = append(v.stale, name)
			}
		case strings.HasPrefix(name, budgetReservedTokens):
			v.bucket(name[len(budgetReservedTokens):]).tokens = value
		case strings.HasPrefix(name, budgetReservedCost):
			v.bucket(name[len(budgetReservedCost):]).cost = value
		}
	}
	return v
}

func (v *ledgerView) bucket(id string) *bucket {
	b, ok := v.buckets[id]
	if !ok {
		b = &bucket{id: id}
		v.buckets[id] = b
	}
	return b
}

// expired lists the buckets that can be reclaimed at now.
func (v ledgerView) expired(now time.Time) []bucket {
	var out []bucket
	for _, b := range v.buckets {
		if b.expired(now) {
			out = append(out, *b)
		}
	}
	return out
}

// standings is each budget's state, for limits l: what is reserved in a
// window's span is what its buckets of that span hold.
func (v ledgerView) standings(l budget.Limits, now time.Time) []budget.Standing {
	out := make([]budget.Standing, 0, len(budget.Windows))
	for _, w := range budget.Windows {
		var reserved int64
		for _, b := range v.buckets {
			if w == budget.CostLifetime || w.ID(b.start()) == w.ID(now) {
				if w.Tokens() {
					reserved += b.tokens
				} else {
					reserved += b.cost
				}
			}
		}
		reserved = min(max(reserved, 0), max(v.used[w], 0))
		out = append(out, budget.Standing{Window: w, Limit: l.Limit(w), Settled: max(v.used[w]-reserved, 0),
			Reserved: reserved, Reset: w.Reset(now)})
	}
	return out
}

// ledgerUpdate builds one write on a budget item: amounts added per
// attribute (summed, since one expression may name a path once),
// attributes removed, and conditions.
type ledgerUpdate struct {
	adds       map[string]int64
	order      []string
	removes    []string
	conditions []string
	names      map[string]string
	values     item
}

func newLedgerUpdate() *ledgerUpdate {
	return &ledgerUpdate{adds: map[string]int64{}, names: map[string]string{}, values: item{}}
}

func (u *ledgerUpdate) add(attr string, n int64) {
	if _, ok := u.adds[attr]; !ok {
		u.order = append(u.order, attr)
	}
	u.adds[attr] += n
}

func (u *ledgerUpdate) name(attr string) string {
	alias := "#n" + strconv.Itoa(len(u.names))
	for a, n := range u.names {
		if n == attr {
			return a
		}
	}
	u.names[alias] = attr
	return alias
}

func (u *ledgerUpdate) value(n int64) string {
	alias := ":v" + strconv.Itoa(len(u.values))
	u.values[alias] = num(n)
	return alias
}

// holdAmount adds a to every budget window's span at `at` and to at's
// bucket (negative a takes back).
func (u *ledgerUpdate) holdAmount(a budget.Amount, at time.Time, bucketToo bool) {
	for _, w := range budget.Windows {
		u.add(usedAttr(w, at), a.Of(w))
	}
	if bucketToo {
		u.add(budgetReservedTokens+bucketID(at), a.Tokens)
		u.add(budgetReservedCost+bucketID(at), int64(a.Cost))
	}
}

// reclaim gives back an expired bucket's amounts to the spans of now that
// contain its minute (older spans no longer count) and removes it, on
// condition that it still holds what was read: otherwise another writer
// reclaimed it first.
func (u *ledgerUpdate) reclaim(b bucket, now time.Time) {
	for _, w := range budget.Windows {
		if w == budget.TokensMinute || (w != budget.CostLifetime && w.ID(b.start()) != w.ID(now)) {
			continue
		}
		u.add(usedAttr(w, now), -budget.Amount{Tokens: b.tokens, Cost: budget.MicroUSD(b.cost)}.Of(w))
	}
	rt, rc := budgetReservedTokens+b.id, budgetReservedCost+b.id
	u.removes = append(u.removes, rt, rc)
	u.conditions = append(u.conditions, u.name(rt)+" = "+u.value(b.tokens), u.name(rc)+" = "+u.value(b.cost))
}

func (u *ledgerUpdate) expression() string {
	var adds []string
	removing := map[string]bool{}
	for _, r := range u.removes {
		removing[r] = true
	}
	for _, a := range u.order {
		if !removing[a] {
			adds = append(adds, u.name(a)+" "+u.value(u.adds[a]))
		}
	}
	expr := ""
	if len(adds) > 0 {
		expr = "ADD " + strings.Join(adds, ", ")
	}
	if len(u.removes) > 0 {
		var rs []string
		for _, r := range u.removes {
			rs = append(rs, u.name(r))
		}
		expr += " REMOVE " + strings.Join(rs, ", ")
	}
	return strings.TrimSpace(expr)
}

func (u *ledgerUpdate) condition() *string {
	if len(u.conditions) == 0 {
		return nil
	}
	c := strings.Join(u.conditions, " AND ")
	return &c
}
