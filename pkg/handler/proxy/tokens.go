package proxy

import (
	"encoding/json"
	"strings"
	"unicode"
	"unicode/utf8"
)

// estimateTokens approximates what a BPE tokenizer of the GPT family
// (cl100k, o200k) counts for s, without shipping its vocabulary: a word of
// up to seven letters is one token (common words are whole tokens), each
// further five letters one more; digits go in groups of three; every other
// visible character (punctuation, symbols, CJK and other scripts written
// without spaces) is a token of its own; spaces join the word after them.
// It is used only where the provider's own count is missing: a stream cut
// off before its usage chunk. It fits English prose closely and undercounts
// rare strings (identifiers, base64), which BPE splits finer.
func estimateTokens(s []byte) int64 {
	var n int64
	letters, digits := 0, 0
	flush := func() {
		if letters > 0 {
			n += int64(max(1, (letters+2)/5))
		}
		n += int64((digits + 2) / 3)
		letters, digits = 0, 0
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRune(s[i:])
		i += size
		switch {
		case r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'),
			r >= utf8.RuneSelf && unicode.IsLetter(r) && !wideScript(r):
			if digits > 0 {
				flush()
			}
			letters++
		case r >= '0' && r <= '9':
			if letters > 0 {
				flush()
			}
			digits++
		case unicode.IsSpace(r):
			flush()
		default:
			flush()
			n++
		}
	}
	flush()
	return n
}

// wideScript reports scripts written without spaces, where a tokenizer
// spends about a token per character.
func wideScript(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul, unicode.Thai)
}

// estimatePromptTokens approximates the prompt tokens of a chat request the
// way OpenAI documents its counting: each message's text and name, plus
// three tokens per message and three to prime the reply; tool definitions
// are counted as their JSON text.
func estimatePromptTokens(fields map[string]json.RawMessage) int64 {
	var messages []struct {
		Name    string          `json:"name"`
		Content json.RawMessage `json:"content"`
	}
	_ = json.Unmarshal(fields["messages"], &messages)
	n := int64(3)
	for _, m := range messages {
		n += 3 + estimateTokens([]byte(m.Name)) + estimateTokens([]byte(contentText(m.Content)))
	}
	if tools, ok := fields["tools"]; ok {
		n += estimateTokens(tools)
	}
	return n
}

// contentText reads a message content: a string, or the text of its parts.
func contentText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Text string `json:"text"`
	}
	_ = json.Unmarshal(raw, &parts)
	// A Builder, not +=: a body of many small parts would otherwise copy
	// the text once per part, seconds of CPU for a 4 MiB body.
	var out strings.Builder
	for _, p := range parts {
		out.WriteString(p.Text)
		out.WriteByte(' ')
	}
	return out.String()
}
