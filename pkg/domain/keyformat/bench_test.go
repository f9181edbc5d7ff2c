package keyformat

import (
	"crypto/rand"
	"testing"

	"github.com/aistats/edge/pkg/domain/gateway"
)

func BenchmarkParse(b *testing.B) {
	g, err := Generate(rand.Reader, gateway.KindInference)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(g.Text); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	g, err := Generate(rand.Reader, gateway.KindInference)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !Verify(g.Token, g.Hash) {
			b.Fatal("mismatch")
		}
	}
}

func BenchmarkGenerate(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Generate(rand.Reader, gateway.KindInference); err != nil {
			b.Fatal(err)
		}
	}
}
