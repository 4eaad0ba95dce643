// Package m3kit finds and reads the m3-tiny test kit for the tests of every package that
// checks bge-m3 outputs (xlmr, the root package, cmd/rerank, internal/server): a tiny random
// bge-m3 in the published layout (config.json, pytorch_model.bin, sparse_linear.pt,
// colbert_linear.pt) and refs.json, FlagEmbedding's float64 dense, sparse and ColBERT outputs
// for the 301 texts of the tokenizer goldens.
package m3kit

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// Dir is the kit's folder: the repository's testdata/m3-tiny when a copy is there, else the
// project's shared golden kit beside the checkout (../shared/golden/m3-tiny from the
// repository root, found from the test's working directory). Missing fails the test, never
// skips it.
func Dir(tb testing.TB) string {
	tb.Helper()
	wd, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	root := RepoRoot(tb)
	for _, d := range []string{filepath.Join(root, "testdata", "m3-tiny"), filepath.Join(root, "..", "shared", "golden", "m3-tiny")} {
		if _, err := os.Stat(filepath.Join(d, "refs.json")); err == nil {
			rel, err := filepath.Rel(wd, d)
			if err != nil {
				return d
			}
			return rel
		}
	}
	tb.Fatalf("m3-tiny kit (refs.json, pytorch_model.bin) not found in %s/testdata/m3-tiny nor %s/../shared/golden/m3-tiny", root, root)
	return ""
}

// Ref is one text of refs.json.
type Ref struct {
	ID      string             `json:"id"`
	Text    string             `json:"text"`
	NTokens int                `json:"n_tokens"`
	Dense   []float64          `json:"dense"`
	Sparse  map[string]float64 `json:"sparse"` // token id (decimal) → weight
	ColBERT [][]float64        `json:"colbert"`
}

// Refs reads dir's refs.json.
func Refs(tb testing.TB, dir string) []Ref {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "refs.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var kit struct {
		Refs []Ref `json:"refs"`
	}
	if err := json.Unmarshal(raw, &kit); err != nil {
		tb.Fatalf("refs.json: %v", err)
	}
	return kit.Refs
}

// MaxAbs is the largest absolute difference of each output from r's: dense, sparse (a weight
// on one side only counts against 0) and ColBERT. Different shapes are an error.
func (r *Ref) MaxAbs(dense []float32, sparse map[int32]float32, colbert [][]float32) (d, s, c float64, err error) {
	if len(dense) != len(r.Dense) || len(colbert) != len(r.ColBERT) {
		return 0, 0, 0, fmt.Errorf("%s: %d dense values, %d ColBERT vectors; want %d, %d", r.ID, len(dense), len(colbert), len(r.Dense), len(r.ColBERT))
	}
	for j, v := range dense {
		d = max(d, math.Abs(float64(v)-r.Dense[j]))
	}
	ids := map[int32]bool{}
	for k := range r.Sparse {
		id, err := strconv.Atoi(k)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("%s: sparse key %q: %v", r.ID, k, err)
		}
		ids[int32(id)] = true
	}
	for id := range sparse {
		ids[id] = true
	}
	for id := range ids {
		s = max(s, math.Abs(float64(sparse[id])-r.Sparse[strconv.Itoa(int(id))]))
	}
	for k, row := range colbert {
		if len(row) != len(r.ColBERT[k]) {
			return 0, 0, 0, fmt.Errorf("%s: ColBERT vector %d has %d values, want %d", r.ID, k, len(row), len(r.ColBERT[k]))
		}
		for j, v := range row {
			c = max(c, math.Abs(float64(v)-r.ColBERT[k][j]))
		}
	}
	return d, s, c, nil
}

// RepoRoot is the repository's root: the first folder with a go.mod above the test's
// working directory.
func RepoRoot(tb testing.TB) string {
	tb.Helper()
	wd, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	root := wd
	for {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			return root
		}
		up := filepath.Dir(root)
		if up == root {
			tb.Fatalf("m3kit: no go.mod above %s", wd)
		}
		root = up
	}
}
