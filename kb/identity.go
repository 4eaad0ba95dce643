package kb

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/gorerank/gorerank"
	"github.com/gorerank/gorerank/tokenizer"
	"github.com/gorerank/gorerank/xlmr"
)

// identity is what a knowledge base records of its embedder: not its name (a folder can be
// moved, a hub id can be re-pointed) but what it does. The shape of the model, the token
// ids its tokenizer gives a few probe texts (the sparse vectors are indexed by them), and
// the dense vectors it gives them (the weights). An embedder is the same one when the shape
// and the token ids are equal and every probe's dense vector has a cosine of at least
// minProbeCosine with the recorded one: the same model stored as f32, bf16 or int8 passes
// (their vectors differ by well under 1%), another model does not.
type identity struct {
	Name   string  `json:"name"` // as given at init, for messages
	Hidden int     `json:"hidden"`
	Layers int     `json:"layers"`
	Vocab  int     `json:"vocab"`
	Probes []probe `json:"probes"`
}

type probe struct {
	Text  string    `json:"text"`
	IDs   []int32   `json:"ids"`
	Dense []float32 `json:"dense"`
}

const minProbeCosine = 0.98

// probeTexts cover a few scripts, so that a tokenizer that differs anywhere is likely seen.
var probeTexts = []string{
	"gorerank knowledge base: embedder identity probe.",
	"员工离职需要提前多久通知公司?",
	"Die Kündigungsfrist beträgt 30 Tage; 退職は30日前に通知すること。 Уведомление за месяц.",
}

func identify(ctx context.Context, e *gorerank.Embedder, name string) (identity, error) {
	cfg := e.Model().Config
	id := identity{Name: name, Hidden: cfg.HiddenSize, Layers: cfg.NumHiddenLayers, Vocab: cfg.VocabSize}
	embs, err := e.Embed(ctx, probeTexts, gorerank.EmbedOptions{Outputs: xlmr.OutputDense})
	if err != nil {
		return identity{}, fmt.Errorf("kb: embedding the identity probes: %w", err)
	}
	for i, t := range probeTexts {
		enc, err := e.Tokenizer().Encode(t, tokenizer.Options{})
		if err != nil {
			return identity{}, fmt.Errorf("kb: tokenizing the identity probes: %w", err)
		}
		id.Probes = append(id.Probes, probe{Text: t, IDs: enc.IDs, Dense: embs[i].Dense})
	}
	return id, nil
}

// check returns an EmbedderError when e is not the embedder id was recorded from.
func (id *identity) check(ctx context.Context, e *gorerank.Embedder) error {
	now, err := identify(ctx, e, "")
	if err != nil {
		return err
	}
	fail := func(format string, a ...any) error {
		return &EmbedderError{Built: id.Name, Why: fmt.Sprintf(format, a...)}
	}
	switch {
	case now.Hidden != id.Hidden || now.Layers != id.Layers || now.Vocab != id.Vocab:
		return fail("shape hidden %d, layers %d, vocab %d; built with %d, %d, %d",
			now.Hidden, now.Layers, now.Vocab, id.Hidden, id.Layers, id.Vocab)
	case len(now.Probes) != len(id.Probes):
		return fail("%d identity probes recorded, %d computed", len(id.Probes), len(now.Probes))
	}
	for i, p := range id.Probes {
		q := now.Probes[i]
		if p.Text != q.Text || !slices.Equal(p.IDs, q.IDs) {
			return fail("its tokenizer gives other token ids")
		}
		if c := cosine(p.Dense, q.Dense); !(c >= minProbeCosine) {
			return fail("its vectors differ: cosine %.4f with the recorded probe, want ≥ %.2f", c, minProbeCosine)
		}
	}
	return nil
}

// cosine is the cosine of two dense vectors (NaN when their lengths differ).
func cosine(a, b []float32) float64 {
	if len(a) != len(b) || len(a) == 0 {
		return math.NaN()
	}
	return float64(xlmr.DenseScore(a, b)) / math.Sqrt(float64(xlmr.DenseScore(a, a))*float64(xlmr.DenseScore(b, b)))
}
