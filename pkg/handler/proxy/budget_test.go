package proxy_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aistats/edge/internal/testing/dynamotest"
	"github.com/aistats/edge/internal/testing/testclock"
	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/domain/budget"
	"github.com/aistats/edge/pkg/domain/providers"
	"github.com/aistats/edge/pkg/handler/proxy"
)

// pricedRegistry has one priced model: $1 per million tokens in, $2 out,
// at most 64 tokens out.
const pricedRegistry = `{"providers": [
  {"id": "alpha", "base_url": "", "local_only": true, "auth": "bearer", "credential": {"env": "ALPHA_KEY"},
   "models": [{"id": "priced", "price": {"input": "1", "output": "2", "cached_input": "0.5", "checked": "2026-11-28"}, "max_output_tokens": 64}]}
]}`

var pricedModel = budget.Price{Input: 1_000_000, Output: 2_000_000, CachedInput: 500_000}

// meteredUpstream answers a chat request with usage of its own: prompt
// tokens about a quarter of the messages' bytes (as a tokenizer counts
// English) and up to max_tokens of answer, chosen at random, as a model
// stops when it is done.
func meteredUpstream(w http.ResponseWriter, r *http.Request, _ int) {
	var req struct {
		Messages []struct {
			Content string `json:"content"`
		} `json:"messages"`
		MaxTokens int64 `json:"max_tokens"`
	}
	raw, _ := io.ReadAll(r.Body)
	_ = json.Unmarshal(raw, &req)
	prompt := int64(3)
	for _, m := range req.Messages {
		prompt += 4 + int64(len(m.Content))/4
	}
	completion := 1 + rand.Int64N(max(req.MaxTokens, 1))
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"id":"c1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"ok"}}],"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}}`,
		prompt, completion, prompt+completion)
}

// withBudgets gives the fixture the priced registry and the store as its
// ledger.
func withBudgets() func(*proxy.Config) {
	return func(cfg *proxy.Config) {
		reg, err := providers.Parse([]byte(pricedRegistry))
		if err != nil {
			panic(err)
		}
		cfg.Registry = reg
		cfg.Budgets = cfg.Usage.(*dynamo.Store)
		// 200 requests at once queue on single-threaded dynalite for
		// longer than a deployed write may take.
		cfg.BudgetTimeout = 20 * time.Second
		cfg.BudgetWait = 5 * time.Second
	}
}

func pricedChat(words, maxTokens int) string {
	return fmt.Sprintf(`{"model":"alpha/priced","max_tokens":%d,"messages":[{"role":"user","content":%q}]}`,
		maxTokens, strings.TrimSpace(strings.Repeat("word ", words)))
}

// TestCostBudgetHoldsUnder200ConcurrentRequests is the exactness case of
// the budgets (docs/architecture.md §5): a daily budget worth about 20
// requests, 200 requests of random sizes at once, against dynalite and a
// real upstream. In every trial the settled spend stays within the budget
// and equals the sum of the answered requests' costs.
func TestCostBudgetHoldsUnder200ConcurrentRequests(t *testing.T) {
	f := newFixture(t, meteredUpstream, chatOK, withBudgets())
	const limit = 20 * 110 // an average request costs about 110 micro-dollars
	for trial := range 3 {
		f.ctx.KID = fmt.Sprintf("exactTrial%02d", trial)
		f.ctx.Budget = budget.Limits{CostPerDay: limit}
		var answered, refused atomic.Int64
		var spent atomic.Int64
		var wg sync.WaitGroup
		for range 200 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a := f.call("POST", "/chat/completions", pricedChat(5+rand.IntN(60), 8+rand.IntN(56)), nil)
				switch {
				case a.status == 200:
					answered.Add(1)
					var raw struct {
						Usage struct {
							Prompt     int64 `json:"prompt_tokens"`
							Completion int64 `json:"completion_tokens"`
						} `json:"usage"`
					}
					_ = json.Unmarshal([]byte(a.text(t)), &raw)
					spent.Add(int64(pricedModel.Cost(raw.Usage.Prompt, raw.Usage.Completion, 0)))
				case a.status == 429 && a.code(t) == "budget_exceeded":
					refused.Add(1)
				default:
					t.Errorf("status %d: %s", a.status, a.text(t))
				}
			}()
		}
		wg.Wait()
		st, err := f.store.Standings(context.Background(), budget.Account{Scope: budget.ScopeKey, ID: f.ctx.KID, Limits: f.ctx.Budget}, f.now())
		if err != nil {
			t.Fatal(err)
		}
		day := st[budget.CostDay]
		t.Logf("trial %d: %d answered, %d refused, settled %d of %d micro-dollars", trial, answered.Load(), refused.Load(), day.Settled, limit)
		if day.Settled > limit {
			t.Errorf("trial %d: settled %d micro-dollars, over the budget of %d", trial, day.Settled, limit)
		}
		if day.Settled != spent.Load() || day.Reserved != 0 {
			t.Errorf("trial %d: budget shows %d settled and %d reserved; the answers cost %d", trial, day.Settled, day.Reserved, spent.Load())
		}
		if answered.Load() < 10 || refused.Load() == 0 {
			t.Errorf("trial %d: %d answered and %d refused, want the budget to serve some and refuse the rest", trial, answered.Load(), refused.Load())
		}
	}
}

// TestTokensPerMinuteRefusesThenServesTheNextMinute: a key whose tokens
// for the minute are used is refused 429 insufficient_quota with
// Retry-After at the minute's end, and served again once it turns.
func TestTokensPerMinuteRefusesThenServesTheNextMinute(t *testing.T) {
	clock := testclock.At(time.Date(2026, 11, 28, 12, 0, 10, 0, time.UTC))
	f := newFixture(t, meteredUpstream, chatOK, withBudgets(), func(cfg *proxy.Config) { cfg.Now = clock.Now })
	f.ctx.Budget = budget.Limits{TokensPerMinute: 600}
	served := 0
	var refusal answer
	for i := 0; i < 50; i++ {
		a := f.call("POST", "/chat/completions", pricedChat(10, 16), nil)
		if a.status != 200 {
			refusal = a
			break
		}
		served++
		if a.headers["x-ratelimit-limit-tokens"] != "600" || a.headers["x-ratelimit-remaining-tokens"] == "" || a.headers["x-ratelimit-reset-tokens"] != "50s" {
			t.Errorf("token headers %v, want the tokens_per_minute budget's", a.headers)
		}
	}
	if served == 0 || refusal.status != 429 {
		t.Fatalf("served %d, then status %d: want some served, then 429", served, refusal.status)
	}
	var body struct {
		Error struct{ Type, Code, Message string } `json:"error"`
	}
	_ = json.Unmarshal([]byte(refusal.text(t)), &body)
	if body.Error.Type != "insufficient_quota" || body.Error.Code != "budget_exceeded" || !strings.Contains(body.Error.Message, "tokens_per_minute") {
		t.Errorf("refusal %+v, want insufficient_quota / budget_exceeded naming tokens_per_minute", body.Error)
	}
	if got := refusal.headers["Retry-After"]; got != "50" {
		t.Errorf("Retry-After %q, want 50 (the minute's end)", got)
	}
	clock.Advance(time.Minute)
	if a := f.call("POST", "/chat/completions", pricedChat(10, 16), nil); a.status != 200 {
		t.Errorf("next minute: status %d, want 200", a.status)
	}
}

// TestOnlyKeysWithBudgetsPayForThem counts DynamoDB calls per request: a
// key without a budget pays only its usage write; one with a budget pays a
// reservation and a settle beside it.
func TestOnlyKeysWithBudgetsPayForThem(t *testing.T) {
	var calls atomic.Int64
	client := dynamotest.NewClient(t, dynamo.CountCalls(&calls))
	store := dynamo.New(dynamo.Config{Client: client, Tables: dynamotest.NewTables(t, client)})
	f := newFixture(t, meteredUpstream, chatOK, withBudgets(), func(cfg *proxy.Config) { cfg.Usage, cfg.Budgets = store, store })
	for _, tc := range []struct {
		name   string
		limits budget.Limits
		want   int64
	}{
		{"no budget: the usage write alone", budget.Limits{}, 1},
		{"a budget: reserve and settle besides", budget.Limits{CostPerDay: 1_000_000, TokensPerDay: 1_000_000}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.ctx.Budget = tc.limits
			calls.Store(0)
			if a := f.call("POST", "/chat/completions", pricedChat(10, 16), nil); a.status != 200 {
				t.Fatalf("status %d", a.status)
			}
			if got := calls.Load(); got != tc.want {
				t.Errorf("%d DynamoDB calls, want %d", got, tc.want)
			}
		})
	}
}

// TestAWorkspaceBudgetRefusesAndGivesTheKeysHoldBack: a request its key's
// budget holds but its workspace's cannot is refused naming the
// workspace's budget, and what the key's budget held for it is given back.
func TestAWorkspaceBudgetRefusesAndGivesTheKeysHoldBack(t *testing.T) {
	f := newFixture(t, meteredUpstream, chatOK, withBudgets())
	f.ctx.Budget = budget.Limits{CostPerDay: 1_000_000}
	f.ctx.WorkspaceBudget = budget.Limits{CostPerMonth: 50}
	a := f.call("POST", "/chat/completions", pricedChat(10, 16), nil)
	if text := a.text(t); a.status != 429 || !strings.Contains(text, `"budget_exceeded"`) || !strings.Contains(text, "workspace's cost_per_month_usd") {
		t.Fatalf("status %d %s, want 429 budget_exceeded naming the workspace's cost_per_month_usd", a.status, text)
	}
	st, err := f.store.Standings(context.Background(), budget.Account{Scope: budget.ScopeKey, ID: f.ctx.KID, Limits: f.ctx.Budget}, f.now())
	if err != nil {
		t.Fatal(err)
	}
	if day := st[budget.CostDay]; day.Settled != 0 || day.Reserved != 0 {
		t.Errorf("key's budget after the workspace refused: %+v, want nothing held", day)
	}
	if f.alpha.calls.Load() != 0 {
		t.Errorf("the provider was called %d times for a refused request", f.alpha.calls.Load())
	}
}

// TestACutStreamIsCostedFromWhatWasRelayed: a stream the client cuts off
// before the provider's usage chunk is costed from the prompt estimate and
// the tokens relayed, in the usage event and in the budget alike, and the
// rest of its reservation is given back.
func TestACutStreamIsCostedFromWhatWasRelayed(t *testing.T) {
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		io.WriteString(w, chunks[0]+chunks[1])
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}, chatOK, withBudgets())
	f.ctx.Budget = budget.Limits{CostPerDay: 1_000_000}
	body := `{"model":"alpha/priced","stream":true,"messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say one two, please."}]}`
	a := f.call("POST", "/chat/completions", body, nil)
	readUntil(t, bufio.NewReader(a.stream.Body), `" two"`)
	a.stream.Close()
	want := int64(pricedModel.Cost(19, 2, 0)) // the estimate of TestAbortedStreamRecordsEstimatedTokens
	if u := f.usage(); u.CostMicroUSD != want {
		t.Errorf("usage cost %d micro-dollars, want %d (19 estimated prompt and 2 relayed tokens)", u.CostMicroUSD, want)
	}
	st, err := f.store.Standings(context.Background(), budget.Account{Scope: budget.ScopeKey, ID: f.ctx.KID, Limits: f.ctx.Budget}, f.now())
	if err != nil {
		t.Fatal(err)
	}
	if day := st[budget.CostDay]; day.Settled != want || day.Reserved != 0 {
		t.Errorf("budget %+v, want %d settled and nothing held", day, want)
	}
}
