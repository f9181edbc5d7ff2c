package devstack_test

import (
	"context"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
)

// TestOpenAIResponsesAgainstTheLocalStack runs the OpenAI Go client's
// Responses API, plain, streamed and read back by id, against the local
// stack, whose offline provider serves it.
func TestOpenAIResponsesAgainstTheLocalStack(t *testing.T) {
	running, _, stop := startStack(t, t.TempDir(), -1)
	defer stop()
	ctx := context.Background()
	creds := running.Credentials
	sdk := openai.NewClient(option.WithBaseURL(creds.BaseURL+"/"), option.WithAPIKey(creds.APIKey), option.WithMaxRetries(0))
	params := responses.ResponseNewParams{
		Model: "local/echo",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hello from the responses api")},
	}

	var created string
	t.Run("response", func(t *testing.T) {
		resp, err := sdk.Responses.New(ctx, params)
		if err != nil {
			t.Fatal(err)
		}
		if resp.OutputText() != "hello from the responses api" || resp.Usage.OutputTokens != 5 || resp.Usage.InputTokens == 0 || resp.Status != "completed" {
			t.Errorf("response %q %s, usage %d+%d", resp.OutputText(), resp.Status, resp.Usage.InputTokens, resp.Usage.OutputTokens)
		}
		created = resp.ID
	})
	t.Run("read back by id", func(t *testing.T) {
		if created == "" {
			t.Skip("no response was created")
		}
		resp, err := sdk.Responses.Get(ctx, created, responses.ResponseGetParams{})
		if err != nil {
			t.Fatal(err)
		}
		if resp.ID != created || resp.OutputText() != "hello from the responses api" {
			t.Errorf("read back %s %q", resp.ID, resp.OutputText())
		}
	})
	t.Run("streamed response", func(t *testing.T) {
		stream := sdk.Responses.NewStreaming(ctx, params)
		var types []string
		var text strings.Builder
		var completed responses.Response
		for stream.Next() {
			ev := stream.Current()
			types = append(types, ev.Type)
			switch ev.Type {
			case "response.output_text.delta":
				text.WriteString(ev.Delta)
			case "response.completed":
				completed = ev.Response
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if types[0] != "response.created" || types[len(types)-1] != "response.completed" {
			t.Errorf("events %v, want response.created first and response.completed last", types)
		}
		if text.String() != "hello from the responses api" || completed.Usage.OutputTokens != 5 {
			t.Errorf("streamed %q, %d output tokens", text.String(), completed.Usage.OutputTokens)
		}
	})
	t.Run("a provider without the API is named", func(t *testing.T) {
		p := params
		p.Model = "groq/llama-3.1-8b-instant"
		_, err := sdk.Responses.New(ctx, p)
		apiErr, ok := err.(*openai.Error)
		if !ok || apiErr.StatusCode != 400 || apiErr.Code != "unsupported_route" || !strings.Contains(apiErr.Message, "groq") {
			t.Errorf("error %v, want 400 unsupported_route naming groq", err)
		}
	})
}
