package gorerank

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/gorerank/gorerank/tokenizer"
	"github.com/gorerank/gorerank/xlmr"
)

// ErrKind: the model is of the other kind: a reranker given to OpenEmbedder, an embedder given
// to Open. It is xlmr.ErrKind, so errors.Is answers for either name.
var ErrKind = xlmr.ErrKind

// EmbedOptions say which embeddings Embed computes and how a text is cut. The zero value is
// the dense output, MaxLength the model's position limit, and an over-long text an ErrTooLong.
type EmbedOptions struct {
	// Outputs are the embeddings to compute (a bit set): xlmr.OutputDense (the default when 0),
	// xlmr.OutputSparse, xlmr.OutputColBERT, or any union (xlmr.OutputAll). FlagEmbedding's
	// BGEM3FlagModel.encode returns the dense output alone unless asked for more, as here.
	Outputs xlmr.Outputs
	// MaxLength is the text length limit, special tokens included; 0: the model's position
	// limit (8192 for bge-m3, FlagEmbedding's default max_length).
	MaxLength int
	// Truncate cuts a text longer than MaxLength to it, keeping <s> and </s> (FlagEmbedding
	// always does; TEI's truncate: true). False: such a text is ErrTooLong (TEI's default).
	Truncate bool
	// Left cuts tokens from the start of a text instead of its end (truncation_side "left").
	Left bool
}

// ParseOutputs reads output names, separated by commas or "+": dense, sparse, colbert, or all
// (any case; xlmr.Outputs.String writes them joined by "+"). "" is 0, EmbedOptions' default
// (dense).
func ParseOutputs(s string) (xlmr.Outputs, error) {
	var o xlmr.Outputs
	for _, name := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '+' }) {
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "dense":
			o |= xlmr.OutputDense
		case "sparse", "lexical":
			o |= xlmr.OutputSparse
		case "colbert":
			o |= xlmr.OutputColBERT
		case "all":
			o |= xlmr.OutputAll
		default:
			return 0, errorf(ErrOptions, "unknown output %q (want dense, sparse, colbert or all)", strings.TrimSpace(name))
		}
	}
	return o, nil
}

// Embedding is one text's embeddings: the outputs asked for (xlmr.Embedding: Dense,
// Sparse, ColBERT) and what the model read.
type Embedding struct {
	xlmr.Embedding
	Tokens    int  // model input tokens, special tokens included, after truncation
	Truncated bool // the text was cut to MaxLength
}

// SparseSorted returns the sparse output as two parallel lists, token ids ascending: the
// layout of a JSON answer ({"indices": [...], "values": [...]}). Empty without the sparse
// output.
func (e *Embedding) SparseSorted() (indices []int32, values []float32) {
	indices = make([]int32, 0, len(e.Sparse))
	for id := range e.Sparse {
		indices = append(indices, id)
	}
	slices.Sort(indices)
	values = make([]float32, len(indices))
	for i, id := range indices {
		values[i] = e.Sparse[id]
	}
	return indices, values
}

// EmbedForward is the seam between the embedding pipeline and a forward pass: it computes
// the outputs want of seqs into out[i] for seqs[i] (len(out) == len(seqs)), stopping early
// with ctx's error once ctx ends. The Embedder's own runs the model in batches; a server plugs in
// a batcher that shares forward passes between requests.
type EmbedForward func(ctx context.Context, seqs [][]int32, want xlmr.Outputs, out []xlmr.Embedding) error

// Embed is the whole embedding pipeline over a forward pass: the single-text policy
// (validation, template, truncation: each text tokenized once, on the module's shared worker
// pool), then one forward call, then a check that every output is finite. It returns one
// Embedding per text, in order, or the bad text of lowest index (a *TextError), or ctx.Err()
// once ctx ends. Embedder.Embed calls it with the model's own forward pass.
func Embed(ctx context.Context, p *Pipeline, texts []string, o EmbedOptions, forward EmbedForward) ([]Embedding, error) {
	o, err := p.CheckEmbed(o)
	if err != nil {
		return nil, err
	}
	inputs, err := p.prepareTexts(ctx, texts, o)
	if err != nil {
		return nil, err
	}
	return embedInputs(ctx, inputs, o.Outputs, forward)
}

// EmbedTokens is Embed for texts given as bare token ids (the token-array input of OpenAI's
// embeddings API; vocab is the model's number of ids): each not empty (ErrEmptyText), every
// id in [0, vocab) (ErrTokenID), then the template and truncation of a text. A bad text is a
// *TextError naming the first.
func EmbedTokens(ctx context.Context, p *Pipeline, ids [][]int32, vocab int, o EmbedOptions, forward EmbedForward) ([]Embedding, error) {
	o, err := p.CheckEmbed(o)
	if err != nil {
		return nil, err
	}
	inputs := make([]textInput, len(ids))
	for i, t := range ids {
		if inputs[i], err = p.tokenIDs(t, vocab, o); err != nil {
			return nil, &TextError{i, err}
		}
	}
	return embedInputs(ctx, inputs, o.Outputs, forward)
}

// embedInputs runs forward on prepared inputs (one call for all of them) and returns one
// Embedding per input, in order. A non-finite value in any output is an error, as a
// non-finite logit is for a reranker.
func embedInputs(ctx context.Context, inputs []textInput, want xlmr.Outputs, forward EmbedForward) ([]Embedding, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	seqs := make([][]int32, len(inputs))
	for i, in := range inputs {
		seqs[i] = in.IDs
	}
	embs := make([]xlmr.Embedding, len(inputs))
	if err := forward(ctx, seqs, want, embs); err != nil {
		return nil, err
	}
	out := make([]Embedding, len(inputs))
	for i, in := range inputs {
		if !finite(&embs[i]) {
			return nil, fmt.Errorf("gorerank: the model produced a non-finite embedding for text %d", i)
		}
		out[i] = Embedding{Embedding: embs[i], Tokens: len(in.IDs), Truncated: in.Truncated}
	}
	return out, nil
}

// finite reports whether every value of e's outputs is finite.
func finite(e *xlmr.Embedding) bool {
	ok := func(v float32) bool { return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) }
	for _, v := range e.Dense {
		if !ok(v) {
			return false
		}
	}
	for _, v := range e.Sparse {
		if !ok(v) {
			return false
		}
	}
	for _, row := range e.ColBERT {
		for _, v := range row {
			if !ok(v) {
				return false
			}
		}
	}
	return true
}

// Embedder is a loaded bge-m3-style embedder (xlmr.Embedder: XLMRobertaModel with the
// optional sparse and ColBERT heads) with its tokenizer. Safe for concurrent use.
type Embedder struct {
	l           *Loaded
	batchTokens int
	scratch     xlmr.ScratchPool
}

// OpenEmbedder loads an embedder (a folder, or a hub id such as BAAI/bge-m3: see
// LoadModel) with LoadModel, the same loading as Open. A reranker is ErrKind: open it with
// Open.
func OpenEmbedder(model string, o Options) (*Embedder, error) {
	if o.BatchTokens < 0 {
		return nil, errorf(ErrOptions, "BatchTokens %d is negative", o.BatchTokens)
	}
	l, err := LoadModel(context.Background(), model, o)
	if err != nil {
		return nil, err
	}
	if err := checkKind(l, model, xlmr.Embedder); err != nil {
		l.Close()
		return nil, err
	}
	return &Embedder{l: l, batchTokens: cmp.Or(o.BatchTokens, DefaultBatchTokens)}, nil
}

// EmbedderOf is the Embedder of a model that LoadModel loaded with its tokenizer, for a
// caller that runs the model itself as well: the server hands the embedder it serves to a
// knowledge base (package kb) this way instead of loading it twice. A reranker is ErrKind.
// The Embedder shares l: closing either closes the model.
func EmbedderOf(l *Loaded) (*Embedder, error) {
	if l.Pipeline == nil {
		return nil, errorf(ErrOptions, "EmbedderOf: %s was loaded without its tokenizer (Options.NoTokenizer)", l.Dir)
	}
	if err := checkKind(l, l.Dir, xlmr.Embedder); err != nil {
		return nil, err
	}
	return &Embedder{l: l, batchTokens: DefaultBatchTokens}, nil
}

// checkKind returns ErrKind when l's model is not of kind want.
func checkKind(l *Loaded, model string, want xlmr.Kind) error {
	got := l.Model.Kind
	if got == want {
		return nil
	}
	open := map[xlmr.Kind]string{xlmr.Reranker: "Open", xlmr.Embedder: "OpenEmbedder"}
	return errorf(ErrKind, "%s holds %s %s (config.json architectures %q): open it with %s, not %s",
		model, article(got), got, l.Model.Config.Architectures, open[got], open[want])
}

func article(k xlmr.Kind) string {
	if k == xlmr.Embedder {
		return "an"
	}
	return "a"
}

// Close releases the model's memory maps. The Embedder must not be used afterwards.
func (e *Embedder) Close() error { return e.l.Close() }

// Model returns the underlying model (read-only).
func (e *Embedder) Model() *xlmr.Model { return e.l.Model }

// Tokenizer returns the tokenizer.
func (e *Embedder) Tokenizer() *tokenizer.Tokenizer { return e.l.Tokenizer }

// Pipeline returns the tokenization and truncation pipeline.
func (e *Embedder) Pipeline() *Pipeline { return e.l.Pipeline }

// Check validates o for this model (Pipeline.CheckEmbed, then the outputs against the heads
// the model was loaded with: sparse needs sparse_linear, ColBERT colbert_linear beside the
// weights, else ErrOptions) and fills in the defaults.
func (e *Embedder) Check(o EmbedOptions) (EmbedOptions, error) {
	o, err := e.l.Pipeline.CheckEmbed(o)
	if err != nil {
		return EmbedOptions{}, err
	}
	if heads := e.l.Model.Heads(); o.Outputs&^heads != 0 {
		return EmbedOptions{}, errorf(ErrOptions, "the model has no %s output (it has %s; sparse needs %s.pt or .safetensors, colbert %s.pt or .safetensors beside the weights)",
			o.Outputs&^heads, heads, xlmr.SparseFile, xlmr.ColBERTFile)
	}
	return o, nil
}

// Embed computes the embeddings o.Outputs of every text, one per text, in input order. A bad
// text is a *TextError naming it (ErrEmptyText, ErrInvalidUTF8, ErrTooLong); options that do
// not fit the model are ErrOptions; no texts give an empty result. The forward passes hold at
// most Options.BatchTokens tokens each, and ctx is checked between them.
func (e *Embedder) Embed(ctx context.Context, texts []string, o EmbedOptions) ([]Embedding, error) {
	o, err := e.Check(o)
	if err != nil {
		return nil, err
	}
	return Embed(ctx, e.l.Pipeline, texts, o, e.forward)
}

// EmbedEach embeds each text as Embed does, one text's failure its own: a bad text
// (ErrEmptyText, ErrInvalidUTF8, ErrTooLong, as a plain error) has its error in errs and a
// zero Embedding in embs; the others are embedded, in forward passes shared between them.
// err is for the whole call: options that do not fit the model (ErrOptions), ctx's end, the
// model's failure or a non-finite output; then embs and errs are nil.
func (e *Embedder) EmbedEach(ctx context.Context, texts []string, o EmbedOptions) (embs []Embedding, errs []error, err error) {
	o, err = e.Check(o)
	if err != nil {
		return nil, nil, err
	}
	p := e.l.Pipeline
	inputs := make([]textInput, len(texts))
	errs = make([]error, len(texts))
	forEach(ctx, len(texts), func(i int) error {
		inputs[i], errs[i] = p.text(texts[i], o)
		return nil // the other texts go on
	})
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	var good []textInput
	for i, in := range inputs {
		if errs[i] == nil {
			good = append(good, in)
		}
	}
	res, err := embedInputs(ctx, good, o.Outputs, e.forward)
	if err != nil {
		return nil, nil, err
	}
	embs = make([]Embedding, len(texts))
	for i := range texts {
		if errs[i] == nil {
			embs[i], res = res[0], res[1:]
		}
	}
	return embs, errs, nil
}

// forward is the model's EmbedForward: seqs in consecutive batches of at most
// Options.BatchTokens tokens (a longer sequence alone), each one xlmr.Model.Embed on a pooled
// scratch, ctx checked before each.
func (e *Embedder) forward(ctx context.Context, seqs [][]int32, want xlmr.Outputs, out []xlmr.Embedding) error {
	if len(out) < len(seqs) {
		return fmt.Errorf("gorerank: forward: out holds %d embeddings for %d sequences", len(out), len(seqs))
	}
	s := e.scratch.Get()
	defer e.scratch.Put(s)
	for start := 0; start < len(seqs); {
		if err := ctx.Err(); err != nil {
			return err
		}
		end, tokens := start, 0
		for end < len(seqs) && (end == start || tokens+len(seqs[end]) <= e.batchTokens) {
			tokens += len(seqs[end])
			end++
		}
		if err := e.l.Model.Embed(s, seqs[start:end], want, out[start:end], nil); err != nil {
			return fmt.Errorf("gorerank: %w", err)
		}
		start = end
	}
	return nil
}
