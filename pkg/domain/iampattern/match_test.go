package iampattern

import "testing"

func TestMatchFollowsIAMResourceWildcards(t *testing.T) {
	const arn = "arn:aws:execute-api:eu-west-1:123456789012:abc123/v1/POST/chat/completions"
	for name, tc := range map[string]struct {
		pattern, s string
		want       bool
	}{
		"literal equal":                   {arn, arn, true},
		"literal differs":                 {arn, arn + "x", false},
		"literal is case-sensitive":       {"keys", "Keys", false},
		"empty matches empty":             {"", "", true},
		"empty pattern refuses text":      {"", "a", false},
		"star matches empty":              {"*", "", true},
		"star facing a literal star":      {"*a", "*ba", true},
		"route with a star in the kid":    {"keys/*", "keys/*x/rotate", true},
		"arn with a star in the path":     {"arn:x/v1/*/keys/*", "arn:x/v1/POST/keys/*x/rotate", true},
		"star matches anything":           {"*", arn, true},
		"star spans slashes":              {"keys/*", "keys/k_1/rotate", true},
		"star spans colons":               {"arn:aws:*", arn, true},
		"star in the middle":              {"arn:*/v1/POST/*", arn, true},
		"star needs the rest to match":    {"a*c", "abbb", false},
		"star then literal backtracks":    {"a*bc", "abcbc", true},
		"prefix with star needs prefix":   {"keys/*", "keys", false},
		"stars in a row":                  {"**", "anything", true},
		"trailing stars match nothing":    {"abc**", "abc", true},
		"method star":                     {"arn:aws:execute-api:*:*:abc123/v1/*/chat/completions", arn, true},
		"question matches one character":  {"a?c", "abc", true},
		"question needs a character":      {"a?c", "ac", false},
		"question matches only one":       {"a?c", "abbc", false},
		"question matches a slash":        {"a?c", "a/c", true},
		"question and star together":      {"k_?/*", "k_1/rotate", true},
		"star does not excuse a mismatch": {"*/v1/*", "abc123/v2/GET/models", false},
	} {
		t.Run(name, func(t *testing.T) {
			if got := Match(tc.pattern, tc.s); got != tc.want {
				t.Errorf("Match(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
			}
		})
	}
}
