// Package testmodels makes model folders as a user's would be (config, weights and
// tokenizer.json side by side) for the tests of the knowledge base and its doors: a tiny
// bge-m3 from the m3-tiny kit and the tiny reranker of testdata. (Not in m3kit: m3kit is
// imported by xlmr's own tests, and this package needs randmodel, which imports xlmr.)
package testmodels

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gorerank/gorerank/internal/m3kit"
	"github.com/gorerank/gorerank/internal/randmodel"
	"github.com/gorerank/gorerank/weights"
)

// Model folders as a user's would be (config, weights and tokenizer.json side by side), for
// the tests of the knowledge base: made once per test binary, in a temporary folder of
// symbolic links.
var (
	modelsOnce sync.Once
	embDir     string
	rrDir      string
	modelsErr  error
)

// EmbedderDir is a bge-m3 folder: the kit's model with the repository's tokenizer, but a
// random sparse head (randmodel, seed 1): the kit's own gives no weight to most texts (its
// bias is negative), this one weighs about half the tokens, so that sparse recall has
// something to find. The scores mean nothing; what it tests is the plumbing.
func EmbedderDir(tb testing.TB) string {
	tb.Helper()
	makeModels(tb)
	return embDir
}

// RerankerDir is a reranker folder: testdata/tiny with the repository's tokenizer.
func RerankerDir(tb testing.TB) string {
	tb.Helper()
	makeModels(tb)
	return rrDir
}

func makeModels(tb testing.TB) {
	kit, err := filepath.Abs(m3kit.Dir(tb))
	if err != nil {
		tb.Fatal(err)
	}
	root := m3kit.RepoRoot(tb)
	modelsOnce.Do(func() {
		tmp, err := os.MkdirTemp("", "testmodels")
		if err != nil {
			modelsErr = err
			return
		}
		tok := filepath.Join(root, "testdata", "tokenizer", "tokenizer.json")
		e, r := filepath.Join(tmp, "bge-m3-tiny"), filepath.Join(tmp, "reranker-tiny")
		raw, err := os.ReadFile(filepath.Join(kit, "config.json"))
		if err != nil {
			modelsErr = err
			return
		}
		scratch := filepath.Join(tmp, "random")
		if _, modelsErr = randmodel.WriteDir(scratch, raw, weights.F32, 1); modelsErr != nil {
			return
		}
		links := map[string]string{
			filepath.Join(e, "tokenizer.json"):            tok,
			filepath.Join(e, "sparse_linear.safetensors"): filepath.Join(scratch, "sparse_linear.safetensors"),
			filepath.Join(r, "tokenizer.json"):            tok,
			filepath.Join(r, "config.json"):               filepath.Join(root, "testdata", "tiny", "config.json"),
			filepath.Join(r, "model.safetensors"):         filepath.Join(root, "testdata", "tiny", "model.safetensors"),
		}
		for _, f := range []string{"config.json", "pytorch_model.bin", "colbert_linear.pt"} {
			links[filepath.Join(e, f)] = filepath.Join(kit, f)
		}
		for link, target := range links {
			if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
				modelsErr = err
				return
			}
			if err := os.Symlink(target, link); err != nil {
				modelsErr = err
				return
			}
		}
		embDir, rrDir = e, r
	})
	if modelsErr != nil {
		tb.Fatal(modelsErr)
	}
}
