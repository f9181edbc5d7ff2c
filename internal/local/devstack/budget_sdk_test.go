package devstack_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/aistats/edge/internal/testing/httpcall"
	"github.com/aistats/edge/pkg/domain/budget"
)

// TestADailyBudgetThroughTheOpenAISDK is issue 14's "done when" against the
// local stack: a key made through the management API with a tiny daily
// budget serves requests until the budget cannot hold another, then the
// official Go SDK gets its 429 error with type insufficient_quota, code
// budget_exceeded and a Retry-After; the key's record shows spend equal to
// the sum of what its requests cost at local/echo's price.
func TestADailyBudgetThroughTheOpenAISDK(t *testing.T) {
	running, _, stop := startStack(t, t.TempDir(), -1)
	defer stop()
	ctx := context.Background()
	creds := running.Credentials
	mgmt := "Bearer " + creds.ManagementKey

	created := httpcall.Do(t, nil, "POST", creds.BaseURL+"/keys", mgmt,
		`{"name":"budgeted","limits":{"cost_per_day_usd":0.0004,"tokens_per_day":100000}}`)
	var key struct {
		Data struct{ KID, Key string } `json:"data"`
	}
	if err := json.Unmarshal([]byte(created.Raw), &key); err != nil || created.Status != 201 {
		t.Fatalf("create key: %d %s", created.Status, created.Raw)
	}
	sdk := openai.NewClient(option.WithBaseURL(creds.BaseURL+"/"), option.WithAPIKey(key.Data.Key), option.WithMaxRetries(0))
	chat := openai.ChatCompletionNewParams{
		Model:     "local/echo",
		MaxTokens: openai.Int(8),
		Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello from the sdk")},
	}
	echo := budget.Price{Input: 1_000_000, Output: 2_000_000, CachedInput: 500_000} // providers.json
	var spent budget.MicroUSD
	served := 0
	var refusal error
	for range 100 {
		resp, err := sdk.Chat.Completions.New(ctx, chat)
		if err != nil {
			refusal = err
			break
		}
		served++
		spent += echo.Cost(resp.Usage.PromptTokens, resp.Usage.CompletionTokens, resp.Usage.PromptTokensDetails.CachedTokens)
	}
	apiErr, ok := errors.AsType[*openai.Error](refusal)
	if served == 0 || !ok {
		t.Fatalf("served %d, then %v: want some served, then the SDK's API error", served, refusal)
	}
	if apiErr.StatusCode != 429 || apiErr.Type != "insufficient_quota" || apiErr.Code != "budget_exceeded" {
		t.Errorf("refusal %d %s %s, want 429 insufficient_quota budget_exceeded", apiErr.StatusCode, apiErr.Type, apiErr.Code)
	}
	if apiErr.Response == nil || apiErr.Response.Header.Get("Retry-After") == "" {
		t.Error("the refusal has no Retry-After")
	}

	own := httpcall.Do(t, nil, "GET", creds.BaseURL+"/key", "Bearer "+key.Data.Key, "")
	if own.Status != 200 || !strings.Contains(own.Raw, `"budgets"`) || !strings.Contains(own.Raw, `"cost_per_day_usd"`) {
		t.Errorf("GET /v1/key with the key itself: %d %s, want its budgets", own.Status, own.Raw)
	}
	rec := httpcall.Do(t, nil, "GET", creds.BaseURL+"/keys/"+key.Data.KID, mgmt, "")
	var view struct {
		Data struct {
			Budgets []struct {
				Name string          `json:"name"`
				Used json.RawMessage `json:"used"`
			} `json:"budgets"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(rec.Raw), &view); err != nil || rec.Status != 200 {
		t.Fatalf("get key: %d %s", rec.Status, rec.Raw)
	}
	for _, b := range view.Data.Budgets {
		if b.Name != "cost_per_day_usd" {
			continue
		}
		used, err := budget.ParseUSD(string(b.Used))
		if err != nil || used != spent {
			t.Errorf("record shows $%s spent today, want $%s, the sum of %d requests' costs", b.Used, spent, served)
		}
		return
	}
	t.Errorf("the key's record has no cost_per_day_usd budget: %s", rec.Raw)
}
