package dynamo

import (
	"time"

	"github.com/aistats/edge/pkg/domain/budget"
)

// budgetLimitAttrs names each token and money limit's attribute, in the
// order of budget.Windows; a workspace's carry the "plan_" prefix.
var budgetLimitAttrs = [...]string{attrTPM, attrTPD, attrCPD, attrCPM, attrCL}

// putBudgetLimits writes l's nonzero limits onto it: a key without budgets
// keeps its items as small as before.
func putBudgetLimits(it item, prefix string, l budget.Limits) {
	for _, w := range budget.Windows {
		if v := l.Limit(w); v != 0 {
			it[prefix+budgetLimitAttrs[w]] = num(v)
		}
	}
}

// readBudgetLimits reads what putBudgetLimits wrote; a missing limit is 0.
func readBudgetLimits(r *itemReader, prefix string) budget.Limits {
	n := func(w budget.Window) int64 { return r.num(prefix + budgetLimitAttrs[w]) }
	return budget.Limits{TokensPerMinute: n(budget.TokensMinute), TokensPerDay: n(budget.TokensDay),
		CostPerDay: budget.MicroUSD(n(budget.CostDay)), CostPerMonth: budget.MicroUSD(n(budget.CostMonth)),
		CostLifetime: budget.MicroUSD(n(budget.CostLifetime))}
}

// budgetLimitFields lists a limits change for both of a key's items. A
// changed budget also clears the spent mark on the state item: the proxy
// sets it again, at its next settle, if the new limit is spent too.
func budgetLimitFields(l budget.Limits) []keyField {
	fields := make([]keyField, 0, len(budget.Windows)+1)
	for _, w := range budget.Windows {
		a := budgetLimitAttrs[w]
		fields = append(fields, keyField{record: a, state: a, value: num(l.Limit(w))})
	}
	return append(fields, keyField{state: attrBudgetExhausted, value: nil})
}

// readExhausted reads until when a state item's budget is spent, and which.
func readExhausted(r *itemReader) (time.Time, string) {
	ms := r.num(attrBudgetExhausted)
	if ms == 0 {
		return time.Time{}, ""
	}
	return time.UnixMilli(ms).UTC(), r.str(attrBudgetExhaustedName)
}

// exhaustedClause is the clause AdmitKey's condition carries: a key whose
// budget is spent until a later time than now is refused in the same write.
const exhaustedClause = " AND (attribute_not_exists(#bx) OR #bx < :now)"

// spentClause is exhaustedClause, or nothing for a route that spends no
// budget (gateway.Admission.Free), whose expression then does not name #bx:
// DynamoDB refuses a name an expression does not use.
func spentClause(free bool, e expression) string {
	if free {
		delete(e.names, "#bx")
		return ""
	}
	return exhaustedClause
}
