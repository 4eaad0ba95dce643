package chunk

import (
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/gorerank/gorerank/tokenizer"
)

// blockBytes is the size of the pieces the text is tokenized in for the estimates (a
// variable for tests).
var blockBytes = 32 << 10

// tokEnd is a token of the in-context tokenization: the byte where it ends, and where a
// chunk may be cut after it: at end or, past combining marks that no token covers, a little
// after; -1 where the next token starts before that (the tokens overlap: "▁" and "中" both
// cover 中).
type tokEnd struct {
	end, cut int
}

// window is the in-context tokenization of the text around the current chunk: the tokens
// of text[:pos] whose end is past the current chunk start, ends ascending. It is filled a
// block at a time and forgets the tokens before the chunk start, so it holds O(MaxTokens +
// one block) tokens whatever the text's length.
type window struct {
	tok  *tokenizer.Tokenizer
	text string
	toks []tokEnd
	base int // toks[:base] end at or before the current chunk start
	pos  int // text[:pos] has been tokenized
	st   *stats
}

// from forgets the tokens that end at or before s and returns those that end after it.
func (w *window) from(s int) []tokEnd {
	t := w.toks
	for w.base < len(t) && t[w.base].end <= s {
		w.base++
	}
	if w.base > 4096 && w.base > len(t)/2 {
		n := copy(t, t[w.base:])
		w.toks, w.base = t[:n], 0
	}
	return w.toks[w.base:]
}

// need tokenizes blocks until n tokens end after s, the text is all tokenized, or the window
// reaches s+maxSpan bytes. It returns the tokens that end after s.
func (w *window) need(s, n, maxSpan int) ([]tokEnd, error) {
	for {
		t := w.from(s)
		if len(t) >= n || w.pos >= len(w.text) || w.pos-s >= maxSpan {
			return t, nil
		}
		if err := w.extend(); err != nil {
			return nil, err
		}
	}
}

// extend tokenizes the next block of the text.
func (w *window) extend() error {
	a := w.pos
	b := blockEnd(w.text, a, blockBytes)
	enc, err := w.tok.Encode(w.text[a:b], tokenizer.Options{NoSpecial: true})
	if err != nil {
		return fmt.Errorf("chunk: tokenizing text[%d:%d]: %w", a, b, err)
	}
	last := a
	if k := len(w.toks); k > 0 {
		last = max(last, w.toks[k-1].end)
	}
	off := enc.ByteOffsets
	for k, o := range off {
		end := max(a+o[1], last) // offsets are mostly ascending; keep them so
		next := b                // where the next token starts
		if k+1 < len(off) {
			next = a + off[k+1][0]
		}
		cut := end
		for cut < next && !graphemeCut(w.text, cut) {
			_, sz := utf8.DecodeRuneInString(w.text[cut:])
			cut += sz
		}
		if cut > next || cut <= a || !graphemeCut(w.text, cut) {
			cut = -1
		}
		w.toks = append(w.toks, tokEnd{end: end, cut: cut})
		last = end
	}
	w.pos = b
	if w.st != nil {
		w.st.encoded += b - a
		if w.st.onBlock != nil {
			w.st.onBlock()
		}
	}
	return nil
}

// graphemeCut reports whether t may be cut at i between two tokens: at a rune start and not
// inside a grapheme cluster as far as a cheap check sees (not before a combining mark or an
// emoji modifier, not after a zero-width joiner). Alignments can put a token end there: with
// an e and U+0301 normalized to é, the token covers the e only.
func graphemeCut(t string, i int) bool {
	if i <= 0 || i >= len(t) {
		return true
	}
	if !utf8.RuneStart(t[i]) {
		return false
	}
	if t[i] < utf8.RuneSelf && t[i-1] < utf8.RuneSelf {
		return true
	}
	r, _ := utf8.DecodeRuneInString(t[i:])
	if unicode.Is(unicode.M, r) || r >= 0x1F3FB && r <= 0x1F3FF {
		return false
	}
	p, _ := utf8.DecodeLastRuneInString(t[:i])
	return p != '\u200d'
}

// blockEnd is where the block of text starting at a ends: after the white-space run nearest
// before a+size (looking back at most half a block), so that the next block starts a word
// as it does in the whole text, else at a rune start.
func blockEnd(t string, a, size int) int {
	e := a + size
	if e >= len(t) {
		return len(t)
	}
	for i := e; i > a+size/2; {
		if isSpaceBefore(t, i) {
			return skipSpace(t, i)
		}
		_, sz := utf8.DecodeLastRuneInString(t[:i])
		i -= sz
	}
	for e > a && !utf8.RuneStart(t[e]) {
		e--
	}
	if e == a { // a block smaller than a rune (tests)
		_, sz := utf8.DecodeRuneInString(t[a:])
		e = a + sz
	}
	return e
}

// count returns the number of tokens of tokens ending at or before p (tokens ascending).
func count(toks []tokEnd, p int) int {
	lo, hi := 0, len(toks)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if toks[m].end <= p {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}
