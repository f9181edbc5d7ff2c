package keyformat

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/aistats/edge/pkg/domain/gateway"
)

func mustGenerate(t testing.TB, kind gateway.KeyKind) Generated {
	t.Helper()
	g, err := Generate(rand.Reader, kind)
	if err != nil {
		t.Fatalf("Generate(%s): %v", kind, err)
	}
	return g
}

func TestGenerateParseRoundTrip(t *testing.T) {
	for _, kind := range []gateway.KeyKind{gateway.KindInference, gateway.KindManagement} {
		t.Run(string(kind), func(t *testing.T) {
			g := mustGenerate(t, kind)
			if got, want := len(g.Text), keyLength; got != want {
				t.Fatalf("len(key) = %d, want %d", got, want)
			}
			wantPrefix := "aistats_v1_" + string(kind) + "_" + g.Token.KID + "_"
			if !strings.HasPrefix(g.Text, wantPrefix) {
				t.Fatalf("key %q does not start with %q", g.Token, wantPrefix)
			}
			tok, err := Parse(g.Text)
			if err != nil {
				t.Fatalf("Parse(generated key): %v", err)
			}
			if tok != g.Token {
				t.Errorf("Parse gave %v, want %v", tok, g.Token)
			}
			if !Verify(tok, g.Hash) {
				t.Error("Verify(parsed key, its own hash) = false, want true")
			}
			if !IsKID(tok.KID) {
				t.Errorf("IsKID(%q) = false", tok.KID)
			}
		})
	}
}

func TestVerifyRejectsOtherSecret(t *testing.T) {
	a, b := mustGenerate(t, gateway.KindInference), mustGenerate(t, gateway.KindInference)
	tok, err := Parse(a.Text)
	if err != nil {
		t.Fatal(err)
	}
	if Verify(tok, b.Hash) {
		t.Error("Verify(key a, hash of key b) = true, want false")
	}
	if Verify(tok, nil) {
		t.Error("Verify(key, nil hash) = true, want false")
	}
}

func TestParseRejections(t *testing.T) {
	valid := mustGenerate(t, gateway.KindInference).Text
	// withChecksum rebuilds a key's checksum so that only the part under test is wrong.
	withChecksum := func(body string) string { return body + checksum(body) }
	kidAt := len("aistats_v1_sk_")
	cases := []struct {
		name string
		text string
		want Reason
	}{
		{"empty", "", ReasonEmpty},
		{"too short", valid[:len(valid)-1], ReasonLength},
		{"too long", valid + "A", ReasonLength},
		{"huge input", strings.Repeat("a", 1<<20), ReasonLength},
		{"wrong scheme", "bistats" + valid[7:], ReasonScheme},
		{"unknown version", strings.Replace(valid, "_v1_", "_v2_", 1), ReasonVersion},
		{"unknown kind", strings.Replace(valid, "_sk_", "_xk_", 1), ReasonKind},
		{"separator missing after kind", valid[:kidAt-1] + "X" + valid[kidAt:], ReasonSeparator},
		{"separator missing after kid", valid[:kidAt+KIDLength] + "X" + valid[kidAt+KIDLength+1:], ReasonSeparator},
		{"kid with dash", withChecksum(valid[:kidAt] + "-" + valid[kidAt+1:len(valid)-ChecksumLength]), ReasonKIDCharacters},
		{"secret with underscore", withChecksum(valid[:len(valid)-ChecksumLength-1] + "_"), ReasonSecretChars},
		{"non-ASCII secret", valid[:len(valid)-2] + "é", ReasonSecretChars},
		{"one character changed", flipLastRandomChar(valid), ReasonChecksum},
		{"kind swapped keeps checksum of the other", strings.Replace(valid, "_sk_", "_mk_", 1), ReasonChecksum},
		{"checksum changed", valid[:len(valid)-1] + otherBase62(valid[len(valid)-1]), ReasonChecksum},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.text)
			perr, ok := errors.AsType[*ParseError](err)
			if !ok {
				t.Fatalf("Parse error = %v, want *ParseError", err)
			}
			if perr.Reason != tc.want {
				t.Errorf("reason = %s, want %s", perr.Reason, tc.want)
			}
			if tc.text != "" && strings.Contains(err.Error(), tc.text) {
				t.Error("error message repeats the input")
			}
		})
	}
}

func flipLastRandomChar(key string) string {
	i := len(key) - ChecksumLength - 1
	return key[:i] + otherBase62(key[i]) + key[i+1:]
}

func otherBase62(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

func TestTokenNeverPrintsSecret(t *testing.T) {
	g := mustGenerate(t, gateway.KindManagement)
	tok := g.Token
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("parsed", "token", tok)
	printed := []string{
		fmt.Sprint(tok), fmt.Sprintf("%v %+v %#v %s", tok, tok, tok, tok), logged.String(),
		fmt.Sprint(&ParseError{ReasonChecksum}),
	}
	for _, p := range printed {
		if strings.Contains(p, tok.Secret()) || strings.Contains(p, g.Text) {
			t.Errorf("printed form %q contains the secret", p)
		}
	}
	if !strings.Contains(printed[0], tok.KID) {
		t.Errorf("printed form %q lacks the public kid", printed[0])
	}
}

// TestRandomBase62IsUnbiased feeds every byte value equally often: rejection
// sampling must then give every base62 character exactly the same count.
func TestRandomBase62IsUnbiased(t *testing.T) {
	s, err := randomBase62(&everyByte{}, 248*90)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[rune]int{}
	for _, c := range s {
		counts[c]++
	}
	if got, want := len(counts), 62; got != want {
		t.Fatalf("distinct characters = %d, want %d", got, want)
	}
	for c, n := range counts {
		if n != 4*90 {
			t.Errorf("character %q drawn %d times, want %d", c, n, 4*90)
		}
	}
}

func TestGenerateFailsOnBrokenRandomness(t *testing.T) {
	if _, err := Generate(bytes.NewReader(nil), gateway.KindInference); err == nil {
		t.Error("Generate with an empty reader succeeded, want error")
	}
	if _, err := Generate(rand.Reader, gateway.KeyKind("zz")); err == nil {
		t.Error("Generate of unknown kind succeeded, want error")
	}
}

func TestChecksumFitsSixCharacters(t *testing.T) {
	for _, s := range []string{"", "a", strings.Repeat("z", 100)} {
		if got := checksum(s); len(got) != ChecksumLength || !isBase62(got) {
			t.Errorf("checksum(%q) = %q, want 6 base62 characters", s, got)
		}
	}
}

// everyByte yields 0, 1, …, 255 over and over.
type everyByte struct{ next byte }

func (r *everyByte) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.next
		r.next++
	}
	return len(p), nil
}

func TestChecksumBeyond32BitsIsRefused(t *testing.T) {
	valid := mustGenerate(t, gateway.KindInference).Text
	overflowing := valid[:len(valid)-ChecksumLength] + "zzzzzz" // 62^6-1 > 2^32
	_, err := Parse(overflowing)
	if perr, ok := errors.AsType[*ParseError](err); !ok || perr.Reason != ReasonChecksum {
		t.Errorf("Parse(checksum zzzzzz) = %v, want checksum_mismatch", err)
	}
	for _, s := range []string{"000000", "4GFfc3", "zzzzzz"} {
		if v, ok := decodeChecksum(s); ok && checksumOf(v) != s {
			t.Errorf("decodeChecksum(%q) = %d, which encodes back as %q", s, v, checksumOf(v))
		}
	}
}

// checksumOf encodes v as checksum does.
func checksumOf(v uint32) string {
	var out [ChecksumLength]byte
	for i := ChecksumLength - 1; i >= 0; i-- {
		out[i] = base62[v%62]
		v /= 62
	}
	return string(out[:])
}
