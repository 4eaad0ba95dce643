package tokenizer

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Tokenizer is a loaded HF tokenizer.json. Safe for concurrent use.
type Tokenizer struct {
	model     *unigram
	norm      normalizer   // nil: none
	pre       preTokenizer // nil: none
	post      *postProcessor
	dec       *metaspace // nil: tokens joined with " "
	added     []*addedToken
	addedByID map[int32]*addedToken
	rawAdded  *matcher // added tokens matched in the raw text
	normAdded *matcher // added tokens matched in the normalized text
	vocabSize int
	pool      sync.Pool // *scratch
}

// Strategy is a pair truncation strategy, named as in HF tokenizers.
type Strategy string

const (
	LongestFirst Strategy = "longest_first"
	OnlyFirst    Strategy = "only_first"
	OnlySecond   Strategy = "only_second"
)

// Options control special tokens and truncation. The zero value adds special tokens and
// does not truncate.
type Options struct {
	MaxLength int      // 0: no truncation; counts special tokens, as HF max_length does
	Strategy  Strategy // default LongestFirst
	Left      bool     // truncate from the left (HF direction "left")
	NoSpecial bool     // do not add <s> </s> (add_special_tokens=False)
}

// Encoding is the result of Encode / EncodePair.
type Encoding struct {
	IDs           []int32
	Tokens        []string
	AttentionMask []int32
	TypeIDs       []int32
	Offsets       [][2]int // [start,end) in Unicode code points of the original text; specials [0,0]
	ByteOffsets   [][2]int // the same in bytes
	SequenceIDs   []int    // 0 query/single, 1 document, -1 special token
	Truncated     bool     // tokens were removed by truncation
}

// Errors returned by Encode and EncodePair.
var (
	// ErrSequenceTooShort is HF's TruncationError::SequenceTooShort: the sequence that the
	// strategy may cut is too short to reach max_length. Its text is HF's message.
	ErrSequenceTooShort = errors.New("Truncation error: Sequence to truncate too short to respect the provided max_length")
	// ErrSecondSequenceNotProvided is HF's error for only_second on a single text that
	// needs truncation.
	ErrSecondSequenceNotProvided = errors.New("Truncation error: Second sequence not provided")
	// ErrOptions reports invalid Options (wrapped with the detail).
	ErrOptions = errors.New("tokenizer: invalid options")
)

// Load reads a tokenizer.json file.
func Load(path string) (*Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	t, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Parse builds a Tokenizer from the bytes of a tokenizer.json. A component this package
// does not implement is an *UnsupportedError naming it; a malformed file is a *FormatError.
func Parse(data []byte) (*Tokenizer, error) {
	if !utf8.Valid(data) {
		return nil, formatErr("not valid UTF-8")
	}
	// The model (and in it the vocabulary, nearly all of the file) is parsed in place.
	var model map[string][]byte
	var vocab *vocabTable
	top, err := objectMembers(data, func(key string, s *jsonScanner) (bool, error) {
		if key != "model" {
			return false, nil
		}
		var err error
		model, err = s.members(func(key string, s *jsonScanner) (bool, error) {
			if key != "vocab" || s.pos >= len(s.b) || s.b[s.pos] != '[' {
				return false, nil // not a Unigram vocabulary: kept raw, rejected below
			}
			var err error
			vocab, err = s.parseVocab()
			return true, err
		})
		if err != nil {
			return true, fmt.Errorf("model: %w", err)
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	if model == nil {
		return nil, formatErr("missing \"model\"")
	}
	var mtype string
	if r, ok := model["type"]; ok {
		if err := unmarshal(r, "model.type", &mtype); err != nil {
			return nil, err
		}
	}
	if mtype == "" {
		// Older files have no model type; a Unigram vocabulary is [[piece, score], ...].
		if vocab == nil {
			return nil, formatErr("model: missing \"type\"")
		}
		mtype = "Unigram"
	}
	if mtype != "Unigram" {
		return nil, &UnsupportedError{"model", mtype}
	}
	if vocab == nil {
		return nil, formatErr("model: missing \"vocab\"")
	}
	var unkID *int
	if r, ok := model["unk_id"]; ok && !isNull(r) {
		unkID = new(int)
		if err := unmarshal(r, "model.unk_id", unkID); err != nil {
			return nil, err
		}
	}
	byteFallback := false
	if r, ok := model["byte_fallback"]; ok && !isNull(r) {
		if err := unmarshal(r, "model.byte_fallback", &byteFallback); err != nil {
			return nil, err
		}
	}
	t := &Tokenizer{addedByID: map[int32]*addedToken{}}
	if t.model, err = newUnigram(vocab, unkID, byteFallback); err != nil {
		return nil, err
	}
	t.vocabSize = vocab.len()

	if r := top["normalizer"]; !isNull(r) {
		if t.norm, err = parseNormalizer(r, "normalizer", 0); err != nil {
			return nil, err
		}
	}
	if r := top["pre_tokenizer"]; !isNull(r) {
		if t.pre, err = parsePreTokenizer(r, "pre_tokenizer", 0); err != nil {
			return nil, err
		}
	}
	if r := top["decoder"]; !isNull(r) {
		if t.dec, err = parseDecoder(r, "decoder"); err != nil {
			return nil, err
		}
	}
	if r := top["added_tokens"]; !isNull(r) {
		var list []addedTokenConfig
		if err := unmarshal(r, "added_tokens", &list); err != nil {
			return nil, err
		}
		limit := vocab.len() + len(list)
		var raw, normd []*addedToken
		for i, c := range list {
			if c.ID == nil || c.Content == nil {
				return nil, formatErr("added_tokens[%d]: needs id and content", i)
			}
			if *c.ID < 0 || *c.ID >= limit {
				return nil, formatErr("added_tokens[%d]: id %d out of range", i, *c.ID)
			}
			a := &addedToken{id: int32(*c.ID), content: *c.Content, literal: *c.Content,
				singleWord: c.SingleWord, lstrip: c.LStrip, rstrip: c.RStrip,
				normalized: c.Normalized, special: c.Special}
			t.added = append(t.added, a)
			t.addedByID[a.id] = a
			t.vocabSize = max(t.vocabSize, int(a.id)+1)
			if a.normalized && t.norm != nil {
				var n normString
				var tr transformer
				n.reset(a.content, 0)
				t.norm.normalize(&n, &tr)
				a.content = string(n.s)
			}
			if a.normalized {
				normd = append(normd, a)
			} else {
				raw = append(raw, a)
			}
		}
		t.rawAdded, t.normAdded = newMatcher(raw), newMatcher(normd)
	}
	if r := top["post_processor"]; !isNull(r) {
		if t.post, err = parsePostProcessor(r, "post_processor", t.vocabSize); err != nil {
			return nil, err
		}
	}
	t.pool.New = func() any { return new(scratch) }
	return t, nil
}

// VocabSize is the number of ids: the model vocabulary and any added token beyond it.
// Every id Encode returns is below it.
func (t *Tokenizer) VocabSize() int { return t.vocabSize }

// scratch is the per-call working memory.
type scratch struct {
	n      normString
	tr     transformer
	ar     arena
	splits []normString
	segs   []segment
	nsegs  []segment
	toks   []token
	lat    lattice
	a, b   []piece
}

// piece is a token of one sequence with its byte span in that sequence's text.
type piece struct {
	id   int32
	text string
	s, e int32
}

// encodeSeq tokenizes one text (no special tokens, no truncation) into out.
func (t *Tokenizer) encodeSeq(sc *scratch, text string, out []piece) ([]piece, error) {
	return t.encodeSeqUpTo(sc, text, out, 0)
}

// encodeSeqUpTo is encodeSeq that stops once out holds more than limit pieces (limit > 0).
// Pieces of one pre-tokenized word never depend on the words after it, so the first limit
// pieces are exactly those of the whole text.
func (t *Tokenizer) encodeSeqUpTo(sc *scratch, text string, out []piece, limit int) ([]piece, error) {
	full := func() bool { return limit > 0 && len(out) > limit }
	sc.segs = t.rawAdded.split(sc.segs[:0], text)
	for _, sg := range sc.segs {
		if full() {
			return out, nil
		}
		if sg.tok != nil {
			out = append(out, piece{id: sg.tok.id, text: text[sg.s:sg.e], s: int32(sg.s), e: int32(sg.e)})
			continue
		}
		n := &sc.n
		n.reset(text[sg.s:sg.e], sg.s)
		if t.norm != nil {
			t.norm.normalize(n, &sc.tr)
		}
		if t.normAdded != nil && len(t.normAdded.toks) > 0 {
			sc.nsegs = t.normAdded.split(sc.nsegs[:0], string(n.s))
			for _, ns := range sc.nsegs {
				sub := n.view(ns.s, ns.e)
				if ns.tok != nil {
					o := sub.originalSpan(0, len(sub.s))
					out = append(out, piece{id: ns.tok.id, text: string(sub.s), s: o.s, e: o.e})
					continue
				}
				if full() {
					return out, nil
				}
				var err error
				if out, err = t.encodeNormalized(sc, sub, out, limit); err != nil {
					return out, err
				}
			}
			continue
		}
		var err error
		if out, err = t.encodeNormalized(sc, *n, out, limit); err != nil {
			return out, err
		}
	}
	return out, nil
}

// encodeNormalized pre-tokenizes and runs the model on one normalized piece.
// With limit > 0 it stops after the word that takes out past limit pieces.
func (t *Tokenizer) encodeNormalized(sc *scratch, n normString, out []piece, limit int) ([]piece, error) {
	if len(n.s) == 0 {
		return out, nil
	}
	sc.ar.reset()
	if t.pre != nil {
		sc.splits = t.pre.split(sc.splits[:0], n, &sc.ar)
	} else {
		sc.splits = append(sc.splits[:0], n)
	}
	for _, sp := range sc.splits {
		if limit > 0 && len(out) > limit {
			return out, nil
		}
		var err error
		sc.toks, err = t.model.encode(sc.toks[:0], sp.s, &sc.lat)
		if err != nil {
			return out, err
		}
		for _, tk := range sc.toks {
			o := sp.originalSpan(int(tk.s), int(tk.e))
			out = append(out, piece{id: tk.id, text: tk.text, s: o.s, e: o.e})
		}
	}
	return out, nil
}

// Encode tokenizes one text: <s> text </s> with the XLM-R template. Errors:
// ErrSecondSequenceNotProvided (only_second when the text must be cut),
// ErrSequenceTooShort (only_first cannot reach MaxLength), ErrOptions, ErrNoUnk.
func (t *Tokenizer) Encode(text string, o Options) (*Encoding, error) {
	return t.encode(text, "", false, o)
}

// EncodePair tokenizes a (query, document) pair with the pair template (XLM-R:
// <s> query </s></s> document </s>). With MaxLength set, Strategy decides what is cut
// (HF truncate_encodings); ErrSequenceTooShort (message identical to HF's) when the
// side that may be cut is too short, e.g. only_second with a query that alone exceeds the
// budget.
func (t *Tokenizer) EncodePair(query, doc string, o Options) (*Encoding, error) {
	return t.encode(query, doc, true, o)
}

// AppendIDs is the scoring fast path: it appends the ids of text (no special tokens, no
// truncation, no tokens or offsets) to dst. With limit > 0 it keeps at most limit+1 ids:
// the first ones, or with left the last ones, so that more reports that the text has more
// than limit tokens without the caller holding them all.
//
// Work and memory are bounded by what is kept, not by the text: a text longer than
// chunkBytes is tokenized a chunk at a time, from its start (or with left, from its end),
// stopping once limit is passed. Chunks are cut before a run of white space, where
// Metaspace words are independent, so the ids are those of Encode; only a single "word"
// longer than a chunk (tens of kilobytes without a space) is cut inside, where its
// tokenization may differ from a whole-text one. Invalid UTF-8 is tokenized as Encode does.
func (t *Tokenizer) AppendIDs(dst []int32, text string, limit int, left bool) (ids []int32, more bool, err error) {
	sc := t.pool.Get().(*scratch)
	defer t.pool.Put(sc)
	defer clear(sc.a[:cap(sc.a)]) // drop references to text so a large input can be collected
	text = validUTF8(text)
	if len(text) <= chunkBytes {
		stop := limit
		if left {
			stop = 0 // the last tokens need the whole text
		}
		if sc.a, err = t.encodeSeqUpTo(sc, text, sc.a[:0], stop); err != nil {
			return dst, false, err
		}
		p := sc.a
		if limit > 0 && len(p) > limit {
			more = true
			p = cut(p, limit+1, left)
		}
		for _, x := range p {
			dst = append(dst, x.id)
		}
		return dst, more, nil
	}
	full := func(n int) bool { return limit > 0 && n > limit }
	if !left {
		n0 := len(dst)
		for start := 0; start < len(text) && !full(len(dst)-n0); {
			end := chunkEnd(text, start)
			if sc.a, err = t.encodeSeqUpTo(sc, text[start:end], sc.a[:0], limit); err != nil {
				return dst, false, err
			}
			for _, x := range sc.a {
				dst = append(dst, x.id)
			}
			start = end
		}
		if full(len(dst) - n0) {
			dst, more = dst[:n0+limit+1], true
		}
		return dst, more, nil
	}
	// left: chunks from the end, each chunk's ids put in front of the later ones
	var tail []int32 // reversed: last id first
	for end := len(text); end > 0 && !full(len(tail)); {
		start := chunkStart(text, end)
		if sc.a, err = t.encodeSeqUpTo(sc, text[start:end], sc.a[:0], 0); err != nil {
			return dst, false, err
		}
		for i := len(sc.a) - 1; i >= 0; i-- {
			tail = append(tail, sc.a[i].id)
		}
		end = start
	}
	if full(len(tail)) {
		tail, more = tail[:limit+1], true
	}
	for i := len(tail) - 1; i >= 0; i-- {
		dst = append(dst, tail[i])
	}
	return dst, more, nil
}

// chunkBytes is the size of the pieces AppendIDs tokenizes a long text in (a variable for
// tests).
var chunkBytes = 64 << 10

// chunkEnd is where the chunk of text starting at start ends: before the white-space run
// nearest to start+chunkBytes (looking back at most half a chunk), else at a rune start.
func chunkEnd(text string, start int) int {
	e := start + chunkBytes
	if e >= len(text) {
		return len(text)
	}
	for i := e; i > start+chunkBytes/2; {
		r, n := utf8.DecodeLastRuneInString(text[:i])
		if unicode.IsSpace(r) {
			for i -= n; i > start; i -= n { // to the start of the run
				if r, n = utf8.DecodeLastRuneInString(text[:i]); !unicode.IsSpace(r) {
					break
				}
			}
			if i > start {
				return i
			}
			break
		}
		i -= n
	}
	for e > start+1 && !utf8.RuneStart(text[e]) {
		e--
	}
	return e
}

// chunkStart is where the chunk of text ending at end starts: at the white-space run
// nearest to end-chunkBytes (looking ahead at most half a chunk), else at a rune start.
func chunkStart(text string, end int) int {
	s := end - chunkBytes
	if s <= 0 {
		return 0
	}
	for i := s; i < end-chunkBytes/2; {
		r, n := utf8.DecodeRuneInString(text[i:])
		if unicode.IsSpace(r) {
			for i > s-chunkBytes/2 { // to the start of the run (not too far)
				r, n := utf8.DecodeLastRuneInString(text[:i])
				if !unicode.IsSpace(r) {
					break
				}
				i -= n
			}
			if i > 0 && i > s-chunkBytes/2 {
				return i
			}
			break
		}
		i += n
	}
	for s < end-1 && !utf8.RuneStart(text[s]) {
		s++
	}
	return s
}

// PairTemplate returns the special-token ids the post-processor puts around a pair:
// prefix A middle B suffix (XLM-R: <s> A </s></s> B </s>). ok is false when the template
// does not have that shape (or there is no post-processor: then all three are empty and ok
// is true).
func (t *Tokenizer) PairTemplate() (prefix, middle, suffix []int32, ok bool) {
	if t.post == nil {
		return nil, nil, nil, true
	}
	part := 0 // 0: before A, 1: between A and B, 2: after B
	for _, it := range t.post.pair {
		switch {
		case it.seq == 0 && part == 0:
			part = 1
		case it.seq == 1 && part == 1:
			part = 2
		case it.seq >= 0:
			return nil, nil, nil, false
		case part == 0:
			prefix = append(prefix, it.ids...)
		case part == 1:
			middle = append(middle, it.ids...)
		default:
			suffix = append(suffix, it.ids...)
		}
	}
	if part != 2 {
		return nil, nil, nil, false
	}
	return prefix, middle, suffix, true
}

// SingleTemplate returns the special-token ids the post-processor puts around a single text:
// prefix A suffix (XLM-R: <s> A </s>). ok is false when the template does not have that shape
// (or there is no post-processor: then both are empty and ok is true).
func (t *Tokenizer) SingleTemplate() (prefix, suffix []int32, ok bool) {
	if t.post == nil {
		return nil, nil, true
	}
	seen := false // A seen
	for _, it := range t.post.single {
		switch {
		case it.seq == 0 && !seen:
			seen = true
		case it.seq >= 0:
			return nil, nil, false
		case !seen:
			prefix = append(prefix, it.ids...)
		default:
			suffix = append(suffix, it.ids...)
		}
	}
	if !seen {
		return nil, nil, false
	}
	return prefix, suffix, true
}

// UnkID returns the id of the unknown token (model.unk_id: 3, <unk>, for XLM-R); ok is false
// when the model has none.
func (t *Tokenizer) UnkID() (id int32, ok bool) {
	return t.model.unkID, t.model.unkID >= 0
}

func (t *Tokenizer) encode(a, b string, pair bool, o Options) (*Encoding, error) {
	switch o.Strategy {
	case "", LongestFirst, OnlyFirst, OnlySecond:
	default:
		return nil, fmt.Errorf("%w: unknown truncation strategy %q", ErrOptions, o.Strategy)
	}
	if o.MaxLength < 0 {
		return nil, fmt.Errorf("%w: negative max length %d", ErrOptions, o.MaxLength)
	}
	sc := t.pool.Get().(*scratch)
	defer t.pool.Put(sc)
	origA, origB := a, b
	a, b = validUTF8(a), validUTF8(b)
	var err error
	if sc.a, err = t.encodeSeq(sc, a, sc.a[:0]); err != nil {
		return nil, err
	}
	sc.b = sc.b[:0]
	if pair {
		if sc.b, err = t.encodeSeq(sc, b, sc.b); err != nil {
			return nil, err
		}
	}
	pa, pb := sc.a, sc.b
	truncated := false
	if o.MaxLength > 0 {
		added := 0
		if !o.NoSpecial && t.post != nil {
			added = t.post.added(pair)
		}
		if o.MaxLength < added {
			return nil, fmt.Errorf("%w: max length %d is less than the %d special tokens", ErrOptions, o.MaxLength, added)
		}
		n1, n2, err := TruncLengths(len(pa), len(pb), pair, o.MaxLength-added, o.Strategy)
		if err != nil {
			return nil, err
		}
		truncated = n1 < len(pa) || n2 < len(pb)
		pa, pb = cut(pa, n1, o.Left), cut(pb, n2, o.Left)
	}
	return t.assemble(pa, pb, pair, o.NoSpecial, truncated, a, b, origA, origB), nil
}

// TruncLengths returns the lengths two sequences of n1 and n2 tokens keep under HF's
// truncate_encodings with strategy s, for a budget of tokens (special tokens already
// subtracted); pair says whether the second sequence exists. It is the one statement of that
// policy: EncodePair uses it, and so does the scoring pipeline, which truncates ids.
func TruncLengths(n1, n2 int, pair bool, budget int, s Strategy) (int, int, error) {
	if budget == 0 {
		return 0, 0, nil
	}
	total := n1 + n2
	if total <= budget {
		return n1, n2, nil
	}
	remove := total - budget
	switch s {
	case OnlyFirst:
		if n1 <= remove {
			return 0, 0, ErrSequenceTooShort
		}
		return n1 - remove, n2, nil
	case OnlySecond:
		if !pair {
			return 0, 0, ErrSecondSequenceNotProvided
		}
		if n2 <= remove {
			return 0, 0, ErrSequenceTooShort
		}
		return n1, n2 - remove, nil
	}
	if !pair {
		return budget, 0, nil
	}
	short, long := n1, n2
	swap := short > long
	if swap {
		short, long = long, short
	}
	if short > budget {
		long = short
	} else {
		long = max(short, budget-short)
	}
	if short+long > budget {
		short = budget / 2
		long = short + budget%2
	}
	if swap {
		short, long = long, short
	}
	return short, long, nil
}

// cut keeps n pieces from the right end (left=true) or the left end.
func cut(p []piece, n int, left bool) []piece {
	if n >= len(p) {
		return p
	}
	if left {
		return p[len(p)-n:]
	}
	return p[:n]
}

// assemble applies the post-processor template and converts offsets.
func (t *Tokenizer) assemble(pa, pb []piece, pair, noSpecial, truncated bool, a, b, origA, origB string) *Encoding {
	var tmpl []tmplItem
	switch {
	case t.post != nil && pair:
		tmpl = t.post.pair
	case t.post != nil:
		tmpl = t.post.single
	case pair:
		tmpl = []tmplItem{{seq: 0}, {seq: 1}}
	default:
		tmpl = []tmplItem{{seq: 0}}
	}
	n := 0
	for _, it := range tmpl {
		switch it.seq {
		case 0:
			n += len(pa)
		case 1:
			n += len(pb)
		default:
			if !noSpecial {
				n += len(it.ids)
			}
		}
	}
	// One backing array per element type: 4 allocations instead of 7.
	i32 := make([]int32, 3*n)
	off := make([][2]int, 2*n)
	e := &Encoding{
		IDs:           i32[0:0:n],
		AttentionMask: i32[n : n : 2*n],
		TypeIDs:       i32[2*n : 2*n : 3*n],
		Tokens:        make([]string, 0, n),
		Offsets:       off[0:0:n],
		ByteOffsets:   off[n : n : 2*n],
		SequenceIDs:   make([]int, 0, n),
		Truncated:     truncated,
	}
	for _, it := range tmpl {
		if it.seq < 0 {
			if noSpecial {
				continue
			}
			for k, id := range it.ids {
				e.IDs = append(e.IDs, id)
				e.Tokens = append(e.Tokens, it.tokens[k])
				e.AttentionMask = append(e.AttentionMask, 1)
				e.TypeIDs = append(e.TypeIDs, it.typeID)
				e.Offsets = append(e.Offsets, [2]int{})
				e.ByteOffsets = append(e.ByteOffsets, [2]int{})
				e.SequenceIDs = append(e.SequenceIDs, -1)
			}
			continue
		}
		ps, text, orig := pa, a, origA
		if it.seq == 1 {
			ps, text, orig = pb, b, origB
		}
		conv := offsetConv{text: text, orig: orig}
		for _, p := range ps {
			e.IDs = append(e.IDs, p.id)
			e.Tokens = append(e.Tokens, p.text)
			e.AttentionMask = append(e.AttentionMask, 1)
			e.TypeIDs = append(e.TypeIDs, it.typeID)
			rs, bs := conv.convert(int(p.s))
			re, be := conv.convert(int(p.e))
			e.Offsets = append(e.Offsets, [2]int{rs, re})
			e.ByteOffsets = append(e.ByteOffsets, [2]int{bs, be})
			e.SequenceIDs = append(e.SequenceIDs, it.seq)
		}
	}
	return e
}

// offsetConv turns byte offsets in text (the valid-UTF-8 form of orig) into code-point
// offsets and byte offsets in orig. Offsets are mostly increasing, so for valid input it
// counts from the previous position in either direction; for input that had invalid
// bytes it builds a table once.
type offsetConv struct {
	text, orig string
	b, r       int     // last byte offset in text and its code point
	runeAt     []int32 // invalid input only: code point at each byte of text
	origAt     []int32 // invalid input only: byte in orig of each code point
}

func (c *offsetConv) convert(b int) (runes, origBytes int) {
	b = min(max(b, 0), len(c.text))
	if len(c.text) == len(c.orig) { // valid input: text == orig
		if b >= c.b {
			c.r += utf8.RuneCountInString(c.text[c.b:b])
		} else {
			c.r -= utf8.RuneCountInString(c.text[b:c.b])
		}
		c.b = b
		return c.r, b
	}
	if c.runeAt == nil {
		c.runeAt = make([]int32, len(c.text)+1)
		c.origAt = make([]int32, 0, len(c.orig)+1)
		r, ob := 0, 0
		for i := 0; i < len(c.text); {
			_, sz := utf8.DecodeRuneInString(c.text[i:])
			for k := 0; k < sz; k++ {
				c.runeAt[i+k] = int32(r)
			}
			c.origAt = append(c.origAt, int32(ob))
			_, osz := utf8.DecodeRuneInString(c.orig[ob:])
			ob += osz
			i += sz
			r++
		}
		c.runeAt[len(c.text)] = int32(r)
		c.origAt = append(c.origAt, int32(ob))
	}
	r := c.runeAt[b]
	return int(r), int(c.origAt[r])
}

// validUTF8 replaces every byte of s that is not part of a valid UTF-8 sequence by U+FFFD
// (one per byte, as Go's range loop decodes), so code-point offsets are unchanged.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var sb strings.Builder
	sb.Grow(len(s) + 8)
	for _, r := range s {
		sb.WriteRune(r)
	}
	return sb.String()
}

// Token is the token text of id (the vocabulary piece or added token), "" for an unknown id.
func (t *Tokenizer) Token(id int32) string {
	if a, ok := t.addedByID[id]; ok {
		return a.literal
	}
	if id < 0 || int(id) >= t.model.vocab.len() {
		return ""
	}
	return t.model.vocab.piece(id)
}

// Decode turns ids back into text. Unknown ids are skipped; with skipSpecial, special
// added tokens are skipped too.
func (t *Tokenizer) Decode(ids []int32, skipSpecial bool) string {
	var toks []string
	for _, id := range ids {
		if a, ok := t.addedByID[id]; ok {
			if skipSpecial && a.special {
				continue
			}
			toks = append(toks, a.literal)
			continue
		}
		if id < 0 || int(id) >= t.model.vocab.len() {
			continue
		}
		toks = append(toks, t.model.vocab.piece(id))
	}
	if t.dec == nil {
		return strings.Join(toks, " ")
	}
	var sb strings.Builder
	repl := string(t.dec.repl)
	for i, tk := range toks {
		if i == 0 && t.dec.scheme != prependNever {
			sb.WriteString(strings.ReplaceAll(tk, repl, ""))
			continue
		}
		sb.WriteString(strings.ReplaceAll(tk, repl, " "))
	}
	return sb.String()
}
