package usage

import "time"

// Totals are the sums of one rollup: one key's (or workspace's) requests
// of one model in one hour, or any sum of such rollups.
type Totals struct {
	Requests                                     int64
	Classes                                      [NumClasses]int64
	Refusals                                     [NumRefusals]int64
	PromptTokens, CompletionTokens, CachedTokens int64
	CostMicroUSD                                 int64
	Streamed                                     int64
	// LatencyMS sums the requests' latencies, for a mean; Latency is their
	// histogram, for percentiles.
	LatencyMS int64
	Latency   Histogram
}

// Add counts one event.
func (t *Totals) Add(e Event) {
	t.Requests++
	t.Classes[e.Class]++
	if e.Refusal != NoRefusal && e.Refusal < NumRefusals {
		t.Refusals[e.Refusal]++
	}
	t.PromptTokens += e.PromptTokens
	t.CompletionTokens += e.CompletionTokens
	t.CachedTokens += e.CachedTokens
	t.CostMicroUSD += e.CostMicroUSD
	if e.Streamed {
		t.Streamed++
	}
	t.LatencyMS += e.Latency.Milliseconds()
	t.Latency[LatencyBucket(e.Latency)]++
}

// Merge adds o's sums to t's.
func (t *Totals) Merge(o Totals) {
	t.Requests += o.Requests
	for i := range t.Classes {
		t.Classes[i] += o.Classes[i]
	}
	for i := range t.Refusals {
		t.Refusals[i] += o.Refusals[i]
	}
	t.PromptTokens += o.PromptTokens
	t.CompletionTokens += o.CompletionTokens
	t.CachedTokens += o.CachedTokens
	t.CostMicroUSD += o.CostMicroUSD
	t.Streamed += o.Streamed
	t.LatencyMS += o.LatencyMS
	for i := range t.Latency {
		t.Latency[i] += o.Latency[i]
	}
}

// Errors counts the failed requests: every class but 2xx.
func (t Totals) Errors() int64 { return t.Requests - t.Classes[Class2xx] }

// Rollup is the totals of a key's or a workspace's requests in one UTC hour
// or day (from Start), of one model or of one key: the unit that is stored.
// Model is empty for requests that named none (a refusal, GET /models) and
// in a rollup by key; KID is set only in a workspace's rollup by key.
type Rollup struct {
	Start time.Time
	KID   string
	Model string
	Totals
}
