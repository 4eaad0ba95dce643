package tokenizer

import (
	"strings"
	"unicode"
)

// addedToken is an entry of "added_tokens".
type addedToken struct {
	id                                              int32
	content                                         string // matched text (normalized form if normalized)
	literal                                         string // content as written in the file
	singleWord, lstrip, rstrip, normalized, special bool
}

// matcher finds added tokens in a text: leftmost match, longest at that position, then
// continuing after its end (aho-corasick LeftmostLongest as HF uses), honouring
// single_word, lstrip and rstrip.
type matcher struct {
	toks  []*addedToken
	first [256]bool
}

func newMatcher(toks []*addedToken) *matcher {
	m := &matcher{}
	for _, t := range toks {
		if t.content == "" {
			continue
		}
		m.toks = append(m.toks, t)
		m.first[t.content[0]] = true
	}
	return m
}

// segment is a piece of the text: an added token (tok != nil) or plain text.
type segment struct {
	tok  *addedToken
	s, e int
}

// split appends the segments of s to dst. An empty text gives one empty text segment.
func (m *matcher) split(dst []segment, s string) []segment {
	if m == nil || len(m.toks) == 0 || s == "" {
		return append(dst, segment{s: 0, e: len(s)})
	}
	startOffset := 0
	for pos := 0; pos < len(s); {
		// Next raw match.
		var best *addedToken
		at := pos
		for ; at < len(s); at++ {
			if !m.first[s[at]] {
				continue
			}
			for _, t := range m.toks {
				if strings.HasPrefix(s[at:], t.content) && (best == nil || len(t.content) > len(best.content)) {
					best = t
				}
			}
			if best != nil {
				break
			}
		}
		if best == nil {
			break
		}
		start, stop := at, at+len(best.content)
		pos = stop
		if best.singleWord {
			startSpace := start == 0 || !endsWithWord(s[:start])
			stopSpace := stop == len(s) || !startsWithWord(s[stop:])
			if !startSpace || !stopSpace {
				continue
			}
		}
		if best.lstrip {
			ns := len(strings.TrimRightFunc(s[:start], unicode.IsSpace))
			start = max(ns, startOffset)
		}
		if best.rstrip {
			stop += len(s[stop:]) - len(strings.TrimLeftFunc(s[stop:], unicode.IsSpace))
		}
		if start > startOffset {
			dst = append(dst, segment{s: startOffset, e: start})
		}
		dst = append(dst, segment{tok: best, s: start, e: stop})
		startOffset = stop
	}
	if startOffset != len(s) {
		dst = append(dst, segment{s: startOffset, e: len(s)})
	}
	return dst
}

// isWordChar is regex \w in Unicode mode: letters, marks, decimal digits, connector
// punctuation, and the joiners.
func isWordChar(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsMark(r) || unicode.Is(unicode.Nd, r) ||
		unicode.Is(unicode.Pc, r) || r == '\u200c' || r == '\u200d'
}

func endsWithWord(s string) bool {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] < 0x80 || s[i] >= 0xC0 {
			r := []rune(s[i:])
			return len(r) > 0 && isWordChar(r[0])
		}
	}
	return false
}

func startsWithWord(s string) bool {
	for _, r := range s {
		return isWordChar(r)
	}
	return false
}
