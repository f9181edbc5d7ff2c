package keyformat

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"strings"

	"github.com/aistats/edge/pkg/domain/gateway"
)

// Lengths of the parts of a key.
const (
	KIDLength      = 12
	RandomLength   = 40
	ChecksumLength = 6
	SecretLength   = RandomLength + ChecksumLength

	scheme  = "aistats"
	version = "v1"
	// keyLength is the exact length of a key: "aistats_v1_sk_" + kid + "_" + secret.
	keyLength = len(scheme) + 1 + len(version) + 1 + 2 + 1 + KIDLength + 1 + SecretLength
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Reason says why a key text was rejected. Every reason is answered as
// invalid_key_format; the reason itself is for logs and tests.
type Reason string

// Rejection reasons, one per way a key text can be malformed.
const (
	ReasonEmpty         Reason = "empty"
	ReasonLength        Reason = "wrong_length"
	ReasonScheme        Reason = "wrong_scheme"
	ReasonVersion       Reason = "unknown_version"
	ReasonKind          Reason = "unknown_kind"
	ReasonSeparator     Reason = "bad_separator"
	ReasonKIDCharacters Reason = "kid_not_base62"
	ReasonSecretChars   Reason = "secret_not_base62"
	ReasonChecksum      Reason = "checksum_mismatch"
)

// ParseError is returned by Parse. It never contains the input.
type ParseError struct {
	Reason Reason
}

func (e *ParseError) Error() string { return "malformed key: " + string(e.Reason) }

// Token is a parsed key. Its String form and log value hide the secret.
type Token struct {
	Kind   gateway.KeyKind
	KID    string
	secret string
}

// Secret returns the secret part of the key, for hashing and verification
// only. Never log it.
func (t Token) Secret() string { return t.secret }

// Prefix returns the public display form, "aistats_v1_<kind>_<kid>".
func (t Token) Prefix() string { return Prefix(t.Kind, t.KID) }

// String hides the secret so that a Token printed by mistake leaks nothing.
func (t Token) String() string { return t.Prefix() + "_…" }

// GoString hides the secret from %#v as well.
func (t Token) GoString() string { return "keyformat.Token{" + t.String() + "}" }

// LogValue hides the secret from slog.
func (t Token) LogValue() slog.Value { return slog.StringValue(t.String()) }

// Prefix returns the display form of a key of kind and kid.
func Prefix(kind gateway.KeyKind, kid string) string {
	return scheme + "_" + version + "_" + string(kind) + "_" + kid
}

// Generated is a freshly made key: Text is shown to its owner once, Hash is
// what gets stored.
type Generated struct {
	Token Token
	// Text is the full key. It is returned to the client once and never
	// stored or logged.
	Text string
	Hash []byte
}

// Generate makes a new key of kind with randomness from r (crypto/rand.Reader
// in production; injected so tests are deterministic).
func Generate(r io.Reader, kind gateway.KeyKind) (Generated, error) {
	if kind != gateway.KindInference && kind != gateway.KindManagement {
		return Generated{}, fmt.Errorf("generate key: unknown kind %q", kind)
	}
	kid, err := randomBase62(r, KIDLength)
	if err != nil {
		return Generated{}, fmt.Errorf("generate kid: %w", err)
	}
	random, err := randomBase62(r, RandomLength)
	if err != nil {
		return Generated{}, fmt.Errorf("generate secret: %w", err)
	}
	body := Prefix(kind, kid) + "_" + random
	secret := random + checksum(body)
	return Generated{
		Token: Token{Kind: kind, KID: kid, secret: secret},
		Text:  body + checksum(body),
		Hash:  Hash(secret),
	}, nil
}

// WithChecksum appends the checksum to a key body ("aistats_v1_<kind>_<kid>_"
// followed by the random part). Tests use it to build well-formed keys that
// the store must refuse.
func WithChecksum(body string) string { return body + checksum(body) }

// randomBase62 draws n characters uniformly: bytes of 248 or more are
// rejected, so that byte%62 has no bias (248 = 4×62).
func randomBase62(r io.Reader, n int) (string, error) {
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/4+8)
	for len(out) < n {
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		for _, b := range buf {
			if b >= 248 {
				continue
			}
			out = append(out, base62[b%62])
			if len(out) == n {
				break
			}
		}
	}
	return string(out), nil
}

// checksum is the CRC32 (IEEE) of s in base62, left-padded to ChecksumLength.
// 62^6 > 2^32, so every CRC fits.
func checksum(s string) string {
	var out [ChecksumLength]byte
	v := crc32.ChecksumIEEE([]byte(s))
	for i := ChecksumLength - 1; i >= 0; i-- {
		out[i] = base62[v%62]
		v /= 62
	}
	return string(out[:])
}

// Parse checks the text of a key strictly. It rejects anything that is not
// exactly a well-formed key with a valid checksum, without a database call,
// and its errors never repeat the input.
func Parse(text string) (Token, error) {
	if text == "" {
		return Token{}, &ParseError{ReasonEmpty}
	}
	if len(text) != keyLength {
		return Token{}, &ParseError{ReasonLength}
	}
	// Fixed positions: "aistats" "_" "v1" "_" kind "_" kid "_" secret.
	rest := text
	if !strings.HasPrefix(rest, scheme+"_") {
		return Token{}, &ParseError{ReasonScheme}
	}
	rest = rest[len(scheme)+1:]
	if !strings.HasPrefix(rest, version+"_") {
		return Token{}, &ParseError{ReasonVersion}
	}
	rest = rest[len(version)+1:]
	kind := gateway.KeyKind(rest[:2])
	if kind != gateway.KindInference && kind != gateway.KindManagement {
		return Token{}, &ParseError{ReasonKind}
	}
	if rest[2] != '_' || rest[3+KIDLength] != '_' {
		return Token{}, &ParseError{ReasonSeparator}
	}
	kid := rest[3 : 3+KIDLength]
	secret := rest[4+KIDLength:]
	if !isBase62(kid) {
		return Token{}, &ParseError{ReasonKIDCharacters}
	}
	if !isBase62(secret) {
		return Token{}, &ParseError{ReasonSecretChars}
	}
	// The checksum is public (it is part of every leaked key), so a plain
	// comparison reveals nothing; compare numbers to avoid allocating.
	body := text[:len(text)-ChecksumLength]
	if sum, ok := decodeChecksum(text[len(body):]); !ok || crc32.ChecksumIEEE([]byte(body)) != sum {
		return Token{}, &ParseError{ReasonChecksum}
	}
	return Token{Kind: kind, KID: kid, secret: secret}, nil
}

// decodeChecksum reads a base62 checksum (already checked to be base62);
// a value past 32 bits is no CRC32 and is refused.
func decodeChecksum(s string) (uint32, bool) {
	var v uint64
	for i := 0; i < len(s); i++ {
		v = v*62 + uint64(strings.IndexByte(base62, s[i]))
	}
	return uint32(v), v <= 1<<32-1
}

func isBase62(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

// IsKID reports whether s has the form of a kid, so that a path parameter can
// be refused before it reaches the database.
func IsKID(s string) bool { return len(s) == KIDLength && isBase62(s) }

// Hash returns the SHA-256 digest of a secret: the only form that is stored.
func Hash(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// Verify reports whether t's secret matches the stored digest, in constant
// time so that timing reveals nothing about the digest.
func Verify(t Token, storedHash []byte) bool {
	sum := sha256.Sum256([]byte(t.secret))
	return subtle.ConstantTimeCompare(sum[:], storedHash) == 1
}
