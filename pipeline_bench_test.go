package gorerank

import (
	"context"
	"testing"

	"github.com/gorerank/gorerank/internal/ragwork"
	"github.com/gorerank/gorerank/tokenizer"
)

// BenchmarkTokenizeRAG measures the tokenization of one rag request (1 query × 50
// documents of 32 to 480 tokens, longest_first at 512), the way it was done before the
// pipeline (EncodePair per document: the query tokenized again for each document, a full
// Encoding with tokens and offsets) and the way the pipeline does it (query once, each
// document once, ids only, truncation on ids). Run:
//
//	go test -run '^$' -bench TokenizeRAG -benchmem -count 10 . | tee tok.txt; benchstat tok.txt
func BenchmarkTokenizeRAG(b *testing.B) {
	tok, err := tokenizer.Load(tokenizerPath)
	if err != nil {
		b.Fatal(err)
	}
	docs, err := ragwork.Documents(tok, 1)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("encodepair", func(b *testing.B) {
		o := tokenizer.Options{MaxLength: DefaultMaxLength, Strategy: tokenizer.LongestFirst}
		b.ReportAllocs()
		for b.Loop() {
			for _, d := range docs {
				if _, err := tok.EncodePair(ragwork.Query, d, o); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("pipeline", func(b *testing.B) {
		tmpl, err := templateOf(tok)
		if err != nil {
			b.Fatal(err)
		}
		p := NewPipeline(tok, tmpl, 8192)
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.prepare(ctx, ragwork.Query, docs, ScoreOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
