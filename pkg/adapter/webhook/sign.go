package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader carries a delivery's signature.
const SignatureHeader = "Webhook-Signature"

// SecretPrefix starts every webhook secret, so that one found in a log or
// a repository is recognisable.
const SecretPrefix = "whsec_"

// NewSecret returns a fresh signing secret: SecretPrefix and 52 base32
// characters (260 random bits). rnd nil means crypto/rand.
func NewSecret(rnd io.Reader) (string, error) {
	if rnd == nil {
		return SecretPrefix + rand.Text() + rand.Text(), nil
	}
	buf := make([]byte, 32)
	if _, err := io.ReadFull(rnd, buf); err != nil {
		return "", err
	}
	return SecretPrefix + strings.ToLower(hex.EncodeToString(buf)), nil
}

// Sign returns the Webhook-Signature value of body sent at t:
// "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>". Signing
// the time too lets a receiver refuse a replayed delivery.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, body)
}

func mac(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Verify checks a Webhook-Signature header as a receiver should: a v1
// signature matches (in constant time) and its time is within tolerance
// of now. It is the README's verification snippet, and what the tests'
// receivers run.
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return errors.New("webhook signature: want t=<seconds>,v1=<hex>")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return errors.New("webhook signature: timestamp outside the tolerance")
	}
	want := mac(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return errors.New("webhook signature: no v1 signature matches")
}
