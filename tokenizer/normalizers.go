package tokenizer

import (
	"bytes"
	"regexp"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// normalizer rewrites a normString in place, keeping alignments (t is scratch).
type normalizer interface {
	normalize(n *normString, t *transformer)
}

type seqNormalizer []normalizer

func (q seqNormalizer) normalize(n *normString, t *transformer) {
	for _, x := range q {
		x.normalize(n, t)
	}
}

// precompiled is HF's Precompiled normalizer (SentencePiece charsmap).
type precompiled struct{ m *charsmap }

func (p precompiled) normalize(n *normString, t *transformer) { p.m.normalize(n, t) }

// strip removes leading and/or trailing whitespace (Unicode White_Space, as Rust's
// char::is_whitespace). The remaining characters keep their alignments.
type strip struct{ left, right bool }

func (p strip) normalize(n *normString, _ *transformer) {
	s := n.s
	lo, hi := 0, len(s)
	if p.left {
		for lo < hi {
			r, sz := utf8.DecodeRune(s[lo:])
			if !unicode.IsSpace(r) {
				break
			}
			lo += sz
		}
	}
	if p.right {
		for hi > lo {
			r, sz := utf8.DecodeLastRune(s[lo:hi])
			if !unicode.IsSpace(r) {
				break
			}
			hi -= sz
		}
	}
	n.s, n.align = s[lo:hi], n.align[lo:hi]
}

// replace substitutes every match of a literal or a regular expression. Each inserted
// character takes the alignment of the last byte of its match (HF's rule).
type replace struct {
	literal []byte         // string pattern, or nil
	re      *regexp.Regexp // regex pattern, or nil
	content []byte
}

func (p replace) normalize(n *normString, t *transformer) {
	var matches [][]int
	if p.re != nil {
		matches = p.re.FindAllIndex(n.s, -1)
	} else {
		if len(p.literal) == 0 {
			return
		}
		for i := 0; i <= len(n.s); {
			j := bytes.Index(n.s[i:], p.literal)
			if j < 0 {
				break
			}
			matches = append(matches, []int{i + j, i + j + len(p.literal)})
			i += j + len(p.literal)
		}
	}
	if len(matches) == 0 {
		return
	}
	t.s, t.align = t.s[:0], t.align[:0]
	last := 0
	for _, m := range matches {
		ms, me := m[0], m[1]
		t.s = append(t.s, n.s[last:ms]...)
		t.align = append(t.align, n.align[last:ms]...)
		a := span{n.base, n.base}
		if me >= 1 {
			a = n.align[me-1]
		}
		t.s = append(t.s, p.content...)
		for range p.content {
			t.align = append(t.align, a)
		}
		last = me
	}
	t.s = append(t.s, n.s[last:]...)
	t.align = append(t.align, n.align[last:]...)
	n.s, t.s = t.s, n.s
	n.align, t.align = t.align, n.align
}

// unicodeNorm is NFC, NFD, NFKC or NFKD. Each normalization segment that changes is
// replaced as a unit with the same alignment rule as Precompiled (extra characters are
// insertions, fewer characters fold into the last one).
type unicodeNorm struct{ f norm.Form }

func (p unicodeNorm) normalize(n *normString, t *transformer) {
	if p.f.IsNormal(n.s) {
		return
	}
	s := n.s
	for i := 0; i < len(s); {
		j := i + p.f.NextBoundary(s[i:], true)
		if j <= i {
			j = len(s)
		}
		seg := s[i:j]
		out := p.f.Bytes(seg)
		if bytes.Equal(out, seg) {
			for k := 0; k < len(seg); {
				r, sz := utf8.DecodeRune(seg[k:])
				t.keep(r)
				k += sz
			}
		} else {
			t.replace(utf8.RuneCount(seg), out)
		}
		i = j
	}
	t.apply(n, 0)
}

// lowercase maps each character to its lowercase form (Rust char::to_lowercase, no
// context rules).
type lowercase struct{}

func (lowercase) normalize(n *normString, t *transformer) {
	changed := false
	for i := 0; i < len(n.s); {
		r, sz := utf8.DecodeRune(n.s[i:])
		i += sz
		if r == 'İ' {
			t.ops = append(t.ops, op{'i', 0}, op{'\u0307', 1})
			changed = true
			continue
		}
		l := unicode.ToLower(r)
		changed = changed || l != r
		t.keep(l)
	}
	if changed {
		t.apply(n, 0)
	} else {
		t.ops = t.ops[:0]
	}
}
