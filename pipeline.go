package gorerank

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/gorerank/gorerank/internal/workers"
	"github.com/gorerank/gorerank/tokenizer"
	"github.com/gorerank/gorerank/xlmr"
)

// Errors of the scoring pipeline. Each is a client error class: errors.Is tells them
// apart, whatever details wrap them. The server maps ErrTooLong to 413 and the others to
// 400; the CLI prints them.
var (
	// ErrEmptyQuery: the query is blank: empty, only white space, control or format
	// characters (NUL, U+200B zero-width space, U+FEFF BOM, …), or nothing the tokenizer
	// keeps after its normalization. Pipeline.CheckQuery decides it. (An empty document is
	// valid: it is scored as the pair <s> query </s></s></s>, as HF does.)
	ErrEmptyQuery = errors.New("gorerank: the query is empty or blank")
	// ErrInvalidUTF8: a text is not valid UTF-8.
	ErrInvalidUTF8 = errors.New("gorerank: text is not valid UTF-8")
	// ErrTooLong: the pair does not fit the max length under the options (strict mode, a
	// query that only_second cannot keep, more windows than allowed), or a text to embed is
	// longer than EmbedOptions.MaxLength without EmbedOptions.Truncate.
	ErrTooLong = errors.New("gorerank: input longer than max length")
	// ErrOptions: the ScoreOptions or EmbedOptions are invalid (or do not fit the model).
	ErrOptions = errors.New("gorerank: invalid options")
	// ErrEmptyText: a text to embed is the empty string, which TEI ("`inputs` cannot be
	// empty") and OpenAI's embeddings API refuse too. Embed decides it. A text of
	// white space only is not empty: it is embedded, as TEI, OpenAI and FlagEmbedding do,
	// usually as <s> </s> (the tokenizer keeps none of it).
	ErrEmptyText = errors.New("gorerank: the text is empty")
	// ErrTokenID: a text given as token ids (EmbedTokens) holds an id outside the
	// model's vocabulary.
	ErrTokenID = errors.New("gorerank: a token id is outside the vocabulary")
)

// detail is an error of one of the classes above with its own message: errors.Is finds the
// class, Error gives only the detail (prefixed like every error of this package).
type detail struct {
	class error
	msg   string
}

func (d *detail) Error() string { return "gorerank: " + d.msg }
func (d *detail) Unwrap() error { return d.class }

func errorf(class error, format string, a ...any) error {
	return &detail{class, fmt.Sprintf(format, a...)}
}

// DefaultMaxWindows is ScoreOptions.MaxWindows when 0.
const DefaultMaxWindows = 16

// DefaultWindowOverlap is the window overlap the CLI and the server use unless told
// otherwise (ScoreOptions.WindowOverlap is taken as given: its zero value is no overlap).
const DefaultWindowOverlap = 64

// Truncation says how a pair longer than MaxLength is cut.
type Truncation string

const (
	// TruncateLongestFirst removes tokens from the longer side first (HF "longest_first",
	// the default and what CrossEncoder does).
	TruncateLongestFirst Truncation = "longest_first"
	// TruncateOnlySecond cuts only the document (HF "only_second"); a query that leaves no
	// room for the document is ErrTooLong.
	TruncateOnlySecond Truncation = "only_second"
	// TruncateFlag is FlagReranker's: the query is capped at 3/4 of MaxLength, then the
	// document is cut (only_second).
	TruncateFlag Truncation = "flag"
	// TruncateWindows scores a long document as overlapping windows (query capped at half
	// of MaxLength) and keeps the best logit.
	TruncateWindows Truncation = "windows"
	// TruncateNone refuses over-long pairs with ErrTooLong (longest_first with Strict).
	TruncateNone Truncation = "none"
)

// Truncations lists the modes ParseTruncation accepts.
var Truncations = []Truncation{TruncateLongestFirst, TruncateOnlySecond, TruncateFlag, TruncateWindows, TruncateNone}

// ParseTruncation checks a truncation name ("" is longest_first).
func ParseTruncation(s string) (Truncation, error) {
	if s == "" {
		return TruncateLongestFirst, nil
	}
	if t := Truncation(s); slices.Contains(Truncations, t) {
		return t, nil
	}
	var names []string
	for _, t := range Truncations {
		names = append(names, string(t))
	}
	return "", errorf(ErrOptions, "unknown truncation %q (want %s)", s, strings.Join(names, ", "))
}

// ScoreOptions control how pairs are tokenized and cut. The zero value means MaxLength
// 512 (or the model's limit if smaller), longest_first truncation from the right.
type ScoreOptions struct {
	MaxLength  int        // pair length limit, special tokens included; 0: DefaultMaxLength
	Truncation Truncation // "": TruncateLongestFirst
	// Strict makes a pair that would be cut an ErrTooLong instead (windows: a document
	// needing more than MaxWindows windows).
	Strict bool
	// Left cuts tokens from the start of a text instead of its end (HF truncation_side "left").
	Left bool
	// MaxDocTokens, when > 0, first cuts each document to that many tokens (Cohere's
	// max_tokens_per_doc); the pair is then truncated as usual.
	MaxDocTokens int
	// WindowOverlap is the number of tokens neighbouring windows share (windows mode; at
	// most half a window).
	WindowOverlap int
	// MaxWindows is the most windows per document (windows mode); 0: DefaultMaxWindows.
	MaxWindows int

	// Progress, when not nil, is called by ScorePairs after each forward batch with the
	// number of pairs scored so far and their tokens (special tokens included, after
	// truncation). It runs on the calling goroutine, between batches: keep it cheap.
	Progress func(pairs, tokens int)
}

// Result is one scored document.
type Result struct {
	Index     int     // position of the document in the input
	Logit     float32 // raw model output (windows: the best window's)
	Score     float32 // sigmoid(Logit), in (0,1)
	Truncated bool    // the pair was cut
	Tokens    int     // model input tokens of the pair (all windows), special tokens included
}

// PairError is the error for one input pair; Index is its position in the input.
type PairError struct {
	Index int
	Err   error
}

func (e *PairError) Error() string {
	return fmt.Sprintf("gorerank: document %d: %v", e.Index, unprefixed{e.Err})
}

func (e *PairError) Unwrap() error { return e.Err }

// unprefixed wraps an error of this package without repeating the "gorerank: " prefix
// when it is nested in another.
type unprefixed struct{ err error }

func (u unprefixed) Error() string { return strings.TrimPrefix(u.err.Error(), "gorerank: ") }
func (u unprefixed) Unwrap() error { return u.err }

// IDEncoder is what the pipeline needs from a tokenizer (*tokenizer.Tokenizer is one): the
// bare ids of a text, at most limit+1 of them (the first ones, or with left the last ones;
// limit 0: all), and whether there were more.
type IDEncoder interface {
	AppendIDs(dst []int32, text string, limit int, left bool) ([]int32, bool, error)
}

// Template is the special tokens the tokenizer's post-processor puts around model inputs:
// a pair (a reranker's) is Prefix query Middle document Suffix, a single text (an
// embedder's) SinglePrefix text SingleSuffix. XLM-R: <s> q </s></s> d </s>, and <s> t </s>.
type Template struct {
	Prefix, Middle, Suffix     []int32
	SinglePrefix, SingleSuffix []int32
}

func (t Template) specials() int { return len(t.Prefix) + len(t.Middle) + len(t.Suffix) }

// join builds one pair's model input.
func (t Template) join(q, d []int32) []int32 {
	out := make([]int32, 0, len(q)+len(d)+t.specials())
	out = append(out, t.Prefix...)
	out = append(out, q...)
	out = append(out, t.Middle...)
	out = append(out, d...)
	return append(out, t.Suffix...)
}

func (t Template) singleSpecials() int { return len(t.SinglePrefix) + len(t.SingleSuffix) }

// templateOf reads the pair and single templates from a tokenizer's post-processor.
func templateOf(tok *tokenizer.Tokenizer) (Template, error) {
	p, m, s, ok := tok.PairTemplate()
	if !ok {
		return Template{}, errors.New("gorerank: the tokenizer's pair template is not prefix A middle B suffix")
	}
	sp, ss, ok := tok.SingleTemplate()
	if !ok {
		return Template{}, errors.New("gorerank: the tokenizer's single template is not prefix A suffix")
	}
	return Template{Prefix: p, Middle: m, Suffix: s, SinglePrefix: sp, SingleSuffix: ss}, nil
}

// Pipeline turns (query, documents) into model inputs: validation, tokenization (each text
// once, ids only, stopping once truncation cannot keep more) and truncation. It is the one
// place these policies live; the CLI and the server call it. Safe for concurrent use.
type Pipeline struct {
	enc       IDEncoder
	tmpl      Template
	maxTokens int // longest model input
}

// NewPipeline builds a pipeline for a model taking inputs of up to maxTokens tokens.
func NewPipeline(enc IDEncoder, tmpl Template, maxTokens int) *Pipeline {
	return &Pipeline{enc: enc, tmpl: tmpl, maxTokens: maxTokens}
}

// Exact returns a pipeline that tokenizes every text whole (no early stop), so that
// Input.Spans are exact positions in each text's full token list. For showing what the model
// sees (the /tokenize endpoint); scoring does not need it.
func (p *Pipeline) Exact() *Pipeline {
	return &Pipeline{enc: wholeEncoder{p.enc}, tmpl: p.tmpl, maxTokens: p.maxTokens}
}

type wholeEncoder struct{ IDEncoder }

func (w wholeEncoder) AppendIDs(dst []int32, text string, _ int, _ bool) ([]int32, bool, error) {
	return w.IDEncoder.AppendIDs(dst, text, 0, false)
}

// Count returns the number of tokens of text (bare, no special tokens) up to limit, and
// whether it has more; it stops as soon as it has more.
func (p *Pipeline) Count(text string, limit int) (n int, more bool, err error) {
	buf := idBufs.Get().(*[]int32)
	defer idBufs.Put(buf)
	ids, more, err := p.enc.AppendIDs((*buf)[:0], text, limit, false)
	if cap(ids) <= 1<<16 {
		*buf = ids
	}
	return len(ids), more, err
}

// Template is the special tokens the pipeline puts around texts.
func (p *Pipeline) Template() Template { return p.tmpl }

// Input is one document's model input: one sequence, or one per window.
type Input struct {
	Seqs      [][]int32
	Truncated bool
	// Spans are, for each sequence, the query and document tokens it holds: [qStart, qEnd,
	// dStart, dEnd) in the bare token lists of each text (as far as they were tokenized:
	// positions in the whole lists with Exact).
	Spans [][4]int
}

// Tokens is the number of model input tokens.
func (in Input) Tokens() int {
	n := 0
	for _, s := range in.Seqs {
		n += len(s)
	}
	return n
}

// plan is a checked ScoreOptions.
type plan struct {
	ScoreOptions
	maxLen int
}

// Check validates o against the model and fills in the defaults.
func (p *Pipeline) Check(o ScoreOptions) (ScoreOptions, error) {
	pl, err := p.plan(o)
	if err != nil {
		return ScoreOptions{}, err
	}
	pl.ScoreOptions.MaxLength = pl.maxLen
	return pl.ScoreOptions, nil
}

func (p *Pipeline) plan(o ScoreOptions) (plan, error) {
	maxLen := cmp.Or(o.MaxLength, DefaultMaxLength)
	sp := p.tmpl.specials()
	switch {
	case o.MaxLength < 0:
		return plan{}, errorf(ErrOptions, "max length %d is negative", o.MaxLength)
	case maxLen > p.maxTokens && o.MaxLength != 0:
		return plan{}, errorf(ErrOptions, "max length %d exceeds the model's %d tokens", maxLen, p.maxTokens)
	case maxLen > p.maxTokens:
		maxLen = p.maxTokens // a model with fewer positions than the default: use what it allows
	}
	if maxLen <= sp {
		return plan{}, errorf(ErrOptions, "max length %d leaves no room beside the %d special tokens of the pair template", maxLen, sp)
	}
	t, err := ParseTruncation(string(o.Truncation))
	if err != nil {
		return plan{}, err
	}
	if t == TruncateNone {
		t, o.Strict = TruncateLongestFirst, true
	}
	o.Truncation = t
	switch {
	case o.MaxDocTokens < 0:
		return plan{}, errorf(ErrOptions, "max tokens per document %d is negative", o.MaxDocTokens)
	case o.WindowOverlap < 0:
		return plan{}, errorf(ErrOptions, "window overlap %d is negative", o.WindowOverlap)
	case o.MaxWindows < 0:
		return plan{}, errorf(ErrOptions, "max windows %d is negative", o.MaxWindows)
	}
	o.MaxWindows = cmp.Or(o.MaxWindows, DefaultMaxWindows)
	return plan{ScoreOptions: o, maxLen: maxLen}, nil
}

// preparedQuery is a tokenized query, ready to be paired with documents.
type preparedQuery struct {
	ids  []int32 // bare ids (up to the cap the plan allows, plus one)
	more bool    // the query had more tokens than ids holds
	pl   plan
}

// compareTokens bounds how far longest_first counts a query to tell which side of a pair is
// longer. It only matters when both sides exceed an odd budget (the longer keeps the extra
// token, as in HF); past compareTokens tokens on both sides the document is taken as the
// longer. Counting further would make a huge query cost work for every document.
const compareTokens = 4096

// CheckQuery is the part of the query policy that needs no tokenizer: valid UTF-8, and not
// only white space, control characters (NUL, …) and format characters (U+200B, U+FEFF, …).
// A query it accepts may still be blank to a tokenizer: Pipeline.CheckQuery is the whole
// policy, and the one every door applies once a model is loaded. CheckQuery is for a door
// that checks a request before it has a pipeline (the server's request parser).
func CheckQuery(query string) error {
	if !utf8.ValidString(query) {
		return errorf(ErrInvalidUTF8, "the query is not valid UTF-8")
	}
	if strings.TrimFunc(query, blankRune) == "" {
		return ErrEmptyQuery
	}
	return nil
}

// blankRune reports whether r carries no text: white space, a control or a format character.
func blankRune(r rune) bool {
	return unicode.IsSpace(r) || unicode.In(r, unicode.Cc, unicode.Cf)
}

// CheckQuery validates a query the way Query does, without keeping its tokens: CheckQuery
// above, then blank after the tokenizer's normalization (no token ids) is ErrEmptyQuery.
// It is the query policy of every door (library, CLI, server).
func (p *Pipeline) CheckQuery(query string) error {
	buf := idBufs.Get().(*[]int32)
	defer idBufs.Put(buf)
	ids, _, err := p.queryIDs((*buf)[:0], query, 1, false)
	if cap(ids) <= 1<<16 {
		*buf = ids
	}
	return err
}

// queryIDs appends the query's ids to dst (AppendIDs' limit and left), applying the query
// policy: CheckQuery's, and at least one token.
func (p *Pipeline) queryIDs(dst []int32, query string, limit int, left bool) ([]int32, bool, error) {
	if err := CheckQuery(query); err != nil {
		return dst, false, err
	}
	n := len(dst)
	ids, more, err := p.enc.AppendIDs(dst, query, limit, left)
	if err != nil {
		return ids, false, fmt.Errorf("gorerank: tokenizing the query: %w", err)
	}
	if len(ids) == n {
		return ids, false, ErrEmptyQuery
	}
	return ids, more, nil
}

// query validates (see Pipeline.CheckQuery) and tokenizes a query once for every document
// it is paired with.
func (p *Pipeline) query(text string, o ScoreOptions) (*preparedQuery, error) {
	pl, err := p.plan(o)
	if err != nil {
		return nil, err
	}
	return p.queryOf(text, pl)
}

// queryOf is query under a checked plan.
func (p *Pipeline) queryOf(text string, pl plan) (*preparedQuery, error) {
	// No mode keeps more query tokens than maxLen; one more tells "too long" apart.
	// longest_first also compares the lengths of the two sides (see compareTokens).
	limit := pl.maxLen
	if pl.Truncation == TruncateLongestFirst {
		limit = max(limit, compareTokens)
	}
	ids, more, err := p.queryIDs(nil, text, limit, pl.Left)
	if err != nil {
		return nil, err
	}
	return &preparedQuery{ids: ids, more: more, pl: pl}, nil
}

// prepare tokenizes the query once and each document once and returns their model inputs.
// Documents are tokenized on the module's shared worker pool (internal/workers: the caller
// plus idle helpers, no goroutines of its own). It returns the bad document of lowest index
// (a *PairError), or ctx.Err() once ctx ends (checked before each document).
func (p *Pipeline) prepare(ctx context.Context, query string, docs []string, o ScoreOptions) ([]Input, error) {
	q, err := p.query(query, o)
	if err != nil {
		return nil, err
	}
	out := make([]Input, len(docs))
	bad, err := forEach(ctx, len(docs), func(i int) (err error) {
		out[i], err = p.pair(q, docs[i])
		return err
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, &PairError{bad, err}
	}
	return out, nil
}

// scoreEach is Score for several groups with one forward call: every group's query, then
// the pairs of every group whose query is good, tokenized on the shared worker pool; a
// group's error (its query's, or its bad document of lowest index as a *PairError) stays
// with it. The call's error is the options', ctx's, forward's or a non-finite logit's.
func scoreEach(ctx context.Context, p *Pipeline, groups []Group, o ScoreOptions, forward ScoreForward) ([][]Result, []error, error) {
	pl, err := p.plan(o)
	if err != nil {
		return nil, nil, err
	}
	errs := make([]error, len(groups))
	queries := make([]*preparedQuery, len(groups))
	forEach(ctx, len(groups), func(i int) error {
		queries[i], errs[i] = p.queryOf(groups[i].Query, pl)
		return nil // the other groups go on
	})
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	// the pairs of the groups with a query, flattened: group g's are first[g]:first[g+1]
	first := make([]int, len(groups)+1)
	var owner []int
	for g, gr := range groups {
		n := 0
		if errs[g] == nil {
			n = len(gr.Documents)
		}
		first[g+1] = first[g] + n
		for range n {
			owner = append(owner, g)
		}
	}
	inputs := make([]Input, len(owner))
	pairErrs := make([]error, len(owner))
	forEach(ctx, len(owner), func(k int) error {
		g := owner[k]
		inputs[k], pairErrs[k] = p.pair(queries[g], groups[g].Documents[k-first[g]])
		return nil
	})
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	// the good groups' inputs, in order, for one forward call
	var good []Input
	for g := range groups {
		for k := first[g]; k < first[g+1] && errs[g] == nil; k++ {
			if pairErrs[k] != nil {
				errs[g] = &PairError{k - first[g], pairErrs[k]}
			}
		}
		if errs[g] == nil {
			good = append(good, inputs[first[g]:first[g+1]]...)
		}
	}
	logits := make([]float32, seqCount(good))
	if len(good) > 0 {
		if err := forward(ctx, good, logits); err != nil {
			return nil, nil, err
		}
	}
	res := make([][]Result, len(groups))
	for g := range groups {
		if errs[g] != nil {
			continue
		}
		in := inputs[first[g]:first[g+1]]
		n := seqCount(in)
		if res[g], err = reduce(in, logits[:n]); err != nil {
			return nil, nil, err
		}
		logits = logits[n:]
	}
	return res, errs, nil
}

// seqCount is the number of model sequences of inputs (a windowed document has several).
func seqCount(inputs []Input) int {
	n := 0
	for _, in := range inputs {
		n += len(in.Seqs)
	}
	return n
}

// forEach runs task(i) for every i in [0,n) on the module's shared worker pool
// (internal/workers: the caller plus idle helpers; the caller alone below 8 tasks) and
// returns the failed task of lowest index and its error. Once a task fails, those of higher
// index are skipped and those of lower index still run, so the lowest is the one reported.
// Tasks are skipped once ctx ends (the caller checks ctx.Err()).
func forEach(ctx context.Context, n int, task func(i int) error) (int, error) {
	j := indexJobs.Get().(*indexJob)
	defer func() {
		j.ctx, j.task, j.errs = nil, nil, nil
		indexJobs.Put(j)
	}()
	j.ctx, j.task, j.errs = ctx, task, make([]error, n)
	j.firstBad.Store(int64(n))
	threads := 1
	if n >= 8 {
		threads = workers.Threads()
	}
	j.g.Run(j, n, threads)
	if b := int(j.firstBad.Load()); b < n {
		return b, j.errs[b]
	}
	return 0, nil
}

// indexJob is one forEach call, one worker task per index.
type indexJob struct {
	g    workers.Group
	ctx  context.Context
	task func(i int) error
	errs []error
	// firstBad is the lowest index of a failed task: the tasks after it are skipped, those
	// before it still run so that the lowest bad index is the one reported.
	firstBad atomic.Int64
}

var indexJobs = sync.Pool{New: func() any { return new(indexJob) }}

func (j *indexJob) Work(g *workers.Group) {
	for {
		i, ok := g.Next()
		if !ok {
			return
		}
		if int64(i) > j.firstBad.Load() || j.ctx.Err() != nil {
			continue
		}
		if j.errs[i] = j.task(i); j.errs[i] != nil {
			for {
				b := j.firstBad.Load()
				if int64(i) >= b || j.firstBad.CompareAndSwap(b, int64(i)) {
					break
				}
			}
		}
	}
}

// pair builds the model input of one document for a tokenized query.
func (p *Pipeline) pair(q *preparedQuery, doc string) (Input, error) {
	if !utf8.ValidString(doc) {
		return Input{}, errorf(ErrInvalidUTF8, "the document is not valid UTF-8")
	}
	pl, sp := q.pl, p.tmpl.specials()
	budget := pl.maxLen - sp // tokens for query + document
	// With more, a list holds one id beyond what any mode can keep: its length stands in for
	// the text's, which only matters by being too large.
	nq := len(q.ids)
	// How many document tokens each mode needs to decide (one more than it can keep).
	var limit int
	switch pl.Truncation {
	case TruncateLongestFirst:
		limit = max(budget, nq) + 1 // enough to tell which side is longer
	case TruncateOnlySecond, TruncateFlag:
		limit = budget + 1
	case TruncateWindows:
		room := budget - min(nq, pl.maxLen/2)
		if room < 1 {
			return Input{}, errorf(ErrTooLong, "max length %d leaves no room for a document window beside the query (windows truncation)", pl.maxLen)
		}
		stride := room - min(pl.WindowOverlap, room/2)
		limit = room + stride*(pl.MaxWindows-1) + 1
	}
	docCapped := false
	if pl.MaxDocTokens > 0 && pl.MaxDocTokens < limit {
		limit = pl.MaxDocTokens + 1
		docCapped = true
	}
	// The document's ids only live until they are copied into the model input.
	buf := idBufs.Get().(*[]int32)
	defer func() { idBufs.Put(buf) }()
	d, more, err := p.enc.AppendIDs((*buf)[:0], doc, limit, pl.Left)
	if err != nil {
		return Input{}, fmt.Errorf("gorerank: tokenizing: %w", err)
	}
	if cap(d) <= 1<<16 { // keep a grown buffer, unless a huge document made it
		*buf = d
	}
	truncated := false
	if docCapped && len(d) > pl.MaxDocTokens {
		d, more, truncated = cutIDs(d, pl.MaxDocTokens, pl.Left), false, true
	}
	nd := len(d)
	in := func(qs, ds []int32, qa, da int) [4]int { return [4]int{qa, qa + len(qs), da, da + len(ds)} }
	single := func(qk, dk int, cut bool) Input {
		qs, ds := cutIDs(q.ids, qk, pl.Left), cutIDs(d, dk, pl.Left)
		qa, da := 0, 0
		if pl.Left { // (exact only when the lists are whole: see Exact)
			qa, da = len(q.ids)-len(qs), len(d)-len(ds)
		}
		return Input{Seqs: [][]int32{p.tmpl.join(qs, ds)}, Truncated: truncated || cut, Spans: [][4]int{in(qs, ds, qa, da)}}
	}
	if nq+nd <= budget {
		return single(nq, nd, false), nil
	}
	if pl.Strict && pl.Truncation != TruncateWindows {
		return Input{}, errorf(ErrTooLong, "the pair has %s tokens, over max length %d (truncation is off)", atLeast(nq+nd+sp, q.more || more), pl.maxLen)
	}
	switch pl.Truncation {
	case TruncateLongestFirst:
		kq, kd := longestFirst(nq, nd, budget)
		return single(kq, kd, true), nil
	case TruncateOnlySecond:
		if nq >= budget {
			return Input{}, errorf(ErrTooLong, "the query has %s tokens; only_second with max length %d keeps at most %d", atLeast(nq, q.more), pl.maxLen, budget-1)
		}
		return single(nq, budget-nq, true), nil
	case TruncateFlag:
		kq := min(nq, pl.maxLen*3/4)
		if kq > budget {
			return Input{}, errorf(ErrTooLong, "max length %d leaves no room for the document after the query's %d tokens (flag truncation)", pl.maxLen, kq)
		}
		return single(kq, budget-kq, true), nil
	}
	// windows
	kq := min(nq, pl.maxLen/2)
	qs := cutIDs(q.ids, kq, pl.Left)
	room := budget - kq
	if nd <= room {
		return single(kq, nd, kq < nq), nil
	}
	stride := room - min(pl.WindowOverlap, room/2)
	qa := 0
	if pl.Left {
		qa = len(q.ids) - len(qs)
	}
	var res Input
	res.Truncated = truncated || kq < nq
	for start := 0; ; start += stride {
		end := min(start+room, len(d))
		res.Seqs = append(res.Seqs, p.tmpl.join(qs, d[start:end]))
		res.Spans = append(res.Spans, [4]int{qa, qa + len(qs), start, end})
		if end == len(d) && !more {
			return res, nil
		}
		if len(res.Seqs) == pl.MaxWindows {
			if pl.Strict {
				return Input{}, errorf(ErrTooLong, "the document needs more than %d windows of %d tokens (max windows)", pl.MaxWindows, room)
			}
			res.Truncated = true
			return res, nil
		}
	}
}

// The single-text policy: what an embedder's model input is. It sits beside the pair
// policy above so that every door (Embedder.Embed, rerank embed, the server) applies the same
// one.

// textInput is one text's model input: SinglePrefix text SingleSuffix (<s> text </s>).
type textInput struct {
	IDs       []int32
	Truncated bool // the text was cut to EmbedOptions.MaxLength
}

// TextError is the error for one input text; Index is its position in the input.
type TextError struct {
	Index int
	Err   error
}

func (e *TextError) Error() string {
	return fmt.Sprintf("gorerank: text %d: %v", e.Index, unprefixed{e.Err})
}

func (e *TextError) Unwrap() error { return e.Err }

// CheckEmbed validates o against the model and fills in the defaults: MaxLength 0 is the
// model's position limit (8192 for bge-m3, FlagEmbedding's default max_length), Outputs 0 is
// xlmr.OutputDense. A MaxLength above the limit, or one that leaves no room beside the
// single template's special tokens, is ErrOptions. Whether the model has the outputs asked
// for is the Embedder's to check (Embedder.Check).
func (p *Pipeline) CheckEmbed(o EmbedOptions) (EmbedOptions, error) {
	sp := p.tmpl.singleSpecials()
	switch {
	case o.MaxLength < 0:
		return EmbedOptions{}, errorf(ErrOptions, "max length %d is negative", o.MaxLength)
	case o.MaxLength > p.maxTokens:
		return EmbedOptions{}, errorf(ErrOptions, "max length %d exceeds the model's %d tokens", o.MaxLength, p.maxTokens)
	}
	o.MaxLength = cmp.Or(o.MaxLength, p.maxTokens)
	if o.MaxLength <= sp {
		return EmbedOptions{}, errorf(ErrOptions, "max length %d leaves no room beside the %d special tokens of the single template", o.MaxLength, sp)
	}
	o.Outputs = cmp.Or(o.Outputs, xlmr.OutputDense)
	if o.Outputs&^xlmr.OutputAll != 0 {
		return EmbedOptions{}, errorf(ErrOptions, "outputs %#x: want dense, sparse and/or colbert", uint8(o.Outputs))
	}
	return o, nil
}

// text builds the model input of one text to embed under checked options: valid UTF-8
// (else ErrInvalidUTF8), not the empty string (ErrEmptyText; white space only is embedded),
// tokenized once, ids only, stopping one token past what MaxLength keeps; then SinglePrefix
// ids SingleSuffix. A text longer than MaxLength (special tokens included) is ErrTooLong, or
// with Truncate cut to it from the end (with Left, from the start), keeping the special
// tokens, as FlagEmbedding's tokenizer(truncation=True, max_length=...) does.
func (p *Pipeline) text(text string, o EmbedOptions) (textInput, error) {
	switch {
	case !utf8.ValidString(text):
		return textInput{}, errorf(ErrInvalidUTF8, "the text is not valid UTF-8")
	case text == "":
		return textInput{}, ErrEmptyText
	}
	pre, suf := p.tmpl.SinglePrefix, p.tmpl.SingleSuffix
	budget := o.MaxLength - len(pre) - len(suf) // bare tokens that fit
	buf := idBufs.Get().(*[]int32)
	defer idBufs.Put(buf)
	bare, more, err := p.enc.AppendIDs((*buf)[:0], text, budget, o.Left)
	if err != nil {
		return textInput{}, fmt.Errorf("gorerank: tokenizing: %w", err)
	}
	if cap(bare) <= 1<<16 { // keep a grown buffer, unless a huge text made it
		*buf = bare
	}
	if more && !o.Truncate {
		return textInput{}, errorf(ErrTooLong, "the text is longer than max length %d (special tokens included; truncation is off)", o.MaxLength)
	}
	bare = cutIDs(bare, budget, o.Left)
	ids := make([]int32, 0, len(pre)+len(bare)+len(suf))
	ids = append(append(append(ids, pre...), bare...), suf...)
	return textInput{IDs: ids, Truncated: more}, nil
}

// tokenIDs builds the model input of a text given as bare token ids (the token-array input
// of OpenAI's embeddings API) under checked options: not empty (ErrEmptyText), every id in
// [0, vocab) (ErrTokenID), then text's template and truncation.
func (p *Pipeline) tokenIDs(ids []int32, vocab int, o EmbedOptions) (textInput, error) {
	if len(ids) == 0 {
		return textInput{}, ErrEmptyText
	}
	for i, id := range ids {
		if id < 0 || int(id) >= vocab {
			return textInput{}, errorf(ErrTokenID, "token %d is id %d, outside the vocabulary of %d", i, id, vocab)
		}
	}
	pre, suf := p.tmpl.SinglePrefix, p.tmpl.SingleSuffix
	budget := o.MaxLength - len(pre) - len(suf)
	more := len(ids) > budget
	if more && !o.Truncate {
		return textInput{}, errorf(ErrTooLong, "the text has %d tokens, more than max length %d allows (special tokens included; truncation is off)", len(ids), o.MaxLength)
	}
	bare := cutIDs(ids, budget, o.Left)
	out := make([]int32, 0, len(pre)+len(bare)+len(suf))
	out = append(append(append(out, pre...), bare...), suf...)
	return textInput{IDs: out, Truncated: more}, nil
}

// prepareTexts builds the model inputs of texts under checked options (text for each, on
// the module's shared worker pool). It returns the bad text of lowest index (a *TextError),
// or ctx.Err() once ctx ends (checked before each text).
func (p *Pipeline) prepareTexts(ctx context.Context, texts []string, o EmbedOptions) ([]textInput, error) {
	out := make([]textInput, len(texts))
	bad, err := forEach(ctx, len(texts), func(i int) (err error) {
		out[i], err = p.text(texts[i], o)
		return err
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, &TextError{bad, err}
	}
	return out, nil
}

func atLeast(n int, more bool) string {
	if more {
		return fmt.Sprintf("more than %d", n-1)
	}
	return fmt.Sprint(n)
}

// longestFirst is HF's longest_first: the lengths the two sides keep for a budget of max
// tokens (special tokens already subtracted), as the tokenizer decides it.
func longestFirst(n1, n2, budget int) (int, int) {
	k1, k2, _ := tokenizer.TruncLengths(n1, n2, true, budget, tokenizer.LongestFirst) // no error for longest_first
	return k1, k2
}

// idBufs holds the scratch id lists of Pipeline.Pair.
var idBufs = sync.Pool{New: func() any { return new([]int32) }}

// cutIDs keeps n ids from the end (left) or the start.
func cutIDs(ids []int32, n int, left bool) []int32 {
	if n >= len(ids) {
		return ids
	}
	if left {
		return ids[len(ids)-n:]
	}
	return ids[:n]
}

// reduce turns the logits of every sequence of inputs (in order) into one result per
// document, the best window's logit for a document with several. A non-finite logit is an
// error.
func reduce(inputs []Input, logits []float32) ([]Result, error) {
	out := make([]Result, len(inputs))
	k := 0
	for i, in := range inputs {
		best := float32(math.Inf(-1))
		for range in.Seqs {
			best = max(best, logits[k])
			k++
		}
		if math.IsNaN(float64(best)) || math.IsInf(float64(best), 0) {
			return nil, fmt.Errorf("gorerank: the model produced a non-finite logit (%v) for document %d", best, i)
		}
		out[i] = Result{Index: i, Logit: best, Score: xlmr.Sigmoid(best), Truncated: in.Truncated, Tokens: in.Tokens()}
	}
	return out, nil
}

// Rank sorts results by logit, highest first; equal logits keep input order (Index).
func Rank(res []Result) {
	slices.SortFunc(res, func(a, b Result) int {
		if c := cmp.Compare(b.Logit, a.Logit); c != 0 {
			return c
		}
		return cmp.Compare(a.Index, b.Index)
	})
}
