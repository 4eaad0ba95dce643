package main

import (
	"math"
	"os"
	"path/filepath"
	"slices"
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
	if s.top1 != 0 || s.sumTop5 != 4 || s.maxAbs != 5 || s.pairs != 6 {
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
