package weights

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"unsafe"
)

const (
	torchFixtures = "testdata/torch/"   // written by testdata/torch/gen.py
	m3Heads       = "testdata/m3-tiny/" // sparse_linear.pt, colbert_linear.pt and data.pkl of the m3-tiny kit
)

// m3TinyDir is the folder holding the m3-tiny kit's 33 MB pytorch_model.bin: the repository's
// testdata/m3-tiny when a copy is there, else the project's shared golden kit beside the
// checkout. The test fails (never skips) when neither has it.
func m3TinyDir(t *testing.T) string {
	t.Helper()
	for _, d := range []string{"../testdata/m3-tiny", "../../shared/golden/m3-tiny"} {
		if _, err := os.Stat(filepath.Join(d, TorchSingleFile)); err == nil {
			return d
		}
	}
	t.Fatal("m3-tiny pytorch_model.bin not found in ../testdata/m3-tiny nor ../../shared/golden/m3-tiny")
	return ""
}

// m3Layer is the key list of one encoder layer of the m3-tiny base model (no "roberta."
// prefix), with shapes for hidden 32, intermediate 64.
var m3Layer = map[string][]int{
	"attention.self.query.weight": {32, 32}, "attention.self.query.bias": {32},
	"attention.self.key.weight": {32, 32}, "attention.self.key.bias": {32},
	"attention.self.value.weight": {32, 32}, "attention.self.value.bias": {32},
	"attention.output.dense.weight": {32, 32}, "attention.output.dense.bias": {32},
	"attention.output.LayerNorm.weight": {32}, "attention.output.LayerNorm.bias": {32},
	"intermediate.dense.weight": {64, 32}, "intermediate.dense.bias": {64},
	"output.dense.weight": {32, 64}, "output.dense.bias": {32},
	"output.LayerNorm.weight": {32}, "output.LayerNorm.bias": {32},
}

// m3Shapes is every tensor of m3-tiny's pytorch_model.bin, as torch.load lists it.
func m3Shapes() map[string][]int {
	m := map[string][]int{
		"embeddings.word_embeddings.weight":       {250002, 32},
		"embeddings.position_embeddings.weight":   {8194, 32},
		"embeddings.token_type_embeddings.weight": {1, 32},
		"embeddings.LayerNorm.weight":             {32},
		"embeddings.LayerNorm.bias":               {32},
		"pooler.dense.weight":                     {32, 32},
		"pooler.dense.bias":                       {32},
	}
	for l := range 3 {
		for k, s := range m3Layer {
			m["encoder.layer."+string(rune('0'+l))+"."+k] = s
		}
	}
	return m
}

// sumOf adds up a tensor's values in float64, in storage order (as torch's double().sum()
// does for these small tensors).
func sumOf(t *testing.T, x *Tensor) (float64, []float64) {
	t.Helper()
	var vals []float64
	var err error
	switch x.DType {
	case F32, F16, BF16, F64:
		vals, err = x.Float64()
	case I64, I32:
		var v []int64
		v, err = x.Int64()
		for _, i := range v {
			vals = append(vals, float64(i))
		}
	case I16:
		for i := 0; i+1 < len(x.Data); i += 2 {
			vals = append(vals, float64(int16(binary.LittleEndian.Uint16(x.Data[i:]))))
		}
	case I8:
		for _, b := range x.Data {
			vals = append(vals, float64(int8(b)))
		}
	case U8, Bool:
		for _, b := range x.Data {
			vals = append(vals, float64(b))
		}
	default:
		t.Fatalf("%s: no sum for %s", x.Name, x.DType)
	}
	if err != nil {
		t.Fatal(err)
	}
	s := 0.0
	for _, v := range vals {
		s += v
	}
	return s, vals
}

func close2(a, b float64) bool {
	return a == b || math.Abs(a-b) <= 1e-12*math.Max(math.Abs(a), math.Abs(b))
}

// The bge-m3 heads as published: plain dicts of two F32 tensors, no prefix. Sums are
// float(t.double().sum()) from torch.load.
func TestTorchM3Heads(t *testing.T) {
	for _, tc := range []struct {
		file  string
		shape map[string][]int
		sum   map[string]float64
	}{
		{"sparse_linear.pt", map[string][]int{"weight": {1, 32}, "bias": {1}},
			map[string]float64{"weight": 1.71500626206398, "bias": 0.05000000074505806}},
		{"colbert_linear.pt", map[string][]int{"weight": {32, 32}, "bias": {32}},
			map[string]float64{"weight": 7.70895551238209, "bias": -0.05412090546451509}},
	} {
		f, err := Open(m3Heads + tc.file)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if got := f.Names(); !slices.Equal(got, []string{"bias", "weight"}) {
			t.Errorf("%s: names %v", tc.file, got)
		}
		if f.Metadata() != nil {
			t.Errorf("%s: metadata %v", tc.file, f.Metadata())
		}
		for name, shape := range tc.shape {
			x, err := f.Tensor(name)
			if err != nil {
				t.Fatal(err)
			}
			if x.DType != F32 || !slices.Equal(x.Shape, shape) || !x.Aligned() {
				t.Errorf("%s %s: %s %v aligned=%v, want F32 %v aligned", tc.file, name, x.DType, x.Shape, x.Aligned(), shape)
			}
			if s, _ := sumOf(t, x); !close2(s, tc.sum[name]) {
				t.Errorf("%s %s: sum %v, want %v", tc.file, name, s, tc.sum[name])
			}
		}
	}
}

// The real pytorch_model.bin's pickle, without its storages: the key list and shapes.
func TestTorchM3Pickle(t *testing.T) {
	pkl, err := os.ReadFile(m3Heads + "pytorch_model.data.pkl")
	if err != nil {
		t.Fatal(err)
	}
	root, storages, err := unpickle(pkl)
	if err != nil {
		t.Fatal(err)
	}
	sd := root.(*pyDict)
	want := m3Shapes()
	if len(sd.keys) != len(want) || len(storages) != len(want) {
		t.Fatalf("%d keys, %d storages; want %d", len(sd.keys), len(storages), len(want))
	}
	for i, k := range sd.keys {
		x := sd.vals[i].(*pyTensor)
		if s, ok := want[k.(string)]; !ok || !slices.Equal(x.shape, s) || x.storage.dtype != F32 || x.offset != 0 {
			t.Errorf("%v: shape %v dtype %s offset %d; want %v F32", k, x.shape, x.storage.dtype, x.offset, s)
		}
	}
}

// The whole m3-tiny model: found by OpenCheckpoint in a folder without safetensors, every
// tensor 64-byte aligned in the map and F32 read in place.
func TestTorchM3Model(t *testing.T) {
	c, err := OpenCheckpoint(m3TinyDir(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	want := m3Shapes()
	if names := c.Names(); len(names) != len(want) {
		t.Fatalf("%d names, want %d", len(names), len(want))
	}
	for name, shape := range want {
		x, err := c.Tensor(name)
		if err != nil {
			t.Fatal(err)
		}
		if x.DType != F32 || !slices.Equal(x.Shape, shape) || !x.Aligned() {
			t.Errorf("%s: %s %v aligned=%v", name, x.DType, x.Shape, x.Aligned())
		}
		f, err := x.Float32()
		if err != nil {
			t.Fatal(err)
		}
		if unsafe.Pointer(&f[0]) != unsafe.Pointer(&x.Data[0]) {
			t.Errorf("%s: Float32 copied instead of aliasing the map", name)
		}
	}
	for name, sum := range map[string]float64{ // float(t.double().sum()) from torch.load
		"embeddings.word_embeddings.weight":     626.2614029888629,
		"embeddings.position_embeddings.weight": 14.710183857600953,
		"encoder.layer.0.output.dense.weight":   -5.58345716423355,
		"pooler.dense.weight":                   -5.615775825921446,
		"pooler.dense.bias":                     0.40580104012042284,
	} {
		x, _ := c.Tensor(name)
		if s, _ := sumOf(t, x); !close2(s, sum) {
			t.Errorf("%s: sum %v, want %v", name, s, sum)
		}
	}
	if _, err := c.Tensor("roberta.pooler.dense.weight"); !errors.Is(err, ErrNotFound) {
		t.Errorf("prefixed name: %v", err)
	}
}

// expected is testdata/torch/expected.json: per file, per tensor, what torch saw.
type expected map[string]map[string]struct {
	DType  string    `json:"dtype"`
	Shape  []int     `json:"shape"`
	Sum    float64   `json:"sum"`
	Values []float64 `json:"values"`
}

var torchDTypes = map[string]DType{
	"float32": F32, "float16": F16, "bfloat16": BF16, "float64": F64, "int64": I64,
	"int32": I32, "int16": I16, "int8": I8, "uint8": U8, "bool": Bool,
}

// Every fixture torch.save wrote: state_dict() with _metadata (BUILD), every storage type,
// 0-d and empty tensors, views of one storage at offsets, parameters, pickle protocol 4.
func TestTorchFixtures(t *testing.T) {
	raw, err := os.ReadFile(torchFixtures + "expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var exp expected
	if err := json.Unmarshal(raw, &exp); err != nil {
		t.Fatal(err)
	}
	if len(exp) != 5 {
		t.Fatalf("expected.json lists %d files", len(exp))
	}
	for file, tensors := range exp {
		f, err := Open(torchFixtures + file)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if got := f.Names(); len(got) != len(tensors) {
			t.Errorf("%s: names %v", file, got)
		}
		for name, e := range tensors {
			x, err := f.Tensor(name)
			if err != nil {
				t.Fatal(err)
			}
			if x.DType != torchDTypes[e.DType] || !slices.Equal(x.Shape, e.Shape) {
				t.Errorf("%s %s: %s %v, want %s %v", file, name, x.DType, x.Shape, e.DType, e.Shape)
				continue
			}
			s, vals := sumOf(t, x)
			if !close2(s, e.Sum) || (e.Values != nil && !slices.Equal(vals, e.Values) && len(vals)+len(e.Values) > 0) {
				t.Errorf("%s %s: sum %v values %v, want %v %v", file, name, s, vals, e.Sum, e.Values)
			}
		}
	}
	// The views alias one storage record.
	f, err := Open(torchFixtures + "views.pt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	base, _ := f.Tensor("base")
	for name, off := range map[string]int{"slice": 4, "row": 12, "cube": 0, "tail": 12} {
		x, _ := f.Tensor(name)
		if unsafe.Pointer(&x.Data[0]) != unsafe.Pointer(&base.Data[4*off]) {
			t.Errorf("%s does not alias base at element %d", name, off)
		}
	}
}

// Files torch.save wrote that the reader refuses, with the reason it gives.
func TestTorchRefusedFixtures(t *testing.T) {
	for file, msg := range map[string]string{
		"transposed.pt": "is not contiguous",
		"nested.pt":     `entry "model" is a dict, not a tensor`,
		"legacy.pt":     "legacy (before torch 1.6)",
	} {
		_, err := Open(torchFixtures + file)
		var fe *FormatError
		if !errors.As(err, &fe) || fe.Format != TorchFormat || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: err = %v, want a torch FormatError containing %q", file, err, msg)
		}
	}
}

// OpenCheckpoint prefers safetensors, finds pytorch_model.bin, and follows a
// pytorch_model.bin.index.json; Open tells formats by content, not by name.
func TestTorchOpenCheckpoint(t *testing.T) {
	dir := t.TempDir()
	cp := func(src, dst string) {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	names := func() []string {
		c, err := OpenCheckpoint(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.Names()
	}
	cp(m3Heads+"sparse_linear.pt", TorchSingleFile)
	if got := names(); !slices.Equal(got, []string{"bias", "weight"}) {
		t.Errorf("pytorch_model.bin alone: %v", got)
	}
	// a sharded torch checkpoint
	cp(torchFixtures+"views.pt", "pytorch_model-00001-of-00002.bin")
	cp(torchFixtures+"params.pt", "pytorch_model-00002-of-00002.bin")
	idx := `{"weight_map":{"base":"pytorch_model-00001-of-00002.bin","slice":"pytorch_model-00001-of-00002.bin",
		"row":"pytorch_model-00001-of-00002.bin","cube":"pytorch_model-00001-of-00002.bin","tail":"pytorch_model-00001-of-00002.bin",
		"w":"pytorch_model-00002-of-00002.bin","b":"pytorch_model-00002-of-00002.bin"}}`
	os.WriteFile(filepath.Join(dir, TorchIndexFile), []byte(idx), 0o644)
	if got := names(); !slices.Equal(got, []string{"b", "base", "cube", "row", "slice", "tail", "w"}) {
		t.Errorf("torch index: %v", got)
	}
	// safetensors wins; a torch zip named .safetensors still opens as torch
	cp(torchFixtures+"params.pt", SingleFile)
	if got := names(); !slices.Equal(got, []string{"b", "w"}) {
		t.Errorf("with model.safetensors: %v", got)
	}
	cp(tiny+"model.safetensors", "model.bin")
	c, err := OpenPath(filepath.Join(dir, "model.bin"))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// pickler assembles pickles for the hostile-input tests.
type pickler struct{ b []byte }

func (p *pickler) op(ops ...byte) *pickler { p.b = append(p.b, ops...); return p }
func (p *pickler) str(s string) *pickler {
	p.b = binary.LittleEndian.AppendUint32(append(p.b, opBinUnicode), uint32(len(s)))
	p.b = append(p.b, s...)
	return p
}
func (p *pickler) int(v int64) *pickler {
	if int64(int32(v)) != v {
		p.b = binary.LittleEndian.AppendUint64(append(p.b, opLong1, 8), uint64(v))
		return p
	}
	p.b = binary.LittleEndian.AppendUint32(append(p.b, opBinInt), uint32(int32(v)))
	return p
}
func (p *pickler) global(module, name string) *pickler {
	p.b = append(append(p.b, opGlobal), module+"\n"+name+"\n"...)
	return p
}
func (p *pickler) ints(v []int64) *pickler {
	p.op(opMark)
	for _, x := range v {
		p.int(x)
	}
	return p.op(opTuple)
}

// tensor pushes _rebuild_tensor_v2(('storage', torch.<storage>, key, 'cpu', numel), offset,
// size, stride, False, OrderedDict()), as torch.save writes it.
func (p *pickler) tensor(storage, key string, numel, offset int64, size, stride []int64) *pickler {
	p.global("torch._utils", "_rebuild_tensor_v2").op(opMark)
	p.op(opMark).str("storage").global("torch", storage).str(key).str("cpu").int(numel).op(opTuple, opBinPersID)
	p.int(offset).ints(size).ints(stride).op(opNewFalse)
	p.global("collections", "OrderedDict").op(opEmptyTuple, opReduce)
	return p.op(opTuple, opReduce)
}

// stateDict is PROTO 2, {name: tensor, ...} built by body, STOP.
func stateDict(body func(p *pickler)) []byte {
	p := (&pickler{}).op(opProto, 2, opEmptyDict, opMark)
	body(p)
	return p.op(opSetItems, opStop).b
}

type record struct {
	name   string
	data   []byte
	method uint16
}

// zipOf writes records into a zip archive, stored unless a record says otherwise.
func zipOf(t testing.TB, recs ...record) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, r := range recs {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: r.name, Method: r.method})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(r.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// torchZip is the archive torch.save would write for pkl and the given storages.
func torchZip(t testing.TB, pkl []byte, storages map[string][]byte) []byte {
	recs := []record{{name: "archive/data.pkl", data: pkl}}
	for _, k := range slices.Sorted(mapsKeysB(storages)) {
		recs = append(recs, record{name: "archive/data/" + k, data: storages[k]})
	}
	return zipOf(t, append(recs, record{name: "archive/version", data: []byte("3\n")})...)
}

func mapsKeysB(m map[string][]byte) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// A valid hand-built checkpoint, as the hostile variants below start from: views of one
// storage at offsets, an extent-1 dim and an empty tensor with arbitrary strides, a scalar.
func TestTorchHandBuilt(t *testing.T) {
	pkl := stateDict(func(p *pickler) {
		p.str("a").tensor("FloatStorage", "0", 6, 0, []int64{2, 3}, []int64{3, 1})
		p.str("b").tensor("FloatStorage", "0", 6, 2, []int64{1, 4}, []int64{99, 1})
		p.str("c").tensor("LongStorage", "k", 1, 0, []int64{}, []int64{})
		p.str("e").tensor("FloatStorage", "0", 6, 6, []int64{0, 5}, []int64{1, 7})
	})
	img := torchZip(t, pkl, map[string][]byte{"0": make([]byte, 24), "k": make([]byte, 8)})
	h, err := parseTorch("hand", img)
	if err != nil {
		t.Fatal(err)
	}
	checkEntriesInside(t, h, len(img))
	base := h.entries[h.index["a"]].begin
	for name, want := range map[string][2]int64{"a": {0, 24}, "b": {8, 24}, "e": {24, 24}} {
		if e := h.entries[h.index[name]]; e.begin-base != want[0] || e.end-base != want[1] {
			t.Errorf("%s: bytes [%d, %d) of storage 0, want %v", name, e.begin-base, e.end-base, want)
		}
	}
	if e := h.entries[h.index["c"]]; e.dtype != I64 || len(e.shape) != 0 || e.end-e.begin != 8 {
		t.Errorf("scalar: %+v", e)
	}
}

// Hostile or malformed inputs: each is a *FormatError naming the problem, never a panic.
func TestTorchHostile(t *testing.T) {
	f32 := func(n int) map[string][]byte { return map[string][]byte{"0": make([]byte, 4*n)} }
	one := func(p *pickler) { p.str("w").tensor("FloatStorage", "0", 4, 0, []int64{4}, []int64{1}) }
	good := stateDict(one)
	pk := func(ops ...byte) []byte { return append([]byte{opProto, 2}, ops...) }
	evil := func(module, name string) []byte {
		p := (&pickler{}).op(opProto, 2).global(module, name).op(opMark).str("echo pwned").op(opTuple, opReduce, opStop)
		return p.b
	}
	deep := pk(bytes.Repeat([]byte{opMark}, 1000)...)
	hugeStr := binary.LittleEndian.AppendUint32(pk(opBinUnicode), 0xffffffff)
	hugeStr8 := binary.LittleEndian.AppendUint64(pk(opBinUnicode8), 1<<62)
	hugeFrame := binary.LittleEndian.AppendUint64(pk(opFrame), 1<<62)
	stackGlobal := (&pickler{}).op(opProto, 4).str("builtins").str("eval").op(opStackGlobal).b

	for _, tc := range []struct {
		name string
		img  []byte
		msg  string
	}{
		{"os.system", torchZip(t, evil("os", "system"), nil), `offset 2: GLOBAL: global "os.system" is not allowed`},
		{"builtins.eval", torchZip(t, evil("builtins", "eval"), nil), `global "builtins.eval" is not allowed`},
		{"STACK_GLOBAL eval", torchZip(t, stackGlobal, nil), `STACK_GLOBAL: global "builtins.eval" is not allowed`},
		{"_load_from_bytes", torchZip(t, evil("torch.storage", "_load_from_bytes"), nil), `"torch.storage._load_from_bytes" is not allowed`},
		{"NEWOBJ", torchZip(t, pk(0x81), nil), "offset 2: NEWOBJ: opcode not allowed"},
		{"INST", torchZip(t, pk('i'), nil), "INST: opcode not allowed"},
		{"bad opcode", torchZip(t, pk(0xff), nil), "0xff (not a pickle opcode)"},
		{"protocol 6", torchZip(t, []byte{opProto, 6, opNone, opStop}, nil), "protocol 6"},
		{"huge BINUNICODE", torchZip(t, hugeStr, nil), "string of 4294967295 bytes runs past the end"},
		{"huge BINUNICODE8", torchZip(t, hugeStr8, nil), "runs past the end"},
		{"huge FRAME", torchZip(t, hugeFrame, nil), "frame of"},
		{"LONG1 of 9 bytes", torchZip(t, pk(opLong1, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, opStop), nil), "does not fit in int64"},
		{"deep nesting", torchZip(t, deep, nil), "more than 64 nested MARKs"},
		{"memo miss", torchZip(t, pk(opBinGet, 7), nil), "memo index 7 was never stored"},
		{"underflow", torchZip(t, pk(opTuple2), nil), "stack underflow"},
		{"pop below mark", torchZip(t, pk(opNone, opMark, opTuple1), nil), "stack underflow"},
		{"no STOP", torchZip(t, good[:len(good)-1], f32(4)), "pickle ends without STOP"},
		{"cut GLOBAL", torchZip(t, good[:40], f32(4)), "offset 10: GLOBAL: unterminated module or name"},
		{"cut length", torchZip(t, good[:6], f32(4)), "offset 4: BINUNICODE: needs 4 bytes, 1 left"},
		{"not a dict", torchZip(t, pk(opEmptyList, opStop), nil), "holds a list, not a state dict"},
		{"int key", torchZip(t, stateDict(func(p *pickler) { p.int(3).str("x") }), nil), "key of type int"},
		{"str value", torchZip(t, stateDict(func(p *pickler) { p.str("x").str("y") }), nil), `entry "x" is a str, not a tensor`},
		{"list key", torchZip(t, stateDict(func(p *pickler) { p.op(opEmptyList).str("y") }), nil), "dict key of type list"},
		{"bad utf-8", torchZip(t, stateDict(func(p *pickler) { p.str("\xff").str("y") }), nil), "not valid UTF-8"},
		{"odd SETITEMS", torchZip(t, stateDict(func(p *pickler) { p.str("x") }), nil), "odd number of values"},
		{"BUILD on tensor", torchZip(t, stateDict(func(p *pickler) {
			one(p)
			p.op(opNone, opBuild)
		}), f32(4)), "sets the state of a tensor"},
		{"call a storage type", torchZip(t, (&pickler{}).op(opProto, 2).global("torch", "FloatStorage").op(opEmptyTuple, opReduce, opStop).b, nil), "torch.FloatStorage is not callable"},
		{"OrderedDict with args", torchZip(t, (&pickler{}).op(opProto, 2).global("collections", "OrderedDict").op(opEmptyList, opTuple1, opReduce, opStop).b, nil), "called with 1 arguments"},
		{"persid not storage", torchZip(t, stateDict(func(p *pickler) {
			p.str("w").op(opMark).str("module").op(opNone, opNone, opNone, opNone, opTuple, opBinPersID)
		}), nil), "persistent id does not start with 'storage'"},
		{"persid key with slash", torchZip(t, stateDict(func(p *pickler) {
			p.str("w").tensor("FloatStorage", "../0", 4, 0, []int64{4}, []int64{1})
		}), nil), "key is not a plain record name"},
		{"storage out of bounds", torchZip(t, stateDict(func(p *pickler) {
			p.str("w").tensor("FloatStorage", "0", 10, 8, []int64{4}, []int64{1})
		}), f32(10)), `elements [8, 8+4) lie outside storage "0" of 10 elements`},
		{"offset past storage", torchZip(t, stateDict(func(p *pickler) {
			p.str("w").tensor("FloatStorage", "0", 10, 1<<40, []int64{0}, []int64{1})
		}), f32(10)), "lie outside storage"},
		{"negative offset", torchZip(t, stateDict(func(p *pickler) {
			p.str("w").tensor("FloatStorage", "0", 10, -1, []int64{4}, []int64{1})
		}), f32(10)), "storage offset is not a non-negative int"},
		{"negative size", torchZip(t, stateDict(func(p *pickler) {
			p.str("w").tensor("FloatStorage", "0", 10, 0, []int64{-4}, []int64{1})
		}), f32(10)), "size[0] is not a non-negative int"},
		{"size overflow", torchZip(t, stateDict(func(p *pickler) {
			p.str("w").tensor("FloatStorage", "0", 10, 0, []int64{1 << 30, 1 << 30, 1 << 30}, []int64{1 << 60, 1 << 30, 1})
		}), f32(10)), "size overflows"},
		{"non-contiguous", torchZip(t, stateDict(func(p *pickler) {
			p.str("w").tensor("FloatStorage", "0", 6, 0, []int64{2, 3}, []int64{1, 2})
		}), f32(6)), "tensor of size [2 3] with strides [1 2] is not contiguous"},
		{"strided rows", torchZip(t, stateDict(func(p *pickler) {
			p.str("w").tensor("FloatStorage", "0", 12, 0, []int64{2, 3}, []int64{6, 1})
		}), f32(12)), "is not contiguous"},
		{"sizes and strides differ", torchZip(t, stateDict(func(p *pickler) {
			p.str("w").tensor("FloatStorage", "0", 6, 0, []int64{2, 3}, []int64{1})
		}), f32(6)), "2 sizes and 1 strides"},
		{"record too short", torchZip(t, good, f32(3)), `storage "0": 4 elements of F32, but record archive/data/0 holds 12 bytes`},
		{"record too long", torchZip(t, good, f32(5)), "holds 20 bytes"},
		{"huge numel", torchZip(t, stateDict(func(p *pickler) {
			p.str("w").global("torch._utils", "_rebuild_tensor_v2").op(opMark)
			p.op(opMark).str("storage").global("torch", "DoubleStorage").str("0").str("cpu").op(opLong1, 8, 0, 0, 0, 0, 0, 0, 0, 0x40, opTuple, opBinPersID)
			p.int(0).ints([]int64{4}).ints([]int64{1}).op(opNewFalse).global("collections", "OrderedDict").op(opEmptyTuple, opReduce, opTuple, opReduce)
		}), f32(4)), "elements of F64, but record"},
		{"missing record", torchZip(t, good, nil), `storage "0": no record archive/data/0`},
		{"storage retyped", torchZip(t, stateDict(func(p *pickler) {
			one(p)
			p.str("v").tensor("IntStorage", "0", 4, 0, []int64{4}, []int64{1})
		}), f32(4)), `storage "0" is named as 4 F32 elements and as 4 I32 elements`},
		{"unknown storage type", torchZip(t, stateDict(func(p *pickler) {
			p.str("w").tensor("QInt8Storage", "0", 4, 0, []int64{4}, []int64{1})
		}), f32(4)), `global "torch.QInt8Storage" is not allowed`},
		{"compressed storage", zipOf(t, record{name: "a/data.pkl", data: good}, record{name: "a/version", data: []byte("3\n")},
			record{name: "a/data/0", data: make([]byte, 16), method: zip.Deflate}), "record a/data/0 is compressed"},
		{"compressed pickle", zipOf(t, record{name: "a/data.pkl", data: good, method: zip.Deflate}, record{name: "a/version", data: []byte("3\n")}), "a/data.pkl is compressed"},
		{"big-endian", zipOf(t, record{name: "a/data.pkl", data: good}, record{name: "a/byteorder", data: []byte("big")}, record{name: "a/version", data: []byte("3\n")}), `byteorder is "big"`},
		{"no version", zipOf(t, record{name: "a/data.pkl", data: good}, record{name: "a/data/0", data: make([]byte, 16)}), "no version record"},
		{"bad version", zipOf(t, record{name: "a/data.pkl", data: good}, record{name: "a/version", data: []byte("x")}), `version record "x"`},
		{"no data.pkl", zipOf(t, record{name: "a/version", data: []byte("3\n")}), "no <archive>/data.pkl record"},
		{"two archives", zipOf(t, record{name: "a/data.pkl", data: good}, record{name: "b/data.pkl", data: good}), "two archives in one file"},
		{"duplicate record", zipOf(t, record{name: "a/data.pkl", data: good}, record{name: "a/data.pkl", data: good}), "appears twice"},
		{"TorchScript", zipOf(t, record{name: "a/data.pkl", data: good}, record{name: "a/constants.pkl", data: good}), "TorchScript archive"},
		{"not a zip", append([]byte(zipMagic+"\x00\x00\x00\x00"), make([]byte, 40)...), "zip: "},
	} {
		_, err := parseTorch("hostile.pt", tc.img)
		var fe *FormatError
		if !errors.As(err, &fe) || fe.Format != TorchFormat || !errors.Is(err, ErrFormat) {
			t.Errorf("%s: err = %v, want a torch *FormatError", tc.name, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s:\n got %v\nwant it to contain %q", tc.name, err, tc.msg)
		}
	}
	// The hand-built base is accepted (so each case above fails for its own reason).
	if _, err := parseTorch("good", torchZip(t, good, f32(4))); err != nil {
		t.Fatal(err)
	}
}

// A CRC mismatch in data.pkl or a central directory that claims a huge record is refused,
// and hostile lengths allocate nothing near what they claim.
func TestTorchHostileAllocation(t *testing.T) {
	good := stateDict(func(p *pickler) { p.str("w").tensor("FloatStorage", "0", 4, 0, []int64{4}, []int64{1}) })
	img := torchZip(t, good, map[string][]byte{"0": make([]byte, 16)})
	flip := slices.Clone(img)
	flip[bytes.Index(flip, []byte("FloatStorage"))] ^= 0x20
	if _, err := parseTorch("flip", flip); err == nil || !strings.Contains(err.Error(), "CRC-32 mismatch") {
		t.Errorf("flipped pickle byte: %v", err)
	}
	// Patch the central directory entry of data.pkl to claim a 4 GiB record.
	huge := slices.Clone(img)
	cd := bytes.Index(huge, []byte("PK\x01\x02"))
	binary.LittleEndian.PutUint32(huge[cd+20:], 0xfffffff0)
	binary.LittleEndian.PutUint32(huge[cd+24:], 0xfffffff0)

	for name, img := range map[string][]byte{
		"huge record":  huge,
		"huge string":  torchZip(t, binary.LittleEndian.AppendUint32([]byte{opProto, 2, opBinUnicode}, 0xfffffff0), nil),
		"huge string8": torchZip(t, binary.LittleEndian.AppendUint64([]byte{opProto, 4, opBinUnicode8}, 1<<62), nil),
		"huge memo":    torchZip(t, binary.LittleEndian.AppendUint32([]byte{opProto, 2, opNone, opLongBinPut}, 0xffffffff), nil),
		"huge numel": torchZip(t, stateDict(func(p *pickler) {
			p.str("w").tensor("FloatStorage", "0", 1<<31-1, 0, []int64{1<<31 - 1}, []int64{1})
		}), map[string][]byte{"0": make([]byte, 16)}),
	} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := parseTorch(name, img)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrFormat) {
			t.Errorf("%s: accepted (%v)", name, err)
		}
		if d := after.TotalAlloc - before.TotalAlloc; d > 256<<10 {
			t.Errorf("%s: parsing a %d-byte image allocated %d bytes", name, len(img), d)
		}
	}
}

// Every truncation and every single-bit flip of a real torch.save file is either refused
// with a *FormatError or yields tensors inside the file; none panics.
func TestTorchTruncatedAndFlipped(t *testing.T) {
	for _, file := range []string{m3Heads + "sparse_linear.pt", torchFixtures + "views.pt"} {
		img, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for n := range len(img) {
			if _, err := parseTorch("cut", img[:n]); !errors.Is(err, ErrFormat) {
				t.Fatalf("%s cut to %d bytes: err = %v", file, n, err)
			}
		}
		accepted := 0
		for i := range len(img) * 8 {
			b := slices.Clone(img)
			b[i/8] ^= 1 << (i % 8)
			h, err := parseTorch("flip", b)
			if err != nil {
				if !errors.Is(err, ErrFormat) {
					t.Fatalf("flip bit %d: %v", i, err)
				}
				continue
			}
			accepted++
			checkEntriesInside(t, h, len(b))
		}
		t.Logf("%s: %d of %d single-bit flips still load (storage bytes, unused header fields)", file, accepted, len(img)*8)
	}
}

// checkEntriesInside asserts every entry lies inside an image of n bytes with the byte length
// its dtype and shape need.
func checkEntriesInside(t *testing.T, h *header, n int) {
	t.Helper()
	for _, e := range h.entries {
		want, ok := byteLen(e.dtype, e.shape)
		if !ok || e.begin < 0 || e.end > int64(n) || e.end-e.begin != want {
			t.Fatalf("accepted entry %+v outside a %d-byte image or of the wrong length", e, n)
		}
	}
}
