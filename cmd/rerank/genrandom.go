package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/gorerank/gorerank"
	"github.com/gorerank/gorerank/internal/randmodel"
	"github.com/gorerank/gorerank/weights"
)

const genRandomUsage = `usage: rerank gen-random --config FILE --out DIR [--dtype f32|f16|bf16] [--seed N] [--tokenizer FILE]

Writes a random-weight XLMRobertaForSequenceClassification checkpoint for any config.json:
  DIR/config.json        a byte-for-byte copy of --config
  DIR/model.safetensors  every key of the real checkpoint, random values: N(0, initializer_range²)
                         (0.02 when absent); LayerNorm weights 1 + N(0, std²); biases N(0, std²).
                         Streamed to disk, so the 2.27 GB full-size F32 file needs little memory.
  DIR/tokenizer.json     a copy of --tokenizer; without --tokenizer none is written (and an
                         existing DIR/tokenizer.json is left alone): commands that tokenize
                         text then need a tokenizer from elsewhere.
The same --seed gives the same file; the f16 and bf16 files of a seed are the f32 values rounded.

Example (full-size bge-reranker-v2-m3 shape, for benchmarks):
  rerank gen-random --config testdata/bge-reranker-v2-m3.config.json --dtype f32 \
      --tokenizer testdata/tokenizer/tokenizer.json --out .bench/random-m3

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
	if code, done := parseFlags(fs, e, args); done {
		return code
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
	if err := genRandom(e, *configPath, *out, *tokPath, dt, *seed); err != nil {
		fmt.Fprintf(e.stderr, "rerank gen-random: %v\n", err)
		return exitFailure
	}
	return exitOK
}

func genRandom(e *env, configPath, out, tokPath string, dt weights.DType, seed uint64) error {
	raw, err := os.ReadFile(configPath)
	if err != nil {
		return err
	}
	cfg, err := randmodel.ParseConfig(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", configPath, err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	start := time.Now()
	var st randmodel.Stats
	err = weights.CreateFile(filepath.Join(out, weights.SingleFile), func(w io.Writer) error {
		var err error
		st, err = randmodel.Generate(w, cfg, dt, seed)
		return err
	})
	if err != nil {
		return err
	}
	// A stale index would shadow the new single file.
	if err := os.Remove(filepath.Join(out, weights.IndexFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := copyFile(filepath.Join(out, "config.json"), configPath); err != nil {
		return err
	}
	if tokPath != "" {
		if err := copyFile(filepath.Join(out, "tokenizer.json"), tokPath); err != nil {
			return err
		}
	}
	fmt.Fprintf(e.stdout, "wrote %s: %d tensors, %d parameters, %s, %.1f MB in %.1fs (seed %d)\n",
		filepath.Join(out, weights.SingleFile), st.Tensors, st.Params, dt, float64(st.Bytes)/1e6,
		time.Since(start).Seconds(), seed)
	if tokPath == "" {
		fmt.Fprintln(e.stderr, "rerank gen-random: no --tokenizer given: no tokenizer.json written")
	}
	return nil
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
