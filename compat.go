package gorerank

import (
	"context"

	"github.com/gorerank/gorerank/xlmr"
)

// The names below are what the doors used before Score, Embed, EmbedTokens, RerankEach and
// EmbedEach; they go once the doors no longer use them.

type Query = preparedQuery
type TextInput = textInput

func (p *Pipeline) Prepare(ctx context.Context, query string, docs []string, o ScoreOptions) ([]Input, error) {
	return p.prepare(ctx, query, docs, o)
}
func (p *Pipeline) Query(query string, o ScoreOptions) (*Query, error) { return p.query(query, o) }
func (p *Pipeline) Pair(q *Query, doc string) (Input, error)           { return p.pair(q, doc) }
func (p *Pipeline) Text(text string, o EmbedOptions) (TextInput, error) {
	o, err := p.CheckEmbed(o)
	if err != nil {
		return TextInput{}, err
	}
	return p.text(text, o)
}
func (p *Pipeline) PrepareTexts(ctx context.Context, texts []string, o EmbedOptions) ([]TextInput, error) {
	o, err := p.CheckEmbed(o)
	if err != nil {
		return nil, err
	}
	return p.prepareTexts(ctx, texts, o)
}
func (p *Pipeline) TokenIDs(ids []int32, vocab int, o EmbedOptions) (TextInput, error) {
	o, err := p.CheckEmbed(o)
	if err != nil {
		return TextInput{}, err
	}
	return p.tokenIDs(ids, vocab, o)
}
func EmbedInputs(ctx context.Context, inputs []TextInput, want xlmr.Outputs, forward EmbedForward) ([]Embedding, error) {
	return embedInputs(ctx, inputs, want, forward)
}
func Reduce(inputs []Input, logits []float32) ([]Result, error) { return reduce(inputs, logits) }
func Sigmoid(x float32) float32                                 { return xlmr.Sigmoid(x) }
func (r *Reranker) Score(ctx context.Context, inputs []Input) ([]Result, error) {
	logits := make([]float32, seqCount(inputs))
	if err := r.forward(ctx, inputs, logits, nil); err != nil {
		return nil, err
	}
	return reduce(inputs, logits)
}
func (e *Embedder) Forward(ctx context.Context, seqs [][]int32, want xlmr.Outputs, out []xlmr.Embedding) error {
	return e.forward(ctx, seqs, want, out)
}
func (t Template) Join(q, d []int32) []int32 { return t.join(q, d) }
