package tokenizer

import (
	"bytes"
	"unicode"
	"unicode/utf8"
)

// preTokenizer splits normalized pieces into words. Outputs are views into the inputs or
// into the arena; inputs are never modified.
type preTokenizer interface {
	split(dst []normString, src normString, a *arena) []normString
}

// arena holds text built by pre-tokenizers for one piece.
type arena struct {
	s     []byte
	align []span
}

func (a *arena) reset() { a.s, a.align = a.s[:0], a.align[:0] }

type seqPreTokenizer []preTokenizer

func (q seqPreTokenizer) split(dst []normString, src normString, a *arena) []normString {
	cur := []normString{src}
	for _, p := range q {
		var next []normString
		for _, x := range cur {
			next = p.split(next, x, a)
		}
		cur = next
	}
	return append(dst, cur...)
}

type prependScheme int

const (
	prependAlways prependScheme = iota
	prependFirst
	prependNever
)

// metaspace replaces ' ' by the replacement character, prepends one (per the scheme) and
// splits before every replacement character (HF MergedWithNext).
type metaspace struct {
	repl    []byte // UTF-8 of the replacement character
	scheme  prependScheme
	noSplit bool
}

func (m *metaspace) split(dst []normString, src normString, a *arena) []normString {
	if len(src.s) == 0 {
		return dst
	}
	start := len(a.s)
	prepend := false
	switch m.scheme {
	case prependAlways:
		prepend = true
	case prependFirst:
		prepend = src.base == 0 // the piece starts the input text
	}
	if prepend && (src.s[0] == ' ' || bytes.HasPrefix(src.s, m.repl)) {
		prepend = false // it starts with the replacement once spaces are replaced
	}
	if prepend {
		a.s = append(a.s, m.repl...)
		for range m.repl {
			a.align = append(a.align, src.align[0])
		}
	}
	last := 0
	for i, c := range src.s {
		if c == ' ' {
			a.s = append(a.s, src.s[last:i]...)
			a.align = append(a.align, src.align[last:i]...)
			a.s = append(a.s, m.repl...)
			for range m.repl {
				a.align = append(a.align, src.align[i])
			}
			last = i + 1
		}
	}
	a.s = append(a.s, src.s[last:]...)
	a.align = append(a.align, src.align[last:]...)
	v := normString{s: a.s[start:len(a.s):len(a.s)], align: a.align[start:len(a.align):len(a.align)], base: src.base}
	if m.noSplit {
		return append(dst, v)
	}
	// Split before each replacement character (empty pieces dropped).
	from := 0
	for i := 0; i < len(v.s); {
		j := bytes.Index(v.s[i:], m.repl)
		if j < 0 {
			break
		}
		at := i + j
		if at > from {
			dst = append(dst, normString{s: v.s[from:at], align: v.align[from:at], base: v.base})
			from = at
		}
		i = at + len(m.repl)
	}
	if from < len(v.s) {
		dst = append(dst, normString{s: v.s[from:], align: v.align[from:], base: v.base})
	}
	return dst
}

// whitespaceSplit splits on whitespace, dropping it.
type whitespaceSplit struct{}

func (whitespaceSplit) split(dst []normString, src normString, _ *arena) []normString {
	from := -1
	for i := 0; i < len(src.s); {
		r, sz := utf8.DecodeRune(src.s[i:])
		if unicode.IsSpace(r) {
			if from >= 0 {
				dst = append(dst, normString{s: src.s[from:i], align: src.align[from:i], base: src.base})
				from = -1
			}
		} else if from < 0 {
			from = i
		}
		i += sz
	}
	if from >= 0 {
		dst = append(dst, normString{s: src.s[from:], align: src.align[from:], base: src.base})
	}
	return dst
}
