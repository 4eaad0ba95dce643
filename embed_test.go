package gorerank

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gorerank/gorerank/internal/m3kit"
	"github.com/gorerank/gorerank/internal/randmodel"
	"github.com/gorerank/gorerank/tokenizer"
	"github.com/gorerank/gorerank/weights"
	"github.com/gorerank/gorerank/xlmr"
)

// m3Dir is the m3-tiny kit (internal/m3kit).
func m3Dir(t testing.TB) string { t.Helper(); return m3kit.Dir(t) }

func openM3(t testing.TB, o Options) *Embedder {
	t.Helper()
	o.TokenizerPath = tokenizerPath
	e, err := OpenEmbedder(m3Dir(t), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// loadM3Refs reads refs.json and leaves out the texts the library does not embed as the
// references did: the empty text (ErrEmptyText here; TestEmbedTextPolicy covers it) and the
// two holding a literal "<pad>", whose references number <pad>'s position as an ordinary
// token's where HF's XLMRobertaModel does not (see xlmr's loadM3Refs).
func loadM3Refs(t testing.TB) []m3kit.Ref {
	t.Helper()
	all := m3kit.Refs(t, m3Dir(t))
	var refs, left []m3kit.Ref
	for _, r := range all {
		if r.Text == "" || strings.Contains(r.Text, "<pad>") {
			left = append(left, r)
			continue
		}
		refs = append(refs, r)
	}
	if len(all) != 301 || len(left) != 3 {
		t.Fatalf("refs.json: %d texts, %d left out; want 301 and 3 (the empty text, two with <pad>)", len(all), len(left))
	}
	return refs
}

// maxAbs is the largest difference of any component of e's outputs from r's.
func maxAbs(t *testing.T, e *Embedding, r *m3kit.Ref) (dense, sparse, colbert float64) {
	t.Helper()
	dense, sparse, colbert, err := r.MaxAbs(e.Dense, e.Sparse, e.ColBERT)
	if err != nil {
		t.Fatal(err)
	}
	return dense, sparse, colbert
}

// TestEmbedGolden goes text → tokenizer → m3-tiny for the reference texts (298 of 301, up to
// 3,483 tokens) through OpenEmbedder and Embed, and compares every component of the dense,
// sparse and ColBERT outputs with FlagEmbedding's float64 references: in one forward batch
// and in batches of at most 600 tokens (a longer text alone).
func TestEmbedGolden(t *testing.T) {
	refs := loadM3Refs(t)
	texts := make([]string, len(refs))
	for i, r := range refs {
		texts[i] = r.Text
	}
	const tol = 1e-5
	for _, budget := range []int{0, 600} {
		e := openM3(t, Options{BatchTokens: budget})
		if e.Model().Kind != xlmr.Embedder || e.Model().Heads() != xlmr.OutputAll {
			t.Fatalf("kind %v, heads %v", e.Model().Kind, e.Model().Heads())
		}
		out, err := e.Embed(context.Background(), texts, EmbedOptions{Outputs: xlmr.OutputAll})
		if err != nil {
			t.Fatal(err)
		}
		var worst [3]float64
		bad := 0
		for i := range refs {
			r, g := &refs[i], &out[i]
			if g.Tokens != r.NTokens || g.Truncated || g.Outputs != xlmr.OutputAll {
				t.Fatalf("%s: %d tokens (truncated %v, outputs %v); the references have %d", r.ID, g.Tokens, g.Truncated, g.Outputs, r.NTokens)
			}
			d, s, c := maxAbs(t, g, r)
			if d > tol || s > tol || c > tol {
				if bad++; bad <= 10 {
					t.Errorf("budget %d: %s (%d tokens): maxabs dense=%.2g sparse=%.2g colbert=%.2g > %.0e", budget, r.ID, r.NTokens, d, s, c, tol)
				}
			}
			worst = [3]float64{max(worst[0], d), max(worst[1], s), max(worst[2], c)}
		}
		t.Logf("budget %d: %d texts vs float64 refs: max abs error dense %.3g, sparse %.3g, colbert %.3g", budget, len(refs), worst[0], worst[1], worst[2])
	}
}

// TestEmbedOutputs: each output asked alone equals the same output of OutputAll (the dense
// one alone runs the last layer for token 0 only), and the default is the dense output.
func TestEmbedOutputs(t *testing.T) {
	e := openM3(t, Options{})
	ctx := context.Background()
	texts := []string{"What is BGE M3?", strings.Repeat("lexical matching ", 40), "Don't split contractions like isn't, won't and shouldn't incorrectly."}
	all, err := e.Embed(ctx, texts, EmbedOptions{Outputs: xlmr.OutputAll})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []xlmr.Outputs{0, xlmr.OutputDense, xlmr.OutputSparse, xlmr.OutputColBERT, xlmr.OutputDense | xlmr.OutputSparse} {
		got, err := e.Embed(ctx, texts, EmbedOptions{Outputs: want})
		if err != nil {
			t.Fatal(err)
		}
		w := cmpOr(want, xlmr.OutputDense)
		for i := range texts {
			g, a := &got[i], &all[i]
			if g.Outputs != w {
				t.Fatalf("%v: outputs %v", want, g.Outputs)
			}
			if (w&xlmr.OutputDense != 0) != (len(g.Dense) > 0) || (w&xlmr.OutputColBERT != 0) != (len(g.ColBERT) > 0) || (w&xlmr.OutputSparse == 0 && len(g.Sparse) > 0) {
				t.Fatalf("%v: text %d holds dense %d, sparse %d, colbert %d", want, i, len(g.Dense), len(g.Sparse), len(g.ColBERT))
			}
			for j, v := range g.Dense {
				if math.Abs(float64(v-a.Dense[j])) > 1e-6 {
					t.Fatalf("%v: text %d dense[%d] %g, with every output %g", want, i, j, v, a.Dense[j])
				}
			}
			for id, v := range g.Sparse {
				if v != a.Sparse[id] {
					t.Fatalf("%v: text %d sparse[%d] %g, with every output %g", want, i, id, v, a.Sparse[id])
				}
			}
			for k, row := range g.ColBERT {
				if !slices.Equal(row, a.ColBERT[k]) {
					t.Fatalf("%v: text %d ColBERT row %d differs", want, i, k)
				}
			}
		}
	}
	ix, vals := all[2].SparseSorted()
	if len(ix) != len(all[2].Sparse) || len(ix) == 0 || !slices.IsSorted(ix) {
		t.Fatalf("SparseSorted: %v (map of %d)", ix, len(all[2].Sparse))
	}
	for i, id := range ix {
		if vals[i] != all[2].Sparse[id] || vals[i] <= 0 {
			t.Fatalf("SparseSorted: id %d value %g, map %g", id, vals[i], all[2].Sparse[id])
		}
	}
}

func cmpOr(a, b xlmr.Outputs) xlmr.Outputs {
	if a != 0 {
		return a
	}
	return b
}

// TestEmbedTextPolicy: the single-text policy (Pipeline.Text) as every door sees it. The
// empty string is ErrEmptyText (TEI and OpenAI refuse it); white space alone is embedded as
// <s> </s>; invalid UTF-8 is ErrInvalidUTF8; a text over MaxLength is ErrTooLong, or with
// Truncate the ids tokenizer.Encode gives with the same max_length and side (HF's
// truncation=True), specials kept; options that do not fit the model are ErrOptions.
func TestEmbedTextPolicy(t *testing.T) {
	e := openM3(t, Options{})
	p := e.Pipeline()
	ctx := context.Background()

	o, err := e.Check(EmbedOptions{})
	if err != nil || o.MaxLength != 8192 || o.Outputs != xlmr.OutputDense || o.Truncate {
		t.Fatalf("defaults: %+v %v; want max length 8192 (bge-m3's positions), dense, no truncation", o, err)
	}

	_, err = e.Embed(ctx, []string{"fine", "", "also fine"}, EmbedOptions{})
	var te *TextError
	if !errors.Is(err, ErrEmptyText) || !errors.As(err, &te) || te.Index != 1 || err.Error() != "gorerank: text 1: the text is empty" {
		t.Errorf("empty text: %v", err)
	}
	for _, blank := range []string{" ", "   ", "\t\n", "\u200b"} {
		res, err := e.Embed(ctx, []string{blank}, EmbedOptions{})
		if err != nil || res[0].Tokens != 2 || len(res[0].Dense) != 32 {
			t.Errorf("%q: %v; want it embedded as <s> </s>", blank, err)
		}
	}
	_, err = e.Embed(ctx, []string{"ok", "bad \xff"}, EmbedOptions{})
	if !errors.Is(err, ErrInvalidUTF8) || !errors.As(err, &te) || te.Index != 1 {
		t.Errorf("invalid UTF-8: %v", err)
	}

	tok := e.Tokenizer()
	long := "The giant panda is a bear species endemic to China, with black and white fur."
	full, err := tok.Encode(long, tokenizer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := len(full.IDs)
	for _, maxLen := range []int{3, 4, 9, n - 1, n, n + 1, 8192} {
		for _, left := range []bool{false, true} {
			o := EmbedOptions{MaxLength: maxLen, Left: left}
			in, err := checkedText(p, long, o)
			if maxLen < n {
				if !errors.Is(err, ErrTooLong) || !strings.Contains(err.Error(), "max length "+strconv.Itoa(maxLen)) {
					t.Errorf("max %d: %v, want ErrTooLong naming the max length", maxLen, err)
				}
			} else if err != nil || !slices.Equal(in.IDs, full.IDs) || in.Truncated {
				t.Errorf("max %d: %v %v, want the whole text", maxLen, in.IDs, err)
			}
			o.Truncate = true
			in, err = checkedText(p, long, o)
			want, werr := tok.Encode(long, tokenizer.Options{MaxLength: maxLen, Left: left})
			if err != nil || werr != nil || !slices.Equal(in.IDs, want.IDs) || in.Truncated != (maxLen < n) {
				t.Errorf("max %d left %v truncated: %v (truncated %v, %v), Encode %v (%v)", maxLen, left, in.IDs, in.Truncated, err, want.IDs, werr)
			}
		}
	}
	res, err := e.Embed(ctx, []string{long, "short"}, EmbedOptions{MaxLength: 9, Truncate: true, Outputs: xlmr.OutputColBERT})
	if err != nil || res[0].Tokens != 9 || !res[0].Truncated || len(res[0].ColBERT) != 8 || res[1].Truncated {
		t.Errorf("truncated embedding: %v", err)
	}
	for _, o := range []EmbedOptions{{MaxLength: -1}, {MaxLength: 8193}, {MaxLength: 2}, {Outputs: 8}} {
		if _, err := e.Embed(ctx, []string{"x"}, o); !errors.Is(err, ErrOptions) {
			t.Errorf("%+v: %v, want ErrOptions", o, err)
		}
	}
	if res, err := e.Embed(ctx, nil, EmbedOptions{}); err != nil || len(res) != 0 {
		t.Errorf("no texts: %v %v", res, err)
	}
}

// TestEmbedKinds: each door opens its own kind; the other is ErrKind (xlmr.ErrKind too),
// saying which to use. An embedder without its side files has the dense output only: asking
// for another is ErrOptions naming the file.
func TestEmbedKinds(t *testing.T) {
	_, err := Open(m3Dir(t), Options{TokenizerPath: tokenizerPath})
	if !errors.Is(err, ErrKind) || !errors.Is(err, xlmr.ErrKind) || !strings.Contains(err.Error(), "open it with OpenEmbedder, not Open") {
		t.Errorf("Open(m3-tiny): %v", err)
	}
	_, err = OpenEmbedder(tinyDir, Options{TokenizerPath: tokenizerPath})
	if !errors.Is(err, ErrKind) || !strings.Contains(err.Error(), "holds a reranker") || !strings.Contains(err.Error(), "open it with Open, not OpenEmbedder") {
		t.Errorf("OpenEmbedder(tiny): %v", err)
	}

	dir := t.TempDir()
	cfg := `{"architectures": ["XLMRobertaModel"], "model_type": "xlm-roberta", "vocab_size": 250002,
		"hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16,
		"max_position_embeddings": 40, "type_vocab_size": 1, "layer_norm_eps": 1e-5, "pad_token_id": 1}`
	if _, err := randmodel.WriteDir(dir, []byte(cfg), weights.F32, 1); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, xlmr.SparseFile+".safetensors")); err != nil {
		t.Fatal(err)
	}
	e, err := OpenEmbedder(dir, Options{TokenizerPath: tokenizerPath})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if o, err := e.Check(EmbedOptions{}); err != nil || o.MaxLength != 38 {
		t.Errorf("default max length %d (%v), want the model's 38 positions", o.MaxLength, err)
	}
	_, err = e.Embed(context.Background(), []string{"x"}, EmbedOptions{Outputs: xlmr.OutputSparse | xlmr.OutputColBERT})
	if !errors.Is(err, ErrOptions) || !strings.Contains(err.Error(), "no sparse output") || !strings.Contains(err.Error(), "sparse_linear") {
		t.Errorf("missing sparse head: %v", err)
	}
	if res, err := e.Embed(context.Background(), []string{"x"}, EmbedOptions{Outputs: xlmr.OutputColBERT}); err != nil || len(res[0].ColBERT) != res[0].Tokens-1 {
		t.Errorf("ColBERT with its side file: %v", err)
	}
}

// countCtx is a context whose Err turns context.Canceled after n calls.
type countCtx struct {
	context.Context
	n atomic.Int64
}

func (c *countCtx) Err() error {
	if c.n.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

// TestEmbedContext: an ended ctx stops Embed before any work, and Forward between two
// forward batches, leaving the later sequences untouched.
func TestEmbedContext(t *testing.T) {
	e := openM3(t, Options{BatchTokens: 16})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Embed(ctx, []string{"a", "b"}, EmbedOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	seqs := make([][]int32, 6)
	for i := range seqs {
		seqs[i] = []int32{0, 581, 63773, 119455, 6, 147797, 88203, 7, 2} // 9 tokens: one per batch of 16
	}
	out := make([]xlmr.Embedding, len(seqs))
	c := &countCtx{Context: context.Background()}
	c.n.Store(2)
	if err := e.forward(c, seqs, xlmr.OutputDense, out); !errors.Is(err, context.Canceled) {
		t.Fatalf("forward: %v, want context.Canceled", err)
	}
	for i, o := range out {
		if done := len(o.Dense) > 0; done != (i < 2) {
			t.Errorf("sequence %d embedded %v after 2 batches", i, done)
		}
	}
}

// TestEmbedSeam: Embed runs any forward pass through the same policy, and a non-finite
// output from it is an error.
func TestEmbedSeam(t *testing.T) {
	e := openM3(t, Options{})
	ctx := context.Background()
	var got [][]int32
	fake := func(nan bool) EmbedForward {
		return func(ctx context.Context, seqs [][]int32, want xlmr.Outputs, out []xlmr.Embedding) error {
			got = seqs
			for i := range seqs {
				out[i] = xlmr.Embedding{Outputs: want, Dense: []float32{1, 0}}
				if nan {
					out[i].Dense[1] = float32(math.NaN())
				}
			}
			return nil
		}
	}
	res, err := Embed(ctx, e.Pipeline(), []string{"Hello world", "a b c d e f"}, EmbedOptions{MaxLength: 4, Truncate: true}, fake(false))
	if err != nil || len(res) != 2 || fmt.Sprint(got) != "[[0 35378 8999 2] [0 10 876 2]]" || res[1].Tokens != 4 || !res[1].Truncated || res[0].Truncated {
		t.Errorf("Embed through a fake forward: %v, seqs %v", err, got)
	}
	if _, err := Embed(ctx, e.Pipeline(), []string{"x"}, EmbedOptions{}, fake(true)); err == nil || !strings.Contains(err.Error(), "non-finite") {
		t.Errorf("NaN output: %v", err)
	}
	if _, err := Embed(ctx, e.Pipeline(), []string{""}, EmbedOptions{}, fake(false)); !errors.Is(err, ErrEmptyText) {
		t.Errorf("empty text through the seam: %v", err)
	}
}

func TestParseOutputs(t *testing.T) {
	for in, want := range map[string]xlmr.Outputs{
		"": 0, "dense": xlmr.OutputDense, "sparse,colbert": xlmr.OutputSparse | xlmr.OutputColBERT,
		"Dense+Sparse": xlmr.OutputDense | xlmr.OutputSparse, "all": xlmr.OutputAll, " colbert , dense ": xlmr.OutputDense | xlmr.OutputColBERT,
		xlmr.OutputAll.String(): xlmr.OutputAll, "lexical": xlmr.OutputSparse,
	} {
		if got, err := ParseOutputs(in); got != want || err != nil {
			t.Errorf("ParseOutputs(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseOutputs("dense,vectors"); !errors.Is(err, ErrOptions) || !strings.Contains(err.Error(), `"vectors"`) {
		t.Errorf("unknown name: %v", err)
	}
}

// checkedText is the single-text policy of one text under options not yet checked.
func checkedText(p *Pipeline, text string, o EmbedOptions) (textInput, error) {
	o, err := p.CheckEmbed(o)
	if err != nil {
		return textInput{}, err
	}
	return p.text(text, o)
}

// TestEmbedEach: every text gets Embed's answer, bit for bit, with the forward passes
// shared; a bad text has its own error (not a *TextError: its position is its index) and a
// zero Embedding; bad options and an ended ctx fail the call.
func TestEmbedEach(t *testing.T) {
	e := openM3(t, Options{BatchTokens: 16})
	ctx := context.Background()
	texts := []string{"The giant panda is a bear.", "", "short", "bad \xff", strings.Repeat("word ", 40)}
	o := EmbedOptions{Outputs: xlmr.OutputAll, MaxLength: 24, Truncate: true}
	embs, errs, err := e.EmbedEach(ctx, texts, o)
	if err != nil || len(embs) != len(texts) || len(errs) != len(texts) {
		t.Fatalf("%d embeddings, %d errors, %v", len(embs), len(errs), err)
	}
	for i, text := range texts {
		want, werr := e.Embed(ctx, []string{text}, o)
		var te *TextError
		switch {
		case werr != nil:
			if !errors.As(werr, &te) || errs[i] == nil || errs[i].Error() != te.Err.Error() || embs[i].Tokens != 0 {
				t.Errorf("text %d: %v, want Embed's %v", i, errs[i], werr)
			}
		case errs[i] != nil:
			t.Errorf("text %d: %v", i, errs[i])
		case embs[i].Tokens != want[0].Tokens || embs[i].Truncated != want[0].Truncated || !slices.Equal(embs[i].Dense, want[0].Dense) ||
			!maps.Equal(embs[i].Sparse, want[0].Sparse) || len(embs[i].ColBERT) != len(want[0].ColBERT):
			t.Errorf("text %d: %+v, Embed %+v", i, embs[i], want[0])
		}
	}
	if !errors.Is(errs[1], ErrEmptyText) || !errors.Is(errs[3], ErrInvalidUTF8) {
		t.Errorf("errors %v", errs)
	}
	if _, _, err := e.EmbedEach(ctx, texts, EmbedOptions{MaxLength: -1}); !errors.Is(err, ErrOptions) {
		t.Errorf("bad options: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := e.EmbedEach(cctx, texts, o); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
