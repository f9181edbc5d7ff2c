package keyformat

import (
	"strings"
	"testing"
)

// FuzzParse checks that no input panics the parser, and that whatever it
// accepts is exactly a well-formed key that survives a round trip. The seed
// corpus (here and in testdata/fuzz) runs under plain go test.
func FuzzParse(f *testing.F) {
	f.Add("")
	if g, err := Generate(&everyByte{}, "sk"); err == nil {
		f.Add(g.Text) // a valid key, so the fuzzer starts from the accepting path
	}
	f.Add("aistats_v1_sk_")
	f.Add("aistats_v1_sk_abcdefghijkl_" + strings.Repeat("A", SecretLength))
	f.Add("aistats_v1_mk_ABCDEFGHIJKL_" + strings.Repeat("0", RandomLength) + "000000")
	f.Add("Bearer aistats_v1_sk_abcdefghijkl_x")
	f.Add(strings.Repeat("_", keyLength))
	f.Add("aistats_v1_sk_abcdefghijkl_" + strings.Repeat("é", SecretLength/2))
	f.Fuzz(func(t *testing.T, text string) {
		tok, err := Parse(text)
		if err != nil {
			if tok != (Token{}) {
				t.Fatalf("Parse returned a token with error %v", err)
			}
			return
		}
		if got := tok.Prefix() + "_" + tok.Secret(); got != text {
			t.Fatalf("accepted %q but it rebuilds as %q", text, got)
		}
		if !IsKID(tok.KID) || len(tok.Secret()) != SecretLength {
			t.Fatalf("accepted malformed parts in %q", text)
		}
	})
}
