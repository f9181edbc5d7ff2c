package devstack_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/aistats/edge/internal/local/devstack"
	"github.com/aistats/edge/internal/local/dynalite"
	"github.com/aistats/edge/pkg/adapter/dynamo"
	"github.com/aistats/edge/pkg/domain/gateway"
)

// TestAnthropicSDKAgainstTheLocalStack points the official Anthropic Go
// client at the gateway's root, as a user would, with the key in x-api-key
// (where Anthropic's SDKs send it) or as a bearer token. The offline
// provider speaks chat completions, so every call goes through the
// translation.
func TestAnthropicSDKAgainstTheLocalStack(t *testing.T) {
	running, _, stop := startStack(t, t.TempDir(), -1)
	defer stop()
	ctx := context.Background()
	creds := running.Credentials
	root := strings.TrimSuffix(creds.BaseURL, "v1")
	// client sends key in x-api-key, as Anthropic's SDKs do by default.
	client := func(key string) anthropic.Client {
		return anthropic.NewClient(option.WithBaseURL(root), option.WithHeader("x-api-key", key), option.WithMaxRetries(0))
	}
	sdk := client(creds.APIKey)
	store := dynamo.New(dynamo.Config{Client: dynalite.NewClient(running.DynamoDBEndpoint), Tables: devstack.Tables})
	newKey := func(models []string, limits gateway.Limits) string {
		return newInferenceKey(t, store, "anthropic sdk test", models, limits)
	}
	params := anthropic.MessageNewParams{
		Model:     "local/echo",
		MaxTokens: 64,
		System:    []anthropic.TextBlockParam{{Text: "Echo the user."}},
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hello from claude code"))},
	}

	t.Run("message", func(t *testing.T) {
		msg, err := sdk.Messages.New(ctx, params)
		if err != nil {
			t.Fatal(err)
		}
		if len(msg.Content) != 1 || msg.Content[0].Text != "hello from claude code" || msg.StopReason != anthropic.StopReasonEndTurn ||
			msg.Usage.OutputTokens != 4 || msg.Usage.InputTokens == 0 || string(msg.Model) != "local/echo" {
			t.Errorf("message %+v", msg)
		}
	})
	t.Run("message with the key as a bearer token", func(t *testing.T) {
		c := anthropic.NewClient(option.WithBaseURL(root), option.WithAuthToken(creds.APIKey), option.WithMaxRetries(0))
		if _, err := c.Messages.New(ctx, params); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("streamed message", func(t *testing.T) {
		stream := sdk.Messages.NewStreaming(ctx, params)
		var msg anthropic.Message
		var deltas []string
		var types []string
		for stream.Next() {
			ev := stream.Current()
			if err := msg.Accumulate(ev); err != nil {
				t.Fatal(err)
			}
			types = append(types, ev.Type)
			if ev.Type == "content_block_delta" {
				deltas = append(deltas, ev.Delta.Text)
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if len(deltas) < 4 || strings.Join(deltas, "") != "hello from claude code" {
			t.Errorf("deltas %q, want the echo in several pieces", deltas)
		}
		if types[0] != "message_start" || types[len(types)-1] != "message_stop" || types[len(types)-2] != "message_delta" {
			t.Errorf("events %v", types)
		}
		if len(msg.Content) != 1 || msg.Content[0].Text != "hello from claude code" || msg.StopReason != anthropic.StopReasonEndTurn ||
			msg.Usage.OutputTokens != 4 || msg.Usage.InputTokens == 0 {
			t.Errorf("accumulated message %+v", msg)
		}
	})
	t.Run("tool use round trip", func(t *testing.T) {
		tools := []anthropic.ToolUnionParam{{OfTool: &anthropic.ToolParam{
			Name: "lookup", Description: anthropic.String("Looks a word up."),
			InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{"word": map[string]any{"type": "string"}}, Required: []string{"word"}},
		}}}
		ask := anthropic.MessageNewParams{Model: "local/echo", MaxTokens: 64, Tools: tools,
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("serendipity"))}}
		for _, streamed := range []bool{false, true} {
			var first anthropic.Message
			if streamed {
				stream := sdk.Messages.NewStreaming(ctx, ask)
				for stream.Next() {
					if err := first.Accumulate(stream.Current()); err != nil {
						t.Fatal(err)
					}
				}
				if err := stream.Err(); err != nil {
					t.Fatal(err)
				}
			} else {
				m, err := sdk.Messages.New(ctx, ask)
				if err != nil {
					t.Fatal(err)
				}
				first = *m
			}
			if first.StopReason != anthropic.StopReasonToolUse || len(first.Content) != 1 || first.Content[0].Type != "tool_use" {
				t.Fatalf("streamed %v: answer %+v, want one tool_use", streamed, first)
			}
			use := first.Content[0]
			var input map[string]string
			if err := json.Unmarshal(use.Input, &input); err != nil || use.Name != "lookup" || input["word"] != "serendipity" || use.ID == "" {
				t.Fatalf("streamed %v: tool use %s %s %s (%v)", streamed, use.ID, use.Name, use.Input, err)
			}
			then := ask
			then.Messages = append(append([]anthropic.MessageParam{}, ask.Messages...), first.ToParam(),
				anthropic.NewUserMessage(anthropic.NewToolResultBlock(use.ID, "a happy accident", false)))
			final, err := sdk.Messages.New(ctx, then)
			if err != nil {
				t.Fatal(err)
			}
			if final.StopReason != anthropic.StopReasonEndTurn || len(final.Content) != 1 || final.Content[0].Text != "a happy accident" {
				t.Errorf("streamed %v: final answer %+v, want the tool's result", streamed, final)
			}
		}
	})

	wantAPIError := func(t *testing.T, err error, status int, errType anthropic.ErrorType) {
		t.Helper()
		apiErr, ok := errors.AsType[*anthropic.Error](err)
		if !ok {
			t.Fatalf("error %v is not an *anthropic.Error", err)
		}
		if apiErr.StatusCode != status || apiErr.Type() != errType || apiErr.Message == "" {
			t.Errorf("error %d %q %q, want %d %s with a message", apiErr.StatusCode, apiErr.Type(), apiErr.Message, status, errType)
		}
	}
	t.Run("authentication error for a bad key in x-api-key", func(t *testing.T) {
		bad := creds.APIKey[:len(creds.APIKey)-1] + "0"
		if bad == creds.APIKey {
			bad = creds.APIKey[:len(creds.APIKey)-1] + "1"
		}
		c := client(bad)
		_, err := c.Messages.New(ctx, params)
		wantAPIError(t, err, 401, anthropic.ErrorTypeAuthenticationError)
	})
	t.Run("authentication error for two different keys", func(t *testing.T) {
		c := anthropic.NewClient(option.WithBaseURL(root), option.WithHeader("x-api-key", creds.APIKey),
			option.WithAuthToken(newKey(nil, gateway.Limits{})), option.WithMaxRetries(0))
		_, err := c.Messages.New(ctx, params)
		wantAPIError(t, err, 401, anthropic.ErrorTypeAuthenticationError)
	})
	t.Run("authentication error for no key", func(t *testing.T) {
		c := anthropic.NewClient(option.WithBaseURL(root), option.WithHeader("x-api-key", ""), option.WithAuthToken(""), option.WithMaxRetries(0))
		_, err := c.Messages.New(ctx, params)
		if apiErr, ok := errors.AsType[*anthropic.Error](err); ok {
			wantAPIError(t, err, 401, anthropic.ErrorTypeAuthenticationError)
		} else if err == nil {
			t.Fatal("no key, no error")
		} else {
			t.Logf("the SDK refused to send without a key: %v (%v)", err, apiErr)
		}
	})
	t.Run("permission denied for a model outside the key's list", func(t *testing.T) {
		c := client(newKey([]string{"openai/*"}, gateway.Limits{}))
		_, err := c.Messages.New(ctx, params)
		wantAPIError(t, err, 403, anthropic.ErrorTypePermissionError)
	})
	t.Run("not found for an unknown model", func(t *testing.T) {
		p := params
		p.Model = "local/nope"
		_, err := sdk.Messages.New(ctx, p)
		wantAPIError(t, err, 404, anthropic.ErrorTypeNotFoundError)
	})
	t.Run("rate limit error for a spent limit", func(t *testing.T) {
		c := client(newKey(nil, gateway.Limits{RequestsPerMinute: 1}))
		if _, err := c.Messages.New(ctx, params); err != nil {
			t.Fatal(err)
		}
		_, err := c.Messages.New(ctx, params)
		wantAPIError(t, err, 429, anthropic.ErrorTypeRateLimitError)
		if apiErr, _ := errors.AsType[*anthropic.Error](err); apiErr == nil || apiErr.Response.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
		stream := c.Messages.NewStreaming(ctx, params)
		for stream.Next() {
		}
		wantAPIError(t, stream.Err(), 429, anthropic.ErrorTypeRateLimitError)
	})
}
