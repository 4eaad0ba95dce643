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
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gorerank/gorerank"
	"github.com/gorerank/gorerank/internal/server"
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
	loadFlags
	host                           string
	port                           int
	cfg                            server.Config
	cors                           string
	logFormat, logLevel            string
	shutdownDelay, shutdownTimeout time.Duration
	noWarmup                       bool
	kb                             string // --kb: the knowledge base folder (serve_kb.go)
}

func parseServeFlags(e *env, args []string) (*serveFlags, int) {
	f := &serveFlags{cfg: server.DefaultConfig()}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: rerank serve --model M [--model M2 ...] [flags]\n       rerank serve --kb DIR [--model M ...] [flags]\n\nRun the HTTP server of one or more models, rerankers and embedders (each --model's\nconfig.json says which): Cohere/Jina /v1/rerank, TEI and seed /rerank, OpenAI\n/v1/embeddings, TEI /embed, /embed_sparse, /embed_colbert, /tokenize, /health, /ready,\n/info, /metrics, /docs. A request's \"model\" picks among several of a kind. With --kb,\na knowledge base (rerank kb init) on /v1/search and /v1/documents, run by the served\nmodels (without --model: the embedder and reranker the knowledge base records).\n\nFlags:")
		fs.PrintDefaults()
		fmt.Fprint(e.stderr, serveExamples)
	}
	c := &f.cfg
	f.registerModel(fs)
	fs.StringVar(&c.ModelName, "served-model-name", "", `name reported as "model" in responses (default: --model)`)
	fs.StringVar(&f.host, "host", "127.0.0.1", "address to listen on (0.0.0.0 for all interfaces)")
	fs.IntVar(&f.port, "port", 8000, "port to listen on (0: any free port)")
	fs.IntVar(&c.MaxLength, "max-length", c.MaxLength, "default and largest max_length of a pair in tokens, special tokens included (up to the model's position limit, 8192 for bge-reranker-v2-m3)")
	fs.IntVar(&c.MaxDocuments, "max-documents", c.MaxDocuments, "most documents in one request")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", c.MaxBodyBytes, "largest request body in bytes")
	fs.IntVar(&c.MaxBatchTokens, "max-batch-tokens", c.MaxBatchTokens, "token budget of one batch (pairs of concurrent requests are merged up to it)")
	fs.IntVar(&c.MaxBatchSize, "max-batch-size", c.MaxBatchSize, "most pairs in one batch")
	fs.IntVar(&c.MaxConcurrentRequests, "max-concurrent-requests", c.MaxConcurrentRequests, "most requests admitted to rerank and tokenize routes at once; beyond it a request waits up to a second for a place, then 429 with Retry-After, its body unread")
	fs.Int64Var(&c.MaxInflightBytes, "max-inflight-bytes", c.MaxInflightBytes, "request body bytes held at once by admitted requests; a request waits for its body's room before the body is read (at least --max-body-bytes)")
	fs.IntVar(&c.MaxInflightTokens, "max-inflight-tokens", 0, "tokens held at once by admitted requests (what they may become, before tokenizing; then what they became); a request waits for room, then 503 at --request-timeout (0: (--workers + 1) × --max-batch-tokens)")
	fs.Func("max-queue", "removed: the queue is bounded in tokens by --max-inflight-tokens", func(string) error {
		return errors.New("--max-queue (pairs) was replaced by --max-inflight-tokens (tokens); see rerank serve --help")
	})
	fs.IntVar(&c.Workers, "workers", c.Workers, "batches run at once (each forward pass already uses every core)")
	fs.DurationVar(&c.RequestTimeout, "request-timeout", c.RequestTimeout, "longest a scoring request may take, queue included (then 503)")
	fs.IntVar(&c.CacheSize, "cache-size", c.CacheSize, "most entries of the cache of rerank scores and embeddings; 0 disables it")
	fs.Int64Var(&c.CacheBytes, "cache-bytes", c.CacheBytes, "most bytes the cache holds (an answer over 1/64 of it is not cached); 0 disables it")
	fs.StringVar(&c.Truncation, "truncation", c.Truncation, "default truncation: longest_first, only_second, flag (FlagReranker: query ≤ 3/4 of max_length, then only_second) or windows (score overlapping windows of long documents, keep the best)")
	fs.IntVar(&c.WindowOverlap, "window-overlap", c.WindowOverlap, "windows mode: tokens shared by neighbouring windows")
	fs.IntVar(&c.MaxChunks, "max-chunks", c.MaxChunks, "windows mode: most windows per document (and ceiling of max_chunks_per_doc)")
	fs.BoolVar(&c.NoReturnDocuments, "no-return-documents", false, "/v1/rerank: return_documents defaults to false (Cohere) instead of true (Jina)")
	fs.StringVar(&c.APIKey, "api-key", "", "require Authorization: Bearer KEY (except /health, /ready, /docs, /openapi.json); default $RERANK_API_KEY")
	fs.StringVar(&f.cors, "cors-origin", "", "comma-separated origins allowed by CORS, or * (default: CORS off)")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.DurationVar(&f.shutdownDelay, "shutdown-delay", 5*time.Second, "on SIGINT/SIGTERM, how long to keep accepting and serving with /ready at 503 (load balancers take the replica out meanwhile); 0: stop accepting at once; a second signal ends it")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 30*time.Second, "on SIGINT/SIGTERM, after --shutdown-delay: how long to wait for accepted requests")
	fs.BoolVar(&f.noWarmup, "no-warmup", false, "skip the warm-up forward pass")
	fs.StringVar(&f.kb, "kb", "", "serve the knowledge base in `DIR` (rerank kb init) on /v1/search and /v1/documents; its embedder must be served (without --model: the embedder and reranker it records are)")
	if code, done := parseFlags(fs, e, args); done {
		return nil, code
	}
	usageErr := func(format string, a ...any) (*serveFlags, int) {
		fmt.Fprintf(e.stderr, "rerank serve: "+format+"\n", a...)
		return nil, exitUsage
	}
	switch {
	case fs.NArg() > 0:
		return usageErr("unexpected argument %q", fs.Arg(0))
	case f.model == "" && f.kb == "":
		return usageErr("--model is required, or --kb (see rerank serve --help)")
	case f.model == "" && f.weights != "":
		return usageErr("--weights names a --model's file: give it with --model")
	case len(f.models) > 1 && f.weights != "":
		return usageErr("--weights names one model's file: give it with a single --model")
	case len(f.models) > 1 && c.ModelName != "":
		return usageErr("--served-model-name names one model: with several, each is served as its --model value")
	case f.port < 0 || f.port > 65535:
		return usageErr("--port %d out of range", f.port)
	case f.logFormat != "text" && f.logFormat != "json":
		return usageErr("--log-format must be text or json, got %q", f.logFormat)
	case c.CacheSize < 0:
		return usageErr("--cache-size must not be negative")
	case c.CacheBytes < 0:
		return usageErr("--cache-bytes must not be negative")
	case f.shutdownDelay < 0 || f.shutdownTimeout < 0:
		return usageErr("--shutdown-delay and --shutdown-timeout must not be negative")
	}
	if c.CacheSize == 0 || c.CacheBytes == 0 {
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
	if f.kb != "" && len(f.models) == 0 {
		if f.models, err = kbModels(context.Background(), f.kb); err != nil {
			fmt.Fprintf(e.stderr, "rerank serve: --kb %s: %v\n", f.kb, err)
			return exitFailure
		}
		f.model = f.models[0]
	}
	if f.cfg.ModelName == "" && len(f.models) == 1 {
		f.cfg.ModelName = f.model
	}
	f.cfg.Extra = map[string]any{"dtype_flag": f.dtype.String()}
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
	ln = srv.Listener(ln) // the drain empties its accept queue before closing it
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second,
		ReadTimeout: 2 * time.Minute, WriteTimeout: f.cfg.RequestTimeout + 2*time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	life.Info("listening", "addr", ln.Addr().String(), "url", "http://"+ln.Addr().String(), "docs", "http://"+ln.Addr().String()+"/docs")

	loaded := make(chan error, 1)
	var closeLoaded func() // closes the models and the knowledge base after the last batch; set before loaded is sent on
	go func() {
		var err error
		closeLoaded, err = loadEngine(ctx, f, srv, log, life, e.stderr)
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
			life.Info("shutting down: /ready answers 503; serving on during the delay, then finishing accepted requests",
				"delay", f.shutdownDelay, "timeout", f.shutdownTimeout)
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
	delay := f.shutdownDelay
	if !modelLoaded || exit != exitOK {
		delay = 0 // never ready, or the listener failed: no load balancer is sending here
	}
	again, stopAgain := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stopAgain() // a second SIGINT/SIGTERM ends the delay at once
	if err := srv.Shutdown(again, hs, delay, f.shutdownTimeout); err != nil {
		log.Warn("shutdown: some requests did not finish", "error", err)
	}
	if modelLoaded {
		closeLoaded()
	}
	life.Info("stopped")
	return exit
}

// loadEngine resolves, loads and warms up every --model (a reranker or an embedder, as its
// config.json says), opens the --kb knowledge base with them, then hands them to the server;
// it returns what closes them all.
func loadEngine(ctx context.Context, f *serveFlags, srv *server.Server, log, life *slog.Logger, progress io.Writer) (func(), error) {
	o, err := f.loadOptions(progress) // a progress bar on a terminal; otherwise only log lines
	if err != nil {
		return nil, err
	}
	o.Logger = log
	var (
		models      []*xlmr.Model
		rerankers   []server.Engine
		embedders   []server.EmbedEngine
		kbEmbedders []kbEmbedder
	)
	closeAll := func() {
		for _, m := range models {
			m.Close()
		}
	}
	fail := func(err error) (func(), error) {
		closeAll()
		return nil, err
	}
	for _, name := range f.models {
		t0 := time.Now()
		l, err := gorerank.LoadModel(ctx, name, o)
		if err != nil {
			return fail(err)
		}
		m := l.Model
		models = append(models, m)
		// what runs, not what the file holds: a BF16 checkpoint under --dtype f32 is widened
		dtype := f.dtype.String()
		info := server.ModelInfo{ID: name, Path: l.Dir, Revision: l.Revision, DType: dtype,
			Storage: f.dtype.Storage(), Compute: f.dtype.Compute(), Checkpoint: strings.ToLower(m.Report.DType)}
		log.Info("model loaded", "model", name, "kind", m.Kind.String(), "dir", l.Dir, "layers", m.Config.NumHiddenLayers, "hidden", m.Config.HiddenSize,
			"checkpoint_dtype", m.Report.DType, "dtype", dtype, "max_position_tokens", m.MaxTokens(), "seconds", time.Since(t0).Seconds())
		t1 := time.Now()
		switch m.Kind {
		case xlmr.Embedder:
			e, err := server.NewXLMREmbedder(l, info)
			if err != nil {
				return fail(err)
			}
			if !f.noWarmup {
				if err := warmUpEmbed(e); err != nil {
					return fail(fmt.Errorf("warm-up of %s: %w", name, err))
				}
			}
			embedders = append(embedders, e)
			kbEmbedders = append(kbEmbedders, kbEmbedder{l, e})
		default:
			e, err := server.NewXLMREngine(l, info)
			if err != nil {
				return fail(err)
			}
			if !f.noWarmup {
				if err := warmUp(e, f.cfg.MaxLength); err != nil {
					return fail(fmt.Errorf("warm-up of %s: %w", name, err))
				}
			}
			rerankers = append(rerankers, e)
		}
		if !f.noWarmup {
			log.Info("warmed up", "model", name, "seconds", time.Since(t1).Seconds())
		}
	}
	if f.kb != "" {
		k, err := openServedKB(ctx, f.kb, srv, kbEmbedders, rerankers, log)
		if err != nil {
			return fail(fmt.Errorf("--kb %s: %w", f.kb, err))
		}
		closeModels := closeAll
		closeAll = func() { k.Close(); closeModels() }
	}
	if err := srv.SetModels(rerankers, embedders); err != nil {
		return fail(err)
	}
	life.Info("ready")
	return closeAll, nil
}

// warmUpEmbed runs a short and a 512-token text through every output the embedder has.
func warmUpEmbed(e server.EmbedEngine) error {
	texts := []string{"A short warm-up text.", strings.Repeat("A long warm-up text. ", 512)}
	o := gorerank.EmbedOptions{Outputs: e.Outputs(), MaxLength: min(512, e.Info().MaxTokens), Truncate: true}
	_, err := gorerank.Embed(context.Background(), e.Pipeline(), texts, o, func(_ context.Context, seqs [][]int32, want xlmr.Outputs, out []xlmr.Embedding) error {
		return e.Embed(seqs, want, out)
	})
	return err
}

// warmUp runs one short and one max-length pair so that code paths, thread pools and the
// scratch buffers are ready before /ready says yes.
func warmUp(eng server.Engine, maxLength int) error {
	docs := []string{"A short warm-up document.", strings.Repeat("A long warm-up document. ", maxLength)}
	_, err := gorerank.Score(context.Background(), eng.Pipeline(), "warm-up query", docs, gorerank.ScoreOptions{MaxLength: maxLength},
		func(_ context.Context, inputs []gorerank.Input, logits []float32) error {
			return eng.Score([][]int32{inputs[0].Seqs[0], inputs[1].Seqs[0]}, logits)
		})
	return err
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
