package dynamo

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aistats/edge/pkg/domain/usage"
)

// Usage items (docs/architecture.md §6). Every one holds usage.Totals under
// the short attribute names below and stays under 1 KB, so each write
// costs one write unit:
//
//	key#<kid>  h#<YYYYMMDDHH>#<model>  one key's hour of one model: the one item a request writes
//	key#<kid>  d#<YYYYMMDD>#<model>    its day, summed by the rollup job
//	key#<kid>  d#<YYYYMMDD>            a day written before round two (legacy, read only)
//	ws#<ws>    h#<YYYYMMDDHH>#<model>  a workspace's hour of one model, by the rollup job
//	ws#<ws>    d#<YYYYMMDD>#<model>    its day, by the rollup job
//	ws#<ws>    k#<YYYYMMDDHH>#<kid>    a workspace's hour of one key, all models, by the rollup job
//	ws#<ws>    j#<YYYYMMDD>#<kid>      its day, by the rollup job
//	spill#<n>  <unix ns>#<random>      one event whose write failed, until the job folds it in
//
// Names are short because DynamoDB bills an item's attribute names with
// its values, on every write.
const (
	attrUsageRequests   = "n"
	attrUsageClass      = "c_" // + class name
	attrUsageRefusal    = "r_" // + refusal name
	attrUsagePrompt     = "pt"
	attrUsageCompletion = "ct"
	attrUsageCached     = "kt"
	attrUsageCost       = "usd" // micro-dollars
	attrUsageStreamed   = "st"
	attrUsageLatencySum = "lms"
	attrUsageBucket     = "l" // + bucket index
	// attrActiveHour is the by_hour index's partition key, set on a key's
	// hour items only: the rollup job and the detector find the keys
	// active in an hour through it, so their cost follows traffic.
	attrActiveHour = "act"
)

// IndexUsageByHour lists the key-hour usage items of one hour. It projects
// keys only, so the per-request write, which never changes act once set,
// never writes the index again.
const IndexUsageByHour = "by_hour"

const (
	hourLayout = "2006010215"
	dayLayout  = "20060102"
)

// Usage partition and sort keys.
func usageKeyPK(kid string) string      { return "key#" + kid }
func usageWorkspacePK(ws string) string { return "ws#" + ws }

func hourSK(hour time.Time, model string) string {
	return "h#" + hour.UTC().Format(hourLayout) + "#" + model
}

// usageAttr is one numeric attribute of usage.Totals.
type usageAttr struct {
	name string
	get  func(*usage.Totals) *int64
}

// usageAttrs lists every numeric attribute of a usage item, so that the
// encoder, the per-request update and the decoder share one table.
var usageAttrs = func() []usageAttr {
	attrs := []usageAttr{
		{attrUsageRequests, func(t *usage.Totals) *int64 { return &t.Requests }},
		{attrUsagePrompt, func(t *usage.Totals) *int64 { return &t.PromptTokens }},
		{attrUsageCompletion, func(t *usage.Totals) *int64 { return &t.CompletionTokens }},
		{attrUsageCached, func(t *usage.Totals) *int64 { return &t.CachedTokens }},
		{attrUsageCost, func(t *usage.Totals) *int64 { return &t.CostMicroUSD }},
		{attrUsageStreamed, func(t *usage.Totals) *int64 { return &t.Streamed }},
		{attrUsageLatencySum, func(t *usage.Totals) *int64 { return &t.LatencyMS }},
	}
	for c := range usage.NumClasses {
		attrs = append(attrs, usageAttr{attrUsageClass + c.String(), func(t *usage.Totals) *int64 { return &t.Classes[c] }})
	}
	for r := usage.NoRefusal + 1; r < usage.NumRefusals; r++ {
		attrs = append(attrs, usageAttr{attrUsageRefusal + r.String(), func(t *usage.Totals) *int64 { return &t.Refusals[r] }})
	}
	for b := range usage.NumBuckets {
		attrs = append(attrs, usageAttr{attrUsageBucket + strconv.Itoa(b), func(t *usage.Totals) *int64 { return &t.Latency[b] }})
	}
	return attrs
}()

// putTotals writes t's nonzero sums into it: a zero is not stored, which
// keeps items small.
func putTotals(it item, t usage.Totals) {
	for _, a := range usageAttrs {
		if v := *a.get(&t); v != 0 {
			it[a.name] = num(v)
		}
	}
}

// readTotals reads the sums putTotals wrote; a missing one is zero.
func readTotals(r *itemReader) usage.Totals {
	var t usage.Totals
	for _, a := range usageAttrs {
		*a.get(&t) = r.num(a.name)
	}
	return t
}

// parseUsageSK splits a sort key "h#2026112803#model" (or d#, k#, j#) into
// its kind, its time and what follows; legacy reports a day item written
// before round two ("d#20261128", with nothing after the date).
func parseUsageSK(sk string) (kind byte, at time.Time, rest string, legacy bool, err error) {
	if len(sk) < 2 || sk[1] != '#' {
		return 0, time.Time{}, "", false, fmt.Errorf("usage sort key %q", sk)
	}
	kind = sk[0]
	stamp, rest, found := strings.Cut(sk[2:], "#")
	layout := dayLayout
	if kind == 'h' || kind == 'k' {
		layout = hourLayout
	}
	at, err = time.Parse(layout, stamp)
	if err != nil {
		return 0, time.Time{}, "", false, fmt.Errorf("usage sort key %q: %w", sk, err)
	}
	return kind, at, rest, kind == 'd' && !found, nil
}
