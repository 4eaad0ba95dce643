package chunk

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Boundary levels, best last: a chunk ends at the last boundary of the best level that fits.
// Level lvToken is a cut between two tokens of the in-context tokenization (only used where
// nothing better fits: a long word, Chinese text without punctuation); it has no bound entry.
const (
	lvToken    = 0 // between two tokens
	lvSpace    = 1 // a run of white space without a line break
	lvClause   = 2 // after , ; : (before white space) or ，、：(no space needed)
	lvSentence = 3 // after . ! ? … (before white space) or 。！？；। ؟ ۔ (no space needed)
	lvLine     = 4 // a run of white space with one line break
	lvPara     = 5 // a blank line (two line breaks or more), or a line break before a # heading
	lvEnd      = 6 // the end of the text (its trailing white space excluded)
)

// bound is a place where a chunk may end and the next one start: the chunk before it ends at
// cut (its text has no trailing white space), the chunk after it starts at next (the end of
// the white-space run at cut, or cut itself when the boundary is not white space).
type bound struct {
	cut, next int
	level     int8
}

// scanner finds the boundaries of text incrementally, left to right, each byte once.
type scanner struct {
	text string
	pos  int  // text[:pos] has been scanned
	done bool // the lvEnd bound has been emitted
}

// scanTo appends to dst the bounds whose cut lies in [s.pos, x) (and maybe a few past x: a
// white-space run is scanned whole) and returns it. A run at the very start of the text
// (leading white space) is not a boundary.
func (s *scanner) scanTo(dst []bound, x int) []bound {
	t := s.text
	n := len(t)
	i := s.pos
	for i < x && i < n {
		c := t[i]
		if c < utf8.RuneSelf {
			if asciiSpace[c] {
				var b bound
				b, i = s.run(i)
				if b.level > 0 {
					dst = append(dst, b)
				}
				continue
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(t[i:])
		switch {
		case unicode.IsSpace(r):
			var b bound
			b, i = s.run(i)
			if b.level > 0 {
				dst = append(dst, b)
			}
			continue
		case tightLevel(r) > 0:
			// a run of punctuation and closers after a CJK (or Devanagari, Arabic) stop:
			// a boundary after the run, unless white space follows (the run handles that)
			lv := int8(0)
			j := i
			for j < n {
				r2, sz := utf8.DecodeRuneInString(t[j:])
				if l := tightLevel(r2); l > 0 {
					lv = max(lv, l)
				} else if !isCloser(r2) && looseLevel(r2) == 0 {
					break
				}
				j += sz
			}
			if j < n && lv > 0 {
				if r2, _ := utf8.DecodeRuneInString(t[j:]); !unicode.IsSpace(r2) {
					dst = append(dst, bound{cut: j, next: j, level: lv})
				}
			}
			i = j
			continue
		}
		i += size
	}
	if i >= n {
		i = n
		if !s.done {
			s.done = true
			if n > 0 && !isSpaceBefore(t, n) { // else the trailing run emitted lvEnd
				dst = append(dst, bound{cut: n, next: n, level: lvEnd})
			}
		}
	}
	s.pos = i
	return dst
}

// run scans the white-space run starting at i and returns its bound (level 0: none) and
// the end of the run.
func (s *scanner) run(i int) (bound, int) {
	t := s.text
	n := len(t)
	nl := 0
	j := i
	for j < n {
		c := t[j]
		if c < utf8.RuneSelf {
			if !asciiSpace[c] {
				break
			}
			switch c {
			case '\n':
				nl++
			case '\r':
				if j+1 >= n || t[j+1] != '\n' { // \r\n is one line break
					nl++
				}
			case '\f', '\v':
				nl += 2 // a page break
			}
			j++
			continue
		}
		r, sz := utf8.DecodeRuneInString(t[j:])
		if !unicode.IsSpace(r) {
			break
		}
		switch r {
		case '\u0085', '\u2028':
			nl++
		case '\u2029':
			nl += 2
		}
		j += sz
	}
	if i == 0 {
		return bound{}, j // leading white space
	}
	if j == n {
		s.done = true
		return bound{cut: i, next: n, level: lvEnd}, j
	}
	lv := int8(lvSpace)
	switch {
	case nl >= 2 || nl == 1 && t[j] == '#':
		lv = lvPara
	case nl == 1:
		lv = lvLine
	}
	if lv < lvSentence {
		lv = max(lv, punctBefore(t, i))
	}
	if nl > 0 && heading(t, i) {
		lv = lvSpace // a heading goes with what follows it
	}
	return bound{cut: i, next: j, level: lv}, j
}

// headingAt reports whether the white space t[i:j] holds a line break and t[j:] starts with a
// Markdown ATX heading.
func headingAt(t string, i, j int) bool {
	if j >= len(t) || t[j] != '#' || !strings.ContainsAny(t[i:j], "\n\r") {
		return false
	}
	e := strings.IndexByte(t[j:], '\n')
	if e < 0 {
		e = len(t) - j
	}
	return heading(t, j+e)
}

// heading reports whether the line that ends at t[:i] is a Markdown ATX heading ("## Title").
func heading(t string, i int) bool {
	ls := i
	for ls > 0 && i-ls < 256 && t[ls-1] != '\n' {
		ls--
	}
	if ls > 0 && t[ls-1] != '\n' {
		return false // a long line, not a heading
	}
	for k := 0; k < 3 && ls < i && t[ls] == ' '; k++ {
		ls++
	}
	h := ls
	for h < i && t[h] == '#' {
		h++
	}
	return h > ls && h-ls <= 6 && (h == i || t[h] == ' ' || t[h] == '\t')
}

// punctBefore is the level of the punctuation that ends text[:i] (closing quotes and
// brackets skipped): lvSentence, lvClause or 0. A list number at the start of a line
// ("12. ") is not a sentence end.
func punctBefore(t string, i int) int8 {
	j := i
	for j > 0 {
		r, sz := utf8.DecodeLastRuneInString(t[:j])
		if !isCloser(r) {
			break
		}
		j -= sz
	}
	if j == 0 {
		return 0
	}
	r, sz := utf8.DecodeLastRuneInString(t[:j])
	lv := max(looseLevel(r), tightLevel(r))
	if lv == lvSentence && r == '.' && listNumber(t, j-sz) {
		return 0
	}
	return lv
}

// listNumber reports whether the '.' at t[i] ends one to three digits that start a line
// (or the text), as in a numbered list.
func listNumber(t string, i int) bool {
	k := i
	for k > 0 && i-k < 3 && t[k-1] >= '0' && t[k-1] <= '9' {
		k--
	}
	if k == i {
		return false
	}
	for k > 0 && (t[k-1] == ' ' || t[k-1] == '\t') {
		k--
	}
	return k == 0 || t[k-1] == '\n' || t[k-1] == '\r'
}

// looseLevel is the level of punctuation that ends a sentence or clause only when white
// space follows it (3.14, e.g., a,b are not boundaries).
func looseLevel(r rune) int8 {
	switch r {
	case '.', '!', '?', '…', '‼', '⁇', '⁈', '⁉':
		return lvSentence
	case ',', ';', ':', '،', '؛':
		return lvClause
	}
	return 0
}

// tightLevel is the level of punctuation that ends a sentence or clause whether or not
// white space follows: CJK and Japanese stops and commas (fullwidth ；ends a sentence in
// Chinese legal text), Devanagari danda, Arabic question mark, Urdu full stop, Armenian
// and Ethiopic full stops, Myanmar section mark.
func tightLevel(r rune) int8 {
	switch r {
	case '。', '！', '？', '；', '｡', '．', '।', '॥', '؟', '۔', '։', '።', '။':
		return lvSentence
	case '，', '、', '：', '､':
		return lvClause
	}
	return 0
}

// isCloser reports closing quotes, brackets and emphasis marks that may follow a stop.
func isCloser(r rune) bool {
	switch r {
	case '"', '\'', ')', ']', '}', '*', '_', '`',
		'»', '›', '”', '’', '」', '』', '）', '】', '〕', '〉', '》', '〗', '］', '｝', '＂', '＇':
		return true
	}
	return false
}

// asciiSpace is unicode.IsSpace for ASCII bytes.
var asciiSpace = [utf8.RuneSelf]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, ' ': true}

// isSpaceBefore reports whether the rune ending at t[:i] is white space (false at i == 0).
func isSpaceBefore(t string, i int) bool {
	if i == 0 {
		return false
	}
	if c := t[i-1]; c < utf8.RuneSelf {
		return asciiSpace[c]
	}
	r, _ := utf8.DecodeLastRuneInString(t[:i])
	return unicode.IsSpace(r)
}

// skipSpace returns the end of the white-space run starting at i (i itself if none).
func skipSpace(t string, i int) int {
	for i < len(t) {
		if c := t[i]; c < utf8.RuneSelf {
			if !asciiSpace[c] {
				return i
			}
			i++
			continue
		}
		r, sz := utf8.DecodeRuneInString(t[i:])
		if !unicode.IsSpace(r) {
			return i
		}
		i += sz
	}
	return i
}

// trimEnd returns the start of the white-space run that ends at e (e itself if none), not
// below lo.
func trimEnd(t string, lo, e int) int {
	for e > lo && isSpaceBefore(t, e) {
		_, sz := utf8.DecodeLastRuneInString(t[:e])
		e -= sz
	}
	return e
}
