package chunk

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/gorerank/gorerank/tokenizer"
)

// Options bound the chunks.
type Options struct {
	// MaxTokens is the most tokens a chunk has: the tokens of its text alone as the
	// tokenizer's AppendIDs counts them (special tokens excluded: an embedder that adds
	// <s> and </s> takes MaxTokens = its limit - 2). At least 1.
	MaxTokens int
	// Overlap is the most tokens the start of a chunk repeats of the end of the one before:
	// the repeated text, text[next.Start:prev.End], alone has at most Overlap tokens, or
	// the chunks do not overlap. 0 ≤ Overlap < MaxTokens.
	Overlap int
}

// Chunk is one piece of the text: text[Start:End], which neither starts nor ends with white
// space, and Tokens, the number of tokens of that text alone (at most Options.MaxTokens).
type Chunk struct {
	Start, End int // byte offsets into the text
	Tokens     int
}

// ErrOptions reports invalid Options (wrapped with the detail).
var ErrOptions = errors.New("chunk: invalid options")

// UTF8Error reports a text that is not valid UTF-8: Offset is its first invalid byte.
type UTF8Error struct{ Offset int }

func (e *UTF8Error) Error() string {
	return fmt.Sprintf("chunk: invalid UTF-8 at byte %d", e.Offset)
}

// UnsplittableError reports a piece of text that alone has more tokens than MaxTokens and
// cannot be cut: text[Start:End] is the first character after the previous chunk (the
// chunk would start at Start). It only happens with a MaxTokens smaller than the tokens of
// one character: "中" alone is 2 XLM-R tokens ("▁", "中"), "ﷺ" is 4.
type UnsplittableError struct {
	Start, End, Tokens, MaxTokens int
}

func (e *UnsplittableError) Error() string {
	return fmt.Sprintf("chunk: text[%d:%d] alone is %d tokens, more than MaxTokens %d, and cannot be cut",
		e.Start, e.End, e.Tokens, e.MaxTokens)
}

func (o Options) validate() error {
	if o.MaxTokens < 1 {
		return fmt.Errorf("%w: MaxTokens %d, want at least 1", ErrOptions, o.MaxTokens)
	}
	if o.Overlap < 0 || o.Overlap >= o.MaxTokens {
		return fmt.Errorf("%w: Overlap %d, want 0 ≤ Overlap < MaxTokens (%d)", ErrOptions, o.Overlap, o.MaxTokens)
	}
	return nil
}

// Split cuts text into chunks of at most o.MaxTokens tokens each, at the best boundaries
// that fit (see the package documentation), and returns them in order. White-space-only or
// empty text gives no chunks. Errors: ErrOptions (wrapped), *UTF8Error, *UnsplittableError,
// and the tokenizer's (wrapped).
func Split(tok *tokenizer.Tokenizer, text string, o Options) ([]Chunk, error) {
	return split(tok, text, o, nil)
}

// stats are the test hook's measures of one split.
type stats struct {
	encoded, counted int // bytes tokenized in context (the window) and alone (the checks)
	maxToks, maxBnds int // the capacity of the window and of the boundary queue at the end
	retries          int // chunks checked again after their estimate was too low
	onBlock          func()
}

func split(tok *tokenizer.Tokenizer, text string, o Options, st *stats) ([]Chunk, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	if !utf8.ValidString(text) {
		return nil, &UTF8Error{Offset: firstInvalid(text)}
	}
	sp := splitter{
		tok:  tok,
		text: text,
		o:    o,
		w:    window{tok: tok, text: text, st: st},
		sc:   scanner{text: text},
		st:   st,
		s:    skipSpace(text, 0),
		end:  trimEnd(text, 0, len(text)),
	}
	sp.maxSpan = len(text) + 1
	if o.MaxTokens < len(text)/64 {
		sp.maxSpan = max(4*blockBytes, 64*o.MaxTokens)
	}
	var out []Chunk
	for sp.s < sp.end {
		c, err := sp.next()
		if err != nil {
			return out, err
		}
		out = append(out, c)
	}
	if st != nil {
		st.maxToks, st.maxBnds = cap(sp.w.toks), cap(sp.bounds)
	}
	return out, nil
}

// splitter holds the state of one Split: where the next chunk starts, the in-context
// tokenization around it and the boundaries ahead.
type splitter struct {
	tok      *tokenizer.Tokenizer
	text     string
	o        Options
	w        window
	sc       scanner
	bounds   []bound // bounds[bbase:] have cut after the current chunk start, ascending
	bbase    int
	ids      []int32 // scratch for AppendIDs
	maxSpan  int     // the most bytes a chunk's window looks ahead
	s        int     // the next chunk starts here (not white space)
	prevEnd  int     // the previous chunk ended here (after s when they overlap)
	end      int     // the text's end, its trailing white space excluded
	endLevel int8    // the level of the boundary the last chunk ended at
	st       *stats
}

// next returns the chunk that starts at sp.s and moves sp.s to the start of the next one.
func (sp *splitter) next() (Chunk, error) {
	c, err := sp.chunkAt(sp.s, sp.prevEnd)
	if _, ok := err.(*UnsplittableError); ok && sp.prevEnd > sp.s {
		// the overlap and one more character are too many: no overlap
		c, err = sp.chunkAt(skipSpace(sp.text, sp.prevEnd), sp.prevEnd)
	}
	if err != nil {
		return Chunk{}, err
	}
	sp.prevEnd = c.End
	if c.End >= sp.end {
		sp.s = sp.end
		return c, nil
	}
	if sp.s, err = sp.overlapStart(c); err != nil {
		return Chunk{}, err
	}
	return c, nil
}

// reserve is the tokens a chunk starting at s may gain alone over its in-context estimate:
// after a character that is not white space the tokenizer prepends "▁" to the chunk, often
// one more token ("▁", "中"), that the in-context tokenization does not have.
func (sp *splitter) reserve(s int) int {
	if s > 0 && !isSpaceBefore(sp.text, s) {
		return 1
	}
	return 0
}

// boundsAfter forgets the bounds with cut at or before s, scans up to x and returns the
// bounds after s, ascending (some may lie past x).
func (sp *splitter) boundsAfter(s, x int) []bound {
	b := sp.bounds
	for sp.bbase < len(b) && b[sp.bbase].cut <= s {
		sp.bbase++
	}
	if sp.bbase > 1024 && sp.bbase > len(b)/2 {
		n := copy(b, b[sp.bbase:])
		sp.bounds, sp.bbase = b[:n], 0
	}
	if sp.sc.pos < x {
		sp.bounds = sp.sc.scanTo(sp.bounds, x)
	}
	return sp.bounds[sp.bbase:]
}

// chunkAt finds the chunk that starts at s and ends after lo (the previous chunk's end).
// It chooses an end from the in-context estimates, counts the chunk's tokens alone, and
// while they are too many chooses again with a smaller budget.
func (sp *splitter) chunkAt(s, lo int) (Chunk, error) {
	lo = max(lo, s)
	maxT := min(sp.o.MaxTokens, 1<<40)
	budget := max(maxT-sp.reserve(s), 1)
	toks, err := sp.w.need(s, budget+1, sp.maxSpan)
	if err != nil {
		return Chunk{}, err
	}
	lim := sp.w.pos + 1 // a chunk ends before lim
	if len(toks) > budget {
		lim = toks[budget].end
	}
	bs := sp.boundsAfter(s, lim)
	estLo := count(toks, lo)
	minimal := sp.minimal(lo)
	for try := 0; ; try++ {
		e, lv := sp.choose(toks, bs, lo, lim, budget, estLo)
		if e <= lo {
			e, lv = minimal, lvToken
		}
		n, err := sp.countAlone(s, e, 0)
		if err != nil {
			return Chunk{}, err
		}
		if n <= sp.o.MaxTokens {
			sp.endLevel = lv
			return Chunk{Start: s, End: e, Tokens: n}, nil
		}
		if e <= minimal {
			return Chunk{}, &UnsplittableError{Start: skipSpace(sp.text, lo), End: e, Tokens: n, MaxTokens: sp.o.MaxTokens}
		}
		if sp.st != nil {
			sp.st.retries++
		}
		// Too many: the estimate of text[s:e] was low by at least n-MaxTokens. Choose again
		// before e with that much less, and a little more each time (1, 2, 4, ... tokens),
		// so that a chunk is counted O(log MaxTokens) times at worst.
		budget = count(toks, e) - (n - sp.o.MaxTokens) - (1<<min(try, 40) - 1)
		lim = e
		if budget < 0 {
			lim = lo + 1
		} else if budget < len(toks) {
			lim = min(lim, toks[budget].end)
		}
	}
}

// minimal is the shortest chunk end after lo: the end of the first character after it.
func (sp *splitter) minimal(lo int) int {
	p := skipSpace(sp.text, lo)
	_, sz := utf8.DecodeRuneInString(sp.text[p:])
	return p + sz
}

// choose picks the end of a chunk that ends after lo and before lim, with budget tokens at
// most by the estimate (toks: the in-context tokens after the chunk start; estLo of them end
// by lo). Among the boundaries that fill at least a quarter of the room after lo, it takes
// the last of the best level; where none does, the last token boundary before lim, else the
// best boundary that fits, else nothing (<= lo). It returns the end and its level.
func (sp *splitter) choose(toks []tokEnd, bs []bound, lo, lim, budget, estLo int) (int, int8) {
	fill := estLo + max(budget-estLo, 0)/4
	best, bestLv, any, anyLv := -1, int8(-1), -1, int8(-1)
	k := 0 // tokens ending by the boundary
	for _, b := range bs {
		if b.cut >= lim {
			break
		}
		if b.cut <= lo {
			continue
		}
		for k < len(toks) && toks[k].end <= b.cut {
			k++
		}
		if b.level >= anyLv {
			any, anyLv = b.cut, b.level
		}
		if k >= fill && b.level >= bestLv {
			best, bestLv = b.cut, b.level
		}
	}
	if best > lo {
		return trimEnd(sp.text, lo, best), bestLv
	}
	tc, tcEst := -1, 0
	for k := min(len(toks), budget) - 1; k >= 0 && toks[k].end > lo; k-- {
		if c := toks[k].cut; c > lo && c < lim {
			tc, tcEst = trimEnd(sp.text, lo, c), k+1
			if tc > lo {
				break
			}
		}
	}
	switch {
	case tc > lo && tcEst >= fill:
		return tc, lvToken
	case any > lo:
		return trimEnd(sp.text, lo, any), anyLv
	}
	return tc, lvToken
}

// overlapStart is where the chunk after c starts: at the best boundary inside c whose text
// to c.End alone has at most Overlap tokens, or after c (and its trailing white space) when
// there is none or c ends before a Markdown heading.
func (sp *splitter) overlapStart(c Chunk) (int, error) {
	after := skipSpace(sp.text, c.End)
	if sp.o.Overlap == 0 || headingAt(sp.text, c.End, after) {
		return after, nil // a section starts: nothing to carry over
	}
	toks := sp.w.from(c.Start)
	bs := sp.boundsAfter(c.Start, c.End)
	estE := count(toks, c.End)
	fill := sp.o.Overlap / 4
	minP := c.Start // candidates start after minP
	for try := 0; try < 3; try++ {
		best, bestLv, any, anyLv := -1, int8(-1), -1, int8(-1)
		consider := func(p int, lv int8) {
			ov := estE - count(toks, p)
			if ov < 1 || ov+sp.reserve(p) > sp.o.Overlap {
				return
			}
			if lv > anyLv || lv == anyLv && p < any {
				any, anyLv = p, lv
			}
			if ov >= fill && (lv > bestLv || lv == bestLv && p < best) {
				best, bestLv = p, lv
			}
		}
		for _, b := range bs {
			if b.cut >= c.End {
				break
			}
			if b.next > minP && b.next < c.End {
				consider(b.next, b.level)
			}
		}
		// the earliest token boundary that fits, where the chunk itself was cut between
		// tokens (a long word, Chinese without punctuation): elsewhere a chunk does not
		// start inside a word
		for k := max(count(toks, minP), estE-sp.o.Overlap-1, 0); sp.endLevel == lvToken && k < len(toks) && toks[k].end < c.End; k++ {
			if p := toks[k].cut; p > minP && p < c.End && !isSpaceAt(sp.text, p) && estE-count(toks, p)+sp.reserve(p) <= sp.o.Overlap {
				consider(p, lvToken)
				break
			}
		}
		p := best
		if p < 0 {
			p = any
		}
		if p < 0 {
			break
		}
		n, err := sp.countAlone(p, c.End, sp.o.Overlap)
		if err != nil {
			return 0, err
		}
		if n <= sp.o.Overlap {
			return p, nil
		}
		minP = p // the estimate was low: try a later start
	}
	return after, nil
}

// countAlone returns the number of tokens of text[s:e] alone, or with limit > 0 at most
// limit+1 of them.
func (sp *splitter) countAlone(s, e, limit int) (int, error) {
	ids, _, err := sp.tok.AppendIDs(sp.ids[:0], sp.text[s:e], limit, false)
	if err != nil {
		return 0, fmt.Errorf("chunk: tokenizing text[%d:%d]: %w", s, e, err)
	}
	sp.ids = ids
	if sp.st != nil {
		sp.st.counted += e - s
	}
	return len(ids), nil
}

// isSpaceAt reports whether the rune at t[i:] is white space (false at the end).
func isSpaceAt(t string, i int) bool {
	return i < len(t) && skipSpace(t, i) > i
}

// firstInvalid is the offset of the first byte of s that is not part of valid UTF-8.
func firstInvalid(s string) int {
	for i := 0; i < len(s); {
		r, sz := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && sz == 1 {
			return i
		}
		i += sz
	}
	return len(s)
}
