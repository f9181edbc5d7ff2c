package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aistats/edge/internal/local/dynalite"
	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/keyformat"
	"github.com/aistats/edge/pkg/domain/usage"
	"github.com/aistats/edge/pkg/handler/authorizer"
)

// itemSizes measures the items every request writes, as DynamoDB bills
// them: a write costs one write unit per started KB of the item. The key's
// state item is measured after a request with all three limits set; the
// usage item at the end of a busy day, every hour with traffic and
// realistic token and latency sums (the item grows with each hour used).
func itemSizes(ctx context.Context, endpoint string) ([]figure, error) {
	client := dynalite.NewClient(endpoint)
	tables := dynamo.TablesWithPrefix("sizes-")
	if err := dynamo.CreateTables(ctx, client, tables); err != nil {
		return nil, err
	}
	store := dynamo.New(dynamo.Config{Client: client, Tables: tables})
	if err := store.CreateWorkspace(ctx, gateway.Workspace{ID: "sizes", Plan: gateway.Plan{Providers: []string{"*"}, Models: []string{"*"}}}); err != nil {
		return nil, err
	}
	g, err := keyformat.Generate(rand.Reader, gateway.KindInference)
	if err != nil {
		return nil, err
	}
	day := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	err = store.CreateKey(ctx, gateway.Key{KID: g.Token.KID, WorkspaceID: "sizes", Kind: gateway.KindInference, Name: "sizes",
		Prefix: g.Token.Prefix(), SecretHash: g.Hash, Models: []string{"openai/gpt-4o-mini", "local/*"},
		Limits: gateway.Limits{RequestsPerMinute: 6000, RequestsPerDay: 1_000_000, RequestsPerMonth: 30_000_000}, CreatedAt: day})
	if err != nil {
		return nil, err
	}
	// Each counting write leaves its container's ticket on the item
	// (dynamo/tickets.go): writer names as the authorizer makes them, 8
	// random letters and a number, and sequence numbers in milliseconds.
	admit := func(writer int) error {
		// Milliseconds that are not round, as a real clock's are: a
		// number's size follows its significant digits.
		at := day.Add(23*time.Hour + time.Duration(writer)*time.Second + 337*time.Millisecond)
		t := gateway.Ticket{Writer: fmt.Sprintf("qz7xk2ma%d", writer), Seq: at.UnixMilli()}
		_, admitted, err := store.AdmitKey(ctx, gateway.Admission{KID: g.Token.KID, Kind: gateway.KindInference, SecretHash: g.Hash, Now: at, Ticket: t})
		if err != nil || !admitted {
			return fmt.Errorf("admit a request for the size measurement: admitted %v, %v", admitted, err)
		}
		return nil
	}
	if err := admit(0); err != nil {
		return nil, err
	}
	// The largest hour item a request can write: every status class,
	// every refusal and every latency bucket seen, the longest model name
	// the proxy accepts, and sums of many digits.
	hour := day.Add(23 * time.Hour)
	model := strings.Repeat("m", 256)
	for i := range 40 {
		status := []int{200, 400, 401, 403, 404, 429, 418, 500, 502}[i%9]
		err := store.RecordUsage(ctx, usage.Event{KID: g.Token.KID, WorkspaceID: "sizes", Time: hour.Add(time.Minute), Model: model,
			Status: status, Class: usage.ClassOf(status, i%2 == 0), Refusal: usage.Refusal(i % int(usage.NumRefusals)),
			PromptTokens: 48_213_000, CompletionTokens: 9_877_000, CachedTokens: 1_000_000, CostMicroUSD: 123_456_789,
			Latency: time.Duration(i*i) * 200 * time.Millisecond, Streamed: true})
		if err != nil {
			return nil, err
		}
	}
	stateKey := map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: dynamo.KeyStatePK(g.Token.KID)}}
	state, err := rawItem(ctx, client, tables.Counters, stateKey)
	if err != nil {
		return nil, err
	}
	const writers, manyWriters = 8, 64
	for w := 1; w < writers; w++ {
		if err := admit(w); err != nil {
			return nil, err
		}
	}
	busy, err := rawItem(ctx, client, tables.Counters, stateKey)
	if err != nil {
		return nil, err
	}
	for w := writers; w < manyWriters; w++ {
		if err := admit(w); err != nil {
			return nil, err
		}
	}
	crowded, err := rawItem(ctx, client, tables.Counters, stateKey)
	if err != nil {
		return nil, err
	}
	largestShard, err := hotShardSize(ctx, client, tables, store, manyWriters)
	if err != nil {
		return nil, err
	}
	pk, sk := dynamo.UsageHourKey(g.Token.KID, hour, model)
	usageItem, err := rawItem(ctx, client, tables.Usage, map[string]ddbtypes.AttributeValue{
		"pk": &ddbtypes.AttributeValueMemberS{Value: pk},
		"sk": &ddbtypes.AttributeValueMemberS{Value: sk},
	})
	if err != nil {
		return nil, err
	}
	stateSize, usageSize := dynamo.ItemSize(state), dynamo.ItemSize(usageItem)
	busySize, crowdedSize := dynamo.ItemSize(busy), dynamo.ItemSize(crowded)
	perTicket := (busySize - stateSize) / (writers - 1)
	return []figure{
		{Name: "item size: key state item (authorizer's write)", Value: float64(stateSize), Unit: "B", Target: "< 1024",
			Met: met(stateSize < 1024), Note: fmt.Sprintf("%d write unit(s) per admitted request; all three limits set; one container's ticket", dynamo.WriteUnits(stateSize))},
		{Name: fmt.Sprintf("item size: key state item written by %d containers within the ticket horizon", writers), Value: float64(busySize), Unit: "B", Target: "< 1024",
			Met: met(busySize < 1024), Note: fmt.Sprintf("%d B per container's ticket: the item stays under 1 KB (1 write unit) while at most %d containers wrote it in the last %s",
				perTicket, 1+(1023-stateSize)/max(perTicket, 1), gateway.TicketHorizon)},
		{Name: fmt.Sprintf("item size: key state item written by %d containers within the ticket horizon", manyWriters), Value: float64(crowdedSize), Unit: "B", Target: "-",
			Note: fmt.Sprintf("%d write units per write while so many containers write one key that is not hot", dynamo.WriteUnits(crowdedSize))},
		{Name: fmt.Sprintf("item size: largest shard of a hot key (8 shards) written by %d authorizer containers", manyWriters), Value: float64(largestShard), Unit: "B", Target: "< 1024",
			Met: met(largestShard < 1024), Note: fmt.Sprintf("%d write unit(s) per write: each container keeps to one shard first, so a shard holds about 1/8 of the tickets", dynamo.WriteUnits(largestShard))},
		{Name: "item size: usage hour item, largest possible (proxy's write)", Value: float64(usageSize), Unit: "B", Target: "< 1024",
			Met: met(usageSize < 1024), Note: fmt.Sprintf("%d write unit(s) per request: every class, refusal and latency bucket, a 256-byte model name (the longest the proxy accepts)", dynamo.WriteUnits(usageSize))},
		{Name: "DynamoDB write units per admitted request, usage included", Value: float64(dynamo.WriteUnits(stateSize) + dynamo.WriteUnits(usageSize)),
			Unit: "WCU", Target: "≤ 2", Met: met(dynamo.WriteUnits(stateSize)+dynamo.WriteUnits(usageSize) <= 2),
			Note: "key state item + usage hour item, from the sizes above; a workspace with a plan rpm adds its state item"},
	}, nil
}

func rawItem(ctx context.Context, client *dynamodb.Client, table string, key map[string]ddbtypes.AttributeValue) (map[string]ddbtypes.AttributeValue, error) {
	out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("read %s for its size: %w", table, err)
	}
	if out.Item == nil {
		return nil, fmt.Errorf("read %s for its size: no item", table)
	}
	return out.Item, nil
}

// hotShardSize shards a key over authorizer.DefaultShards, has containers
// authorizers answer one request each on it, and returns the size of its
// largest shard: the tickets a shard collects follow which containers
// write it.
func hotShardSize(ctx context.Context, client *dynamodb.Client, tables dynamo.Tables, store *dynamo.Store, containers int) (int, error) {
	g, err := keyformat.Generate(rand.Reader, gateway.KindInference)
	if err != nil {
		return 0, err
	}
	now := time.Now()
	err = store.CreateKey(ctx, gateway.Key{KID: g.Token.KID, WorkspaceID: "sizes", Kind: gateway.KindInference, Name: "hot",
		Prefix: g.Token.Prefix(), SecretHash: g.Hash, Models: []string{"local/*"},
		Limits: gateway.Limits{RequestsPerMinute: 6000, RequestsPerDay: 1_000_000, RequestsPerMonth: 30_000_000}})
	if err != nil {
		return 0, err
	}
	if _, err := store.ShardKey(ctx, g.Token.KID, authorizer.DefaultShards, now); err != nil {
		return 0, err
	}
	for range containers {
		h, err := authorizer.New(authorizer.Config{Store: store})
		if err != nil {
			return 0, err
		}
		var o outcomes
		o.add(h.Handle(ctx, event("Bearer "+g.Text)))
		if o.admitted.Load() != 1 {
			return 0, fmt.Errorf("a request on the hot key was not admitted")
		}
	}
	largest := 0
	for i := range authorizer.DefaultShards {
		it, err := rawItem(ctx, client, tables.Counters, map[string]ddbtypes.AttributeValue{
			"pk": &ddbtypes.AttributeValueMemberS{Value: dynamo.KeyShardPK(g.Token.KID, i)}})
		if err != nil {
			return 0, err
		}
		largest = max(largest, dynamo.ItemSize(it))
	}
	return largest, nil
}
