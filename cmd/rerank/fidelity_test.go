package main

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestSpearmanTopK(t *testing.T) {
	a := []float32{0.1, 0.5, 0.3, 0.9, 0.7, 0.2}
	if r := spearman(a, a); math.Abs(r-1) > 1e-12 {
		t.Errorf("spearman(a,a) = %v", r)
	}
	rev := []float32{6, 5, 4, 3, 2, 1}
	inc := []float32{1, 2, 3, 4, 5, 6}
	if r := spearman(inc, rev); math.Abs(r+1) > 1e-12 {
		t.Errorf("spearman(inc,rev) = %v", r)
	}
	// one swap of neighbours among 6: 1 − 6·2/(6·35)
	if r := spearman(inc, []float32{1, 2, 4, 3, 5, 6}); math.Abs(r-(1-12.0/210)) > 1e-12 {
		t.Errorf("spearman(one swap) = %v", r)
	}
	if r := ranks([]float32{3, 1, 3, 2}); !slices.Equal(r, []float64{1.5, 4, 1.5, 3}) {
		t.Errorf("ranks with ties = %v", r)
	}
	if k := topK(a, 3); !slices.Equal(k, []int{3, 4, 1}) {
		t.Errorf("topK = %v", k)
	}
	var s fidelityStats
	s.add(inc, rev)
	if s.top1 != 0 || s.sumTopK != 4 || s.topChanged != 1 || s.maxAbs != 5 || s.pairs != 6 {
		t.Errorf("stats %+v", s)
	}
}

// The fidelity report runs end to end on the tiny model, with outliers and the ablation rows.
func TestFidelityCommand(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"config.json", "model.safetensors"} {
		b, err := os.ReadFile(filepath.Join(tinyModel, f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), b, 0o644)
	}
	code, stdout, stderr := runCmd("", "fidelity", "--model", dir, "--tokenizer", tinyTokenizer, "--sets", "3", "--docs", "6", "--dtypes", "int8,bf16c", "--outliers", "1", "--ablate")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	// header 2 lines; per precision 2 rows plain and 2 per linear kind
	if len(lines) != 2+2*2*(1+len(linearGroups)) || !strings.HasPrefix(lines[2], "int8           rag") ||
		!strings.HasPrefix(lines[5], "int8-qkv       random") || !strings.HasPrefix(lines[len(lines)-1], "bf16c-ffn.down random") {
		t.Fatalf("report:\n%s", stdout)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"fidelity"}, "--model is required"},
		{[]string{"fidelity", "--model", dir, "--docs", "1"}, "--docs"},
		{[]string{"fidelity", "--model", dir, "--dtypes", "int4"}, `unknown dtype "int4"`},
		{[]string{"fidelity", "--model", dir, "--outlier-scale", "0"}, "--outlier-scale"},
	} {
		if code, _, stderr := runCmd("", c.args...); code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, %q", c.args, code, stderr)
		}
	}
}

func TestCosines(t *testing.T) {
	for _, c := range []struct {
		a, b []float32
		want float64
	}{
		{[]float32{1, 2, 3}, []float32{2, 4, 6}, 1},
		{[]float32{1, 0}, []float32{0, 1}, 0},
		{[]float32{1, 0}, []float32{-1, 0}, -1},
		{[]float32{0, 0}, []float32{0, 0}, 1},
		{[]float32{0, 0}, []float32{1, 0}, 0},
	} {
		if got := cosine(c.a, c.b); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("cosine(%v, %v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
	// {5: 3, 7: 4} · {5: 3, 9: 4} = 9, norms 5 and 5
	if got := sparseCosine(map[int32]float32{5: 3, 7: 4}, map[int32]float32{5: 3, 9: 4}); math.Abs(got-9.0/25) > 1e-12 {
		t.Errorf("sparseCosine = %v", got)
	}
	if got := sparseCosine(nil, map[int32]float32{1: 1}); got != 0 {
		t.Errorf("sparseCosine(empty, one) = %v", got)
	}
	var c cosineStats
	for _, v := range []float64{1, 0.5, math.NaN(), 0.75} {
		c.add(v)
	}
	if c.n != 4 || !math.IsInf(c.min, -1) {
		t.Errorf("cosineStats %+v", c)
	}
}

// An embedder's report: every output and the combined score per precision; float32 against
// itself agrees exactly.
func TestFidelityEmbedder(t *testing.T) {
	dir := m3Model(t)
	code, stdout, stderr := runCmd("", "fidelity", "--model", dir, "--tokenizer", tinyTokenizer, "--queries", "6", "--corpus", "24", "--dtypes", "f32,int8,bf16c")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 2+3*4 || !strings.Contains(lines[0], "outputs dense+sparse+colbert  retrieval: 6 queries") ||
		!strings.Contains(lines[0], "× 24 documents") || !strings.HasSuffix(lines[1], "top10≠   @10") {
		t.Fatalf("report:\n%s", stdout)
	}
	for i, want := range []string{"dense", "sparse", "colbert", "combined"} {
		for j, dtype := range []string{"f32", "int8", "bf16c"} {
			if f := strings.Fields(lines[2+4*j+i]); f[0] != dtype || f[1] != want || len(f) != 13 {
				t.Errorf("row %d: %q, want %s %s and 13 columns", 2+4*j+i, lines[2+4*j+i], dtype, want)
			}
		}
	}
	for _, row := range lines[2:6] { // f32 against f32
		f := strings.Fields(row)
		if (f[3] != "-" && f[3] != "1.0000000") || f[7] != "0" || f[9] != "1.00000" || f[11] != "0.000" || f[12] != "10.00" {
			t.Errorf("f32 against itself: %q", row)
		}
	}
	for _, row := range lines[6:14] {
		f := strings.Fields(row)
		if f[1] == "dense" || f[1] == "colbert" {
			if cos, err := strconv.ParseFloat(f[3], 64); err != nil || cos < 0.99 || cos >= 1 {
				t.Errorf("%s: cosine %s, want in [0.99,1)", f[0]+" "+f[1], f[3])
			}
		}
	}
	code, stdout, stderr = runCmd("", "fidelity", "--model", dir, "--tokenizer", tinyTokenizer, "--queries", "2", "--corpus", "5", "--dtypes", "int8", "--outliers", "1", "--ablate")
	if lines := strings.Split(strings.TrimSpace(stdout), "\n"); code != exitOK || len(lines) != 2+4*(1+len(linearGroups)) ||
		!strings.HasPrefix(lines[len(lines)-1], "int8-ffn.down  combined") || !strings.HasSuffix(lines[1], "top5≠    @5") {
		t.Errorf("--ablate: exit %d, %s\n%s", code, stderr, stdout)
	}
	if code, _, stderr := runCmd("", "fidelity", "--model", dir, "--queries", "0"); code != exitUsage || !strings.Contains(stderr, "--queries") {
		t.Errorf("--queries 0: exit %d, %q", code, stderr)
	}
}
