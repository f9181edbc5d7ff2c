package budget

import (
	"bytes"
	"encoding/json"
)

// ImageTokens bounds the prompt tokens one image or audio part may take
// (OpenAI bills a high-detail image at most about 1,500). A part sent by URL
// is a few bytes in the body but far more tokens, so the body's length alone
// does not bound it.
const ImageTokens = 2000

// DefaultMaxOutput bounds the output of a request that sets no max_tokens
// for a model whose registry entry names no maximum of its own.
const DefaultMaxOutput = 4096

// mediaMarkers are the JSON fields that introduce an image or audio part in
// the chat, Messages and Responses formats.
var mediaMarkers = [][]byte{[]byte(`"image_url"`), []byte(`"input_image"`), []byte(`"input_audio"`), []byte(`"image"`), []byte(`"document"`)}

// PromptBound is an upper bound on the prompt tokens of a request body.
// A BPE token covers at least one byte of the text it encodes, and the
// per-message tokens a chat format adds (about 4) are fewer than the bytes
// of JSON around each message, so the body's length bounds a text prompt;
// each media part adds ImageTokens. It is deliberately not an estimate: a
// reservation below the real count would let settled spend pass a budget.
// An estimate from it is about four times too high for English prose, which
// is the price of exactness paid only by requests near the end of a budget.
func PromptBound(body []byte) int64 {
	n := int64(len(body))
	for _, m := range mediaMarkers {
		n += int64(bytes.Count(body, m)) * ImageTokens
	}
	return n
}

// OutputBound is the most output tokens a request may be billed: its own
// cap (max_tokens, max_completion_tokens or max_output_tokens, the largest
// if it sends several) or else the model's maximum, times the number of
// choices it asks for. modelMax 0 means DefaultMaxOutput.
func OutputBound(fields map[string]json.RawMessage, modelMax int64) int64 {
	if modelMax <= 0 {
		modelMax = DefaultMaxOutput
	}
	var asked int64
	for _, name := range []string{"max_tokens", "max_completion_tokens", "max_output_tokens"} {
		var v int64
		if raw, ok := fields[name]; ok && json.Unmarshal(raw, &v) == nil && v > asked {
			asked = v
		}
	}
	out := modelMax
	if asked > 0 {
		out = min(asked, modelMax)
	}
	var n int64
	if raw, ok := fields["n"]; ok && json.Unmarshal(raw, &n) == nil && n > 1 {
		out *= min(n, 128)
	}
	return out
}

// Worst is the worst case a request reserves: its prompt bound and output
// bound, in tokens and, at price, in micro-dollars.
func Worst(prompt, output int64, price Price) Amount {
	return Amount{Tokens: prompt + output, Cost: price.WorstCost(prompt, output)}
}

// Actual is what a request settles: the tokens the provider reported (or,
// for a stream cut off before its usage, what was relayed plus the prompt
// estimate) and their cost.
func Actual(prompt, completion, cached int64, price Price) Amount {
	return Amount{Tokens: max(prompt, 0) + max(completion, 0), Cost: price.Cost(prompt, completion, cached)}
}
