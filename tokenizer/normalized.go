package tokenizer

import "unicode/utf8"

// span is a half-open byte range [s,e) in the original text.
type span struct{ s, e int32 }

// normString is a piece of text being normalized, with for every byte of the normalized
// text the byte range of the original text it came from (HF "alignments"). All bytes of
// one normalized character share one span.
type normString struct {
	s     []byte
	align []span
	base  int32 // original byte offset of the piece (HF original_shift)
}

// reset makes n the identity normalization of orig, whose first byte sits at base in the
// whole original text.
func (n *normString) reset(orig string, base int) {
	n.s = append(n.s[:0], orig...)
	n.align = n.align[:0]
	n.base = int32(base)
	for i := 0; i < len(orig); {
		_, sz := utf8.DecodeRuneInString(orig[i:])
		sp := span{int32(base + i), int32(base + i + sz)}
		for k := 0; k < sz; k++ {
			n.align = append(n.align, sp)
		}
		i += sz
	}
}

// op is one step of an HF-style transformation: the character c, and change = 0 when c
// replaces the next old character, 1 when it is inserted, -k when it replaces the next
// old character and also removes the k old characters after it.
type op struct {
	c      rune
	change int32
}

// transformer applies a list of ops to a normString with exactly the alignment rules of
// HF tokenizers' NormalizedString::transform_range over the whole string.
type transformer struct {
	ops   []op
	s     []byte
	align []span
}

// replace appends the ops replacing the old characters of oldPart by newPart, as the HF
// Precompiled normalizer does (extra new characters count as insertions; fewer new
// characters fold the removal into the last op, which may belong to an earlier part).
func (t *transformer) replace(oldChars int, newPart []byte) {
	newChars := 0
	for j := 0; j < len(newPart); {
		c, sz := utf8.DecodeRune(newPart[j:])
		t.ops = append(t.ops, op{c, 0})
		newChars++
		j += sz
	}
	diff := newChars - oldChars
	switch {
	case diff > 0:
		for i := len(t.ops) - diff; i < len(t.ops); i++ {
			t.ops[i].change = 1
		}
	case diff < 0:
		if len(t.ops) > 0 {
			t.ops[len(t.ops)-1].change += int32(diff)
		}
	}
}

// keep appends an op keeping the character c unchanged.
func (t *transformer) keep(c rune) { t.ops = append(t.ops, op{c, 0}) }

// apply rewrites n with t.ops, skipping the first `skip` old characters first.
func (t *transformer) apply(n *normString, skip int) {
	old := n.s
	oldAlign := n.align
	t.s = t.s[:0]
	t.align = t.align[:0]
	off := 0 // byte position in old
	for ; skip > 0 && off < len(old); skip-- {
		_, sz := utf8.DecodeRune(old[off:])
		off += sz
	}
	for _, o := range t.ops {
		a := span{n.base, n.base}
		if o.change > 0 {
			if off >= 1 && off-1 < len(oldAlign) {
				a = oldAlign[off-1]
			}
		} else if off < len(oldAlign) {
			a = oldAlign[off]
		} else if len(oldAlign) > 0 {
			// HF would index out of range here; this cannot happen with well-formed ops.
			a = oldAlign[len(oldAlign)-1]
		}
		if o.change <= 0 && off < len(old) {
			_, sz := utf8.DecodeRune(old[off:])
			off += sz
		}
		for k := int32(0); k < -o.change && off < len(old); k++ {
			_, sz := utf8.DecodeRune(old[off:])
			off += sz
		}
		var buf [4]byte
		sz := utf8.EncodeRune(buf[:], o.c)
		t.s = append(t.s, buf[:sz]...)
		for k := 0; k < sz; k++ {
			t.align = append(t.align, a)
		}
	}
	// Swap buffers: n takes the new text, t keeps the old storage for reuse.
	n.s, t.s = t.s, old
	n.align, t.align = t.align, oldAlign
	t.ops = t.ops[:0]
}

// originalSpan maps the normalized byte range [s,e) to the original byte range, as HF's
// convert_offsets does (start of the first byte, end of the last byte).
func (n *normString) originalSpan(s, e int) span {
	if s >= e || e > len(n.align) {
		return span{}
	}
	return span{n.align[s].s, n.align[e-1].e}
}
