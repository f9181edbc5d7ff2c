package dynamo_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aistats/edge/internal/testing/dynamotest"
	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/domain/usage"
)

var usageDay = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)

func event(kid, ws, model string, at time.Time, status int) usage.Event {
	return usage.Event{Time: at, KID: kid, WorkspaceID: ws, Route: "POST /chat/completions", Model: model,
		Status: status, Class: usage.ClassOf(status, true), PromptTokens: 10, CompletionTokens: 4, CachedTokens: 2,
		CostMicroUSD: 35, Latency: 180 * time.Millisecond}
}

func TestUsageIsOneWritePerRequestAndReadsBackExactly(t *testing.T) {
	client := dynamotest.NewClient(t)
	var calls atomic.Int64
	counted := dynamotest.NewClient(t, dynamo.CountCalls(&calls))
	tables := dynamotest.NewTables(t, client)
	s := dynamo.New(dynamo.Config{Client: counted, Tables: tables})
	ctx := context.Background()
	sent := []usage.Event{
		event("k1", "acme", "local/echo", usageDay.Add(9*time.Hour+time.Minute), 200),
		event("k1", "acme", "local/echo", usageDay.Add(9*time.Hour+2*time.Minute), 200),
		event("k1", "acme", "local/echo", usageDay.Add(9*time.Hour+3*time.Minute), 502),
		event("k1", "acme", "openai/gpt-4o", usageDay.Add(9*time.Hour+4*time.Minute), 403),
		event("k1", "acme", "", usageDay.Add(10*time.Hour), 429),
		{Time: usageDay.Add(10 * time.Hour), KID: "k1", WorkspaceID: "acme", Status: 401, Class: usage.Class401, Refusal: usage.RefusedWrongSecret},
	}
	for _, e := range sent {
		if err := s.RecordUsage(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	failures := 0
	for _, e := range sent {
		if e.Class.IsError() {
			failures++
		}
	}
	if got := calls.Load(); got != int64(len(sent)+failures) {
		t.Errorf("%d DynamoDB calls for %d events, %d of them failures; want one each, and one more per failure for its sample", got, len(sent), failures)
	}
	rollups, err := s.KeyUsage(ctx, "k1", usageDay, usageDay.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		hour  int
		model string
	}
	got := map[key]usage.Totals{}
	for _, r := range rollups {
		got[key{r.Start.Hour(), r.Model}] = r.Totals
	}
	echo := got[key{9, "local/echo"}]
	if len(rollups) != 3 || echo.Requests != 3 || echo.Classes[usage.Class2xx] != 2 || echo.Classes[usage.ClassUpstream5xx] != 1 ||
		echo.PromptTokens != 30 || echo.CompletionTokens != 12 || echo.CachedTokens != 6 || echo.CostMicroUSD != 105 {
		t.Errorf("rollups %+v", got)
	}
	if p50, ok := echo.Latency.Quantile(0.5); !ok || p50 < 100*time.Millisecond || p50 > 250*time.Millisecond {
		t.Errorf("p50 %v, want within the 100–250 ms bucket", p50)
	}
	refused := got[key{10, ""}]
	if refused.Requests != 2 || refused.Classes[usage.Class429] != 1 || refused.Refusals[usage.RefusedWrongSecret] != 1 {
		t.Errorf("hour 10 %+v, want a 429 and a wrong-secret refusal", refused)
	}
}

func TestUsageDaysWrittenBeforeRoundTwoStayReadable(t *testing.T) {
	client := dynamotest.NewClient(t)
	tables := dynamotest.NewTables(t, client)
	s := dynamo.New(dynamo.Config{Client: client, Tables: tables})
	ctx := context.Background()
	// The item round one wrote: one per key and day, each total for the
	// day and for each hour under h<HH>_.
	_, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tables.Usage), Item: map[string]ddbtypes.AttributeValue{
		"pk": &ddbtypes.AttributeValueMemberS{Value: "key#old"}, "sk": &ddbtypes.AttributeValueMemberS{Value: "d#20261127"},
		"workspace_id": &ddbtypes.AttributeValueMemberS{Value: "acme"},
		"requests":     &ddbtypes.AttributeValueMemberN{Value: "5"}, "errors": &ddbtypes.AttributeValueMemberN{Value: "2"},
		"h08_requests": &ddbtypes.AttributeValueMemberN{Value: "5"}, "h08_errors": &ddbtypes.AttributeValueMemberN{Value: "2"},
		"h08_prompt_tokens": &ddbtypes.AttributeValueMemberN{Value: "50"}, "h08_latency_ms": &ddbtypes.AttributeValueMemberN{Value: "900"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RecordUsage(ctx, event("old", "acme", "local/echo", usageDay.Add(9*time.Hour), 200)); err != nil {
		t.Fatal(err)
	}
	rollups, err := s.KeyUsage(ctx, "old", usageDay, usageDay.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(rollups) != 2 || rollups[0].Start.Hour() != 8 || rollups[0].Requests != 5 || rollups[0].Classes[usage.ClassError] != 2 ||
		rollups[0].Classes[usage.Class2xx] != 3 || rollups[0].PromptTokens != 50 || rollups[1].Start.Hour() != 9 {
		t.Errorf("rollups %+v, want the legacy hour 8 (3 ok, 2 errors of unknown class) then the new hour 9", rollups)
	}
}

// throttledUpdates answers every UpdateItem as DynamoDB does when a
// partition is over its rate, and passes every other call through.
type throttledUpdates struct {
	*dynamodb.Client
	refused atomic.Int64
}

func (c *throttledUpdates) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.refused.Add(1)
	return nil, &ddbtypes.ProvisionedThroughputExceededException{Message: aws.String("throttled")}
}

func TestAThrottledUsageWriteIsSpilledAndFoldedInNotLost(t *testing.T) {
	client := dynamotest.NewClient(t)
	tables := dynamotest.NewTables(t, client)
	throttled := &throttledUpdates{Client: client}
	ctx := context.Background()
	failing := dynamo.New(dynamo.Config{Client: throttled, Tables: tables})
	rctx, cancel := context.WithTimeout(ctx, 700*time.Millisecond)
	defer cancel()
	if err := failing.RecordUsage(rctx, event("hot", "acme", "local/echo", usageDay.Add(9*time.Hour), 200)); err != nil {
		t.Fatalf("RecordUsage: %v, want the event spilled", err)
	}
	if throttled.refused.Load() < 2 {
		t.Errorf("%d update attempts, want retries before the spill", throttled.refused.Load())
	}
	s := dynamo.New(dynamo.Config{Client: client, Tables: tables})
	if before, _ := s.KeyTotals(ctx, "hot", usageDay, usageDay.Add(24*time.Hour)); before.Requests != 0 {
		t.Fatalf("the rollup has %d requests before the fold", before.Requests)
	}
	folded, err := s.FoldSpills(ctx)
	if err != nil || folded != 1 {
		t.Fatalf("FoldSpills = %d, %v; want 1", folded, err)
	}
	after, err := s.KeyTotals(ctx, "hot", usageDay, usageDay.Add(24*time.Hour))
	if err != nil || after.Requests != 1 || after.PromptTokens != 10 {
		t.Errorf("after the fold %+v, %v; want the spilled request", after, err)
	}
	if again, _ := s.FoldSpills(ctx); again != 0 {
		t.Errorf("a second fold added %d events again", again)
	}
}

func TestAUsageEventNeitherWriteTakesIsReportedLost(t *testing.T) {
	client := dynamotest.NewClient(t)
	tables := dynamotest.NewTables(t, client)
	s := dynamo.New(dynamo.Config{Client: client, Tables: dynamo.Tables{Usage: "no-such-table-" + tables.Usage}})
	err := s.RecordUsage(context.Background(), event("k", "acme", "m", usageDay, 200))
	if !errors.Is(err, dynamo.ErrUsageLost) {
		t.Errorf("RecordUsage = %v, want ErrUsageLost", err)
	}
}

func TestTheRollupJobSumsWorkspacesByModelAndKey(t *testing.T) {
	client := dynamotest.NewClient(t)
	s := dynamo.New(dynamo.Config{Client: client, Tables: dynamotest.NewTables(t, client)})
	ctx := context.Background()
	for _, e := range []usage.Event{
		event("a", "acme", "local/echo", usageDay.Add(9*time.Hour), 200),
		event("a", "acme", "local/echo", usageDay.Add(9*time.Hour+time.Minute), 200),
		event("a", "acme", "openai/gpt-4o", usageDay.Add(10*time.Hour), 500),
		event("b", "acme", "local/echo", usageDay.Add(9*time.Hour+30*time.Minute), 404),
		event("c", "other", "local/echo", usageDay.Add(9*time.Hour), 200),
	} {
		if err := s.RecordUsage(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	done, err := s.RollUp(ctx, usageDay.Add(8*time.Hour), usageDay.Add(11*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(done.Active) != 3 {
		t.Errorf("active keys %v, want a, b and c", done.Active)
	}
	// Run twice: every write is a recomputed sum, so nothing doubles.
	if _, err := s.RollUp(ctx, usageDay.Add(8*time.Hour), usageDay.Add(11*time.Hour)); err != nil {
		t.Fatal(err)
	}
	byModel, err := s.WorkspaceUsage(ctx, "acme", false, false, usageDay, usageDay.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, r := range byModel {
		got[r.Start.Format("15")+" "+r.Model] = r.Requests
	}
	if len(got) != 2 || got["09 local/echo"] != 3 || got["10 openai/gpt-4o"] != 1 {
		t.Errorf("acme by model and hour %v", got)
	}
	byKeyDay, err := s.WorkspaceUsage(ctx, "acme", true, true, usageDay, usageDay.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	got = map[string]int64{}
	for _, r := range byKeyDay {
		got[r.KID] = r.Requests
		if r.KID == "a" && (r.Classes[usage.Class2xx] != 2 || r.Classes[usage.ClassUpstream5xx] != 1) {
			t.Errorf("key a's day %+v", r.Totals)
		}
	}
	if len(got) != 2 || got["a"] != 3 || got["b"] != 1 {
		t.Errorf("acme by key for the day %v", got)
	}
}

func TestOnlyFailuresAreKeptInTheKeysSampleNewestFirst(t *testing.T) {
	client := dynamotest.NewClient(t)
	var calls atomic.Int64
	s := dynamo.New(dynamo.Config{Client: dynamotest.NewClient(t, dynamo.CountCalls(&calls)), Tables: dynamotest.NewTables(t, client)})
	ctx := context.Background()
	at := usageDay.Add(9 * time.Hour)
	if err := s.RecordUsage(ctx, event("k", "acme", "local/echo", at, 200)); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 1 {
		t.Errorf("a 2xx made %d calls, want its one usage write", calls.Load())
	}
	for i := range dynamo.MaxSample + 5 {
		e := event("k", "acme", "local/echo", at.Add(time.Duration(i)*time.Second), 429)
		e.Code, e.Client = "rate_limit_exceeded", usage.ClientNetwork("203.0.113.77")
		if err := s.RecordUsage(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.KeySample(ctx, "k", at.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != dynamo.MaxSample || got[0].Status != 429 || got[0].Code != "rate_limit_exceeded" || got[0].Client != "203.0.113.0/24" ||
		!got[0].Time.After(got[1].Time) || !got[0].Time.Equal(at.Add(time.Duration(dynamo.MaxSample+4)*time.Second)) {
		t.Errorf("sample of %d, first %+v", len(got), got[0])
	}
	if old, _ := s.KeySample(ctx, "k", at.Add(dynamo.SampleRetention+time.Hour)); len(old) != 0 {
		t.Errorf("%d failures older than the retention still shown", len(old))
	}
}

func TestClientNetworks(t *testing.T) {
	for in, want := range map[string]string{"203.0.113.77": "203.0.113.0/24", "2001:db8:1234:5678::1": "2001:db8:1234::/48",
		"::ffff:198.51.100.9": "198.51.100.0/24", "": "", "not an address": ""} {
		if got := usage.ClientNetwork(in); got != want {
			t.Errorf("ClientNetwork(%q) = %q, want %q", in, got, want)
		}
	}
}
