package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/gorerank/gorerank/internal/hub"
)

func runDownload(e *env, args []string) int {
	fs := flag.NewFlagSet("download", flag.ContinueOnError)
	var o hub.Options
	fs.StringVar(&o.Revision, "revision", "main", "branch, tag or commit")
	fs.StringVar(&o.CacheDir, "cache-dir", "", "cache folder (default $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub)")
	quiet := fs.Bool("quiet", false, "no progress output")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, `usage: rerank download [flags] MODEL_ID [MODEL_ID ...]

Download a model's config, tokenizer and weights from the Hugging Face hub into the local
cache (the layout huggingface_hub uses, so the files are shared with Python tools), resuming
partial files and checking every file's size and hash. Prints each snapshot folder, one a
line, in order (a two-model server's init container fetches both at once).
Fetched: top-level *.json and *.safetensors, 1_Pooling/config.json, and PyTorch files where
no safetensors stands in for them (BAAI/bge-m3: pytorch_model.bin, sparse_linear.pt,
colbert_linear.pt); not README, images, onnx/ or training state.

Flags:`)
		fs.PrintDefaults()
		fmt.Fprintln(e.stderr, `
Examples:
  rerank download BAAI/bge-reranker-v2-m3
  rerank download BAAI/bge-reranker-v2-m3 BAAI/bge-m3
  HF_HOME=/data/hf rerank download --revision main BAAI/bge-reranker-v2-m3
  rerank serve --model "$(rerank download BAAI/bge-reranker-v2-m3)"
  rerank embed --model "$(rerank download --quiet BAAI/bge-m3)" "What is BGE M3?"

Environment: HF_HOME, HF_HUB_CACHE, HF_ENDPOINT (a mirror), HF_TOKEN (gated or private
models), HF_HUB_OFFLINE=1 (only check the cache).`)
	}
	if code, done := parseFlags(fs, e, args); done {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(e.stderr, "rerank download: give a model id, e.g. BAAI/bge-reranker-v2-m3")
		return exitUsage
	}
	for _, id := range fs.Args() {
		if !hub.IsRepoID(id) {
			fmt.Fprintf(e.stderr, "rerank download: %q is not a model id like ORG/NAME\n", id)
			return exitUsage
		}
	}
	if !*quiet {
		if isTerminal(e.stderr) {
			o.Progress = e.stderr // progress bars; log lines either way
		}
		o.Logger = slog.New(slog.NewTextHandler(e.stderr, nil))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	for _, id := range fs.Args() {
		dir, commit, err := hub.Download(ctx, id, o)
		if err != nil {
			fmt.Fprintf(e.stderr, "rerank download: %s: %v\n", id, err)
			return exitFailure
		}
		if !*quiet {
			fmt.Fprintf(e.stderr, "%s at commit %s\n", id, commit)
		}
		fmt.Fprintln(e.stdout, dir)
	}
	return exitOK
}
