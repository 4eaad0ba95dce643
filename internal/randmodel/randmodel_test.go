package randmodel

import (
	"bytes"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/gorerank/gorerank/tensor"
	"github.com/gorerank/gorerank/weights"
	"github.com/gorerank/gorerank/xlmr"
	"github.com/x448/float16"
)

func tinyConfig(t *testing.T) *Config {
	t.Helper()
	raw, err := os.ReadFile("../../testdata/tiny/config.json")
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The generated keys and shapes are exactly those of the real (HF-written) tiny checkpoint.
func TestKeysMatchRealCheckpoint(t *testing.T) {
	ref, err := weights.OpenCheckpoint("../../testdata/tiny")
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	ts := Tensors(tinyConfig(t), weights.F32)
	var names []string
	for _, x := range ts {
		names = append(names, x.Name)
		r, err := ref.Tensor(x.Name)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(r.Shape, x.Shape) {
			t.Errorf("%s: shape %v, real %v", x.Name, x.Shape, r.Shape)
		}
	}
	if !slices.Equal(names, ref.Names()) {
		t.Errorf("keys:\n got %v\nreal %v", names, ref.Names())
	}
	// Full size: 24 layers, 16 tensors each + 9.
	full, err := os.ReadFile("../../testdata/bge-reranker-v2-m3.config.json")
	if err != nil {
		t.Fatal(err)
	}
	fc, err := ParseConfig(full)
	if err != nil {
		t.Fatal(err)
	}
	var params int64
	for _, x := range Tensors(fc, weights.F32) {
		n := int64(1)
		for _, d := range x.Shape {
			n *= int64(d)
		}
		params += n
	}
	if got := len(Tensors(fc, weights.F32)); got != 24*16+9 || params != 567755777 {
		t.Errorf("full size: %d tensors, %d params", got, params)
	}
}

func generate(t *testing.T, c *Config, dt weights.DType, seed uint64) *weights.Checkpoint {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := Generate(f, c, dt, seed)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if fi, _ := os.Stat(path); fi.Size() < st.Bytes || st.Tensors != 57 {
		t.Fatalf("stats %+v, file %d bytes", st, fi.Size())
	}
	ck, err := weights.OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ck.Close() })
	return ck
}

func TestGenerateReadBack(t *testing.T) {
	c := tinyConfig(t)
	a := generate(t, c, weights.F32, 7)
	b := generate(t, c, weights.F32, 7)
	d := generate(t, c, weights.F32, 8)
	h := generate(t, c, weights.F16, 7)
	bf := generate(t, c, weights.BF16, 7)
	for _, name := range a.Names() {
		ta, _ := a.Tensor(name)
		tb, _ := b.Tensor(name)
		td, _ := d.Tensor(name)
		if !bytes.Equal(ta.Data, tb.Data) {
			t.Fatalf("%s: same seed, different values", name)
		}
		if bytes.Equal(ta.Data, td.Data) {
			t.Fatalf("%s: different seeds, same values", name)
		}
		f, err := ta.Float32()
		if err != nil {
			t.Fatal(err)
		}
		var mean, sq float64
		for _, v := range f {
			mean += float64(v)
		}
		mean /= float64(len(f))
		for _, v := range f {
			sq += (float64(v) - mean) * (float64(v) - mean)
		}
		std := math.Sqrt(sq / float64(len(f)))
		wantMean := 0.0
		if strings.Contains(name, "LayerNorm.weight") {
			wantMean = 1
		}
		tol := 6 * 0.02 / math.Sqrt(float64(len(f)))
		if math.Abs(mean-wantMean) > tol+1e-9 || math.Abs(std-0.02) > 5/math.Sqrt(2*float64(len(f)))*0.02 {
			t.Errorf("%s: mean %.4f std %.4f over %d values", name, mean, std, len(f))
		}
		// F16 / BF16 files are the F32 values rounded to nearest even.
		th, _ := h.Tensor(name)
		tbf, _ := bf.Tensor(name)
		hb, err := th.Uint16()
		if err != nil {
			t.Fatal(err)
		}
		bb, err := tbf.Uint16()
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range f {
			if hb[i] != float16.Fromfloat32(v).Bits() || bb[i] != tensor.Float32ToBF16(v) {
				t.Fatalf("%s[%d]: half files are not the F32 values rounded", name, i)
			}
		}
	}
}

// Generating streams: a 64 MB checkpoint is written with a few MB of allocation.
func TestGenerateStreams(t *testing.T) {
	c := tinyConfig(t)
	c.HiddenSize = 64
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	st, err := Generate(io.Discard, c, weights.F32, 1)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if st.Bytes < 60<<20 {
		t.Fatalf("only %d bytes", st.Bytes)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Errorf("generating %d bytes allocated %d bytes", st.Bytes, alloc)
	}
}

// The bytes do not depend on the number of threads.
func TestGenerateThreadIndependent(t *testing.T) {
	c := tinyConfig(t)
	var one, many bytes.Buffer
	prev := runtime.GOMAXPROCS(1)
	_, err1 := Generate(&one, c, weights.F16, 5)
	runtime.GOMAXPROCS(4)
	_, err2 := Generate(&many, c, weights.F16, 5)
	runtime.GOMAXPROCS(prev)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if !bytes.Equal(one.Bytes(), many.Bytes()) {
		t.Error("1 and 4 threads give different files")
	}
}

func TestConfigErrors(t *testing.T) {
	for _, js := range []string{
		`{`, `{"hidden_size": 0, "vocab_size": 10, "num_hidden_layers": 1, "intermediate_size": 4, "max_position_embeddings": 8}`,
		`{"hidden_size": 4, "vocab_size": -1, "num_hidden_layers": 1, "intermediate_size": 4, "max_position_embeddings": 8}`,
		`{"hidden_size": "4"}`,
	} {
		if _, err := ParseConfig([]byte(js)); err == nil {
			t.Errorf("%s: no error", js)
		}
	}
	c := tinyConfig(t)
	if _, err := Generate(io.Discard, c, weights.I64, 1); err == nil {
		t.Error("I64 accepted")
	}
}

// m3TinyDir is the m3-tiny kit (a tiny BAAI/bge-m3 in the published layout): the repository's
// testdata/m3-tiny when a copy is there, else the project's shared golden kit. Missing fails.
func m3TinyDir(t *testing.T) string {
	t.Helper()
	for _, d := range []string{"../../testdata/m3-tiny", "../../../shared/golden/m3-tiny"} {
		if _, err := os.Stat(filepath.Join(d, weights.TorchSingleFile)); err == nil {
			return d
		}
	}
	t.Fatal("m3-tiny kit not found in ../../testdata/m3-tiny nor ../../../shared/golden/m3-tiny")
	return ""
}

// An embedder config gives exactly the keys and shapes of the published bge-m3 files: the
// unprefixed base model with its pooler, and the two side files.
func TestEmbedderKeysMatchRealCheckpoint(t *testing.T) {
	dir := m3TinyDir(t)
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	if c.Kind() != xlmr.Embedder || !slices.Equal(Heads(c), []string{xlmr.SparseFile, xlmr.ColBERTFile}) {
		t.Fatalf("kind %v, heads %q", c.Kind(), Heads(c))
	}
	for file, ts := range map[string][]Tensor{
		weights.TorchSingleFile: Tensors(c, weights.F32),
		"sparse_linear.pt":      HeadTensors(c, xlmr.SparseFile, weights.F32),
		"colbert_linear.pt":     HeadTensors(c, xlmr.ColBERTFile, weights.F32),
	} {
		ref, err := weights.OpenFiles(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, x := range ts {
			names = append(names, x.Name)
			if r, err := ref.Tensor(x.Name); err != nil || !slices.Equal(r.Shape, x.Shape) {
				t.Errorf("%s %s: shape %v, real %v (%v)", file, x.Name, x.Shape, r, err)
			}
		}
		if !slices.Equal(names, ref.Names()) {
			t.Errorf("%s keys:\n got %v\nreal %v", file, names, ref.Names())
		}
		ref.Close()
	}
	if _, err := GenerateHead(io.Discard, tinyConfig(t), xlmr.SparseFile, weights.F32, 1); err == nil {
		t.Error("a reranker wrote a sparse head")
	}
	if _, err := ParseConfig([]byte(`{"architectures": ["XLMRobertaForMaskedLM"], "vocab_size": 10, "hidden_size": 4,
		"num_hidden_layers": 1, "intermediate_size": 4, "max_position_embeddings": 8}`)); err == nil {
		t.Error("a masked-LM config accepted")
	}
}

// WriteDir writes an embedder folder that xlmr loads with every head and embeds with.
func TestWriteDirEmbedder(t *testing.T) {
	raw := []byte(`{"architectures": ["XLMRobertaModel"], "model_type": "xlm-roberta", "vocab_size": 300,
		"hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 32,
		"max_position_embeddings": 40, "type_vocab_size": 1, "layer_norm_eps": 1e-5, "pad_token_id": 1}`)
	dir := t.TempDir()
	st, err := WriteDir(dir, raw, weights.BF16, 9)
	if err != nil {
		t.Fatal(err)
	}
	if st.Tensors != 5+2*16+2+2+2 {
		t.Errorf("stats %+v", st)
	}
	m, err := xlmr.Load(dir, xlmr.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Heads() != xlmr.OutputAll || len(m.Report.Unused) != 0 || len(m.Report.Skipped) != 2 || m.Report.DType != "BF16" {
		t.Errorf("heads %v, report %+v", m.Heads(), m.Report)
	}
	out := make([]xlmr.Embedding, 2)
	if err := m.Embed(m.NewScratch(), [][]int32{{0, 5, 6, 2}, {0, 7, 2}}, xlmr.OutputAll, out, nil); err != nil {
		t.Fatal(err)
	}
	if len(out[0].ColBERT) != 3 || len(out[1].Dense) != 16 {
		t.Errorf("outputs %+v", out[0])
	}
	// the two heads' weights come from different streams
	a, b := HeadTensors(m3Config(t), xlmr.SparseFile, weights.F32)[1], HeadTensors(m3Config(t), xlmr.ColBERTFile, weights.F32)[1]
	if a.Name != "weight" || b.Name != "weight" || a.seed == b.seed {
		t.Errorf("head seeds %q and %q", a.seed, b.seed)
	}
}

func m3Config(t *testing.T) *Config {
	raw, err := os.ReadFile(filepath.Join(m3TinyDir(t), "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
