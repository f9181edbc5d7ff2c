package localprovider

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"
)

// tool is a function tool of a chat completions request.
type tool struct {
	Function struct {
		Name       string `json:"name"`
		Parameters struct {
			Properties map[string]json.RawMessage `json:"properties"`
			Required   []string                   `json:"required"`
		} `json:"parameters"`
	} `json:"function"`
}

type toolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// call is the echo model's call of t for the user's text: every required
// parameter (or else the first one by name) set to that text. Its id is
// derived from the text, so the same conversation gives the same id.
func (t tool) call(text string) toolCall {
	params := t.Function.Parameters.Required
	if len(params) == 0 && len(t.Function.Parameters.Properties) > 0 {
		for name := range t.Function.Parameters.Properties {
			params = append(params, name)
		}
		sort.Strings(params)
		params = params[:1]
	}
	args := map[string]string{}
	for _, p := range params {
		args[p] = text
	}
	raw, _ := json.Marshal(args)
	sum := sha256.Sum256([]byte(t.Function.Name + "\x00" + text))
	c := toolCall{ID: "call_local_" + hex.EncodeToString(sum[:6]), Type: "function"}
	c.Function.Name, c.Function.Arguments = t.Function.Name, string(raw)
	return c
}
