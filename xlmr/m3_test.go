package xlmr

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gorerank/gorerank/internal/m3kit"
	"github.com/gorerank/gorerank/nn"
	"github.com/gorerank/gorerank/weights"
)

// The m3-tiny kit (shared golden README, "m3-tiny/"): a tiny random bge-m3 in the published
// layout (config.json XLMRobertaModel, pytorch_model.bin without the roberta. prefix and with
// the unused pooler, sparse_linear.pt, colbert_linear.pt) and refs.json, float64 references
// of FlagEmbedding's three outputs for the 301 texts of the tokenizer goldens, computed from
// those goldens' HF token ids.
const (
	m3Tol       = 1e-5
	singlesPath = "../testdata/tokenizer/tokenizer_singles.jsonl"
)

// m3Dir is the m3-tiny kit (internal/m3kit).
func m3Dir(t testing.TB) string { t.Helper(); return m3kit.Dir(t) }

// m3Ref is one text of refs.json with its token ids from the tokenizer goldens.
type m3Ref struct {
	m3kit.Ref
	ids []int32
}

// loadM3Refs reads refs.json and attaches each text's token ids from the tokenizer goldens.
func loadM3Refs(t testing.TB, dir string) []m3Ref {
	t.Helper()
	all := m3kit.Refs(t, dir)
	f, err := os.Open(singlesPath)
	if err != nil {
		t.Fatalf("tokenizer goldens: %v", err)
	}
	defer f.Close()
	ids := map[string][]int32{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var g struct {
			ID  string  `json:"id"`
			IDs []int32 `json:"ids"`
		}
		if err := json.Unmarshal(sc.Bytes(), &g); err != nil {
			t.Fatal(err)
		}
		ids[g.ID] = g.IDs
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(all) != 301 {
		t.Fatalf("refs.json has %d texts, want 301", len(all))
	}
	var refs []m3Ref
	var literalPad []string
	for _, kr := range all {
		r := m3Ref{Ref: kr, ids: ids[kr.ID]}
		if len(r.ids) != r.NTokens || len(r.ColBERT) != r.NTokens-1 {
			t.Fatalf("%s: %d golden ids, %d ColBERT vectors, refs say %d tokens", r.ID, len(r.ids), len(r.ColBERT), r.NTokens)
		}
		if slices.Contains(r.ids[1:len(r.ids)-1], padID) {
			literalPad = append(literalPad, r.ID)
			continue
		}
		refs = append(refs, r)
	}
	// refs.json numbers the positions of a text holding a literal "<pad>" as if <pad> were an
	// ordinary token (2, 3, 4, …: those two texts match within 4.3e-7 then). HF's
	// XLMRobertaModel, which BGEM3FlagModel runs, gives the pad id position pad_token_id and
	// does not count it (create_position_ids_from_input_ids), as Forward and Embed do and the
	// reranker goldens check; so those texts are left out.
	if fmt.Sprint(literalPad) != "[s0145 s0153]" {
		t.Fatalf("texts with a literal <pad>: %v, want s0145 and s0153", literalPad)
	}
	return refs
}

const padID = 1 // <pad> of the m3-tiny config

func loadM3(t testing.TB, o LoadOptions) *Model {
	t.Helper()
	m, err := Load(m3Dir(t), o)
	if err != nil {
		t.Fatalf("Load(m3-tiny): %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// m3Errors is the largest absolute difference per output against the float64 references.
type m3Errors struct{ dense, sparse, colbert float64 }

// compareM3 checks every component of every output of got against refs within tol.
func compareM3(t *testing.T, got []Embedding, refs []m3Ref, tol float64) m3Errors {
	t.Helper()
	var worst m3Errors
	bad := 0
	report := func(format string, a ...any) {
		if bad++; bad <= 10 {
			t.Errorf(format, a...)
		}
	}
	for i, r := range refs {
		e := &got[i]
		var d m3Errors
		var err error
		if d.dense, d.sparse, d.colbert, err = r.MaxAbs(e.Dense, e.Sparse, e.ColBERT); err != nil {
			t.Fatal(err)
		}
		if d.dense > tol || d.sparse > tol || d.colbert > tol {
			report("%s (%d tokens): maxabs dense=%.2g sparse=%.2g colbert=%.2g > %.0e", r.ID, r.NTokens, d.dense, d.sparse, d.colbert, tol)
		}
		worst = m3Errors{max(worst.dense, d.dense), max(worst.sparse, d.sparse), max(worst.colbert, d.colbert)}
	}
	return worst
}

func m3Seqs(refs []m3Ref) [][]int32 {
	seqs := make([][]int32, len(refs))
	for i, r := range refs {
		seqs[i] = r.ids
	}
	return seqs
}

// TestM3Golden embeds the reference texts (299 of 301, see loadM3Refs) in one packed batch
// (up to 3,483 tokens each)
// and compares every component of the dense, sparse and ColBERT outputs with the float64
// references, and the scores of neighbouring texts with the formulas applied to the
// references.
func TestM3Golden(t *testing.T) {
	dir := m3Dir(t)
	refs := loadM3Refs(t, dir)
	m := loadM3(t, LoadOptions{})
	if m.Kind != Embedder || m.Keys.Prefix != "" || m.Heads() != OutputAll {
		t.Fatalf("kind %v, prefix %q, heads %v: want an unprefixed embedder with every head", m.Kind, m.Keys.Prefix, m.Heads())
	}
	if got := strings.Join(m.Report.Skipped, ","); got != "pooler.dense.bias,pooler.dense.weight" || len(m.Report.Unused) != 0 {
		t.Errorf("report: skipped %q, unused %q; want the pooler skipped, nothing unused", got, m.Report.Unused)
	}
	if len(m.Report.Files) != 3 || !strings.HasSuffix(m.Report.Files[1], "sparse_linear.pt") || !strings.HasSuffix(m.Report.Files[2], "colbert_linear.pt") {
		t.Errorf("files %q", m.Report.Files)
	}
	out := make([]Embedding, len(refs))
	if err := m.Embed(m.NewScratch(), m3Seqs(refs), OutputAll, out, nil); err != nil {
		t.Fatal(err)
	}
	w := compareM3(t, out, refs, m3Tol)
	t.Logf("%d texts vs float64 refs: max abs error dense %.3g, sparse %.3g, colbert %.3g", len(refs), w.dense, w.sparse, w.colbert)
	nSparse := 0
	for _, e := range out {
		nSparse += len(e.Sparse)
	}
	if nSparse < 50 {
		t.Errorf("only %d sparse weights over the texts: the test would not see the sparse head", nSparse)
	}

	// Scores of text i (query) against text i+1 (passage), against the same formulas in
	// float64 on the references.
	var worst [4]float64
	for i := 0; i+1 < len(refs); i++ {
		q, p := &refs[i], &refs[i+1]
		var want [4]float64
		for j := range q.Dense {
			want[0] += q.Dense[j] * p.Dense[j]
		}
		for id, wq := range q.Sparse {
			want[1] += wq * p.Sparse[id]
		}
		for _, u := range q.ColBERT {
			best := math.Inf(-1)
			for _, v := range p.ColBERT {
				var d float64
				for j := range u {
					d += u[j] * v[j]
				}
				best = max(best, d)
			}
			want[2] += best / float64(len(q.ColBERT))
		}
		want[3] = (0.4*want[0] + 0.2*want[1] + 0.4*want[2]) / 1.0
		sc := Score(&out[i], &out[i+1], DefaultWeights())
		got := [4]float32{sc.Dense, sc.Sparse, sc.ColBERT, sc.Combined}
		for k := range got {
			d := math.Abs(float64(got[k]) - want[k])
			worst[k] = max(worst[k], d)
			if d > m3Tol {
				t.Errorf("%s vs %s: score %d = %.7g, want %.7g", q.ID, p.ID, k, got[k], want[k])
			}
		}
	}
	t.Logf("%d scores vs float64: max abs error dense %.3g, sparse %.3g, colbert %.3g, combined %.3g", len(refs)-1, worst[0], worst[1], worst[2], worst[3])
}

// TestM3DenseFirstToken: asking for the dense output alone runs the last layer for token 0
// only; the result is that of the full last layer. Sequences embedded alone or in another
// batch get the same outputs.
func TestM3DenseFirstToken(t *testing.T) {
	refs := loadM3Refs(t, m3Dir(t))
	m := loadM3(t, LoadOptions{})
	seqs := m3Seqs(refs)[:40]
	full, dense := make([]Embedding, len(seqs)), make([]Embedding, len(seqs))
	s := m.NewScratch()
	if err := m.Embed(s, seqs, OutputAll, full, nil); err != nil {
		t.Fatal(err)
	}
	if err := m.Embed(s, seqs, OutputDense, dense, nil); err != nil {
		t.Fatal(err)
	}
	for i := range seqs {
		if dense[i].Outputs != OutputDense || dense[i].Sparse != nil || dense[i].ColBERT != nil {
			t.Fatalf("%d: dense-only call filled %v", i, dense[i].Outputs)
		}
		for j, v := range dense[i].Dense {
			if d := math.Abs(float64(v - full[i].Dense[j])); d > 1e-6 {
				t.Fatalf("seq %d: dense[%d] first-token %v, full %v", i, j, v, full[i].Dense[j])
			}
		}
	}
	one := make([]Embedding, 1)
	for _, i := range []int{0, 7, 39} {
		if err := m.Embed(s, seqs[i:i+1], OutputAll, one, nil); err != nil {
			t.Fatal(err)
		}
		compareM3(t, one, refs[i:i+1], m3Tol)
		if !maps.Equal(one[0].Sparse, full[i].Sparse) && len(one[0].Sparse)+len(full[i].Sparse) > 0 {
			d := 0.0
			for id, v := range full[i].Sparse {
				d = max(d, math.Abs(float64(v-one[0].Sparse[id])))
			}
			if d > 1e-6 {
				t.Errorf("seq %d: sparse alone %v, in a batch %v", i, one[0].Sparse, full[i].Sparse)
			}
		}
	}
}

// TestM3Precisions: the other precisions run the same heads; their outputs stay near the
// references (the weights are rounded), and a hook sees the heads' outputs.
func TestM3Precisions(t *testing.T) {
	refs := loadM3Refs(t, m3Dir(t))[:60]
	seqs := m3Seqs(refs)
	for _, c := range []struct {
		name string
		prec nn.Precision
		tol  float64
	}{{"f16", nn.F16, 5e-3}, {"bf16", nn.BF16, 0.15}, {"int8", nn.Int8, 0.3}} { // rounded weights: sanity bounds (a wrong head is off by ~1); int8's max sparse error is 0.11 with exact int8 products, 0.19 on the avx2 tier's 7-bit weights
		m := loadM3(t, LoadOptions{Precision: c.prec})
		if c.prec == nn.Int8 && (m.Layers[0].Output.Dense.Prec != nn.Int8 || m.ColBERT.Prec != nn.F32 || m.Sparse.Prec != nn.F32) {
			t.Errorf("int8: encoder %v, heads %v %v; want int8 encoder, float32 heads", m.Layers[0].Output.Dense.Prec, m.ColBERT.Prec, m.Sparse.Prec)
		}
		out := make([]Embedding, len(seqs))
		hooked := map[string]int{}
		hook := func(seq int, name string, shape []int, data []float32) {
			if name == "dense" || name == "sparse" || name == "colbert" {
				if n := shape[0] * max(1, shape[len(shape)-1]); len(shape) == 2 && len(data) != n {
					t.Errorf("hook %s: shape %v, %d values", name, shape, len(data))
				}
				hooked[name]++
			}
		}
		if err := m.Embed(m.NewScratch(), seqs, OutputAll, out, hook); err != nil {
			t.Fatal(err)
		}
		w := compareM3(t, out, refs, c.tol)
		t.Logf("%s: max abs error dense %.3g, sparse %.3g, colbert %.3g", c.name, w.dense, w.sparse, w.colbert)
		if hooked["dense"] != len(seqs) || hooked["sparse"] != len(seqs) || hooked["colbert"] != len(seqs) {
			t.Errorf("hook calls %v", hooked)
		}
	}
}

// TestM3Quantize: QuantizeCheckpoint reads the embedder's table (unprefixed keys, pooler
// copied as it is), copies the side files, and the int8 checkpoint loads in place with the
// same outputs as quantizing at load.
func TestM3Quantize(t *testing.T) {
	dir, out := m3Dir(t), t.TempDir()
	if err := QuantizeCheckpoint(dir, out); err != nil {
		t.Fatal(err)
	}
	q, err := Load(out, LoadOptions{Precision: nn.Int8})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if q.Report.DType != "I8" || q.Report.Converted != 0 || q.Heads() != OutputAll || len(q.Report.Skipped) != 2 {
		t.Errorf("quantized checkpoint: report %+v, heads %v", q.Report, q.Heads())
	}
	m := loadM3(t, LoadOptions{Precision: nn.Int8})
	seqs := m3Seqs(loadM3Refs(t, dir)[:20])
	a, b := make([]Embedding, len(seqs)), make([]Embedding, len(seqs))
	if err := m.Embed(m.NewScratch(), seqs, OutputAll, a, nil); err != nil {
		t.Fatal(err)
	}
	if err := q.Embed(q.NewScratch(), seqs, OutputAll, b, nil); err != nil {
		t.Fatal(err)
	}
	for i := range seqs {
		if !slices.Equal(a[i].Dense, b[i].Dense) || !maps.Equal(a[i].Sparse, b[i].Sparse) || !slices.EqualFunc(a[i].ColBERT, b[i].ColBERT, slices.Equal) {
			t.Fatalf("seq %d: int8 checkpoint and int8 at load differ", i)
		}
	}
}

// TestM3ZeroAllocs: Embed into the same Embeddings allocates nothing in steady state.
func TestM3ZeroAllocs(t *testing.T) {
	m := loadM3(t, LoadOptions{})
	seqs := m3Seqs(loadM3Refs(t, m3Dir(t))[:10])
	out := make([]Embedding, len(seqs))
	s := m.NewScratch()
	s.Timings = &Timings{}
	if err := m.Embed(s, seqs, OutputAll, out, nil); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(5, func() {
		if err := m.Embed(s, seqs, OutputAll, out, nil); err != nil {
			t.Fatal(err)
		}
		if err := m.Embed(s, seqs[2:5], OutputDense|OutputColBERT, out, nil); err != nil {
			t.Fatal(err)
		}
	})
	if !raceEnabled && allocs != 0 {
		t.Errorf("Embed allocates %v times per call in steady state", allocs)
	}
	if s.Timings.Head <= 0 {
		t.Errorf("head time not accumulated: %+v", *s.Timings)
	}
}

// linkM3 makes a model folder holding m3-tiny's config.json and pytorch_model.bin (linked)
// and the given extra files.
func linkM3(t *testing.T, files map[string][]byte) string {
	t.Helper()
	src, err := filepath.Abs(m3Dir(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range []string{"config.json", "pytorch_model.bin"} {
		if err := os.Symlink(filepath.Join(src, f), filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	for name, data := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestEmbedderHeadsAndErrors(t *testing.T) {
	seqs := [][]int32{{0, 6, 7, 2}, {0, 2}, {0}}

	// No side files: a plain CLS-pooling embedder, dense only.
	plain, err := Load(linkM3(t, nil), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	out := make([]Embedding, len(seqs))
	if plain.Heads() != OutputDense {
		t.Errorf("heads %v, want dense", plain.Heads())
	}
	if err := plain.Embed(plain.NewScratch(), seqs, OutputDense, out, nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range []Outputs{OutputSparse, OutputColBERT, OutputAll} {
		if err := plain.Embed(plain.NewScratch(), seqs, want, out, nil); !errors.Is(err, ErrKind) {
			t.Errorf("%v without side files: error %v, want ErrKind", want, err)
		}
	}
	if err := plain.Forward(plain.NewScratch(), seqs, make([]float32, 3), nil); !errors.Is(err, ErrKind) {
		t.Errorf("Forward on an embedder: %v", err)
	}
	if err := loadTiny(t, LoadOptions{}).Embed(plain.NewScratch(), seqs, OutputDense, out, nil); !errors.Is(err, ErrKind) {
		t.Errorf("Embed on a reranker: %v", err)
	}

	// A safetensors head is accepted beside the torch one (and preferred); a bad one is an
	// error naming file and key.
	m := loadM3(t, LoadOptions{})
	want := make([]Embedding, len(seqs))
	if err := m.Embed(m.NewScratch(), seqs, OutputAll, want, nil); err != nil {
		t.Fatal(err)
	}
	if len(want[1].ColBERT) != 1 || len(want[2].ColBERT) != 0 || len(want[2].Sparse) != 0 {
		t.Errorf("<s></s>: %d ColBERT vectors; <s>: %d vectors, %d weights", len(want[1].ColBERT), len(want[2].ColBERT), len(want[2].Sparse))
	}
	for _, id := range []int32{0, 1, 2, 3} {
		if _, ok := want[0].Sparse[id]; ok {
			t.Errorf("special id %d has a sparse weight", id)
		}
	}
	side, err := weights.OpenFiles(filepath.Join(m3Dir(t), "colbert_linear.pt"))
	if err != nil {
		t.Fatal(err)
	}
	defer side.Close()
	var ts []weights.Tensor
	for _, n := range side.Names() {
		x, _ := side.Tensor(n)
		ts = append(ts, *x)
	}
	st := safetensorsBytes(t, ts)
	m2, err := Load(linkM3(t, map[string][]byte{"colbert_linear.safetensors": st}), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if m2.Heads() != OutputDense|OutputColBERT || !strings.HasSuffix(m2.Report.Files[1], "colbert_linear.safetensors") {
		t.Errorf("heads %v, files %q", m2.Heads(), m2.Report.Files)
	}
	got := make([]Embedding, len(seqs))
	if err := m2.Embed(m2.NewScratch(), seqs, OutputColBERT, got, nil); err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(got[0].ColBERT, want[0].ColBERT, slices.Equal) {
		t.Error("safetensors ColBERT head gives other vectors than the torch one")
	}

	ts[1].Shape, ts[1].Data = []int{32, 16}, ts[1].Data[:32*16*4] // weight [32 16]
	for name, c := range map[string]struct {
		files map[string][]byte
		want  string
	}{
		"bad shape":    {map[string][]byte{"colbert_linear.safetensors": safetensorsBytes(t, ts)}, `"colbert_linear.safetensors:weight" has shape [32 16], config.json implies [32 32]`},
		"not a file":   {map[string][]byte{"sparse_linear.pt": []byte("junk")}, "sparse_linear.pt"},
		"mean pooling": {map[string][]byte{"1_Pooling/config.json": []byte(`{"pooling_mode_cls_token": false, "pooling_mode_mean_tokens": true}`)}, "pooling_mode_mean_tokens: only CLS pooling"},
	} {
		m, err := Load(linkM3(t, c.files), LoadOptions{})
		if err == nil {
			m.Close()
			t.Errorf("%s: loaded", name)
		} else if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q does not mention %q", name, err, c.want)
		}
	}
	cls, err := Load(linkM3(t, map[string][]byte{"1_Pooling/config.json": []byte(`{"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}`)}), LoadOptions{})
	if err != nil {
		t.Errorf("CLS pooling config: %v", err)
	} else {
		cls.Close()
	}
	for _, bad := range []Outputs{0, 8} {
		if err := m.Embed(m.NewScratch(), seqs, bad, out, nil); err == nil {
			t.Errorf("outputs %#x accepted", bad)
		}
	}
	if err := m.Embed(m.NewScratch(), seqs, OutputDense, out[:2], nil); err == nil {
		t.Error("short out accepted")
	}
	if err := m.Embed(m.NewScratch(), nil, OutputDense, out, nil); !errors.Is(err, ErrEmptyBatch) {
		t.Errorf("empty batch: %v", err)
	}
}

func safetensorsBytes(t *testing.T, ts []weights.Tensor) []byte {
	t.Helper()
	var b strings.Builder
	if err := weights.Write(&b, ts, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	return []byte(b.String())
}

// TestKindAndPrefix: the kind comes from config.json's architectures or, when it names none,
// from the keys; an embedder's prefix from the keys; the reranker's is always roberta.
func TestKindAndPrefix(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	embedderCfg := func(arch []string) map[string]any {
		c := smallConfig()
		c["architectures"] = arch
		delete(c, "id2label")
		return c
	}
	noHead := func(prefix string) map[string]rawTensor {
		ts := map[string]rawTensor{}
		for k, v := range smallTensors(r) {
			if !strings.HasPrefix(k, "classifier.") {
				ts[prefix+strings.TrimPrefix(k, "roberta.")] = v
			}
		}
		return ts
	}
	for _, c := range []struct {
		name       string
		cfg        map[string]any
		ts         map[string]rawTensor
		kind       Kind
		prefix     string
		wantLogits bool
	}{
		{"reranker", smallConfig(), smallTensors(r), Reranker, "roberta.", true},
		{"reranker, no architectures", func() map[string]any { c := smallConfig(); delete(c, "architectures"); return c }(), smallTensors(r), Reranker, "roberta.", true},
		{"embedder, published layout", embedderCfg([]string{"XLMRobertaModel"}), noHead(""), Embedder, "", false},
		{"embedder saved from a task model", embedderCfg([]string{"XLMRobertaModel"}), noHead("roberta."), Embedder, "roberta.", false},
		{"embedder, no architectures", embedderCfg(nil), noHead(""), Embedder, "", false},
	} {
		m, err := Load(writeModel(t, c.cfg, c.ts), LoadOptions{})
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if m.Kind != c.kind || m.Keys.Prefix != c.prefix || len(m.Report.Unused) != 0 {
			t.Errorf("%s: kind %v prefix %q unused %q; want %v %q", c.name, m.Kind, m.Keys.Prefix, m.Report.Unused, c.kind, c.prefix)
		}
		seqs := [][]int32{{0, 5, 2}, {0, 7, 8, 9, 2}}
		if c.wantLogits {
			err = m.Forward(m.NewScratch(), seqs, make([]float32, 2), nil)
		} else {
			err = m.Embed(m.NewScratch(), seqs, OutputDense, make([]Embedding, 2), nil)
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		m.Close()
	}
	// A reranker config over a checkpoint without the prefix names the keys it expects.
	_, err := Load(writeModel(t, smallConfig(), noHead("")), LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), `"roberta.embeddings.word_embeddings.weight" is missing`) {
		t.Errorf("reranker without roberta. keys: %v", err)
	}
	// Without architectures, two labels are rejected once the keys say reranker.
	c := smallConfig()
	delete(c, "architectures")
	delete(c, "id2label")
	if _, err := Load(writeModel(t, c, smallTensors(r)), LoadOptions{}); err == nil || !strings.Contains(err.Error(), "2 labels") {
		t.Errorf("unnamed two-label reranker: %v", err)
	}
}

// TestKeysTable: the table lists every tensor of the real checkpoints of both kinds, with
// their shapes, and nothing else.
func TestKeysTable(t *testing.T) {
	for _, c := range []struct {
		dir   string
		files map[string]string // side-file base → file name
	}{
		{tinyDir, nil},
		{m3Dir(t), map[string]string{SparseFile: "sparse_linear.pt", ColBERTFile: "colbert_linear.pt"}},
	} {
		cfg, err := LoadConfig(filepath.Join(c.dir, "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		ck, err := weights.OpenCheckpoint(c.dir)
		if err != nil {
			t.Fatal(err)
		}
		keys, err := keysFor(cfg, ck.Names())
		if err != nil {
			t.Fatal(err)
		}
		shapes := map[string]map[string][]int{"": {}}
		for base, f := range c.files {
			side, err := weights.OpenFiles(filepath.Join(c.dir, f))
			if err != nil {
				t.Fatal(err)
			}
			shapes[base] = map[string][]int{}
			for _, n := range side.Names() {
				x, _ := side.Tensor(n)
				shapes[base][n] = x.Shape
			}
			side.Close()
		}
		for _, n := range ck.Names() {
			x, _ := ck.Tensor(n)
			shapes[""][n] = x.Shape
		}
		ck.Close()
		table := map[string]map[string][]int{"": {}}
		for _, mod := range keys.Modules() {
			if table[mod.File] == nil {
				table[mod.File] = map[string][]int{}
			}
			table[mod.File][mod.Weight()] = mod.WeightShape()
			if b := mod.Bias(); b != "" {
				table[mod.File][b] = []int{mod.Out}
			}
		}
		for file, want := range shapes {
			if !maps.EqualFunc(table[file], want, slices.Equal) {
				t.Errorf("%s %q: table %v\ncheckpoint %v", c.dir, file, table[file], want)
			}
		}
		if got := slices.Sorted(slices.Values(keys.Files())); fmt.Sprint(got) != fmt.Sprint(slices.Sorted(maps.Keys(c.files))) {
			t.Errorf("%s: side files %v", c.dir, keys.Files())
		}
	}
}
