package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gorerank/gorerank/internal/hub"
	"github.com/gorerank/gorerank/internal/server"
	"github.com/gorerank/gorerank/nn"
	"github.com/gorerank/gorerank/tokenizer"
	"github.com/gorerank/gorerank/xlmr"
)

const serveExamples = `
Examples:
  # a model folder (config.json, model.safetensors, tokenizer.json)
  rerank serve --model ./bge-reranker-v2-m3

  # a Hugging Face model id: downloaded on first use into $HF_HOME/hub
  # (later starts only check refs/main; HF_HUB_OFFLINE=1 skips even that)
  rerank serve --model BAAI/bge-reranker-v2-m3 --host 0.0.0.0 --port 8080 --api-key "$KEY"

  # the tiny test model with a separate tokenizer file
  rerank serve --model testdata/tiny --tokenizer testdata/tokenizer/tokenizer.json --port 0

  curl -s localhost:8000/v1/rerank -d '{"query": "capital of China?", "documents": ["Beijing.", "Paris."]}'

Environment: HF_HOME, HF_HUB_CACHE, HF_HUB_OFFLINE, HF_ENDPOINT, HF_TOKEN (model download);
RERANK_API_KEY (default of --api-key). See docs/SERVER.md for the API.
`

// serveFlags are the serve command's flags.
type serveFlags struct {
	model, tokenizer, weights, dtype, revision string
	host                                       string
	port                                       int
	cfg                                        server.Config
	cors                                       string
	logFormat, logLevel                        string
	shutdownTimeout                            time.Duration
	noWarmup                                   bool
}

func parseServeFlags(e *env, args []string) (*serveFlags, int) {
	f := &serveFlags{cfg: server.DefaultConfig()}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: rerank serve --model M [flags]\n\nRun the HTTP rerank server (Cohere/Jina /v1/rerank, TEI and seed /rerank, /tokenize,\n/health, /ready, /info, /metrics, /docs).\n\nFlags:")
		fs.PrintDefaults()
		fmt.Fprint(e.stderr, serveExamples)
	}
	c := &f.cfg
	fs.StringVar(&f.model, "model", "", "model: a local folder, a folder in the HF cache layout, or a hub id like BAAI/bge-reranker-v2-m3 (required)")
	fs.StringVar(&f.tokenizer, "tokenizer", "", "tokenizer.json file (default: the model folder's tokenizer.json)")
	fs.StringVar(&f.weights, "weights", "", "a specific .safetensors file or shard index inside the model folder")
	fs.StringVar(&f.dtype, "dtype", "f32", "how linear weights are kept: f32, f16, bf16, bf16-compute or int8")
	fs.StringVar(&f.revision, "revision", "main", "hub revision (branch, tag or commit) when --model is a hub id")
	fs.StringVar(&c.ModelName, "served-model-name", "", `name reported as "model" in responses (default: --model)`)
	fs.StringVar(&f.host, "host", "127.0.0.1", "address to listen on (0.0.0.0 for all interfaces)")
	fs.IntVar(&f.port, "port", 8000, "port to listen on (0: any free port)")
	fs.IntVar(&c.MaxLength, "max-length", c.MaxLength, "default and largest max_length of a pair in tokens, special tokens included (up to the model's position limit, 8192 for bge-reranker-v2-m3)")
	fs.IntVar(&c.MaxDocuments, "max-documents", c.MaxDocuments, "most documents in one request")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", c.MaxBodyBytes, "largest request body in bytes")
	fs.IntVar(&c.MaxBatchTokens, "max-batch-tokens", c.MaxBatchTokens, "token budget of one batch (pairs of concurrent requests are merged up to it)")
	fs.IntVar(&c.MaxBatchSize, "max-batch-size", c.MaxBatchSize, "most pairs in one batch")
	fs.IntVar(&c.MaxQueue, "max-queue", c.MaxQueue, "most pairs waiting for a batch; beyond it requests get 429")
	fs.IntVar(&c.MaxConcurrentRequests, "max-concurrent-requests", c.MaxConcurrentRequests, "most scoring requests in flight; beyond it requests get 429")
	fs.IntVar(&c.Workers, "workers", c.Workers, "batches run at once (each forward pass already uses every core)")
	fs.DurationVar(&c.RequestTimeout, "request-timeout", c.RequestTimeout, "longest a scoring request may take, queue included (then 503)")
	fs.IntVar(&c.CacheSize, "cache-size", c.CacheSize, "entries of the (query, document) score cache; 0 disables it")
	fs.StringVar(&c.Truncation, "truncation", c.Truncation, "default truncation: longest_first, only_second, flag (FlagReranker: query ≤ 3/4 of max_length, then only_second) or windows (score overlapping windows of long documents, keep the best)")
	fs.IntVar(&c.WindowOverlap, "window-overlap", c.WindowOverlap, "windows mode: tokens shared by neighbouring windows")
	fs.IntVar(&c.MaxChunks, "max-chunks", c.MaxChunks, "windows mode: most windows per document (and ceiling of max_chunks_per_doc)")
	fs.BoolVar(&c.NoReturnDocuments, "no-return-documents", false, "/v1/rerank: return_documents defaults to false (Cohere) instead of true (Jina)")
	fs.StringVar(&c.APIKey, "api-key", "", "require Authorization: Bearer KEY (except /health, /ready, /docs, /openapi.json); default $RERANK_API_KEY")
	fs.StringVar(&f.cors, "cors-origin", "", "comma-separated origins allowed by CORS, or * (default: CORS off)")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 30*time.Second, "on SIGINT/SIGTERM, how long to wait for accepted requests")
	fs.BoolVar(&f.noWarmup, "no-warmup", false, "skip the warm-up forward pass")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, exitOK
		}
		return nil, exitUsage
	}
	usageErr := func(format string, a ...any) (*serveFlags, int) {
		fmt.Fprintf(e.stderr, "rerank serve: "+format+"\n", a...)
		return nil, exitUsage
	}
	switch {
	case fs.NArg() > 0:
		return usageErr("unexpected argument %q", fs.Arg(0))
	case f.model == "":
		return usageErr("--model is required (see rerank serve --help)")
	case f.port < 0 || f.port > 65535:
		return usageErr("--port %d out of range", f.port)
	case f.logFormat != "text" && f.logFormat != "json":
		return usageErr("--log-format must be text or json, got %q", f.logFormat)
	case c.CacheSize < 0:
		return usageErr("--cache-size must not be negative")
	}
	if _, ok := precisions[f.dtype]; !ok {
		return usageErr("--dtype must be f32, f16, bf16, bf16-compute or int8, got %q", f.dtype)
	}
	if c.CacheSize == 0 {
		c.NoCache = true
	}
	if c.APIKey == "" {
		c.APIKey = os.Getenv("RERANK_API_KEY") // read here so --help never prints it
	}
	if f.cors != "" {
		for _, o := range strings.Split(f.cors, ",") {
			if o = strings.TrimSpace(o); o != "" {
				c.CORSOrigins = append(c.CORSOrigins, o)
			}
		}
	}
	return f, exitOK
}

var precisions = map[string]nn.Precision{"f32": nn.F32, "f16": nn.F16, "bf16": nn.BF16, "bf16-compute": nn.BF16Compute, "int8": nn.Int8}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	o := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, o)), nil
	}
	return slog.New(slog.NewTextHandler(w, o)), nil
}

func runServe(e *env, args []string) int {
	f, code := parseServeFlags(e, args)
	if f == nil {
		return code
	}
	log, err := newLogger(e.stderr, f.logFormat, f.logLevel)
	if err != nil {
		fmt.Fprintf(e.stderr, "rerank serve: %v\n", err)
		return exitUsage
	}
	// lifecycle lines (listening, ready, stopping) are printed even with --log-level warn
	life := log
	if !log.Enabled(context.Background(), slog.LevelInfo) {
		life, _ = newLogger(e.stderr, f.logFormat, "info")
	}
	f.cfg.Logger = log
	f.cfg.Version = version()
	if f.cfg.ModelName == "" {
		f.cfg.ModelName = f.model
	}
	f.cfg.Extra = map[string]any{"dtype_flag": f.dtype}
	srv, err := server.New(f.cfg)
	if err != nil {
		fmt.Fprintf(e.stderr, "rerank serve: %v\n", err)
		return exitUsage
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	ln, err := net.Listen("tcp", net.JoinHostPort(f.host, strconv.Itoa(f.port)))
	if err != nil {
		log.Error("cannot listen", "error", err)
		return exitFailure
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second,
		ReadTimeout: 2 * time.Minute, WriteTimeout: f.cfg.RequestTimeout + 2*time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	life.Info("listening", "addr", ln.Addr().String(), "url", "http://"+ln.Addr().String(), "docs", "http://"+ln.Addr().String()+"/docs")

	loaded := make(chan error, 1)
	var model *xlmr.Model // closed after the last batch; set before loaded is sent on
	go func() {
		var err error
		model, err = loadEngine(ctx, f, srv, log, life, e.stderr)
		loaded <- err
	}()

	exit := exitOK
	modelLoaded := false // model may only be read after a receive from loaded
	select {
	case err := <-loaded:
		if err != nil {
			log.Error("cannot load the model", "error", err)
			exit = exitFailure
			break
		}
		modelLoaded = true
		select {
		case <-ctx.Done():
			life.Info("shutting down: finishing accepted requests", "timeout", f.shutdownTimeout)
		case err := <-serveErr:
			log.Error("server stopped", "error", err)
			exit = exitFailure
		}
	case <-ctx.Done():
		life.Info("interrupted while loading the model")
	case err := <-serveErr:
		log.Error("server stopped", "error", err)
		exit = exitFailure
	}
	sctx, cancel := context.WithTimeout(context.Background(), f.shutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		log.Warn("shutdown: some requests did not finish", "error", err)
	}
	srv.Close()
	if modelLoaded {
		model.Close()
	}
	life.Info("stopped")
	return exit
}

// loadEngine resolves, loads and warms up the model, then hands it to the server.
func loadEngine(ctx context.Context, f *serveFlags, srv *server.Server, log, life *slog.Logger, progress io.Writer) (*xlmr.Model, error) {
	t0 := time.Now()
	ho := hub.Options{Revision: f.revision, Logger: log}
	if isTerminal(progress) { // a progress bar on a terminal; otherwise only log lines
		ho.Progress = progress
	}
	dir, rev, err := hub.Resolve(ctx, f.model, ho)
	if err != nil {
		return nil, err
	}
	tokPath := f.tokenizer
	if tokPath == "" {
		tokPath = filepath.Join(dir, "tokenizer.json")
	}
	tok, err := tokenizer.Load(tokPath)
	if err != nil {
		return nil, err
	}
	m, err := xlmr.Load(dir, xlmr.LoadOptions{WeightsFile: f.weights, Precision: precisions[f.dtype], Logger: log})
	if err != nil {
		return nil, err
	}
	dtype := strings.ToLower(m.Report.DType)
	if f.dtype != "f32" {
		dtype = f.dtype
	}
	eng, err := server.NewXLMREngine(m, tok, server.ModelInfo{ID: f.cfg.ModelName, Path: dir, Revision: rev, DType: dtype})
	if err != nil {
		return nil, err
	}
	log.Info("model loaded", "dir", dir, "layers", m.Config.NumHiddenLayers, "hidden", m.Config.HiddenSize,
		"checkpoint_dtype", m.Report.DType, "dtype", dtype, "max_position_tokens", m.MaxTokens(), "seconds", time.Since(t0).Seconds())
	if !f.noWarmup {
		t1 := time.Now()
		if err := warmUp(eng, f.cfg.MaxLength); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
		log.Info("warmed up", "seconds", time.Since(t1).Seconds())
	}
	if err := srv.SetEngine(eng); err != nil {
		return nil, err
	}
	life.Info("ready")
	return m, nil
}

// warmUp runs one short and one max-length pair so that code paths, thread pools and the
// scratch buffers are ready before /ready says yes.
func warmUp(eng server.Engine, maxLength int) error {
	q, err := eng.Encode("warm-up query", tokenizer.Options{NoSpecial: true})
	if err != nil {
		return err
	}
	d, err := eng.Encode("A short warm-up document.", tokenizer.Options{NoSpecial: true})
	if err != nil {
		return err
	}
	short := eng.JoinPair(q.IDs, d.IDs)
	long := make([]int32, 0, maxLength)
	for len(long)+len(d.IDs)+len(q.IDs)+eng.PairSpecials() <= maxLength {
		long = append(long, d.IDs...)
	}
	logits := make([]float32, 2)
	return eng.Score([][]int32{short, eng.JoinPair(q.IDs, long)}, logits)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
