package chunk

import (
	"testing"
	"unicode/utf8"

	"github.com/gorerank/gorerank/tokenizer"
)

// splitNaive is the reference for Split: the same boundaries and the same rules of choice,
// but every candidate is counted alone (Encode) instead of estimated from the in-context
// tokenization, and every rune boundary stands in for the token boundaries. It is quadratic
// and tokenizes the whole text many times over: small texts only.
func splitNaive(tb testing.TB, tok *tokenizer.Tokenizer, text string, o Options) ([]Chunk, error) {
	tb.Helper()
	if err := o.validate(); err != nil {
		return nil, err
	}
	sc := scanner{text: text}
	bs := sc.scanTo(nil, len(text)+1)
	alone := func(s, e int) int { return tokensAlone(tb, tok, text[s:e]) }
	var out []Chunk
	s, prevEnd, end := skipSpace(text, 0), 0, trimEnd(text, 0, len(text))
	for s < end {
		lo := max(s, prevEnd)
		estLo := 0
		if lo > s {
			estLo = alone(s, lo)
		}
		fill := estLo + max(o.MaxTokens-estLo, 0)/4
		best, bestLv, any, anyLv := -1, int8(-1), -1, int8(-1)
		for _, b := range bs {
			if b.cut <= lo {
				continue
			}
			n := alone(s, b.cut)
			if n > o.MaxTokens+8 {
				break
			}
			if n > o.MaxTokens {
				continue
			}
			if b.level >= anyLv {
				any, anyLv = b.cut, b.level
			}
			if n >= fill && b.level >= bestLv {
				best, bestLv = b.cut, b.level
			}
		}
		rc, rcN := -1, 0 // the last rune boundary that fits
		for i := skipSpace(text, lo); i < len(text); {
			_, sz := utf8.DecodeRuneInString(text[i:])
			i += sz
			if isSpaceBefore(text, i) {
				continue
			}
			n := alone(s, i)
			if n > o.MaxTokens+8 {
				break
			}
			if n <= o.MaxTokens {
				rc, rcN = i, n
			}
		}
		e, lv := best, bestLv
		switch {
		case e > lo:
		case rc > lo && rcN >= fill:
			e, lv = rc, lvToken
		case any > lo:
			e, lv = any, anyLv
		case rc > lo:
			e, lv = rc, lvToken
		default:
			if lo > s { // no overlap
				s = skipSpace(text, prevEnd)
				continue
			}
			_, sz := utf8.DecodeRuneInString(text[s:])
			return out, &UnsplittableError{Start: s, End: s + sz, Tokens: alone(s, s+sz), MaxTokens: o.MaxTokens}
		}
		out = append(out, Chunk{Start: s, End: e, Tokens: alone(s, e)})
		prevEnd = e
		if e >= end {
			break
		}
		s = skipSpace(text, e)
		if o.Overlap == 0 {
			continue
		}
		// the overlap: the best start inside [s, e) whose text to e fits in Overlap
		c := out[len(out)-1]
		ofill := o.Overlap / 4
		best, bestLv, any, anyLv = -1, -1, -1, -1
		consider := func(p int, lv int8) {
			n := alone(p, c.End)
			if n < 1 || n > o.Overlap {
				return
			}
			if lv > anyLv || lv == anyLv && p < any {
				any, anyLv = p, lv
			}
			if n >= ofill && (lv > bestLv || lv == bestLv && p < best) {
				best, bestLv = p, lv
			}
		}
		for _, b := range bs {
			if b.cut > c.Start && b.next > c.Start && b.next < c.End {
				consider(b.next, b.level)
			}
		}
		if lv == lvToken {
			for i := c.Start; i < c.End; {
				_, sz := utf8.DecodeRuneInString(text[i:])
				if i += sz; i < c.End && !isSpaceAt(text, i) {
					consider(i, lvToken)
				}
			}
		}
		if best >= 0 {
			s = best
		} else if any >= 0 {
			s = any
		}
	}
	return out, nil
}
