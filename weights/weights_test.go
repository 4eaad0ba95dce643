package weights

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/gorerank/gorerank/tensor"
	"github.com/x448/float16"
)

const tiny = "../testdata/tiny/"

// tinyKeys is the key list of XLMRobertaForSequenceClassification with 3 layers.
func tinyKeys() []string {
	keys := []string{
		"roberta.embeddings.word_embeddings.weight",
		"roberta.embeddings.position_embeddings.weight",
		"roberta.embeddings.token_type_embeddings.weight",
		"roberta.embeddings.LayerNorm.weight", "roberta.embeddings.LayerNorm.bias",
		"classifier.dense.weight", "classifier.dense.bias",
		"classifier.out_proj.weight", "classifier.out_proj.bias",
	}
	for l := range 3 {
		p := "roberta.encoder.layer." + string(rune('0'+l)) + "."
		for _, s := range []string{
			"attention.self.query", "attention.self.key", "attention.self.value",
			"attention.output.dense", "attention.output.LayerNorm",
			"intermediate.dense", "output.dense", "output.LayerNorm",
		} {
			keys = append(keys, p+s+".weight", p+s+".bias")
		}
	}
	slices.Sort(keys)
	return keys
}

func openTiny(t *testing.T, name string) *Checkpoint {
	t.Helper()
	c, err := OpenFiles(tiny + name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestTinyCheckpoint(t *testing.T) {
	c, err := OpenCheckpoint(tiny)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got, want := c.Names(), tinyKeys(); !slices.Equal(got, want) {
		t.Fatalf("names:\n got %v\nwant %v", got, want)
	}
	if md := c.Metadata(); md["format"] != "pt" {
		t.Errorf("metadata = %v, want format pt", md)
	}
	w, err := c.Tensor("roberta.embeddings.word_embeddings.weight")
	if err != nil {
		t.Fatal(err)
	}
	if w.DType != F32 || !slices.Equal(w.Shape, []int{250002, 32}) {
		t.Fatalf("word embeddings: %s %v", w.DType, w.Shape)
	}
	f, err := w.Float32()
	if err != nil {
		t.Fatal(err)
	}
	if len(f) != 250002*32 {
		t.Fatalf("len %d", len(f))
	}
	if unsafe.Pointer(&f[0]) != unsafe.Pointer(&w.Data[0]) {
		t.Error("F32 Float32() copied instead of aliasing the mapping")
	}
	if got := math.Float32frombits(binary.LittleEndian.Uint32(w.Data[4*1000:])); f[1000] != got {
		t.Errorf("f[1000] = %v, want %v", f[1000], got)
	}
	// Weights are N(0, 0.2²): a sanity check that we read numbers, not garbage.
	var sum, sq float64
	for _, v := range f {
		sum += float64(v)
		sq += float64(v) * float64(v)
	}
	n := float64(len(f))
	if std := math.Sqrt(sq/n - (sum/n)*(sum/n)); math.Abs(std-0.2) > 0.01 {
		t.Errorf("word embedding std = %v, want ~0.2", std)
	}
	_, err = c.Tensor("roberta.pooler.dense.weight")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "roberta.pooler.dense.weight") {
		t.Errorf("missing key error = %v", err)
	}
}

// The F16 and BF16 checkpoints hold the F32 weights rounded to nearest even.
func TestTinyHalfCheckpoints(t *testing.T) {
	ref := openTiny(t, "model.safetensors")
	for _, tc := range []struct {
		file  string
		dtype DType
		round func(float32) uint16
	}{
		{"model-fp16.safetensors", F16, func(f float32) uint16 { return float16.Fromfloat32(f).Bits() }},
		{"model-bf16.safetensors", BF16, tensor.Float32ToBF16},
	} {
		c := openTiny(t, tc.file)
		if !slices.Equal(c.Names(), ref.Names()) {
			t.Fatalf("%s: names differ from model.safetensors", tc.file)
		}
		for _, name := range c.Names() {
			h, _ := c.Tensor(name)
			r, _ := ref.Tensor(name)
			if h.DType != tc.dtype || !slices.Equal(h.Shape, r.Shape) {
				t.Fatalf("%s %s: %s %v", tc.file, name, h.DType, h.Shape)
			}
			rf, err := r.Float32()
			if err != nil {
				t.Fatal(err)
			}
			bits, err := h.Uint16()
			if err != nil {
				t.Fatal(err)
			}
			hf, err := h.Float32()
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range rf {
				if bits[i] != tc.round(v) {
					t.Fatalf("%s %s[%d]: bits %#04x, want round(%v) = %#04x", tc.file, name, i, bits[i], v, tc.round(v))
				}
				if d := math.Abs(float64(hf[i] - v)); d > 1e-2*math.Abs(float64(v))+1e-7 {
					t.Fatalf("%s %s[%d]: converted %v, F32 %v", tc.file, name, i, hf[i], v)
				}
			}
		}
	}
}

// goldens.safetensors holds I64, F64 and F32 tensors; its logits must equal goldens_index.json.
func TestGoldensFile(t *testing.T) {
	c := openTiny(t, "goldens.safetensors")
	raw, err := os.ReadFile(tiny + "goldens_index.json")
	if err != nil {
		t.Fatal(err)
	}
	var idx struct {
		Pairs []struct {
			Name     string  `json:"name"`
			SeqLen   int     `json:"seq_len"`
			LogitF64 float64 `json:"logit_f64"`
			LogitF32 float64 `json:"logit_f32"`
		} `json:"pairs"`
	}
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatal(err)
	}
	if len(idx.Pairs) != 43 {
		t.Fatalf("%d pairs", len(idx.Pairs))
	}
	all, err := c.Tensor("all.logits_f64")
	if err != nil {
		t.Fatal(err)
	}
	allF64, err := all.Float64()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := all.Float32(); !errors.Is(err, ErrDType) || !strings.Contains(err.Error(), "F64") {
		t.Errorf("Float32 of F64: err = %v, want ErrDType naming F64", err)
	}
	for k, p := range idx.Pairs {
		ids, err := c.Tensor(p.Name + ".input_ids")
		if err != nil {
			t.Fatal(err)
		}
		v, err := ids.Int64()
		if err != nil {
			t.Fatal(err)
		}
		if ids.DType != I64 || len(v) != p.SeqLen || v[0] != 0 || v[len(v)-1] != 2 {
			t.Fatalf("%s input_ids: %s %v", p.Name, ids.DType, v)
		}
		l64, _ := c.Tensor(p.Name + ".logits_f64")
		f64, err := l64.Float64()
		if err != nil {
			t.Fatal(err)
		}
		l32, _ := c.Tensor(p.Name + ".logits_f32")
		f32, err := l32.Float32()
		if err != nil {
			t.Fatal(err)
		}
		if f64[0] != p.LogitF64 || allF64[k] != p.LogitF64 || float64(f32[0]) != p.LogitF32 {
			t.Fatalf("%s: logits %v / %v / %v, index says %v / %v", p.Name, f64[0], allF64[k], f32[0], p.LogitF64, p.LogitF32)
		}
	}
}

func sampleTensors() []Tensor {
	f32 := []float32{1, -2.5, 3.25, float32(math.Inf(1)), 0, -0}
	var b32, b16, bbf, b64, bi64 []byte
	for _, v := range f32 {
		b32 = binary.LittleEndian.AppendUint32(b32, math.Float32bits(v))
		b16 = binary.LittleEndian.AppendUint16(b16, float16.Fromfloat32(v).Bits())
		bbf = binary.LittleEndian.AppendUint16(bbf, tensor.Float32ToBF16(v))
		b64 = binary.LittleEndian.AppendUint64(b64, math.Float64bits(float64(v)))
		bi64 = binary.LittleEndian.AppendUint64(bi64, uint64(int64(v*4)))
	}
	return []Tensor{
		{Name: "z.f32", DType: F32, Shape: []int{2, 3}, Data: b32},
		{Name: "a.f16", DType: F16, Shape: []int{3, 2}, Data: b16},
		{Name: "m.bf16", DType: BF16, Shape: []int{6}, Data: bbf},
		{Name: "f64", DType: F64, Shape: []int{1, 6}, Data: b64},
		{Name: "i64", DType: I64, Shape: []int{6, 1}, Data: bi64},
		{Name: "scalar", DType: I32, Shape: []int{}, Data: []byte{7, 0, 0, 0}},
		{Name: "empty", DType: F32, Shape: []int{0, 5}, Data: nil},
		{Name: "bytes \"quoted\" <é>", DType: U8, Shape: []int{3}, Data: []byte{1, 2, 3}},
	}
}

func TestWriteRoundTrip(t *testing.T) {
	// the last tensor (64 bytes) is laid out before the unaligned ones, DataAlign-aligned
	want := append(sampleTensors(), Tensor{Name: "aligned", DType: F32, Shape: []int{4, 4}, Data: make([]byte, 64)})
	md := map[string]string{"format": "pt", "b": "x\ny"}
	path := filepath.Join(t.TempDir(), "rt.safetensors")
	if err := WriteFile(path, want, md); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(raw)
	if (8+n)%DataAlign != 0 || !bytes.HasPrefix(raw[8:], []byte(`{"__metadata__":{"b":"x\ny","format":"pt"},"empty":`)) {
		t.Errorf("header layout: len %d, %q", n, raw[8:8+n])
	}
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(raw[8:8+n], &hdr); err != nil {
		t.Fatal(err)
	}
	var al struct {
		DataOffsets []int64 `json:"data_offsets"`
	}
	if err := json.Unmarshal(hdr["aligned"], &al); err != nil || al.DataOffsets[0]%DataAlign != 0 {
		t.Errorf("64-byte tensor at data offset %v (%v), want a multiple of %d", al.DataOffsets, err, DataAlign)
	}
	// Deterministic: writing again gives the same bytes.
	var again bytes.Buffer
	if err := Write(&again, want, md); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), raw) {
		t.Error("Write is not deterministic")
	}
	c, err := OpenFiles(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !maps2Equal(c.Metadata(), md) {
		t.Errorf("metadata %v", c.Metadata())
	}
	for _, w := range want {
		g, err := c.Tensor(w.Name)
		if err != nil {
			t.Fatal(err)
		}
		if g.DType != w.DType || !slices.Equal(g.Shape, w.Shape) || !bytes.Equal(g.Data, w.Data) {
			t.Errorf("%s: got %s %v %x, want %s %v %x", w.Name, g.DType, g.Shape, g.Data, w.DType, w.Shape, w.Data)
		}
	}
	// Converted values.
	for _, name := range []string{"z.f32", "a.f16", "m.bf16"} {
		g, _ := c.Tensor(name)
		f, err := g.Float32()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(f, []float32{1, -2.5, 3.25, float32(math.Inf(1)), 0, 0}) {
			t.Errorf("%s Float32 = %v", name, f)
		}
	}
	g, _ := c.Tensor("i64")
	if v, _ := g.Int64(); !slices.Equal(v, []int64{4, -10, 13, math.MinInt64, 0, 0}) {
		t.Errorf("i64 = %v", v)
	}
	if g, _ := c.Tensor("scalar"); g.Numel() != 1 {
		t.Errorf("scalar numel %d", g.Numel())
	}
	if g, _ := c.Tensor("empty"); g.Numel() != 0 {
		t.Errorf("empty numel %d", g.Numel())
	} else if f, err := g.Float32(); err != nil || len(f) != 0 {
		t.Errorf("empty Float32 = %v, %v", f, err)
	}
	if _, err := g.Float32(); !errors.Is(err, ErrDType) || !strings.Contains(err.Error(), "I64") {
		t.Errorf("Float32 of I64: %v", err)
	}
}

func maps2Equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestWriteRejects(t *testing.T) {
	ok := Tensor{Name: "a", DType: F32, Shape: []int{1}, Data: make([]byte, 4)}
	for _, tc := range []struct {
		name string
		ts   []Tensor
	}{
		{"duplicate", []Tensor{ok, ok}},
		{"empty name", []Tensor{{DType: F32, Shape: []int{1}, Data: make([]byte, 4)}}},
		{"metadata name", []Tensor{{Name: "__metadata__", DType: F32, Shape: []int{1}, Data: make([]byte, 4)}}},
		{"unknown dtype", []Tensor{{Name: "a", DType: "Q4", Shape: []int{1}, Data: make([]byte, 4)}}},
		{"negative dim", []Tensor{{Name: "a", DType: F32, Shape: []int{-1}}}},
		{"short data", []Tensor{{Name: "a", DType: F32, Shape: []int{2}, Data: make([]byte, 4)}}},
		{"overflow", []Tensor{{Name: "a", DType: F32, Shape: []int{math.MaxInt, math.MaxInt}}}},
	} {
		var b bytes.Buffer
		if err := Write(&b, tc.ts, nil); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	// Stream writer: too many and too few bytes.
	var b bytes.Buffer
	sw, err := NewWriter(&b, []TensorInfo{{"a", F32, []int{2}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sw.Write(make([]byte, 12)); err == nil {
		t.Error("writing past the total: no error")
	}
	sw.Write(make([]byte, 4))
	if err := sw.Close(); err == nil {
		t.Error("close with missing bytes: no error")
	}
	// A failed WriteFile leaves nothing behind.
	dir := t.TempDir()
	if err := WriteFile(filepath.Join(dir, "x.safetensors"), []Tensor{ok, ok}, nil); err == nil {
		t.Error("WriteFile duplicate: no error")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left files behind: %v", ents)
	}
}

// build makes a file image with the given header text (padded) and data length.
func build(hdr string, data int) []byte {
	for len(hdr)%8 != 0 {
		hdr += " "
	}
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(hdr)))
	b = append(b, hdr...)
	return append(b, make([]byte, data)...)
}

func TestParseRejects(t *testing.T) {
	valid := build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 8)
	if _, err := parseFile("x", valid); err != nil {
		t.Fatalf("valid file rejected: %v", err)
	}
	huge := binary.LittleEndian.AppendUint64(nil, 1<<62)
	hdrTooBig := binary.LittleEndian.AppendUint64(nil, MaxHeaderSize+8)
	hdrTooBig = append(hdrTooBig, make([]byte, MaxHeaderSize+8)...)
	for _, tc := range []struct {
		name, msg string
		b         []byte
	}{
		{"empty", "shorter than the 8-byte", nil},
		{"short", "shorter than the 8-byte", []byte{1, 2, 3}},
		{"hostile length", "header length 4611686018427387904 exceeds file size", huge},
		{"header over cap", "exceeds the 104857600-byte limit", hdrTooBig},
		{"truncated", "exceeds file size", valid[:20]},
		{"truncated data", "run past", valid[:len(valid)-1]},
		{"trailing data", "tensors cover 8", append(slices.Clone(valid), 0)},
		{"not json", "does not start with", build(`hello`, 0)},
		{"bad json", "unexpected end", build(`{"a":`, 0)},
		{"bad json 2", "colon", build(`{"a" 1}`, 0)},
		{"bad json 3", "header JSON", build(`{1:2}`, 0)},
		{"top-level array", "does not start with", build(`[1,2]`, 0)},
		{"junk after object", "after the closing", build(`{} x`, 0)},
		{"two objects", "after the closing", build(`{}{}`, 0)},
		{"metadata not strings", "__metadata__", build(`{"__metadata__":{"a":1}}`, 0)},
		{"duplicate metadata", "duplicate __metadata__", build(`{"__metadata__":{},"__metadata__":{}}`, 0)},
		{"duplicate name", `duplicate tensor name "a"`, build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8)},
		{"missing dtype", "missing dtype", build(`{"a":{"shape":[1],"data_offsets":[0,4]}}`, 4)},
		{"missing shape", "missing shape", build(`{"a":{"dtype":"F32","data_offsets":[0,4]}}`, 4)},
		{"missing offsets", "data_offsets must be", build(`{"a":{"dtype":"F32","shape":[1]}}`, 4)},
		{"three offsets", "data_offsets must be", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, 4)},
		{"unknown dtype", `unknown dtype "F128"`, build(`{"a":{"dtype":"F128","shape":[1],"data_offsets":[0,4]}}`, 4)},
		{"negative dim", "negative dimension", build(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, 4)},
		{"fractional dim", `tensor "a"`, build(`{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, 4)},
		{"overflow shape", "overflows", build(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}`, 4)},
		{"overflow bytes", "overflows", build(`{"a":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,4]}}`, 4)},
		{"byte length mismatch", "needs 8 bytes", build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, 4)},
		{"reversed offsets", "bad data_offsets", build(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}`, 4)},
		{"negative offset", "bad data_offsets", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, 4)},
		{"gap", "gap in data region", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8)},
		{"overlap", "overlap", build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8)},
		{"past end", "run past", build(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, 8)},
		{"uncovered tail", "tensors cover 4", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 8)},
		{"sub-byte remainder", "whole number of bytes", build(`{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}`, 2)},
		{"entry is a string", `tensor "a"`, build(`{"a":"F32"}`, 0)},
		{"empty name", "empty tensor name", build(`{"":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4)},
	} {
		_, err := parseFile("bad.safetensors", tc.b)
		var fe *FormatError
		switch {
		case err == nil:
			t.Errorf("%s: no error", tc.name)
		case !errors.As(err, &fe) || !errors.Is(err, ErrFormat):
			t.Errorf("%s: %v is not a *FormatError", tc.name, err)
		case !strings.HasPrefix(err.Error(), "weights: invalid safetensors: bad.safetensors: ") || !strings.Contains(err.Error(), tc.msg):
			t.Errorf("%s: error %q does not contain %q", tc.name, err, tc.msg)
		}
	}
}

func TestParseAccepts(t *testing.T) {
	for _, tc := range []struct {
		name, hdr string
		data      int
	}{
		{"empty object", `{}`, 0},
		{"metadata only", `{"__metadata__":{"format":"pt"}}`, 0},
		{"out-of-order offsets", `{"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}`, 8},
		{"zero-size and sub-byte tensors", `{"e":{"dtype":"F32","shape":[0,3],"data_offsets":[8,8]},` +
			`"a":{"dtype":"F64","shape":[],"data_offsets":[0,8]},` +
			`"g":{"dtype":"F4","shape":[2],"data_offsets":[8,9]},` +
			`"f":{"dtype":"U8","shape":[0],"data_offsets":[9,9]}}`, 9},
	} {
		if _, err := parseFile("ok", build(tc.hdr, tc.data)); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// A header that is not padded to 8 bytes leaves F32 data unaligned: Float32 then copies,
// with the same values.
func TestUnalignedF32(t *testing.T) {
	hdr := `{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}`
	img := binary.LittleEndian.AppendUint64(nil, uint64(len(hdr)))
	img = append(img, hdr...)
	for _, v := range []float32{1.5, -2, 3e-3} {
		img = binary.LittleEndian.AppendUint32(img, math.Float32bits(v))
	}
	if (8+len(hdr))%4 == 0 {
		t.Fatal("test header happens to be aligned")
	}
	p := filepath.Join(t.TempDir(), "u.safetensors")
	if err := os.WriteFile(p, img, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	x, _ := f.Tensor("a")
	v, err := x.Float32()
	if err != nil || !slices.Equal(v, []float32{1.5, -2, 3e-3}) {
		t.Errorf("Float32 = %v, %v", v, err)
	}
	if md := f.Metadata(); md != nil || f.Path() != p || !slices.Equal(f.Names(), []string{"a"}) {
		t.Errorf("metadata %v, path %s, names %v", md, f.Path(), f.Names())
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "nope.safetensors")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := OpenCheckpoint(dir); err == nil || !strings.Contains(err.Error(), "neither") {
		t.Errorf("empty dir: %v", err)
	}
	// A truncated copy of the real checkpoint.
	raw, err := os.ReadFile(tiny + "model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{0, 7, 8, 100, 6512, len(raw) - 1} {
		p := filepath.Join(dir, "cut.safetensors")
		os.WriteFile(p, raw[:cut], 0o644)
		if _, err := Open(p); !errors.Is(err, ErrFormat) {
			t.Errorf("truncated to %d bytes: err = %v", cut, err)
		}
	}
	// One flipped byte in the header's first offset digit breaks the layout.
	bad := slices.Clone(raw)
	i := bytes.Index(bad, []byte(`"data_offsets":[0,`))
	bad[i+len(`"data_offsets":[`)] = '1'
	p := filepath.Join(dir, "flip.safetensors")
	os.WriteFile(p, bad, 0o644)
	if _, err := Open(p); !errors.Is(err, ErrFormat) {
		t.Errorf("flipped offset: %v", err)
	}
	if _, err := Open(dir); err == nil {
		t.Error("opening a directory: no error")
	}
}

func TestSharded(t *testing.T) {
	dir := t.TempDir()
	ts := sampleTensors()
	if err := WriteFile(filepath.Join(dir, "model-00001-of-00002.safetensors"), ts[:3], map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(filepath.Join(dir, "model-00002-of-00002.safetensors"), ts[3:], map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	wm := map[string]string{}
	for i, x := range ts {
		wm[x.Name] = "model-00001-of-00002.safetensors"
		if i >= 3 {
			wm[x.Name] = "model-00002-of-00002.safetensors"
		}
	}
	writeIndex := func(wm map[string]string) {
		b, _ := json.Marshal(map[string]any{"metadata": map[string]any{"total_size": 1}, "weight_map": wm})
		os.WriteFile(filepath.Join(dir, IndexFile), b, 0o644)
	}
	writeIndex(wm)
	c, err := OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Files()) != 2 || len(c.Names()) != len(ts) {
		t.Fatalf("%d files, names %v", len(c.Files()), c.Names())
	}
	for _, x := range ts {
		g, err := c.Tensor(x.Name)
		if err != nil || !bytes.Equal(g.Data, x.Data) {
			t.Errorf("%s: %v", x.Name, err)
		}
	}
	c.Close()

	// Index and shards disagree.
	for _, tc := range []struct {
		name string
		edit func(m map[string]string)
		msg  string
	}{
		{"wrong shard", func(m map[string]string) { m["z.f32"] = "model-00002-of-00002.safetensors" }, "does not hold it"},
		{"unlisted tensor", func(m map[string]string) { delete(m, "f64") }, "missing from weight_map"},
		{"extra tensor", func(m map[string]string) { m["ghost"] = "model-00001-of-00002.safetensors" }, "does not hold it"},
		{"path escape", func(m map[string]string) { m["f64"] = "../x.safetensors" }, "not a plain file name"},
		{"missing shard", func(m map[string]string) { m["f64"] = "model-00003-of-00002.safetensors" }, "no such file"},
	} {
		m := maps2Clone(wm)
		tc.edit(m)
		writeIndex(m)
		if _, err := OpenCheckpoint(dir); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.msg)
		}
	}
	os.WriteFile(filepath.Join(dir, IndexFile), []byte(`{"weight_map": [`), 0o644)
	if _, err := OpenCheckpoint(dir); !errors.Is(err, ErrFormat) {
		t.Errorf("bad index JSON: %v", err)
	}
	// Duplicate names across files given to OpenFiles.
	p := filepath.Join(dir, "model-00001-of-00002.safetensors")
	if _, err := OpenFiles(p, p); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "also in") {
		t.Errorf("duplicate across files: %v", err)
	}
}

func maps2Clone(m map[string]string) map[string]string {
	o := make(map[string]string, len(m))
	for k, v := range m {
		o[k] = v
	}
	return o
}

// I8 tensors (int8 checkpoints) round-trip through the writer and come back in place.
func TestInt8Tensor(t *testing.T) {
	q := []byte{0x7f, 0x81, 0, 1, 0xff, 0x80}
	path := filepath.Join(t.TempDir(), "i8.safetensors")
	err := WriteFile(path, []Tensor{
		{Name: "w", DType: I8, Shape: []int{2, 3}, Data: q},
		{Name: "w_scale", DType: F32, Shape: []int{2}, Data: make([]byte, 8)},
		{Name: "odd", DType: I8, Shape: []int{0}, Data: nil},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, _ := f.Tensor("w")
	v, err := w.Int8()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(v, []int8{127, -127, 0, 1, -1, -128}) || &w.Data[0] != (*byte)(unsafe.Pointer(&v[0])) {
		t.Errorf("Int8 = %v, or not in place", v)
	}
	if e, _ := f.Tensor("odd"); e != nil {
		if v, err := e.Int8(); err != nil || len(v) != 0 {
			t.Errorf("empty I8: %v %v", v, err)
		}
	}
	s, _ := f.Tensor("w_scale")
	if _, err := s.Int8(); !errors.Is(err, ErrDType) {
		t.Errorf("Int8 of F32: %v, want ErrDType", err)
	}
	if _, err := w.Float32(); !errors.Is(err, ErrDType) {
		t.Errorf("Float32 of I8: %v, want ErrDType", err)
	}
	bad := &Tensor{Name: "bad", DType: I8, Shape: []int{2, 3}, Data: q[:5]}
	if _, err := bad.Int8(); err == nil {
		t.Error("Int8 with 5 bytes for shape [2 3]: no error")
	}
	if err := WriteFile(filepath.Join(t.TempDir(), "x"), []Tensor{*bad}, nil); err == nil {
		t.Error("writing 5 bytes for I8 [2 3]: no error")
	}
}
