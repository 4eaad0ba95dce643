package gorerank

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/gorerank/gorerank/nn"
	"github.com/gorerank/gorerank/tokenizer"
	"github.com/gorerank/gorerank/xlmr"
)

// DefaultMaxLength is the pair length (special tokens included) used when
// ScoreOptions.MaxLength is 0: what FlagEmbedding-style usage of bge-reranker-v2-m3 passes.
const DefaultMaxLength = 512

// DefaultBatchTokens is the token budget of one forward pass when Options.BatchTokens is 0.
// Activation memory grows linearly with it: about (6·hidden + intermediate)·4 bytes per
// token, ≈ 330 MB at 8192 tokens for bge-reranker-v2-m3.
const DefaultBatchTokens = 8192

// Errors for input that cannot be scored (wrapped with details).
var (
	ErrEmptyQuery    = errors.New("gorerank: empty query")
	ErrEmptyDocument = errors.New("gorerank: empty document")
	ErrTooLong       = errors.New("gorerank: pair longer than max length")
)

// Options configure Open.
type Options struct {
	TokenizerPath string       // default: dir/tokenizer.json
	WeightsFile   string       // see xlmr.LoadOptions.WeightsFile; default: the folder's model.safetensors or shard index
	Precision     nn.Precision // see xlmr.LoadOptions.Precision; default float32
	BatchTokens   int          // token budget per forward pass; default DefaultBatchTokens
	Logger        *slog.Logger // load diagnostics; nil: none
}

// Truncation says how a pair longer than MaxLength is cut.
type Truncation string

const (
	// TruncateLongestFirst removes tokens from the longer side first (HF "longest_first",
	// the default and what CrossEncoder does).
	TruncateLongestFirst Truncation = "longest_first"
	// TruncateOnlySecond cuts only the document; a query that alone exceeds the limit is an error.
	TruncateOnlySecond Truncation = "only_second"
	// TruncateNone refuses over-long pairs with ErrTooLong.
	TruncateNone Truncation = "none"
)

// ScoreOptions control how pairs are tokenized. The zero value means MaxLength 512,
// longest_first truncation.
type ScoreOptions struct {
	MaxLength  int        // pair length limit, special tokens included; 0: DefaultMaxLength
	Truncation Truncation // "": TruncateLongestFirst

	// Progress, when not nil, is called by ScorePairs after each forward batch with the
	// number of pairs scored so far and their tokens (special tokens included, after
	// truncation). It runs on the calling goroutine, between batches: keep it cheap.
	Progress func(pairs, tokens int)
}

// Result is one scored document.
type Result struct {
	Index     int     // position of the document in the input
	Logit     float32 // raw model output
	Score     float32 // sigmoid(Logit), in (0,1)
	Truncated bool    // the pair was cut to MaxLength
}

// Pair is one (query, document) input of ScorePairs.
type Pair struct {
	Query, Document string
}

// PairError is the error for one input pair; Index is its position in the input.
type PairError struct {
	Index int
	Err   error
}

func (e *PairError) Error() string {
	return fmt.Sprintf("gorerank: pair %d: %v", e.Index, unprefixed{e.Err})
}

// unprefixed wraps an error of this package without repeating the "gorerank: " prefix
// when it is nested in another.
type unprefixed struct{ err error }

func (u unprefixed) Error() string { return strings.TrimPrefix(u.err.Error(), "gorerank: ") }
func (u unprefixed) Unwrap() error { return u.err }
func (e *PairError) Unwrap() error { return e.Err }

// Reranker is a loaded cross-encoder with its tokenizer. Safe for concurrent use.
type Reranker struct {
	model       *xlmr.Model
	tok         *tokenizer.Tokenizer
	batchTokens int
	scratch     sync.Pool // *xlmr.Scratch
}

// Open loads dir/config.json, the folder's safetensors weights and its tokenizer.json.
func Open(dir string, o Options) (*Reranker, error) {
	if o.BatchTokens < 0 {
		return nil, fmt.Errorf("gorerank: BatchTokens %d is negative", o.BatchTokens)
	}
	tokPath := o.TokenizerPath
	if tokPath == "" {
		tokPath = filepath.Join(dir, "tokenizer.json")
	}
	tok, err := tokenizer.Load(tokPath)
	if err != nil {
		return nil, fmt.Errorf("gorerank: %w", err)
	}
	m, err := xlmr.Load(dir, xlmr.LoadOptions{WeightsFile: o.WeightsFile, Precision: o.Precision, Logger: o.Logger})
	if err != nil {
		return nil, fmt.Errorf("gorerank: %w", err)
	}
	if tv := tok.VocabSize(); tv > m.Config.VocabSize {
		m.Close()
		return nil, fmt.Errorf("gorerank: tokenizer %s has %d ids, the model's vocab_size is %d", tokPath, tv, m.Config.VocabSize)
	}
	r := &Reranker{model: m, tok: tok, batchTokens: cmp.Or(o.BatchTokens, DefaultBatchTokens)}
	r.scratch.New = func() any { return m.NewScratch() }
	return r, nil
}

// Close releases the model's memory map. The Reranker must not be used afterwards.
func (r *Reranker) Close() error { return r.model.Close() }

// Model returns the underlying model (read-only).
func (r *Reranker) Model() *xlmr.Model { return r.model }

// Tokenizer returns the tokenizer.
func (r *Reranker) Tokenizer() *tokenizer.Tokenizer { return r.tok }

// Rerank scores every document against query and returns the results sorted by score,
// highest first (ties keep input order). An empty query or document is an error; no
// documents give an empty result.
func (r *Reranker) Rerank(ctx context.Context, query string, docs []string, o ScoreOptions) ([]Result, error) {
	if query == "" {
		return nil, ErrEmptyQuery
	}
	pairs := make([]Pair, len(docs))
	for i, d := range docs {
		pairs[i] = Pair{query, d}
	}
	res, err := r.ScorePairs(ctx, pairs, o)
	if err != nil {
		var pe *PairError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("gorerank: document %d: %w", pe.Index, unprefixed{pe.Err})
		}
		return nil, err
	}
	slices.SortStableFunc(res, func(a, b Result) int { return cmp.Compare(b.Score, a.Score) })
	return res, nil
}

// ScorePairs scores (query, document) pairs and returns one result per pair, in input
// order. Every pair is tokenized (and checked) before any is scored, so an error means no
// work was wasted on a batch that cannot complete; it is a *PairError naming the pair.
func (r *Reranker) ScorePairs(ctx context.Context, pairs []Pair, o ScoreOptions) ([]Result, error) {
	topts, limit, err := r.tokenizerOptions(o)
	if err != nil {
		return nil, err
	}
	res := make([]Result, len(pairs))
	ids := make([][]int32, len(pairs))
	for i, p := range pairs {
		switch {
		case p.Query == "":
			return nil, &PairError{i, ErrEmptyQuery}
		case p.Document == "":
			return nil, &PairError{i, ErrEmptyDocument}
		}
		enc, err := r.tok.EncodePair(p.Query, p.Document, topts)
		if err != nil {
			return nil, &PairError{i, err}
		}
		if len(enc.IDs) > limit {
			return nil, &PairError{i, fmt.Errorf("%w: %d tokens, max length %d", ErrTooLong, len(enc.IDs), limit)}
		}
		ids[i] = enc.IDs
		res[i] = Result{Index: i, Truncated: enc.Truncated}
	}
	logits := make([]float32, len(pairs))
	s := r.scratch.Get().(*xlmr.Scratch)
	defer r.scratch.Put(s)
	for start, scoredTokens := 0, 0; start < len(ids); {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		end, tokens := start, 0
		for end < len(ids) && (end == start || tokens+len(ids[end]) <= r.batchTokens) {
			tokens += len(ids[end])
			end++
		}
		if err := r.model.Forward(s, ids[start:end], logits[start:end], nil); err != nil {
			return nil, fmt.Errorf("gorerank: %w", err)
		}
		start, scoredTokens = end, scoredTokens+tokens
		if o.Progress != nil {
			o.Progress(start, scoredTokens)
		}
	}
	for i := range res {
		res[i].Logit, res[i].Score = logits[i], xlmr.Sigmoid(logits[i])
	}
	return res, nil
}

// tokenizerOptions checks o against the model and turns it into tokenizer options and the
// length limit every encoded pair must respect.
func (r *Reranker) tokenizerOptions(o ScoreOptions) (tokenizer.Options, int, error) {
	maxLen := cmp.Or(o.MaxLength, DefaultMaxLength)
	if maxLen < 0 {
		return tokenizer.Options{}, 0, fmt.Errorf("gorerank: max length %d is negative", maxLen)
	}
	if limit := r.model.MaxTokens(); maxLen > limit {
		if o.MaxLength != 0 {
			return tokenizer.Options{}, 0, fmt.Errorf("gorerank: max length %d exceeds the model's %d tokens", maxLen, limit)
		}
		maxLen = limit // a model with fewer positions than the default: use what it allows
	}
	t := tokenizer.Options{MaxLength: maxLen}
	switch o.Truncation {
	case "", TruncateLongestFirst:
		t.Strategy = tokenizer.LongestFirst
	case TruncateOnlySecond:
		t.Strategy = tokenizer.OnlySecond
	case TruncateNone:
		t.MaxLength = 0 // tokenize in full; ScorePairs refuses what is longer than maxLen
	default:
		return tokenizer.Options{}, 0, fmt.Errorf("gorerank: unknown truncation %q (want %q, %q or %q)", o.Truncation, TruncateLongestFirst, TruncateOnlySecond, TruncateNone)
	}
	return t, maxLen, nil
}
