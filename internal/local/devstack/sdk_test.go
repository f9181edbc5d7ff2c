package devstack_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aistats/edge/internal/local/dynalite"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/aistats/edge/internal/local/devstack"
	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/domain/gateway"
	"github.com/aistats/edge/pkg/domain/keyformat"
)

// TestOpenAISDKAgainstTheLocalStack points the official Go client at the
// local stack's base URL, exactly as a user would.
func TestOpenAISDKAgainstTheLocalStack(t *testing.T) {
	running, _, stop := startStack(t, t.TempDir(), -1)
	defer stop()
	ctx := context.Background()
	creds := running.Credentials
	client := func(key string) openai.Client {
		return openai.NewClient(option.WithBaseURL(creds.BaseURL+"/"), option.WithAPIKey(key), option.WithMaxRetries(0))
	}
	sdk := client(creds.APIKey)
	store := dynamo.New(dynamo.Config{Client: dynalite.NewClient(running.DynamoDBEndpoint), Tables: devstack.Tables})
	newKey := func(models []string, limits gateway.Limits) string {
		return newInferenceKey(t, store, "sdk test", models, limits)
	}
	chat := openai.ChatCompletionNewParams{
		Model:    "local/echo",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello from the sdk")},
	}

	t.Run("chat", func(t *testing.T) {
		resp, err := sdk.Chat.Completions.New(ctx, chat)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Choices) != 1 || resp.Choices[0].Message.Content != "hello from the sdk" || resp.Usage.CompletionTokens != 4 {
			t.Errorf("answer %+v", resp)
		}
	})
	t.Run("streamed chat", func(t *testing.T) {
		stream := sdk.Chat.Completions.NewStreaming(ctx, chat)
		var text strings.Builder
		chunks := 0
		var acc openai.ChatCompletionAccumulator
		for stream.Next() {
			chunk := stream.Current()
			acc.AddChunk(chunk)
			chunks++
			if len(chunk.Choices) > 0 {
				text.WriteString(chunk.Choices[0].Delta.Content)
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if text.String() != "hello from the sdk" || chunks < 4 {
			t.Errorf("streamed %q in %d chunks, want the echo in several", text.String(), chunks)
		}
		if acc.Usage.PromptTokens == 0 || acc.Usage.CompletionTokens != 4 {
			t.Errorf("stream usage %+v, want the last chunk's usage", acc.Usage)
		}
	})
	t.Run("embeddings", func(t *testing.T) {
		resp, err := sdk.Embeddings.New(ctx, openai.EmbeddingNewParams{
			Model: "local/echo", Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a", "b"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Data) != 2 || len(resp.Data[0].Embedding) != 8 {
			t.Errorf("embeddings %+v", resp.Data)
		}
	})
	t.Run("models", func(t *testing.T) {
		page, err := sdk.Models.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, m := range page.Data {
			found = found || m.ID == "local/echo"
		}
		if !found {
			t.Errorf("models %+v lack local/echo", page.Data)
		}
	})

	wantAPIError := func(t *testing.T, err error, status int, code string) {
		t.Helper()
		apiErr, ok := errors.AsType[*openai.Error](err)
		if !ok {
			t.Fatalf("error %v is not an *openai.Error", err)
		}
		if apiErr.StatusCode != status || apiErr.Code != code {
			t.Errorf("error %d %s, want %d %s", apiErr.StatusCode, apiErr.Code, status, code)
		}
	}
	t.Run("401", func(t *testing.T) {
		bad := creds.APIKey[:len(creds.APIKey)-1] + "0"
		if bad == creds.APIKey {
			bad = creds.APIKey[:len(creds.APIKey)-1] + "1"
		}
		c := client(bad)
		_, err := c.Chat.Completions.New(ctx, chat)
		wantAPIError(t, err, 401, "invalid_key_format")
	})
	t.Run("403", func(t *testing.T) {
		c := client(newKey([]string{"openai/*"}, gateway.Limits{}))
		_, err := c.Chat.Completions.New(ctx, chat)
		wantAPIError(t, err, 403, "model_not_allowed")
	})
	t.Run("429", func(t *testing.T) {
		c := client(newKey(nil, gateway.Limits{RequestsPerMinute: 1}))
		if _, err := c.Chat.Completions.New(ctx, chat); err != nil {
			t.Fatal(err)
		}
		_, err := c.Chat.Completions.New(ctx, chat)
		wantAPIError(t, err, 429, "rate_limit_exceeded")
		stream := c.Chat.Completions.NewStreaming(ctx, chat)
		for stream.Next() {
		}
		wantAPIError(t, stream.Err(), 429, "rate_limit_exceeded")
	})
	t.Run("usage was recorded once per request", func(t *testing.T) {
		tok, _ := keyformat.Parse(creds.APIKey)
		day, err := store.KeyTotals(ctx, tok.KID, running.Now().Add(-time.Hour), running.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		// chat, streamed chat, embeddings and models: four requests.
		if day.Requests != 4 || day.Errors() != 0 || day.CompletionTokens < 8 {
			t.Errorf("usage %+v, want 4 requests, no errors, the tokens of both chats", day)
		}
	})
}
