package xlmr

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/gorerank/gorerank/nn"
	"github.com/gorerank/gorerank/tensor"
	"github.com/gorerank/gorerank/weights"
)

// The golden kit (testdata/README.md, shared golden README §2.2): tensors produced by HF
// transformers 4.40.2 in float64 for the tiny random checkpoint. Missing fixtures fail.
const (
	tinyDir     = "../testdata/tiny"
	goldensFile = "../testdata/tiny/goldens.safetensors"
	goldensJSON = "../testdata/tiny/goldens_index.json"
	logitTol    = 1e-5
	hiddenTol   = 1e-5
)

type goldenPair struct {
	Name         string `json:"name"`
	SeqLen       int    `json:"seq_len"`
	HiddenStates bool   `json:"hidden_states"`
}

type goldens struct {
	ck    *weights.Checkpoint
	pairs []goldenPair
	batch struct {
		PairIndices []int `json:"pair_indices"`
	}
}

func loadGoldens(t testing.TB) *goldens {
	t.Helper()
	data, err := os.ReadFile(goldensJSON)
	if err != nil {
		t.Fatalf("golden index missing: %v", err)
	}
	var idx struct {
		Pairs []goldenPair `json:"pairs"`
		Batch struct {
			PairIndices []int `json:"pair_indices"`
		} `json:"batch"`
	}
	if err := json.Unmarshal(data, &idx); err != nil {
		t.Fatal(err)
	}
	if len(idx.Pairs) != 43 {
		t.Fatalf("golden index has %d pairs, want 43", len(idx.Pairs))
	}
	ck, err := weights.OpenFiles(goldensFile)
	if err != nil {
		t.Fatalf("goldens: %v", err)
	}
	t.Cleanup(func() { ck.Close() })
	g := &goldens{ck: ck, pairs: idx.Pairs}
	g.batch.PairIndices = idx.Batch.PairIndices
	return g
}

func (g *goldens) tensor(t testing.TB, name string, dt weights.DType) *weights.Tensor {
	t.Helper()
	x, err := g.ck.Tensor(name)
	if err != nil {
		t.Fatalf("goldens: %v", err)
	}
	if x.DType != dt {
		t.Fatalf("goldens: %s is %s, want %s", name, x.DType, dt)
	}
	return x
}

// ids reads an I64 tensor as int32 token ids.
func (g *goldens) ids(t testing.TB, name string) ([]int32, []int) {
	x := g.tensor(t, name, weights.I64)
	out := make([]int32, len(x.Data)/8)
	for i := range out {
		out[i] = int32(binary.LittleEndian.Uint64(x.Data[8*i:]))
	}
	return out, x.Shape
}

// f64 reads an F64 tensor.
func (g *goldens) f64(t testing.TB, name string) ([]float64, []int) {
	x := g.tensor(t, name, weights.F64)
	out := make([]float64, len(x.Data)/8)
	for i := range out {
		out[i] = math.Float64frombits(binary.LittleEndian.Uint64(x.Data[8*i:]))
	}
	return out, x.Shape
}

// inputs returns the token ids of every golden pair.
func (g *goldens) inputs(t testing.TB) [][]int32 {
	seqs := make([][]int32, len(g.pairs))
	for i, p := range g.pairs {
		seqs[i], _ = g.ids(t, p.Name+".input_ids")
		if len(seqs[i]) != p.SeqLen {
			t.Fatalf("%s: %d ids, index says %d", p.Name, len(seqs[i]), p.SeqLen)
		}
	}
	return seqs
}

func loadTiny(t testing.TB, o LoadOptions) *Model {
	t.Helper()
	m, err := Load(tinyDir, o)
	if err != nil {
		t.Fatalf("Load(%s, %+v): %v", tinyDir, o, err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// checkLogits scores every golden pair in one packed batch and compares with tensor suffix.
func checkLogits(t *testing.T, m *Model, g *goldens, suffix string, tol float64) float64 {
	seqs := g.inputs(t)
	logits := make([]float32, len(seqs))
	if err := m.Forward(m.NewScratch(), seqs, logits, nil); err != nil {
		t.Fatal(err)
	}
	var worst float64
	for i, p := range g.pairs {
		want, _ := g.f64(t, p.Name+"."+suffix)
		d := math.Abs(float64(logits[i]) - want[0])
		worst = max(worst, d)
		if d > tol {
			t.Errorf("%s: logit %.9g, want %.9g (%s): diff %.3g > %.0e", p.Name, logits[i], want[0], suffix, d, tol)
		}
	}
	t.Logf("%s: max abs diff over %d pairs = %.3g", suffix, len(seqs), worst)
	return worst
}

func TestGoldenLogitsF32(t *testing.T) {
	g := loadGoldens(t)
	checkLogits(t, loadTiny(t, LoadOptions{}), g, "logits_f64", logitTol)
}

func TestGoldenLogitsF16Checkpoint(t *testing.T) {
	g := loadGoldens(t)
	m := loadTiny(t, LoadOptions{WeightsFile: "model-fp16.safetensors"})
	if m.Report.DType != "F16" || m.Report.Converted == 0 {
		t.Errorf("report %+v: want dtype F16 widened at load", m.Report)
	}
	checkLogits(t, m, g, "logits_fp16_ckpt_f64", logitTol)
	// half-size weights used in place give the same numbers (the weights are exact in F16)
	checkLogits(t, loadTiny(t, LoadOptions{WeightsFile: "model-fp16.safetensors", Precision: nn.F16}), g, "logits_fp16_ckpt_f64", logitTol)
}

func TestGoldenLogitsBF16Checkpoint(t *testing.T) {
	g := loadGoldens(t)
	m := loadTiny(t, LoadOptions{WeightsFile: "model-bf16.safetensors"})
	// the word-embedding table stays in the checkpoint's BF16 bits (rows widened on gather)
	if e := &m.Embeddings; e.WordEmbeddings != nil || len(e.WordEmbeddings16) != m.Config.VocabSize*m.Config.HiddenSize || e.WordEmbeddings16Format != nn.BF16 {
		t.Errorf("word embeddings of a BF16 checkpoint: f32 %d values, 16-bit %d values (format %d); want BF16 bits in place",
			len(e.WordEmbeddings), len(e.WordEmbeddings16), e.WordEmbeddings16Format)
	}
	checkLogits(t, m, g, "logits_bf16_ckpt_f64", logitTol)
	// Precision BF16 widens the weights exactly, unless the CPU multiplies BF16 in hardware
	// (tensor.BF16Arithmetic): then it rounds the activations too, as BF16Compute does.
	bf16Tol := logitTol
	if tensor.BF16Arithmetic() {
		bf16Tol = 5e-2
	}
	checkLogits(t, loadTiny(t, LoadOptions{WeightsFile: "model-bf16.safetensors", Precision: nn.BF16}), g, "logits_bf16_ckpt_f64", bf16Tol)
	// BF16 compute rounds activations to 8 significant bits: only a sanity bound
	checkLogits(t, loadTiny(t, LoadOptions{WeightsFile: "model-bf16.safetensors", Precision: nn.BF16Compute}), g, "logits_bf16_ckpt_f64", 5e-2)
}

func TestGoldenLogitsF32RoundedToHalfAtLoad(t *testing.T) {
	// An F32 checkpoint loaded with a 16-bit precision has only its linear weights rounded
	// (embeddings, biases and LayerNorms stay float32), so it sits near the F32 goldens,
	// within the movement the kit reports for rounding every tensor (1.3e-3 F16, 1.2e-2 BF16).
	g := loadGoldens(t)
	m := loadTiny(t, LoadOptions{Precision: nn.F16})
	if m.Report.Converted == 0 {
		t.Errorf("report %+v: want linear weights rounded at load", m.Report)
	}
	checkLogits(t, m, g, "logits_f64", 2e-3)
	checkLogits(t, loadTiny(t, LoadOptions{Precision: nn.BF16}), g, "logits_f64", 2e-2)
}

func TestGoldenHiddenStates(t *testing.T) {
	g := loadGoldens(t)
	m := loadTiny(t, LoadOptions{})
	seqs := g.inputs(t)
	H, L := m.Config.HiddenSize, m.Config.NumHiddenLayers
	// every pair in one packed batch; the hook copies the hidden states out per sequence
	got := make([][][]float32, len(seqs)) // [seq][index 0..L][T*H]
	for i := range got {
		got[i] = make([][]float32, L+1)
	}
	hook := func(seq int, name string, shape []int, data []float32) {
		var li int
		switch {
		case name == "embeddings":
			li = 0
		case strings.HasPrefix(name, "layer."):
			fmt.Sscanf(name, "layer.%d", &li)
			li++
		default:
			return
		}
		if !slices.Equal(shape, []int{len(seqs[seq]), H}) {
			t.Errorf("hook %s seq %d: shape %v", name, seq, shape)
		}
		got[seq][li] = slices.Clone(data)
	}
	logits := make([]float32, len(seqs))
	if err := m.Forward(m.NewScratch(), seqs, logits, hook); err != nil {
		t.Fatal(err)
	}
	checked := 0
	worst := make([]float64, L+1)
	for i, p := range g.pairs {
		if !p.HiddenStates {
			continue
		}
		checked++
		want, shape := g.f64(t, p.Name+".hidden_states_f64")
		T := len(seqs[i])
		if !slices.Equal(shape, []int{L + 1, T, H}) {
			t.Fatalf("%s: hidden_states_f64 shape %v", p.Name, shape)
		}
		var report []string
		for l := 0; l <= L; l++ {
			var d float64
			for j, v := range got[i][l] {
				d = max(d, math.Abs(float64(v)-want[l*T*H+j]))
			}
			worst[l] = max(worst[l], d)
			report = append(report, fmt.Sprintf("layer %d: maxabs=%.2g", l, d))
			if d > hiddenTol {
				defer t.Errorf("%s hidden states off (index 0 = embeddings):\n  %s", p.Name, strings.Join(report, "\n  "))
			}
		}
	}
	if checked != 9 {
		t.Errorf("checked hidden states of %d pairs, the index marks 9", checked)
	}
	for l, d := range worst {
		t.Logf("hidden state %d (0 = embeddings): max abs diff %.3g", l, d)
	}
}

// TestGoldenPaddedBatch strips the right padding of batch.input_ids with attention_mask and
// checks the unpadded packed batch against the padded HF run and the single-pair logits.
func TestGoldenPaddedBatch(t *testing.T) {
	g := loadGoldens(t)
	m := loadTiny(t, LoadOptions{})
	ids, shape := g.ids(t, "batch.input_ids")
	mask, _ := g.ids(t, "batch.attention_mask")
	want, _ := g.f64(t, "batch.logits_f64")
	B, T := shape[0], shape[1]
	seqs := make([][]int32, B)
	for b := range B {
		for j := range T {
			if mask[b*T+j] == 1 {
				seqs[b] = append(seqs[b], ids[b*T+j])
			}
		}
	}
	logits := make([]float32, B)
	if err := m.Forward(m.NewScratch(), seqs, logits, nil); err != nil {
		t.Fatal(err)
	}
	for b, pi := range g.batch.PairIndices {
		single, _ := g.f64(t, g.pairs[pi].Name+".logits_f64")
		if d := math.Abs(float64(logits[b]) - want[b]); d > logitTol {
			t.Errorf("batch row %d: logit %.9g, padded HF %.9g: diff %.3g", b, logits[b], want[b], d)
		}
		if d := math.Abs(float64(logits[b]) - single[0]); d > logitTol {
			t.Errorf("batch row %d (%s): logit %.9g, single-pair %.9g: diff %.3g", b, g.pairs[pi].Name, logits[b], single[0], d)
		}
	}
}
