package main

import (
	"bytes"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gorerank/gorerank/internal/m3kit"
	"github.com/gorerank/gorerank/weights"
)

const (
	tinyModel     = "../../testdata/tiny"
	tinyTokenizer = "../../testdata/tokenizer/tokenizer.json"
	tinyGoldens   = "../../testdata/tiny/goldens.safetensors"
)

// runCmd runs the CLI in-process and returns exit code, stdout and stderr.
func runCmd(stdin string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(&env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb}, args)
	return code, out.String(), errb.String()
}

func openGoldens(t *testing.T) *weights.Checkpoint {
	t.Helper()
	g, err := weights.OpenFiles(tinyGoldens)
	if err != nil {
		t.Fatalf("goldens missing: %v", err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

func goldenValues(t *testing.T, ck *weights.Checkpoint, name string) ([]float64, []int) {
	t.Helper()
	x, err := ck.Tensor(name)
	if err != nil {
		t.Fatal(err)
	}
	v, err := values(x)
	if err != nil {
		t.Fatal(err)
	}
	return v, x.Shape
}

func idsFlag(ids []float64) string {
	s := make([]string, len(ids))
	for i, v := range ids {
		s[i] = fmt.Sprint(int(v))
	}
	return strings.Join(s, ",")
}

func TestInspectIDsMatchesGoldens(t *testing.T) {
	g := openGoldens(t)
	ids, _ := goldenValues(t, g, "pair_000.input_ids")
	out := filepath.Join(t.TempDir(), "a.safetensors")
	code, _, stderr := runCmd("", "inspect", "--model", tinyModel, "--ids", idsFlag(ids), "--out", out)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	f, err := weights.OpenFiles(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	T := len(ids)
	hs, shape := goldenValues(t, f, "hidden_states")
	if !slices.Equal(shape, []int{4, T, 32}) {
		t.Fatalf("hidden_states shape %v", shape)
	}
	want, _ := goldenValues(t, g, "pair_000.hidden_states_f64")
	for l := 0; l < 4; l++ {
		var d float64
		for i := l * T * 32; i < (l+1)*T*32; i++ {
			d = math.Max(d, math.Abs(hs[i]-want[i]))
		}
		if d > 1e-5 {
			t.Errorf("layer %d: maxabs=%.3g", l, d)
		}
	}
	logit, shape := goldenValues(t, f, "logits")
	wantLogit, _ := goldenValues(t, g, "pair_000.logits_f64")
	if !slices.Equal(shape, []int{1, 1}) || math.Abs(logit[0]-wantLogit[0]) > 1e-5 {
		t.Errorf("logits %v %v, want %v", shape, logit, wantLogit)
	}
	att, shape := goldenValues(t, f, "attentions")
	if !slices.Equal(shape, []int{3, 4, T, T}) {
		t.Fatalf("attentions shape %v", shape)
	}
	for r := 0; r < 3*4*T; r++ {
		var s float64
		for _, p := range att[r*T : (r+1)*T] {
			s += p
		}
		if math.Abs(s-1) > 1e-5 {
			t.Fatalf("attention row %d sums to %v", r, s)
		}
	}
	gotIDs, shape := goldenValues(t, f, "input_ids")
	if !slices.Equal(shape, []int{1, T}) || !slices.Equal(gotIDs, ids) {
		t.Errorf("input_ids %v %v", shape, gotIDs)
	}

	// diff against itself: all zero, exit 0 even with --tol 0
	code, stdout, stderr := runCmd("", "inspect", "--diff", out, out, "--tol", "0")
	if code != exitOK || !strings.Contains(stdout, "hidden_states") || strings.Count(stdout, "\t") > 0 {
		t.Errorf("diff self: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n")[1:] {
		if f := strings.Fields(line); len(f) != 5 || f[2] != "0" {
			t.Errorf("diff self line %q: want maxabs 0", line)
		}
	}
	// against the F16 checkpoint: differences, flagged by --tol
	out16 := filepath.Join(t.TempDir(), "b.safetensors")
	if code, _, stderr := runCmd("", "inspect", "--model", tinyModel, "--weights", "model-fp16.safetensors", "--ids", idsFlag(ids), "--out", out16); code != exitOK {
		t.Fatalf("fp16 inspect: %s", stderr)
	}
	code, stdout, _ = runCmd("", "inspect", "--diff", out, out16, "--tol", "1e-9")
	if code != exitFailure || !strings.Contains(stdout, "logits") {
		t.Errorf("diff f32 vs f16 with --tol 1e-9: exit %d\n%s", code, stdout)
	}
	if code, _, _ = runCmd("", "inspect", "--diff", out, out16); code != exitOK {
		t.Errorf("diff without --tol: exit %d", code)
	}
	// a dump without attentions (as scripts/torch_inspect.py writes) compares on what it has
	lg, _ := f.Tensor("logits")
	partial := filepath.Join(t.TempDir(), "partial.safetensors")
	if err := weights.WriteFile(partial, []weights.Tensor{*lg}, nil); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ = runCmd("", "inspect", "--diff", out, partial, "--tol", "0")
	if code != exitOK || !strings.Contains(stdout, "only in "+out) {
		t.Errorf("diff against a partial dump: exit %d\n%s", code, stdout)
	}
}

func TestInspectErrors(t *testing.T) {
	out := filepath.Join(t.TempDir(), "x.safetensors")
	long := strings.Repeat("5,", 600) + "2"
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"inspect", "--model", tinyModel, "--ids", "0,2"}, exitUsage, "--out"},
		{[]string{"inspect", "--model", tinyModel, "--out", out}, exitUsage, "--query"},
		{[]string{"inspect", "--model", tinyModel, "--query", "q", "--out", out}, exitUsage, "--document"},
		{[]string{"inspect", "--model", tinyModel, "--ids", "0,x", "--out", out}, exitUsage, `"x" is not a token id`},
		{[]string{"inspect", "--diff", out}, exitUsage, "two files"},
		{[]string{"inspect", "--model", tinyModel, "--ids", long, "--out", out}, exitFailure, "601 tokens, the limit is 512"},
		{[]string{"inspect", "--model", tinyModel, "--ids", "0,250002,2", "--out", out}, exitFailure, "outside the vocabulary"},
		{[]string{"inspect", "--model", "/nonexistent", "--ids", "0,2", "--out", out}, exitFailure, "no model folder at /nonexistent: it does not exist"},
		{[]string{"inspect", "--diff", out, tinyGoldens}, exitFailure, "x.safetensors"},
		{[]string{"inspect", "--help"}, exitOK, "--diff A.safetensors B.safetensors"},
	} {
		code, _, stderr := runCmd("", c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d mentioning %q", c.args, code, stderr, c.code, c.want)
		}
	}
}

func TestInspectTextEqualsIDs(t *testing.T) {
	g := openGoldens(t)
	ids, _ := goldenValues(t, g, "pair_000.input_ids")
	dir := t.TempDir()
	a, b := filepath.Join(dir, "text.safetensors"), filepath.Join(dir, "ids.safetensors")
	if code, _, stderr := runCmd("", "inspect", "--model", tinyModel, "--tokenizer", tinyTokenizer,
		"--query", "中国的首都是哪里?", "--document", "北京是中国的首都。", "--out", a); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if code, _, stderr := runCmd("", "inspect", "--model", tinyModel, "--ids", idsFlag(ids), "--out", b); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if code, stdout, _ := runCmd("", "inspect", "--diff", a, b, "--tol", "0"); code != exitOK {
		t.Errorf("text and ids dumps differ:\n%s", stdout)
	}
}

// An empty document is a valid input for inspect too; a missing --document is not.
func TestInspectEmptyDocument(t *testing.T) {
	out := filepath.Join(t.TempDir(), "x.safetensors")
	if code, _, stderr := runCmd("", "inspect", "--model", tinyModel, "--tokenizer", tinyTokenizer, "--query", "q", "--document", "", "--out", out); code != exitOK {
		t.Errorf("empty document: exit %d %s", code, stderr)
	}
	if code, _, stderr := runCmd("", "inspect", "--model", tinyModel, "--tokenizer", tinyTokenizer, "--query", "q", "--out", out); code != exitUsage || !strings.Contains(stderr, "both required") {
		t.Errorf("no --document: exit %d %s", code, stderr)
	}
}

// An embedder's dump: every layer and the three outputs of one --text, the dense and ColBERT
// ones FlagEmbedding's float64 reference (m3-tiny's refs.json) within 1e-5, the sparse one
// relu(h·Wsᵀ+bs) per token; --diff prints hidden_states layer by layer.
func TestInspectEmbedder(t *testing.T) {
	dir := m3Model(t)
	refs := m3kit.Refs(t, dir)
	// the first short reference text with a sparse weight, so that the sparse tensor is checked too
	i := slices.IndexFunc(refs, func(r m3kit.Ref) bool { return len(r.Sparse) > 0 && len(r.ColBERT) < 40 })
	if i < 0 {
		t.Fatal("refs.json: no short text with sparse weights")
	}
	ref := refs[i]
	out := filepath.Join(t.TempDir(), "m3.safetensors")
	code, _, stderr := runCmd("", "inspect", "--model", dir, "--tokenizer", tinyTokenizer, "--text", ref.Text, "--out", out)
	if code != exitOK || !strings.Contains(stderr, "outputs dense+sparse+colbert") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	f, err := weights.OpenFiles(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ids, _ := goldenValues(t, f, "input_ids")
	T, H := len(ids), 32
	if T != len(ref.ColBERT)+1 {
		t.Fatalf("%d tokens, refs.json has %d ColBERT vectors", T, len(ref.ColBERT))
	}
	if _, shape := goldenValues(t, f, "hidden_states"); !slices.Equal(shape, []int{4, T, H}) {
		t.Errorf("hidden_states shape %v", shape)
	}
	if _, shape := goldenValues(t, f, "attentions"); !slices.Equal(shape, []int{3, 4, T, T}) {
		t.Errorf("attentions shape %v", shape)
	}
	maxDiff := func(name string, got, want []float64) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
		}
		var d float64
		for i := range got {
			d = math.Max(d, math.Abs(got[i]-want[i]))
		}
		if d > 1e-5 {
			t.Errorf("%s: maxabs=%.3g", name, d)
		}
	}
	dense, shape := goldenValues(t, f, "dense")
	if !slices.Equal(shape, []int{1, H}) {
		t.Errorf("dense shape %v", shape)
	}
	maxDiff("dense", dense, ref.Dense)
	colbert, shape := goldenValues(t, f, "colbert")
	if !slices.Equal(shape, []int{1, T - 1, H}) {
		t.Errorf("colbert shape %v", shape)
	}
	maxDiff("colbert", colbert, slices.Concat(ref.ColBERT...))
	sparse, shape := goldenValues(t, f, "sparse")
	if !slices.Equal(shape, []int{1, T}) {
		t.Errorf("sparse shape %v", shape)
	}
	best := map[string]float64{} // the largest weight per token id, specials dropped: the sparse output
	for j, w := range sparse {
		if id := int(ids[j]); id > 3 && w > 0 {
			k := strconv.Itoa(id)
			best[k] = math.Max(best[k], w)
		}
	}
	if len(best) != len(ref.Sparse) {
		t.Errorf("sparse: %d ids, want %d", len(best), len(ref.Sparse))
	}
	for k, w := range ref.Sparse {
		if math.Abs(best[k]-w) > 1e-5 {
			t.Errorf("sparse id %s: %v, want %v", k, best[k], w)
		}
	}

	code, stdout, _ := runCmd("", "inspect", "--diff", out, out, "--tol", "0")
	if code != exitOK || !strings.Contains(stdout, "hidden_states[3]") || !strings.Contains(stdout, "colbert") {
		t.Errorf("diff self: exit %d\n%s", code, stdout)
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--model", dir, "--tokenizer", tinyTokenizer, "--query", "q", "--document", "d"}, exitFailure, "is an embedder: give it one --text"},
		{[]string{"--model", tinyModel, "--tokenizer", tinyTokenizer, "--text", "t"}, exitFailure, "is a reranker: give it --query and --document"},
		{[]string{"--model", dir, "--text", "t", "--ids", "0,2"}, exitUsage, "only one of"},
		{[]string{"--model", dir, "--tokenizer", tinyTokenizer, "--text", ""}, exitFailure, "empty"},
	} {
		code, _, stderr := runCmd("", append(append([]string{"inspect"}, c.args...), "--out", filepath.Join(t.TempDir(), "x.safetensors"))...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d mentioning %q", c.args, code, stderr, c.code, c.want)
		}
	}
}
