package xlmr

import (
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/gorerank/gorerank/nn"
	"github.com/gorerank/gorerank/weights"
)

// int8LogitTol bounds |Δlogit| of the int8 model against float64 on the tiny goldens (hidden size
// 32: each dot product has only 32–64 terms): a sanity bound, the measured value is logged
// (0.04–0.055 at the time of writing; BF16Compute differs by about as much on these pairs).
const int8LogitTol = 0.1

func TestGoldenLogitsInt8(t *testing.T) {
	g := loadGoldens(t)
	for _, file := range []string{"", "model-fp16.safetensors", "model-bf16.safetensors"} {
		m := loadTiny(t, LoadOptions{WeightsFile: file, Precision: nn.Int8})
		if l := m.Layers[0].Attention.Self.Query; l.Prec != nn.Int8 || l.W8 == nil {
			t.Fatalf("%q: query layer precision %d, want Int8", file, l.Prec)
		}
		if m.Classifier.Dense.Prec != nn.F32 {
			t.Errorf("%q: classifier precision %d, want F32", file, m.Classifier.Dense.Prec)
		}
		checkLogits(t, m, g, "logits_f64", int8LogitTol)
	}
}

// TestInt8GoldenFidelity logs max and mean |Δlogit| against float64 on the tiny goldens for
// int8 and, beside it, BF16 compute (both from the F32 checkpoint): the first rows of the
// fidelity table (rerank fidelity measures rankings on real-size models).
func TestInt8GoldenFidelity(t *testing.T) {
	g := loadGoldens(t)
	seqs := g.inputs(t)
	for _, c := range []struct {
		name string
		p    nn.Precision
		tol  float64
	}{{"f32", nn.F32, logitTol}, {"int8", nn.Int8, int8LogitTol}, {"bf16c", nn.BF16Compute, int8LogitTol}} {
		logits := int8Logits(t, loadTiny(t, LoadOptions{Precision: c.p}), seqs)
		var worst, sum float64
		for i, p := range g.pairs {
			want, _ := g.f64(t, p.Name+".logits_f64")
			d := math.Abs(float64(logits[i]) - want[0])
			worst, sum = max(worst, d), sum+d
		}
		t.Logf("%-5s vs float64 over %d golden pairs: max |Δlogit| %.3g, mean %.3g", c.name, len(seqs), worst, sum/float64(len(seqs)))
		if worst > c.tol {
			t.Errorf("%s: max |Δlogit| %.3g > %.3g", c.name, worst, c.tol)
		}
	}
}

// int8Logits scores the golden inputs with m.
func int8Logits(t *testing.T, m *Model, seqs [][]int32) []float32 {
	t.Helper()
	logits := make([]float32, len(seqs))
	if err := m.Forward(m.NewScratch(), seqs, logits, nil); err != nil {
		t.Fatal(err)
	}
	return logits
}

// QuantizeCheckpoint writes what Load quantizes at load: loading the int8 checkpoint gives the
// same logits bit for bit, with the int8 weights used in place from the memory map.
func TestQuantizeCheckpointRoundTrip(t *testing.T) {
	g := loadGoldens(t)
	seqs := g.inputs(t)
	out := filepath.Join(t.TempDir(), "int8")
	if err := QuantizeCheckpoint(tinyDir, out); err != nil {
		t.Fatal(err)
	}
	q, err := Load(out, LoadOptions{Precision: nn.Int8})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if r := q.Report; r.DType != "I8" || r.Converted != 0 || len(r.Unused) != 0 {
		t.Errorf("report %+v, want DType I8, nothing converted or unused", r)
	}
	// in place: the int8 rows alias the checkpoint's bytes
	tq, _ := q.ckpt.Tensor("roberta.encoder.layer.2.output.dense.weight")
	if w := q.Layers[2].Output.Dense.W8.Q; unsafe.Pointer(&w[0]) != unsafe.Pointer(&tq.Data[0]) {
		t.Error("int8 weights were copied, not used in place")
	}
	checkInt8Aligned(t, q)
	atLoad := loadTiny(t, LoadOptions{Precision: nn.Int8})
	want, got := int8Logits(t, atLoad, seqs), int8Logits(t, q, seqs)
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("pair %d: int8 checkpoint logit %v, quantized at load %v", i, got[i], want[i])
		}
	}
	// An int8 checkpoint needs precision Int8; the output folder is not overwritten.
	if _, err := Load(out, LoadOptions{}); err == nil || !strings.Contains(err.Error(), "I8") {
		t.Errorf("loading the int8 checkpoint as F32: %v", err)
	} else if n := strings.Count(err.Error(), "I8"); n != 1 {
		t.Errorf("loading the int8 checkpoint as F32: the error names I8 %d times, want once:\n%v", n, err)
	}
	if err := QuantizeCheckpoint(tinyDir, out); err == nil {
		t.Error("QuantizeCheckpoint overwrote an existing model.safetensors")
	}
	if err := QuantizeCheckpoint(out, filepath.Join(t.TempDir(), "again")); err == nil {
		t.Error("QuantizeCheckpoint accepted an int8 checkpoint")
	}
}

// checkInt8Aligned: every int8 weight of m starts on a weights.DataAlign boundary.
func checkInt8Aligned(t *testing.T, m *Model) {
	t.Helper()
	for i := range m.Layers {
		y := &m.Layers[i]
		for _, l := range []*nn.Linear{y.Attention.Self.Query, y.Attention.Self.Key, y.Attention.Self.Value,
			y.Attention.Output.Dense, y.Intermediate.Dense, y.Output.Dense} {
			if p := uintptr(unsafe.Pointer(&l.W8.Q[0])); p%weights.DataAlign != 0 {
				t.Fatalf("layer %d: int8 weights at %#x, not %d-byte aligned", i, p, weights.DataAlign)
			}
		}
	}
}

// An int8 checkpoint whose tensors are not 64-byte aligned (another writer's, with a 4-byte
// tensor first) loads into aligned copies and gives the same logits bit for bit.
func TestLoadInt8Misaligned(t *testing.T) {
	src := filepath.Join(t.TempDir(), "int8")
	if err := QuantizeCheckpoint(tinyDir, src); err != nil {
		t.Fatal(err)
	}
	ck, err := weights.OpenFiles(filepath.Join(src, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	var infos []weights.TensorInfo
	var data [][]byte
	for _, n := range ck.Names() {
		x, _ := ck.Tensor(n)
		info := weights.TensorInfo{Name: x.Name, DType: x.DType, Shape: x.Shape}
		if len(x.Data)%weights.DataAlign != 0 { // first: it shifts everything after it
			infos, data = append([]weights.TensorInfo{info}, infos...), append([][]byte{x.Data}, data...)
		} else {
			infos, data = append(infos, info), append(data, x.Data)
		}
	}
	if len(data[0])%weights.DataAlign == 0 {
		t.Fatal("the tiny checkpoint has no tensor of odd size to misalign the others with")
	}
	dir := t.TempDir()
	err = weights.CreateFile(filepath.Join(dir, "model.safetensors"), func(w io.Writer) error {
		sw, err := weights.NewWriter(w, infos, nil)
		if err != nil {
			return err
		}
		for _, d := range data {
			if _, err := sw.Write(d); err != nil {
				return err
			}
		}
		return sw.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := os.ReadFile(filepath.Join(src, "config.json"))
	os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644)
	m, err := Load(dir, LoadOptions{Precision: nn.Int8})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if tq, _ := m.ckpt.Tensor("roberta.encoder.layer.0.output.dense.weight"); tq.Aligned() {
		t.Fatal("the rewritten checkpoint is aligned after all: the test checks nothing")
	}
	checkInt8Aligned(t, m)
	seqs := loadGoldens(t).inputs(t)
	want, got := int8Logits(t, loadTiny(t, LoadOptions{Precision: nn.Int8}), seqs), int8Logits(t, m, seqs)
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("pair %d: misaligned checkpoint logit %v, aligned %v", i, got[i], want[i])
		}
	}
}

// Broken int8 checkpoints are errors naming the key, never panics.
func TestLoadInt8Errors(t *testing.T) {
	src := filepath.Join(t.TempDir(), "int8")
	if err := QuantizeCheckpoint(tinyDir, src); err != nil {
		t.Fatal(err)
	}
	const key = "roberta.encoder.layer.1.attention.self.key.weight"
	for _, tc := range []struct {
		name, want string
		edit       func(ts []weights.Tensor) []weights.Tensor
	}{
		{"minus128", "-128", func(ts []weights.Tensor) []weights.Tensor {
			for i := range ts {
				if ts[i].Name == key {
					d := append([]byte(nil), ts[i].Data...)
					d[5] = 0x80
					ts[i].Data = d
				}
			}
			return ts
		}},
		{"noscale", key + "_scale", func(ts []weights.Tensor) []weights.Tensor {
			var out []weights.Tensor
			for _, x := range ts {
				if x.Name != key+"_scale" {
					out = append(out, x)
				}
			}
			return out
		}},
		{"nanscale", "scale 3", func(ts []weights.Tensor) []weights.Tensor {
			for i := range ts {
				if ts[i].Name == key+"_scale" {
					d := append([]byte(nil), ts[i].Data...)
					copy(d[12:], []byte{0, 0, 0xc0, 0x7f})
					ts[i].Data = d
				}
			}
			return ts
		}},
		{"f16scale", "want F32", func(ts []weights.Tensor) []weights.Tensor {
			for i := range ts {
				if ts[i].Name == key+"_scale" {
					ts[i].DType, ts[i].Data = weights.F16, ts[i].Data[:len(ts[i].Data)/2]
				}
			}
			return ts
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ck, err := weights.OpenFiles(filepath.Join(src, "model.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			var ts []weights.Tensor
			for _, n := range ck.Names() {
				x, _ := ck.Tensor(n)
				ts = append(ts, *x)
			}
			dir := t.TempDir()
			err = weights.WriteFile(filepath.Join(dir, "model.safetensors"), tc.edit(ts), nil)
			ck.Close()
			if err != nil {
				t.Fatal(err)
			}
			cfg, _ := os.ReadFile(filepath.Join(src, "config.json"))
			os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644)
			_, err = Load(dir, LoadOptions{Precision: nn.Int8})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one mentioning %q", err, tc.want)
			}
			if tc.name == "noscale" && !errors.Is(err, weights.ErrNotFound) {
				t.Errorf("missing scale: %v does not wrap ErrNotFound", err)
			}
		})
	}
}

func TestForwardInt8ZeroAllocs(t *testing.T) {
	m := loadTiny(t, LoadOptions{Precision: nn.Int8})
	seqs := loadGoldens(t).inputs(t)[:10]
	logits := make([]float32, len(seqs))
	s := m.NewScratch()
	if err := m.Forward(s, seqs, logits, nil); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(5, func() {
		if err := m.Forward(s, seqs, logits, nil); err != nil {
			t.Fatal(err)
		}
	})
	if !raceEnabled && allocs != 0 {
		t.Errorf("int8 Forward allocates %v times per call in steady state", allocs)
	}
}
