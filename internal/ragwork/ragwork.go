// Package ragwork generates the "rag" workload of rerank bench and of the tokenization
// benchmark: one query against 50 pseudo-English documents of a fixed mix of token lengths
// (32 to 480), seeded so that a seed always gives the same texts.
package ragwork

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gorerank/gorerank/tokenizer"
)

// Docs is the number of documents of the rag workload; DocLens their token lengths.
const Docs = 50

var DocLens = func() []int {
	var l []int
	for _, g := range []struct{ n, len int }{{5, 32}, {5, 64}, {10, 128}, {10, 192}, {10, 256}, {5, 384}, {5, 480}} {
		for range g.n {
			l = append(l, g.len)
		}
	}
	return l
}()

// Query is the query of the rag workload (about 16 tokens).
const Query = "How much notice must an employee give before leaving the company during probation?"

// Vocabulary is the word list the documents are drawn from (pseudo-English).
var Vocabulary = strings.Fields(`the a of to and in is for on with as by at from that this it be are was
employee employees company policy notice period days weeks month written resignation probation contract
salary leave annual sick holiday manager department human resources office work working hours overtime
payment bonus benefits insurance pension training review performance agreement terms conditions law
labour regulation employer staff team project meeting report data system customer service quality
must should may can will shall not only also before after during within under over between each every
first second third new old full part time year years date start end termination dismissal severance
record email letter form approval request process procedure rule section article chapter clause page
Beijing Shanghai Berlin Paris München Zürich café naïve São Paulo 北京 上海 公司 员工 通知`)

// Documents builds the 50 documents, each grown word by word until it tokenizes to its
// target length (without special tokens), in a fixed shuffled order.
func Documents(tok *tokenizer.Tokenizer, seed uint64) ([]string, error) {
	rng := rand.New(rand.NewPCG(seed, 0x5ea7))
	order := rng.Perm(len(DocLens))
	docs := make([]string, len(DocLens))
	for i, oi := range order {
		target := DocLens[oi]
		var b strings.Builder
		n, words := 0, 0
		for n < target {
			// No word is more than 4 tokens, so adding a quarter of the gap never overshoots
			// by much; tokenizing only after each step keeps this linear, not quadratic.
			for range max(1, (target-n)/4) {
				w := Vocabulary[rng.IntN(len(Vocabulary))]
				if words%12 == 0 && words > 0 {
					b.WriteString(". ")
					r, n := utf8.DecodeRuneInString(w)
					w = string(unicode.ToUpper(r)) + w[n:]
				} else if words > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(w)
				words++
			}
			enc, err := tok.Encode(b.String(), tokenizer.Options{NoSpecial: true})
			if err != nil {
				return nil, err
			}
			n = len(enc.IDs)
		}
		docs[i] = b.String()
	}
	return docs, nil
}

// PairDocuments builds n documents, each of which makes a pair of exactly tokens tokens with
// Query, the pair template's special tokens included: the synthetic B×S shapes of rerank bench
// as text, for engines that take text. Documents are grown from Vocabulary and then topped up
// one single-token word at a time.
func PairDocuments(tok *tokenizer.Tokenizer, seed uint64, n, tokens int) ([]string, error) {
	return exactTexts(seed, n, tokens, "a pair", "the query and the template alone", func(doc string) (int, error) {
		enc, err := tok.EncodePair(Query, doc, tokenizer.Options{})
		if err != nil {
			return 0, err
		}
		return len(enc.IDs), nil
	})
}

// Texts builds n texts of exactly tokens tokens each as a model reads one text alone, the
// single template's special tokens included (<s> text </s>): the inputs of rerank loadtest on
// the embedding routes. Built as PairDocuments builds its documents.
func Texts(tok *tokenizer.Tokenizer, seed uint64, n, tokens int) ([]string, error) {
	return exactTexts(seed, n, tokens, "a text", "the template alone", func(text string) (int, error) {
		enc, err := tok.Encode(text, tokenizer.Options{})
		if err != nil {
			return 0, err
		}
		return len(enc.IDs), nil
	})
}

// exactTexts grows n texts from Vocabulary until length (the model input's tokens of a
// text) is tokens, then tops them up one single-token word at a time. what and empty name
// the input and the length of an empty text in errors.
func exactTexts(seed uint64, n, tokens int, what, emptyIs string, length func(string) (int, error)) ([]string, error) {
	empty, err := length("")
	if err != nil {
		return nil, err
	}
	if tokens <= empty {
		return nil, fmt.Errorf("ragwork: %s needs more than %d tokens (%s)", what, empty, emptyIs)
	}
	rng := rand.New(rand.NewPCG(seed, uint64(n)<<32|uint64(tokens)))
	texts := make([]string, n)
	for i := range texts {
		var b strings.Builder
		l := empty
		for l+4 < tokens { // no word is more than 4 tokens: never overshoots
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(Vocabulary[rng.IntN(len(Vocabulary))])
			if l, err = length(b.String()); err != nil {
				return nil, err
			}
		}
		for l < tokens {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString("a") // "▁a": one token
			next, err := length(b.String())
			if err != nil {
				return nil, err
			}
			if next != l+1 {
				return nil, fmt.Errorf("ragwork: \" a\" is %d tokens with this tokenizer, not 1", next-l)
			}
			l = next
		}
		texts[i] = b.String()
	}
	return texts, nil
}
