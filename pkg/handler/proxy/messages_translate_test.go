package proxy

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aistats/edge/pkg/domain/gateway"
)

// fields parses a request body the way parseBody does.
func fields(t *testing.T, body string) map[string]json.RawMessage {
	t.Helper()
	var f map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// jsonEqual compares two JSON texts as values.
func jsonEqual(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got %s: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want %s: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestMessagesRequestToChat(t *testing.T) {
	for name, tc := range map[string]struct{ in, want string }{
		"text": {
			`{"model":"x","max_tokens":100,"messages":[{"role":"user","content":"Hello"}]}`,
			`{"model":"m","max_tokens":100,"messages":[{"role":"user","content":"Hello"}]}`,
		},
		"system prompt as a string": {
			`{"model":"x","max_tokens":10,"system":"Be brief.","messages":[{"role":"user","content":"Hi"}]}`,
			`{"model":"m","max_tokens":10,"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}]}`,
		},
		"system prompt as blocks, sampling and stop sequences": {
			`{"model":"x","max_tokens":10,"system":[{"type":"text","text":"Be brief.","cache_control":{"type":"ephemeral"}}],
			  "temperature":0.2,"top_p":0.9,"top_k":5,"stop_sequences":["END"],"metadata":{"user_id":"u-1"},
			  "messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]}]}`,
			`{"model":"m","max_tokens":10,"temperature":0.2,"top_p":0.9,"stop":["END"],"user":"u-1",
			  "messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}]}`,
		},
		"multi-turn": {
			`{"model":"x","max_tokens":10,"messages":[{"role":"user","content":"1"},{"role":"assistant","content":[{"type":"text","text":"2"}]},{"role":"user","content":"3"}]}`,
			`{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"1"},{"role":"assistant","content":"2"},{"role":"user","content":"3"}]}`,
		},
		"tools, a tool use and its result": {
			`{"model":"x","max_tokens":10,
			  "tools":[{"name":"get_weather","description":"Weather now","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}],
			  "tool_choice":{"type":"any","disable_parallel_tool_use":true},
			  "messages":[{"role":"user","content":"Weather in Paris?"},
			    {"role":"assistant","content":[{"type":"thinking","thinking":"…","signature":"s"},{"type":"text","text":"Checking."},{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}]},
			    {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"18°C"}]},{"type":"text","text":"And tomorrow?"}]}]}`,
			`{"model":"m","max_tokens":10,
			  "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather now","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],
			  "tool_choice":"required","parallel_tool_calls":false,
			  "messages":[{"role":"user","content":"Weather in Paris?"},
			    {"role":"assistant","content":"Checking.","tool_calls":[{"id":"toolu_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
			    {"role":"tool","tool_call_id":"toolu_1","content":"18°C"},
			    {"role":"user","content":"And tomorrow?"}]}`,
		},
		"a failed tool result and a named tool choice": {
			`{"model":"x","max_tokens":10,"tools":[{"name":"t","input_schema":{"type":"object"}}],"tool_choice":{"type":"tool","name":"t"},
			  "messages":[{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"t","input":{}}]},
			    {"role":"user","content":[{"type":"tool_result","tool_use_id":"a","content":"boom","is_error":true}]}]}`,
			`{"model":"m","max_tokens":10,"tools":[{"type":"function","function":{"name":"t","parameters":{"type":"object"}}}],
			  "tool_choice":{"type":"function","function":{"name":"t"}},
			  "messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"a","type":"function","function":{"name":"t","arguments":"{}"}}]},
			    {"role":"tool","tool_call_id":"a","content":"Error: boom"}]}`,
		},
		"image": {
			`{"model":"x","max_tokens":10,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBOR"}},{"type":"text","text":"What is it?"}]}]}`,
			`{"model":"m","max_tokens":10,"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBOR"}},{"type":"text","text":"What is it?"}]}]}`,
		},
		"stream asks for usage": {
			`{"model":"x","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"Hi"}]}`,
			`{"model":"m","max_tokens":10,"stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Hi"}]}`,
		},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := toChatRequest(fields(t, tc.in), "m")
			if err != nil {
				t.Fatal(err)
			}
			jsonEqual(t, got, tc.want)
		})
	}
}

func TestMessagesRequestThatCannotBeTranslated(t *testing.T) {
	for name, tc := range map[string]struct{ in, param string }{
		"no max_tokens":   {`{"model":"x","messages":[{"role":"user","content":"Hi"}]}`, "max_tokens"},
		"no messages":     {`{"model":"x","max_tokens":1,"messages":[]}`, "messages"},
		"unknown role":    {`{"model":"x","max_tokens":1,"messages":[{"role":"system","content":"Hi"}]}`, "messages.0.role"},
		"server tool":     {`{"model":"x","max_tokens":1,"tools":[{"type":"web_search_20250305","name":"web_search"}],"messages":[{"role":"user","content":"Hi"}]}`, "tools.0"},
		"document block":  {`{"model":"x","max_tokens":1,"messages":[{"role":"user","content":[{"type":"document","source":{}}]}]}`, "messages.0.content"},
		"content of 42":   {`{"model":"x","max_tokens":1,"messages":[{"role":"user","content":42}]}`, "messages.0.content"},
		"odd tool choice": {`{"model":"x","max_tokens":1,"tool_choice":{"type":"sometimes"},"messages":[{"role":"user","content":"Hi"}]}`, "tool_choice"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := toChatRequest(fields(t, tc.in), "m")
			e, ok := err.(*gateway.Error)
			if !ok || e.Code != gateway.CodeValidationError || e.Param != tc.param {
				t.Errorf("error %v, want validation_error on %s", err, tc.param)
			}
		})
	}
}

func TestChatAnswerToMessage(t *testing.T) {
	recorded, err := os.ReadFile(filepath.Join("testdata", "chat_completion_tool_calls.json"))
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct{ in, want string }{
		"text": {
			`{"id":"chatcmpl-1","choices":[{"index":0,"message":{"role":"assistant","content":"Hi!"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":2}}`,
			`{"id":"msg_1","type":"message","role":"assistant","model":"asked/model","content":[{"type":"text","text":"Hi!"}],
			  "stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":9,"output_tokens":2,"cache_read_input_tokens":0,"cache_creation_input_tokens":0}}`,
		},
		"cut at max tokens": {
			`{"id":"chatcmpl-2","choices":[{"index":0,"message":{"role":"assistant","content":"Lo"},"finish_reason":"length"}]}`,
			`{"id":"msg_2","type":"message","role":"assistant","model":"asked/model","content":[{"type":"text","text":"Lo"}],
			  "stop_reason":"max_tokens","stop_sequence":null,"usage":{"input_tokens":0,"output_tokens":0,"cache_read_input_tokens":0,"cache_creation_input_tokens":0}}`,
		},
		"refused by the content filter": {
			`{"id":"chatcmpl-3","choices":[{"index":0,"message":{"role":"assistant","content":""},"finish_reason":"content_filter"}]}`,
			`{"id":"msg_3","type":"message","role":"assistant","model":"asked/model","content":[],
			  "stop_reason":"refusal","stop_sequence":null,"usage":{"input_tokens":0,"output_tokens":0,"cache_read_input_tokens":0,"cache_creation_input_tokens":0}}`,
		},
		"recorded tool call, cached prompt": {
			string(recorded),
			`{"id":"msg_B9x3","type":"message","role":"assistant","model":"asked/model",
			  "content":[{"type":"tool_use","id":"call_Ab12","name":"get_weather","input":{"city":"Paris"}}],
			  "stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":16,"output_tokens":17,"cache_read_input_tokens":64,"cache_creation_input_tokens":0}}`,
		},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := toAnthropicMessage([]byte(tc.in), "asked/model")
			if err != nil {
				t.Fatal(err)
			}
			jsonEqual(t, got, tc.want)
		})
	}
}

func TestErrorsInAnthropicShape(t *testing.T) {
	for name, tc := range map[string]struct {
		status int
		in     string
		want   string
	}{
		"ours": {401, `{"error":{"message":"The API key is not valid.","type":"authentication_error","code":"invalid_key","param":null},"request_id":"r1"}`,
			`{"type":"error","error":{"type":"authentication_error","message":"The API key is not valid.","code":"invalid_key","param":null},"request_id":"r1"}`},
		"a provider's": {400, `{"error":{"message":"bad temperature","type":"invalid_request_error","param":"temperature","code":null}}`,
			`{"type":"error","error":{"type":"invalid_request_error","message":"bad temperature","param":"temperature","code":null}}`},
		"rate limited":     {429, `{"error":{"message":"slow down","type":"rate_limit_error","code":"rate_limit_exceeded","param":null}}`, `{"type":"error","error":{"type":"rate_limit_error","message":"slow down","code":"rate_limit_exceeded","param":null}}`},
		"forbidden":        {403, `{"error":{"message":"no","type":"permission_error","code":"model_not_allowed","param":"model"}}`, `{"type":"error","error":{"type":"permission_error","message":"no","code":"model_not_allowed","param":"model"}}`},
		"not found":        {404, `{"error":{"message":"no","type":"not_found_error","code":"model_not_found","param":"model"}}`, `{"type":"error","error":{"type":"not_found_error","message":"no","code":"model_not_found","param":"model"}}`},
		"upstream failed":  {502, `{"error":{"message":"down","type":"upstream_error","code":"upstream_error","param":null}}`, `{"type":"error","error":{"type":"api_error","message":"down","code":"upstream_error","param":null}}`},
		"unavailable":      {503, `{"error":{"message":"busy","type":"api_error","code":"service_unavailable","param":null}}`, `{"type":"error","error":{"type":"overloaded_error","message":"busy","code":"service_unavailable","param":null}}`},
		"not JSON at all":  {500, `Internal Server Error`, `{"type":"error","error":{"type":"api_error","message":"Internal Server Error"}}`},
		"a string error":   {400, `{"error":"nope"}`, `{"type":"error","error":{"type":"invalid_request_error","message":"nope"}}`},
		"too large a body": {413, `{"error":{"message":"big","type":"invalid_request_error","code":"body_too_large","param":null}}`, `{"type":"error","error":{"type":"request_too_large","message":"big","code":"body_too_large","param":null}}`},
	} {
		t.Run(name, func(t *testing.T) {
			jsonEqual(t, toAnthropicError(tc.status, []byte(tc.in)), tc.want)
		})
	}
}

// sseEvents reads an Anthropic event stream into its events' data, each
// checked against its event name.
func sseEvents(t *testing.T, stream string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, ev := range strings.Split(strings.TrimSpace(stream), "\n\n") {
		name, data, ok := strings.Cut(ev, "\ndata: ")
		if !ok || !strings.HasPrefix(name, "event: ") {
			t.Fatalf("malformed event %q", ev)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(data), &m); err != nil {
			t.Fatalf("event data %s: %v", data, err)
		}
		if m["type"] != strings.TrimPrefix(name, "event: ") {
			t.Errorf("event %s carries type %v", name, m["type"])
		}
		out = append(out, m)
	}
	return out
}

func translateStream(t *testing.T, upstream string) (string, error) {
	t.Helper()
	// Read in small pieces, as the relay does when chunks are small.
	var out bytes.Buffer
	s := newMessagesStream(io.NopCloser(strings.NewReader(upstream)), "asked/model")
	buf := make([]byte, 7)
	for {
		n, err := s.Read(buf)
		out.Write(buf[:n])
		if err == io.EOF {
			return out.String(), nil
		}
		if err != nil {
			return out.String(), err
		}
	}
}

func TestChatStreamToMessagesEvents(t *testing.T) {
	for name, tc := range map[string]struct {
		fixture string
		want    string
	}{
		"text": {"chat_stream_text.sse", `[
		  {"type":"message_start","message":{"id":"msg_B9x1","type":"message","role":"assistant","model":"asked/model","content":[],"stop_reason":null,"stop_sequence":null,
		    "usage":{"input_tokens":0,"output_tokens":0,"cache_read_input_tokens":0,"cache_creation_input_tokens":0}}},
		  {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}},
		  {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}},
		  {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" there"}},
		  {"type":"content_block_stop","index":0},
		  {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},
		    "usage":{"input_tokens":21,"output_tokens":2,"cache_read_input_tokens":0,"cache_creation_input_tokens":0}},
		  {"type":"message_stop"}]`},
		"text then a tool call, streamed in fragments": {"chat_stream_tool_calls.sse", `[
		  {"type":"message_start","message":{"id":"msg_B9x2","type":"message","role":"assistant","model":"asked/model","content":[],"stop_reason":null,"stop_sequence":null,
		    "usage":{"input_tokens":0,"output_tokens":0,"cache_read_input_tokens":0,"cache_creation_input_tokens":0}}},
		  {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}},
		  {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Let me check."}},
		  {"type":"content_block_stop","index":0},
		  {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"call_Xk3v","name":"get_weather","input":{}}},
		  {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\":"}},
		  {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\"Paris\"}"}},
		  {"type":"content_block_stop","index":1},
		  {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},
		    "usage":{"input_tokens":16,"output_tokens":17,"cache_read_input_tokens":64,"cache_creation_input_tokens":0}},
		  {"type":"message_stop"}]`},
	} {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", tc.fixture))
			if err != nil {
				t.Fatal(err)
			}
			out, err := translateStream(t, string(raw))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(sseEvents(t, out))
			jsonEqual(t, got, tc.want)

			// What the relay reads back from the translated stream is the
			// provider's usage, and the end of the answer.
			var o streamOutcome
			complete := false
			for _, ev := range sseEvents(t, out) {
				data, _ := json.Marshal(ev)
				complete = scanMessages(data, &o) || complete
			}
			var want usage
			chat := string(raw)
			i := strings.LastIndex(chat, `"usage":{`)
			_ = json.NewDecoder(strings.NewReader(chat[i+len(`"usage":`):])).Decode(&want)
			if !complete || !o.sawUsage || o.usage != want {
				t.Errorf("relay read usage %+v (seen %v), complete %v; want %+v", o.usage, o.sawUsage, complete, want)
			}
		})
	}
}

func TestChatStreamBrokenOffIsAnError(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "chat_stream_text.sse"))
	if err != nil {
		t.Fatal(err)
	}
	cut := string(raw[:bytes.Index(raw, []byte(`"finish_reason":"stop"`))])
	cut = cut[:strings.LastIndex(cut, "\n\n")+2]
	out, err := translateStream(t, cut)
	if err != io.ErrUnexpectedEOF || strings.Contains(out, "message_stop") {
		t.Errorf("stream cut before its end: error %v, ended %v; want io.ErrUnexpectedEOF and no message_stop", err, strings.Contains(out, "message_stop"))
	}
}

func TestChatStreamErrorChunk(t *testing.T) {
	out, err := translateStream(t, "data: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}\n\n")
	if err != nil {
		t.Fatal(err)
	}
	evs := sseEvents(t, out)
	if len(evs) != 1 || evs[0]["type"] != "error" {
		t.Fatalf("events %v, want one error event", evs)
	}
	if e, _ := evs[0]["error"].(map[string]any); e["type"] != "api_error" || e["message"] != "overloaded" {
		t.Errorf("error event %v", evs[0])
	}
}
