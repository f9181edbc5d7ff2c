package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aistats/edge/internal/local/dynalite"
	"github.com/aistats/edge/internal/local/localprovider"
	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/adapter/upstream"
	"github.com/aistats/edge/pkg/domain/budget"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/providers"
	"github.com/aistats/edge/pkg/handler/authcontext"
	"github.com/aistats/edge/pkg/handler/proxy"
)

// budgetBench is a proxy over dynalite and the offline provider, with its
// DynamoDB calls counted, for the budget figures (docs/architecture.md §5).
type budgetBench struct {
	h      *proxy.Handler
	store  *dynamo.Store
	client *dynamodb.Client
	tables dynamo.Tables
	calls  *atomic.Int64
}

func newBudgetBench(ctx context.Context, endpoint, upstreamURL string) (*budgetBench, error) {
	b := &budgetBench{calls: &atomic.Int64{}}
	client := dynalite.NewClient(endpoint, dynamo.CountCalls(b.calls))
	tables := dynamo.TablesWithPrefix(fmt.Sprintf("budget-%d-", time.Now().UnixNano()))
	if err := dynamo.CreateTables(ctx, client, tables); err != nil {
		return nil, err
	}
	b.client, b.tables = client, tables
	b.store = dynamo.New(dynamo.Config{Client: client, Tables: tables})
	reg, err := providers.Default()
	if err != nil {
		return nil, err
	}
	b.h, err = proxy.New(proxy.Config{
		Registry: reg, Upstream: upstream.New(upstream.Config{}), Credentials: &proxy.EnvCredentials{Getenv: func(string) string { return "" }},
		BaseURLs: map[string]string{"local": upstreamURL + "/v1"}, Usage: b.store, Budgets: b.store,
		// 200 requests at once queue on single-threaded dynalite for longer
		// than a deployed write may take; the load case measures exactness,
		// not dynalite's queue.
		BudgetTimeout: 20 * time.Second, BudgetWait: 5 * time.Second,
		Logger: slog.New(slog.DiscardHandler),
	})
	return b, err
}

// chat sends one request for kid under limits, and returns its status, the
// time until Handle returned (the first byte, for a stream) and the body.
func (b *budgetBench) chat(ctx context.Context, kid string, limits budget.Limits, body string) (int, time.Duration, string) {
	c := authcontext.Context{KID: kid, WorkspaceID: "bench", Kind: gateway.KindInference,
		PlanProviders: []string{"*"}, PlanModels: []string{"*"}, Budget: limits}
	req := events.APIGatewayProxyRequest{HTTPMethod: "POST", Resource: "/chat/completions", Body: body,
		RequestContext: events.APIGatewayProxyRequestContext{RequestID: "bench", Authorizer: c.Encode()}}
	start := time.Now()
	out, _ := b.h.Handle(ctx, req)
	took := time.Since(start)
	switch r := out.(type) {
	case events.APIGatewayProxyResponse:
		return r.StatusCode, took, r.Body
	case *events.APIGatewayProxyStreamingResponse:
		raw, _ := io.ReadAll(r.Body)
		if c, ok := r.Body.(io.Closer); ok {
			c.Close()
		}
		return r.StatusCode, took, string(raw)
	}
	return 0, took, ""
}

func echoBody(words, maxTokens int, stream bool) string {
	return fmt.Sprintf(`{"model":"local/echo","stream":%t,"max_tokens":%d,"messages":[{"role":"user","content":%q}]}`,
		stream, maxTokens, strings.TrimSpace(strings.Repeat("word ", words)))
}

// budgetFigures measures what a budget costs a request and that it holds:
// DynamoDB calls per request with and without one, the time it adds before
// the first streamed byte, and the exactness load case.
func budgetFigures(ctx context.Context, endpoint string, runs, trials int) ([]figure, error) {
	up := httptest.NewServer(localprovider.Handler())
	defer up.Close()
	b, err := newBudgetBench(ctx, endpoint, up.URL)
	if err != nil {
		return nil, err
	}
	big := budget.Limits{CostPerDay: 1_000_000_000, TokensPerMinute: 1_000_000_000}
	const n = 50
	perRequest := func(kid string, l budget.Limits) float64 {
		b.calls.Store(0)
		for range n {
			b.chat(ctx, kid, l, echoBody(10, 16, false))
		}
		return float64(b.calls.Load()) / n
	}
	without, with := perRequest("benchNoBudget", budget.Limits{}), perRequest("benchBudget1", big)
	extra := with - without

	// Time to first byte of a stream, side by side, medians of runs.
	var plain, budgeted []float64
	for range runs {
		for _, c := range []struct {
			kid string
			l   budget.Limits
			out *[]float64
		}{{"benchNoBudget", budget.Limits{}, &plain}, {"benchBudget1", big, &budgeted}} {
			var ds []float64
			for range n {
				_, took, _ := b.chat(ctx, c.kid, c.l, echoBody(10, 16, true))
				ds = append(ds, float64(took.Microseconds())/1000)
			}
			*c.out = append(*c.out, median(ds))
		}
	}
	added := median(budgeted) - median(plain)
	rtt := b.bareRoundTrip(ctx, runs*n)

	held, refusedWithRoom, refused, served, worst, least := 0, 0, 0, 0, 0.0, 1.0
	for trial := range trials {
		r, err := exactnessTrial(ctx, b, fmt.Sprintf("benchExact%02d", trial))
		if err != nil {
			return nil, err
		}
		if r.settled <= r.limit {
			held++
		}
		worst = max(worst, float64(r.settled)/float64(r.limit))
		least = min(least, float64(r.settled)/float64(r.limit))
		refusedWithRoom += r.refusedWithRoom
		refused += r.refused
		served += r.served
	}
	return []figure{
		{Name: "budget: extra DynamoDB calls per request, key with a budget", Value: extra, Unit: "calls", Target: "<= 2", Met: met(extra <= 2),
			Note: fmt.Sprintf("%.2f with a budget, %.2f without (the usage write): a reservation and a settle, each one UpdateItem of one write unit; a key without budgets pays none", with, without)},
		{Name: "budget: time added before the first streamed byte (dynalite)", Value: added, Unit: "ms", Target: "< 2", Met: met(added < 2),
			Note: fmt.Sprintf("median %.2f ms with a budget vs %.2f ms without, %d runs of %d streams each: the reservation's one round trip; a bare UpdateItem on the same dynalite took %.2f ms (median) in this run, so the target holds only where one round trip is under 2 ms (DynamoDB in-region: single-digit ms; the settle runs beside the usage write, after the answer)", median(budgeted), median(plain), runs, n, rtt)},
		{Name: "budget: exactness, settled spend within a cost_per_day_usd worth ~20 requests, 200 concurrent", Value: float64(held), Unit: "trials", Target: fmt.Sprintf("%d of %d", trials, trials), Met: met(held == trials),
			Note: fmt.Sprintf("settled/budget between %.2f and %.2f; %d served, %d refused in all", least, worst, served, refused)},
		{Name: "budget: refusals made while the budget still held the request's real cost", Value: float64(refusedWithRoom), Unit: "requests", Target: "-",
			Note: fmt.Sprintf("of %d refusals over %d trials, counted against what the budget had left at the end: the price of reserving a bound (body bytes and max_tokens) rather than an estimate; a refusal that only holds in flight explain waits up to 5 s here (2 s deployed) for them to settle", refused, trials)},
	}, nil
}

// bareRoundTrip is the median of n one-attribute UpdateItems, the floor
// under any write a request makes.
func (b *budgetBench) bareRoundTrip(ctx context.Context, n int) float64 {
	var ds []float64
	for range n {
		start := time.Now()
		_, _ = b.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(b.tables.Counters),
			Key:              map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "bench#rtt"}},
			UpdateExpression: aws.String("ADD c :one"), ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":one": &ddbtypes.AttributeValueMemberN{Value: "1"}}})
		ds = append(ds, float64(time.Since(start).Microseconds())/1000)
	}
	return median(ds)
}

type trialResult struct {
	limit, settled                   int64
	served, refused, refusedWithRoom int
}

// exactnessTrial sends 200 requests of random sizes at once against a
// daily budget worth about 20 of them. local/echo answers with as many
// tokens as the prompt's words, up to max_tokens, so each request's real
// cost is known, refused or not.
func exactnessTrial(ctx context.Context, b *budgetBench, kid string) (trialResult, error) {
	echo := budget.Price{Input: 1_000_000, Output: 2_000_000}
	const limit = 20 * 60 // an average request here costs about 60 micro-dollars
	limits := budget.Limits{CostPerDay: limit}
	var mu sync.Mutex
	var r trialResult
	var refusedCosts []int64
	var wg sync.WaitGroup
	for range 200 {
		words, maxTokens := 5+rand.IntN(40), 4+rand.IntN(30)
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, _, body := b.chat(ctx, kid, limits, echoBody(words, maxTokens, false))
			mu.Lock()
			defer mu.Unlock()
			switch status {
			case 200:
				r.served++
			case 429:
				var e gateway.ErrorBody
				if json.Unmarshal([]byte(body), &e) == nil && e.Error.Code == gateway.CodeBudgetExceeded {
					r.refused++
					refusedCosts = append(refusedCosts, int64(echo.Cost(int64(words), int64(min(words, maxTokens)), 0)))
				}
			}
		}()
	}
	wg.Wait()
	st, err := b.store.Standings(ctx, budget.Account{Scope: budget.ScopeKey, ID: kid, Limits: limits}, time.Now())
	if err != nil {
		return trialResult{}, err
	}
	r.limit, r.settled = limit, st[budget.CostDay].Settled
	for _, c := range refusedCosts {
		if c <= r.limit-r.settled {
			r.refusedWithRoom++
		}
	}
	return r, nil
}
