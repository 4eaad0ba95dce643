package chunk

import (
	"encoding/json"
	"os"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/gorerank/gorerank/tokenizer"
)

const (
	tokenizerPath = "../../testdata/tokenizer/tokenizer.json"
	corpusPath    = "../../testdata/tokenizer/tokenizer_corpus.json"
)

var (
	xlmrOnce sync.Once
	xlmrTok  *tokenizer.Tokenizer
	xlmrErr  error
)

// xlmr loads the XLM-R tokenizer of testdata once.
func xlmr(tb testing.TB) *tokenizer.Tokenizer {
	tb.Helper()
	xlmrOnce.Do(func() { xlmrTok, xlmrErr = tokenizer.Load(tokenizerPath) })
	if xlmrErr != nil {
		tb.Fatal(xlmrErr)
	}
	return xlmrTok
}

// corpus returns the golden corpus texts: the singles and every pair's query and document
// (many languages and scripts).
func corpus(tb testing.TB) []string {
	tb.Helper()
	b, err := os.ReadFile(corpusPath)
	if err != nil {
		tb.Fatal(err)
	}
	var c struct {
		Singles []string    `json:"singles"`
		Pairs   [][2]string `json:"pairs"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		tb.Fatal(err)
	}
	texts := append([]string(nil), c.Singles...)
	for _, p := range c.Pairs {
		texts = append(texts, p[0], p[1])
	}
	return texts
}

// tokensAlone counts the tokens of s alone with Encode (the oracle for AppendIDs' count).
func tokensAlone(tb testing.TB, tok *tokenizer.Tokenizer, s string) int {
	tb.Helper()
	e, err := tok.Encode(s, tokenizer.Options{NoSpecial: true})
	if err != nil {
		tb.Fatal(err)
	}
	return len(e.IDs)
}

// check reports every broken guarantee of Split's result cs for text and o.
func check(tb testing.TB, tok *tokenizer.Tokenizer, text string, o Options, cs []Chunk) {
	tb.Helper()
	checkSpans(tb, tok, text, o, cs, true)
}

// checkSpans is check; without recount it does not tokenize the chunks again (Tokens is
// taken as counted).
func checkSpans(tb testing.TB, tok *tokenizer.Tokenizer, text string, o Options, cs []Chunk, recount bool) {
	tb.Helper()
	fail := func(format string, args ...any) {
		tb.Helper()
		tb.Fatalf("%q (%d bytes) %+v: "+format, append([]any{clip(text), len(text), o}, args...)...)
	}
	prev := Chunk{}
	covered := 0 // text[:covered] is covered or white space
	for i, c := range cs {
		if c.Start < 0 || c.End > len(text) || c.Start >= c.End {
			fail("chunk %d %+v: bad span", i, c)
		}
		if !utf8.RuneStart(text[c.Start]) || c.End < len(text) && !utf8.RuneStart(text[c.End]) {
			fail("chunk %d %+v: not on rune boundaries", i, c)
		}
		s := text[c.Start:c.End]
		if isSpaceAt(s, 0) || isSpaceBefore(s, len(s)) {
			fail("chunk %d %+v %q: starts or ends with white space", i, c, clip(s))
		}
		if c.Tokens > o.MaxTokens {
			fail("chunk %d %+v: %d tokens > MaxTokens", i, c, c.Tokens)
		}
		if recount && len(s) <= 64<<10 { // AppendIDs counts as Encode does below 64 KB
			if n := tokensAlone(tb, tok, s); n != c.Tokens {
				fail("chunk %d %+v %q: alone %d tokens, Tokens %d", i, c, clip(s), n, c.Tokens)
			}
		}
		if i > 0 {
			if c.Start <= prev.Start || c.End <= prev.End {
				fail("chunk %d %+v after %+v: not in order", i, c, prev)
			}
			if c.Start < prev.End {
				if o.Overlap == 0 {
					fail("chunk %d %+v overlaps %+v with Overlap 0", i, c, prev)
				}
				if recount {
					if n := tokensAlone(tb, tok, text[c.Start:prev.End]); n > o.Overlap {
						fail("chunk %d %+v repeats %d tokens of %+v, Overlap %d", i, c, n, prev, o.Overlap)
					}
				}
			}
		}
		if c.Start > covered && skipSpace(text, covered) < c.Start {
			fail("chunk %d %+v: text[%d:%d] %q is in no chunk", i, c, covered, c.Start, clip(text[covered:c.Start]))
		}
		covered = max(covered, c.End)
		prev = c
	}
	if skipSpace(text, covered) < len(text) {
		fail("text[%d:] %q is in no chunk", covered, clip(text[covered:]))
	}
}

// clip shortens s for messages.
func clip(s string) string {
	if len(s) <= 200 {
		return s
	}
	i := 100
	for !utf8.RuneStart(s[i]) {
		i--
	}
	j := len(s) - 100
	for !utf8.RuneStart(s[j]) {
		j++
	}
	return s[:i] + "…" + s[j:]
}
