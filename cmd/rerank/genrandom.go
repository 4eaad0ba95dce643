package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gorerank/gorerank"
	"github.com/gorerank/gorerank/internal/randmodel"
	"github.com/gorerank/gorerank/weights"
	"github.com/gorerank/gorerank/xlmr"
)

const genRandomUsage = `usage: rerank gen-random --config FILE --out DIR [--kind reranker|embedder] [--dtype f32|f16|bf16] [--seed N] [--tokenizer FILE]

Writes a random-weight checkpoint for any config.json, of the kind its architectures name
(XLMRobertaForSequenceClassification: a reranker; XLMRobertaModel: a bge-m3-style embedder;
none: a reranker) or --kind says:
  DIR/config.json        a byte-for-byte copy of --config; with a --kind other than the config's,
                         the config with its architectures set to that kind (and, for a
                         reranker, one label)
  DIR/model.safetensors  every key of the real checkpoint, random values: N(0, initializer_range²)
                         (0.02 when absent); LayerNorm weights 1 + N(0, std²); biases N(0, std²).
                         Streamed to disk, so the 2.27 GB full-size F32 file needs little memory.
                         An embedder's keys have no roberta. prefix and include the pooler, as
                         BAAI/bge-m3's pytorch_model.bin.
  DIR/sparse_linear.safetensors, DIR/colbert_linear.safetensors
                         an embedder's sparse and ColBERT heads (bge-m3 publishes them as .pt;
                         the engine reads either)
  DIR/tokenizer.json     a copy of --tokenizer; without --tokenizer none is written (and an
                         existing DIR/tokenizer.json is left alone): commands that tokenize
                         text then need a tokenizer from elsewhere.
The same --seed gives the same file; the f16 and bf16 files of a seed are the f32 values rounded.

Examples (full-size shapes, for benchmarks):
  rerank gen-random --config testdata/bge-reranker-v2-m3.config.json --dtype f32 \
      --tokenizer testdata/tokenizer/tokenizer.json --out .bench/random-m3
  rerank gen-random --config testdata/bge-reranker-v2-m3.config.json --kind embedder \
      --tokenizer testdata/tokenizer/tokenizer.json --out .bench/random-bge-m3

Flags:
`

func runGenRandom(e *env, args []string) int {
	fs := flag.NewFlagSet("gen-random", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(e.stderr, genRandomUsage)
		fs.PrintDefaults()
	}
	configPath := fs.String("config", "", "HF config.json to generate weights for (required)")
	out := fs.String("out", "", "output directory, created if needed (required)")
	dtypeName := fs.String("dtype", "f32", "element type of every tensor: f32, f16 or bf16")
	seed := fs.Uint64("seed", 1, "random seed")
	tokPath := fs.String("tokenizer", "", "tokenizer.json to copy into the output directory (optional)")
	kind := fs.String("kind", "", "`KIND` of model to write: reranker or embedder (default: the kind config.json's architectures name)")
	if code, done := parseFlags(fs, e, args); done {
		return code
	}
	if *kind != "" && *kind != "reranker" && *kind != "embedder" {
		fmt.Fprintf(e.stderr, "rerank gen-random: --kind %q: want reranker or embedder\n", *kind)
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "rerank gen-random: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if *configPath == "" || *out == "" {
		fmt.Fprintln(e.stderr, "rerank gen-random: --config and --out are required (see --help)")
		return exitUsage
	}
	d, err := gorerank.ParseDType(*dtypeName)
	if err != nil {
		fmt.Fprintf(e.stderr, "rerank gen-random: --dtype: %v\n", err)
		return exitUsage
	}
	dt, ok := map[string]weights.DType{"f32": weights.F32, "f16": weights.F16, "bf16": weights.BF16}[d.Storage()]
	if !ok {
		fmt.Fprintf(e.stderr, "rerank gen-random: --dtype %s: checkpoints are written as f32, f16 or bf16\n", d)
		return exitUsage
	}
	if err := genRandom(e, *configPath, *out, *tokPath, *kind, dt, *seed); err != nil {
		fmt.Fprintf(e.stderr, "rerank gen-random: %v\n", err)
		return exitFailure
	}
	return exitOK
}

func genRandom(e *env, configPath, out, tokPath, kind string, dt weights.DType, seed uint64) error {
	raw, err := os.ReadFile(configPath)
	if err != nil {
		return err
	}
	cfg, err := randmodel.ParseConfig(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", configPath, err)
	}
	if kind != "" && kind != cfg.Kind().String() {
		if raw, err = withKind(raw, kind); err != nil {
			return fmt.Errorf("%s: %w", configPath, err)
		}
		if cfg, err = randmodel.ParseConfig(raw); err != nil {
			return fmt.Errorf("%s: %w", configPath, err)
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	// A stale index would shadow the new single file.
	if err := os.Remove(filepath.Join(out, weights.IndexFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	start := time.Now()
	var st randmodel.Stats
	files := []string{weights.SingleFile}
	if cfg.Kind() == xlmr.Embedder {
		// the main checkpoint, the heads and config.json, as xlmr.Load reads an embedder
		if st, err = randmodel.WriteDir(out, raw, dt, seed); err != nil {
			return err
		}
		for _, h := range randmodel.Heads(cfg) {
			files = append(files, h+".safetensors")
		}
	} else {
		err = weights.CreateFile(filepath.Join(out, weights.SingleFile), func(w io.Writer) error {
			var err error
			st, err = randmodel.Generate(w, cfg, dt, seed)
			return err
		})
		if err != nil {
			return err
		}
		if err := weights.CreateFile(filepath.Join(out, "config.json"), func(w io.Writer) error {
			_, err := w.Write(raw)
			return err
		}); err != nil {
			return err
		}
	}
	if tokPath != "" {
		if err := copyFile(filepath.Join(out, "tokenizer.json"), tokPath); err != nil {
			return err
		}
	}
	fmt.Fprintf(e.stdout, "wrote %s %s in %s: %d tensors, %d parameters, %s, %.1f MB in %.1fs (seed %d)\n",
		article(cfg.Kind()), cfg.Kind(), out, st.Tensors, st.Params, dt, float64(st.Bytes)/1e6,
		time.Since(start).Seconds(), seed)
	fmt.Fprintf(e.stdout, "  %s\n", strings.Join(files, ", "))
	if tokPath == "" {
		fmt.Fprintln(e.stderr, "rerank gen-random: no --tokenizer given: no tokenizer.json written")
	}
	return nil
}

// withKind returns config.json raw with its architectures set to kind's (reranker:
// XLMRobertaForSequenceClassification with one label unless it states labels; embedder:
// XLMRobertaModel, without labels). The other fields are kept; keys come out sorted.
func withKind(raw []byte, kind string) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	switch kind {
	case "reranker":
		m["architectures"] = json.RawMessage(`["XLMRobertaForSequenceClassification"]`)
		if m["id2label"] == nil && m["num_labels"] == nil {
			m["id2label"] = json.RawMessage(`{"0": "LABEL_0"}`)
			m["label2id"] = json.RawMessage(`{"LABEL_0": 0}`)
		}
	case "embedder":
		m["architectures"] = json.RawMessage(`["XLMRobertaModel"]`)
		delete(m, "id2label")
		delete(m, "label2id")
		delete(m, "num_labels")
	}
	b, err := json.MarshalIndent(m, "", "  ")
	return append(b, '\n'), err
}

// article is "a" or "an" before a kind's name.
func article(k xlmr.Kind) string {
	if k == xlmr.Embedder {
		return "an"
	}
	return "a"
}

// copyFile copies src to dst (through a temporary file and a rename). Copying a file onto
// itself is a no-op.
func copyFile(dst, src string) error {
	if a, err := filepath.Abs(dst); err == nil {
		if b, err := filepath.Abs(src); err == nil && a == b {
			return nil
		}
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return weights.CreateFile(dst, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
}
