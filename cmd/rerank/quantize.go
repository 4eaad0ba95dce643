package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/gorerank/gorerank/xlmr"
)

const quantizeUsage = `usage: rerank quantize --model DIR --out DIR

Writes an int8 copy of the checkpoint in --model (a reranker, or a bge-m3 embedder) for
--dtype int8:
  DIR/model.safetensors  the encoder's linear weights as <linear>.weight I8 (out,in), symmetric
                         per output row, plus <linear>.weight_scale F32 (out): W ≈ scale·weight.
                         Every other tensor (embeddings, LayerNorms, biases, classifier, an
                         embedder's pooler) is copied unchanged. Loaded with --dtype int8 it is
                         used in place from the memory map and gives the same scores (or
                         embeddings), bit for bit, as quantizing the original at load.
  DIR/config.json, and tokenizer.json (with tokenizer_config.json, special_tokens_map.json,
                         sentencepiece.bpe.model) when --model has them; an embedder's heads
                         (sparse_linear, colbert_linear: .safetensors or .pt, kept float32) and
                         1_Pooling/config.json.
The weights are read from safetensors or, when the folder has none, pytorch_model.bin (as
BAAI/bge-m3 publishes them). An existing DIR/model.safetensors is never overwritten.

Examples:
  rerank quantize --model .bench/random-m3 --out .bench/random-m3-int8
  rerank bench --model .bench/random-m3-int8 --dtype int8
  rerank quantize --model "$(rerank download BAAI/bge-m3)" --out bge-m3-int8
  rerank embed --model bge-m3-int8 --dtype int8 --output all "What is BGE M3?"

Flags:
`

func runQuantize(e *env, args []string) int {
	fs := flag.NewFlagSet("quantize", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(e.stderr, quantizeUsage)
		fs.PrintDefaults()
	}
	model := fs.String("model", "", "model folder with config.json and F32/F16/BF16 weights: safetensors, or pytorch_model.bin (required)")
	out := fs.String("out", "", "output folder, created if needed (required)")
	if code, done := parseFlags(fs, e, args); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "rerank quantize: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if *model == "" || *out == "" {
		fmt.Fprintln(e.stderr, "rerank quantize: --model and --out are required (see --help)")
		return exitUsage
	}
	t0 := time.Now()
	if err := xlmr.QuantizeCheckpoint(*model, *out); err != nil {
		fmt.Fprintf(e.stderr, "rerank quantize: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(e.stdout, "wrote %s (%.1fs)\n", *out, time.Since(t0).Seconds())
	return exitOK
}
