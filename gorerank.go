package gorerank

import (
	"cmp"
	"context"
	"fmt"

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

// Pair is one (query, document) input of ScorePairs.
type Pair struct {
	Query, Document string
}

// Reranker is a loaded cross-encoder with its tokenizer. Safe for concurrent use.
type Reranker struct {
	l           *Loaded
	batchTokens int
	scratch     xlmr.ScratchPool
}

// Open loads a reranker (a folder, or a hub id: see LoadModel) with LoadModel. An
// embedder (config.json's XLMRobertaModel, such as BAAI/bge-m3) is ErrKind: open it with
// OpenEmbedder.
func Open(model string, o Options) (*Reranker, error) {
	if o.BatchTokens < 0 {
		return nil, errorf(ErrOptions, "BatchTokens %d is negative", o.BatchTokens)
	}
	l, err := LoadModel(context.Background(), model, o)
	if err != nil {
		return nil, err
	}
	if err := checkKind(l, model, xlmr.Reranker); err != nil {
		l.Close()
		return nil, err
	}
	r := &Reranker{l: l, batchTokens: cmp.Or(o.BatchTokens, DefaultBatchTokens)}
	return r, nil
}

// Close releases the model's memory map. The Reranker must not be used afterwards.
func (r *Reranker) Close() error { return r.l.Close() }

// Model returns the underlying model (read-only).
func (r *Reranker) Model() *xlmr.Model { return r.l.Model }

// Tokenizer returns the tokenizer.
func (r *Reranker) Tokenizer() *tokenizer.Tokenizer { return r.l.Tokenizer }

// Pipeline returns the tokenization and truncation pipeline.
func (r *Reranker) Pipeline() *Pipeline { return r.l.Pipeline }

// Rerank scores every document against query and returns the results ranked by logit,
// highest first (equal logits keep input order). A blank query is ErrEmptyQuery; an empty
// document is scored (HF's <s> query </s></s></s>); no documents give an empty result.
func (r *Reranker) Rerank(ctx context.Context, query string, docs []string, o ScoreOptions) ([]Result, error) {
	res, err := Score(ctx, r.l.Pipeline, query, docs, o, func(ctx context.Context, inputs []Input, logits []float32) error {
		return r.forward(ctx, inputs, logits, o.Progress)
	})
	if err != nil {
		return nil, err
	}
	Rank(res)
	return res, nil
}

// ScoreForward is the seam between the scoring pipeline and a forward pass: it writes the
// logit of every sequence of inputs, in order, into logits (one per sequence: a windowed
// document has several), stopping early with ctx's error once ctx ends. The Reranker's own
// runs the model in batches; a server plugs in a batcher that shares forward passes between
// requests.
type ScoreForward func(ctx context.Context, inputs []Input, logits []float32) error

// Score is the whole scoring pipeline over a forward pass: the pair policy (validation,
// template, truncation: the query tokenized once, each document once on the module's shared
// worker pool), one forward call, then windows reduced to documents (a non-finite logit is
// an error). It returns one result per document, in input order, or the bad document of
// lowest index (a *PairError), or ctx.Err() once ctx ends; Rank orders the results as
// Reranker.Rerank does.
func Score(ctx context.Context, p *Pipeline, query string, docs []string, o ScoreOptions, forward ScoreForward) ([]Result, error) {
	inputs, err := p.prepare(ctx, query, docs, o)
	if err != nil {
		return nil, err
	}
	logits := make([]float32, seqCount(inputs))
	if err := forward(ctx, inputs, logits); err != nil {
		return nil, err
	}
	return reduce(inputs, logits)
}

// ScorePairs scores (query, document) pairs and returns one result per pair, in input
// order. Every pair is tokenized (and checked) before any is scored; a bad pair is a
// *PairError naming it. Consecutive pairs with the same query tokenize it once.
func (r *Reranker) ScorePairs(ctx context.Context, pairs []Pair, o ScoreOptions) ([]Result, error) {
	p := r.l.Pipeline
	inputs := make([]Input, len(pairs))
	var q *preparedQuery
	for i, pr := range pairs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if i == 0 || pr.Query != pairs[i-1].Query {
			var err error
			if q, err = p.query(pr.Query, o); err != nil {
				return nil, &PairError{i, err}
			}
		}
		in, err := p.pair(q, pr.Document)
		if err != nil {
			return nil, &PairError{i, err}
		}
		inputs[i] = in
	}
	logits := make([]float32, seqCount(inputs))
	if err := r.forward(ctx, inputs, logits, o.Progress); err != nil {
		return nil, err
	}
	return reduce(inputs, logits)
}

// Group is one query with its documents: a unit of RerankEach (a line of rerank score's JSON
// Lines input).
type Group struct {
	Query     string
	Documents []string
}

// RerankEach ranks the documents of each group against its query as Rerank does, sharing
// the forward passes between the groups: the documents of every group are tokenized
// together on the module's shared worker pool, then run in one series of batches. A group
// that fails (a query error, or a *PairError naming the document within the group) is nil in
// res with its error in errs; the others are scored. err is for the whole call: options that
// do not fit the model (ErrOptions), ctx's end or the model's failure; then res and errs are
// nil. Progress counts the pairs of every group.
func (r *Reranker) RerankEach(ctx context.Context, groups []Group, o ScoreOptions) (res [][]Result, errs []error, err error) {
	res, errs, err = scoreEach(ctx, r.l.Pipeline, groups, o, func(ctx context.Context, inputs []Input, logits []float32) error {
		return r.forward(ctx, inputs, logits, o.Progress)
	})
	if err != nil {
		return nil, nil, err
	}
	for _, g := range res {
		Rank(g)
	}
	return res, errs, nil
}

// forward is the Reranker's ScoreForward: the model in batches of at most BatchTokens tokens
// that never split a document's windows, ctx checked between them.
func (r *Reranker) forward(ctx context.Context, inputs []Input, logits []float32, progress func(pairs, tokens int)) error {
	var seqs [][]int32
	for _, in := range inputs {
		seqs = append(seqs, in.Seqs...)
	}
	s := r.scratch.Get()
	defer r.scratch.Put(s)
	// batches never split a document's windows, so progress counts whole pairs
	for first, start, scoredTokens := 0, 0, 0; first < len(inputs); {
		if err := ctx.Err(); err != nil {
			return err
		}
		last, n, tokens := first, 0, 0
		for last < len(inputs) && (last == first || tokens+inputs[last].Tokens() <= r.batchTokens) {
			tokens += inputs[last].Tokens()
			n += len(inputs[last].Seqs)
			last++
		}
		if err := r.l.Model.Forward(s, seqs[start:start+n], logits[start:start+n], nil); err != nil {
			return fmt.Errorf("gorerank: %w", err)
		}
		first, start, scoredTokens = last, start+n, scoredTokens+tokens
		if progress != nil {
			progress(first, scoredTokens)
		}
	}
	return nil
}
