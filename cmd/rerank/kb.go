package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/gorerank/gorerank"
	"github.com/gorerank/gorerank/kb"
)

const kbUsage = `usage: rerank kb <command> DIR [flags]

A knowledge base is a folder: documents split into chunks, embedded with a bge-m3
embedder (dense and sparse vectors), recalled exactly and reranked. One binary, no other
service; it survives kill -9 and power loss (SQLite in WAL mode, synced vector file).

commands:
  init DIR --embedder M [--reranker M] [--chunk-tokens N] [--overlap N] [--vectors f32|f16|int8]
  add DIR PATH...      add files (.txt .md .jsonl) and folders; '-' reads JSON Lines on stdin
  rm DIR ID...         remove documents
  search DIR QUERY     recall the top-k chunks, rerank them, print the top-n
  stats DIR            what it holds and how much space and memory it takes
  export DIR           JSON Lines of every chunk: text, metadata, dense and sparse vectors
  check DIR            read everything and check it (SQLite integrity check, checksums)

Examples:
  rerank kb init kb --embedder BAAI/bge-m3 --reranker BAAI/bge-reranker-v2-m3
  rerank kb add kb docs/ notes.jsonl
  rerank kb search kb "员工离职需要提前多久通知公司?" --top-k 50 --top-n 5
  rerank kb export kb > chunks.jsonl

Run 'rerank kb <command> --help' for a command's flags.
`

func runKB(e *env, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(e.stderr, kbUsage)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	sub := map[string]func(*env, []string) int{
		"init": runKBInit, "add": runKBAdd, "rm": runKBRm, "search": runKBSearch,
		"stats": runKBStats, "export": runKBExport, "check": runKBCheck,
	}
	run, ok := sub[args[0]]
	if !ok {
		// kb itself takes no flag: report a bad one as every command does, else the command
		fs := flag.NewFlagSet("kb", flag.ContinueOnError)
		fs.Usage = func() { fmt.Fprint(e.stderr, kbUsage) }
		if code, done := parseFlags(fs, e, args); done {
			return code
		}
		fmt.Fprintf(e.stderr, "rerank kb: unknown command %q (want init, add, rm, search, stats, export or check)\nRun 'rerank kb --help' for usage.\n", fs.Arg(0))
		return exitUsage
	}
	return run(e, args[1:])
}

// kbFlags are the flags every kb command that opens models shares.
type kbFlags struct {
	embedder, reranker string
	dtype              gorerank.DType
	maxDocBytes        int
}

func (f *kbFlags) register(fs *flag.FlagSet, withModels bool) {
	if withModels {
		fs.StringVar(&f.embedder, "embedder", "", "the embedder `MODEL` (a folder or hub id); default: the one recorded at kb init")
		fs.StringVar(&f.reranker, "reranker", "", "the reranker `MODEL`; default: the one recorded at kb init")
		fs.Var(&f.dtype, "dtype", "how the models' linear weights are kept and multiplied: "+gorerank.DTypeUsage()+" (default f32)")
	}
	fs.IntVar(&f.maxDocBytes, "max-doc-bytes", kb.DefaultMaxDocBytes, "the largest document text in `BYTES`; larger files and lines are rejected")
}

// kbCommand is a kb subcommand's flag set with its usage.
func kbCommand(e *env, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet("kb "+name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(e.stderr, usage)
		fs.PrintDefaults()
	}
	return fs
}

func kbUsageErr(e *env, name, format string, a ...any) int {
	fmt.Fprintf(e.stderr, "rerank kb %s: %s\nRun 'rerank kb %s --help' for usage.\n", name, fmt.Sprintf(format, a...), name)
	return exitUsage
}

func kbFail(e *env, name string, err error) int {
	fmt.Fprintf(e.stderr, "rerank kb %s: %v\n", name, err)
	return exitFailure
}

// signalContext is cancelled by SIGINT/SIGTERM: work stops, what was committed stays.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// openModels opens the embedder (always) and the reranker (when wantReranker and one is
// named) that kb commands use: the flags', else the ones recorded in the knowledge base.
func (f *kbFlags) openModels(e *env, cfg kb.Config, wantReranker bool) (*gorerank.Embedder, *gorerank.Reranker, func(), error) {
	o := gorerank.Options{DType: f.dtype}
	if isTerminal(e.stderr) {
		o.HubProgress = e.stderr
	}
	name := cmpOr(f.embedder, cfg.Embedder)
	emb, err := gorerank.OpenEmbedder(name, o)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("embedder %s: %w", name, err)
	}
	var rr *gorerank.Reranker
	if rname := cmpOr(f.reranker, cfg.Reranker); wantReranker && rname != "" {
		if rr, err = gorerank.Open(rname, o); err != nil {
			emb.Close()
			return nil, nil, nil, fmt.Errorf("reranker %s: %w", rname, err)
		}
	}
	return emb, rr, func() {
		emb.Close()
		if rr != nil {
			rr.Close()
		}
	}, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// modelRef records a model reference so that it still works from another folder: a local
// folder becomes absolute; a hub id stays as it is.
func modelRef(m string) string {
	if m == "" {
		return ""
	}
	if st, err := os.Stat(m); err == nil && st.IsDir() {
		if abs, err := filepath.Abs(m); err == nil {
			return abs
		}
	}
	return m
}

// openKB opens DIR with the models a command needs (none, the embedder, or both).
func openKB(ctx context.Context, e *env, dir string, f *kbFlags, models, reranker bool) (*kb.KB, func(), error) {
	if !models {
		k, err := kb.Open(ctx, dir, kb.Options{MaxDocBytes: f.maxDocBytes})
		if err != nil {
			return nil, nil, err
		}
		return k, func() { k.Close() }, nil
	}
	cfg, err := kb.ReadConfig(ctx, dir)
	if err != nil {
		return nil, nil, err
	}
	emb, rr, closeModels, err := f.openModels(e, cfg, reranker)
	if err != nil {
		return nil, nil, err
	}
	k, err := kb.Open(ctx, dir, kb.Options{Embedder: emb, Reranker: rr, MaxDocBytes: f.maxDocBytes})
	if err != nil {
		closeModels()
		return nil, nil, err
	}
	return k, func() { k.Close(); closeModels() }, nil
}

const kbInitUsage = `usage: rerank kb init DIR --embedder MODEL [--reranker MODEL] [flags]

Creates a knowledge base in DIR (created if missing), built with the embedder MODEL (a bge-m3
folder or hub id): it records the embedder's identity (its shape, its tokenizer and the
vectors it gives a few probe texts) and refuses to add or search with another one later.
The reranker, when named, reorders what recall finds (kb search, serve --kb).

Flags:
`

func runKBInit(e *env, args []string) int {
	fs := kbCommand(e, "init", kbInitUsage)
	var f kbFlags
	f.register(fs, true)
	chunkTokens := fs.Int("chunk-tokens", kb.DefaultChunkTokens, "most tokens of a chunk (the embedder's tokenizer)")
	overlap := fs.Int("overlap", kb.DefaultOverlap, "tokens a chunk repeats from the end of the one before (at most half of --chunk-tokens)")
	vectors := fs.String("vectors", kb.DefaultVectors, "how dense vectors are stored and scanned: `FORMAT` f32, f16 or int8 (4, 2 or 1 byte a value)")
	if code, done := parseFlags(fs, e, args); done {
		return code
	}
	if fs.NArg() != 1 {
		return kbUsageErr(e, "init", "want one folder, got %d arguments", fs.NArg())
	}
	if f.embedder == "" {
		return kbUsageErr(e, "init", "--embedder is required")
	}
	ctx, stop := signalContext()
	defer stop()
	cfg := kb.Config{Embedder: modelRef(f.embedder), Reranker: modelRef(f.reranker), ChunkTokens: *chunkTokens, Overlap: *overlap, Vectors: *vectors}
	emb, rr, closeModels, err := f.openModels(e, cfg, true)
	if err != nil {
		return kbFail(e, "init", err)
	}
	defer closeModels()
	_ = rr // opened to check it loads: a typo is better found now than at the first search
	k, err := kb.Create(ctx, fs.Arg(0), cfg, emb)
	if err != nil {
		return kbFail(e, "init", err)
	}
	defer k.Close()
	c := k.Config()
	fmt.Fprintf(e.stdout, "created knowledge base %s: embedder %s (dim %d), reranker %s, chunks of %d tokens overlapping %d, %s vectors\n",
		fs.Arg(0), c.Embedder, c.Dim, cmpOr(c.Reranker, "none"), c.ChunkTokens, c.Overlap, c.Vectors)
	return exitOK
}

const kbAddUsage = `usage: rerank kb add DIR PATH... [flags]

Adds documents: .txt and .md files (one document each, its id the path as given), .jsonl
files and '-' (stdin) with one document a line:
  {"id": "policy-7", "text": "...", "metadata": {"lang": "zh"}}
Folders are walked (hidden entries left out). A document whose id is there is replaced
whole; one whose text and metadata are unchanged is skipped, so running add again on a
folder only embeds what changed, and an interrupted add resumes where it stopped.

Each document is printed to stdout once it is durable ("added ID (N chunks)"): what was
printed survives a crash. A file or line that cannot be a document (binary, not UTF-8,
empty, too large, unsupported format, bad JSON) is reported on stderr with its reason and
the exit status is 1 at the end; the others go on. A progress line is drawn on stderr when it
is a terminal.

Lines may carry chunks already embedded, as kb export --documents writes them:
  {"id": ..., "text": ..., "chunks": [{"start": 0, "end": 812, "dense": [...],
   "sparse": {"indices": [...], "values": [...]}}, ...]}
so a corpus can be embedded by many machines (each its own kb, then export) and loaded on
one; one chunk in 16 is re-embedded here and must agree, or the document is rejected.

Flags:
`

// kbAddGroupBytes bounds one add transaction's texts (and so the chunks' vectors held at
// once); --commit-docs its documents.
const kbAddGroupBytes = 256 << 10

func runKBAdd(e *env, args []string) int {
	fs := kbCommand(e, "add", kbAddUsage)
	var f kbFlags
	f.register(fs, true)
	progress := fs.String("progress", "auto", "progress line on stderr: `MODE` auto (when stderr is a terminal), always or never")
	commitDocs := fs.Int("commit-docs", 64, "documents per transaction (and per embedding batch); fewer make each one durable sooner")
	if code, done := parseFlags(fs, e, args); done {
		return code
	}
	if fs.NArg() < 2 {
		return kbUsageErr(e, "add", "want DIR and at least one PATH ('-' for stdin)")
	}
	if *commitDocs < 1 {
		return kbUsageErr(e, "add", "--commit-docs must be at least 1")
	}
	showProgress, err := progressFlag(e, *progress)
	if err != nil {
		return kbUsageErr(e, "add", "%v", err)
	}
	ctx, stop := signalContext()
	defer stop()
	k, closeKB, err := openKB(ctx, e, fs.Arg(0), &f, true, false)
	if err != nil {
		return kbFail(e, "add", err)
	}
	defer closeKB()

	var (
		group      []kb.Document
		groupBytes int
		failed     int
		counts     = map[kb.Status]int{}
		chunks     int
		start      = time.Now()
	)
	report := func() {
		if showProgress {
			el := time.Since(start).Seconds()
			fmt.Fprintf(e.stderr, "\r%d added, %d replaced, %d unchanged, %d failed; %d chunks, %.1f chunks/s ",
				counts[kb.Added], counts[kb.Replaced], counts[kb.Unchanged], failed, chunks, float64(chunks)/max(el, 1e-9))
		}
	}
	flush := func() error {
		if len(group) == 0 {
			return nil
		}
		res, err := k.Add(ctx, group)
		if err != nil {
			return err
		}
		for _, r := range res {
			counts[r.Status]++
			switch r.Status {
			case kb.Rejected:
				failed++
				if showProgress {
					fmt.Fprint(e.stderr, "\r\033[K")
				}
				fmt.Fprintf(e.stderr, "rerank kb add: %v\n", r.Err)
			case kb.Unchanged:
				fmt.Fprintf(e.stdout, "unchanged %s\n", r.ID)
			default:
				chunks += r.Chunks
				fmt.Fprintf(e.stdout, "%s %s (%d chunks)\n", r.Status, r.ID, r.Chunks)
			}
		}
		report()
		group, groupBytes = group[:0], 0
		return nil
	}
	bad := func(se *kb.SourceError) {
		failed++
		if showProgress {
			fmt.Fprint(e.stderr, "\r\033[K")
		}
		fmt.Fprintf(e.stderr, "rerank kb add: skipped %v\n", se)
	}
	err = kb.ReadSources(ctx, fs.Args()[1:], e.stdin, f.maxDocBytes, func(d kb.Document) error {
		group = append(group, d)
		groupBytes += len(d.Text)
		for _, c := range d.Chunks {
			groupBytes += 4 * len(c.Dense)
		}
		if groupBytes >= kbAddGroupBytes || len(group) >= *commitDocs {
			return flush()
		}
		return nil
	}, bad)
	if err == nil {
		err = flush()
	}
	if showProgress {
		fmt.Fprintln(e.stderr)
	}
	if err != nil {
		return kbFail(e, "add", err)
	}
	fmt.Fprintf(e.stderr, "rerank kb add: %d added, %d replaced, %d unchanged, %d not added; %d chunks in %.1fs\n",
		counts[kb.Added], counts[kb.Replaced], counts[kb.Unchanged], failed, chunks, time.Since(start).Seconds())
	if failed > 0 {
		return exitFailure
	}
	return exitOK
}

const kbRmUsage = `usage: rerank kb rm DIR ID...

Removes documents and all their chunks, in one transaction. An id that is not there is
reported, and the exit status is 1.

Flags:
`

func runKBRm(e *env, args []string) int {
	fs := kbCommand(e, "rm", kbRmUsage)
	var f kbFlags
	if code, done := parseFlags(fs, e, args); done {
		return code
	}
	if fs.NArg() < 2 {
		return kbUsageErr(e, "rm", "want DIR and at least one document id")
	}
	ctx, stop := signalContext()
	defer stop()
	k, closeKB, err := openKB(ctx, e, fs.Arg(0), &f, false, false)
	if err != nil {
		return kbFail(e, "rm", err)
	}
	defer closeKB()
	removed, err := k.Remove(ctx, fs.Args()[1:]...)
	for _, id := range removed {
		fmt.Fprintf(e.stdout, "removed %s\n", id)
	}
	if err != nil {
		return kbFail(e, "rm", err)
	}
	return exitOK
}

const kbSearchUsage = `usage: rerank kb search DIR QUERY [flags]

Embeds QUERY, recalls the --top-k chunks exactly (every chunk is scored: dense dot products,
sparse lexical matching, or both fused), reranks them with the knowledge base's reranker and
prints the best --top-n with their document, offsets, recall and rerank scores, and the time
each stage took.

Flags:
`

func runKBSearch(e *env, args []string) int {
	fs := kbCommand(e, "search", kbSearchUsage)
	var f kbFlags
	f.register(fs, true)
	topK := fs.Int("top-k", kb.DefaultTopK, "chunks recall hands to the reranker")
	topN := fs.Int("top-n", kb.DefaultTopN, "chunks printed")
	mode := fs.String("mode", string(kb.Hybrid), "recall: hybrid, dense or sparse")
	fusion := fs.String("fusion", string(kb.RRF), "hybrid: rrf (reciprocal rank fusion) or weighted (dense-weight·dense + sparse-weight·sparse)")
	denseWeight := fs.Float64("dense-weight", 0, "--fusion weighted: the dense score's weight (both weights 0: the paper's 1 and 0.3)")
	sparseWeight := fs.Float64("sparse-weight", 0, "--fusion weighted: the sparse score's weight (both weights 0: the paper's 1 and 0.3)")
	noRerank := fs.Bool("no-rerank", false, "print recall's order; do not load the reranker")
	filter := fs.String("filter", "", `metadata filter, a JSON object: {"lang": "zh", "team": ["hr", "legal"]}`)
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if code, done := parseFlags(fs, e, args); done {
		return code
	}
	if fs.NArg() != 2 {
		return kbUsageErr(e, "search", "want DIR and one QUERY (quote it), got %d arguments", fs.NArg())
	}
	o := kb.SearchOptions{TopK: *topK, TopN: *topN, Mode: kb.Mode(*mode), Fusion: kb.Fusion(*fusion),
		DenseWeight: float32(*denseWeight), SparseWeight: float32(*sparseWeight), NoRerank: *noRerank} // checked by kb
	if *filter != "" {
		if err := json.Unmarshal([]byte(*filter), &o.Filter); err != nil {
			return kbUsageErr(e, "search", "--filter must be a JSON object: %v", err)
		}
	}
	ctx, stop := signalContext()
	defer stop()
	k, closeKB, err := openKB(ctx, e, fs.Arg(0), &f, true, !*noRerank)
	if err != nil {
		return kbFail(e, "search", err)
	}
	defer closeKB()
	res, err := k.Search(ctx, fs.Arg(1), o)
	if err != nil {
		if errors.Is(err, kb.ErrEmptyQuery) || errors.Is(err, kb.ErrOptions) {
			return kbUsageErr(e, "search", "%v", err)
		}
		return kbFail(e, "search", err)
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil { // kb.SearchResult.MarshalJSON, the server's /v1/search answer
			return kbFail(e, "search", err)
		}
		return exitOK
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "rank\trerank\trecall (rank)\tdocument\tchunk\ttext")
	for _, h := range res.Hits {
		rs := "-"
		if h.Reranked {
			rs = fmt.Sprintf("%.4f", h.RerankScore)
		}
		fmt.Fprintf(tw, "%d\t%s\t%.4f (%d)\t%s\t%d [%d:%d]\t%s\n", h.Rank, rs, h.RecallScore, h.RecallRank, h.DocID, h.Chunk, h.Start, h.End, snippet(h.Text, 80))
	}
	tw.Flush()
	t := res.Timings
	fmt.Fprintf(e.stderr, "%d chunks searched, %d recalled; embed %s, recall %s, fetch %s, rerank %s, total %s\n",
		res.Searched, res.Recalled, ms(t.Embed), ms(t.Recall), ms(t.Fetch), ms(t.Rerank), ms(t.Total))
	return exitOK
}

func msf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
func ms(d time.Duration) string   { return fmt.Sprintf("%.1fms", msf(d)) }

// snippet is text on one line, cut to n characters.
func snippet(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

const kbStatsUsage = `usage: rerank kb stats DIR [--json]

Prints what the knowledge base holds: documents, chunks, tokens, its configuration and
embedder, its files' sizes and the memory its index takes when open.

Flags:
`

func runKBStats(e *env, args []string) int {
	fs := kbCommand(e, "stats", kbStatsUsage)
	asJSON := fs.Bool("json", false, "print the stats as JSON")
	if code, done := parseFlags(fs, e, args); done {
		return code
	}
	if fs.NArg() != 1 {
		return kbUsageErr(e, "stats", "want one folder")
	}
	ctx, stop := signalContext()
	defer stop()
	var f kbFlags
	k, closeKB, err := openKB(ctx, e, fs.Arg(0), &f, false, false)
	if err != nil {
		return kbFail(e, "stats", err)
	}
	defer closeKB()
	s, err := k.Stats(ctx)
	if err != nil {
		return kbFail(e, "stats", err)
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		enc.Encode(s)
		return exitOK
	}
	c := s.Config
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "documents\t%d (%s of text)\n", s.Documents, mib(s.TextBytes))
	fmt.Fprintf(tw, "chunks\t%d (%d tokens; %d of up to %d tokens, overlap %d)\n", s.Chunks, s.Tokens, s.Chunks, c.ChunkTokens, c.Overlap)
	fmt.Fprintf(tw, "embedder\t%s (dim %d, %s vectors)\n", c.Embedder, c.Dim, c.Vectors)
	fmt.Fprintf(tw, "reranker\t%s\n", cmpOr(c.Reranker, "none"))
	fmt.Fprintf(tw, "files\tkb.db %s, vectors %s (%d dead rows)\n", mib(s.DBBytes), mib(s.VectorBytes), s.DeadRows)
	fmt.Fprintf(tw, "memory\t%s for the index (%d postings)\n", mib(s.MemoryBytes), s.Postings)
	tw.Flush()
	return exitOK
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

const kbExportUsage = `usage: rerank kb export DIR [--documents] > chunks.jsonl

Writes every chunk as a JSON line, the records Milvus, Qdrant and Elasticsearch import:
  {"id": "DOC#N", "document_id": ..., "chunk": N, "start": ..., "end": ..., "text": ...,
   "metadata": {...}, "dense": [...], "sparse": {"indices": [...], "values": [...]}}
(see docs/INTEGRATIONS.md). --documents writes one line per document instead, with its text
and its chunks, which kb add reads back without embedding them again.

Flags:
`

// exportChunk is one chunk line of kb export.
type exportChunk struct {
	ID       string         `json:"id,omitempty"`
	DocID    string         `json:"document_id,omitempty"`
	Chunk    int            `json:"chunk"`
	Start    int            `json:"start"`
	End      int            `json:"end"`
	Tokens   int            `json:"tokens"`
	Text     string         `json:"text"`
	Metadata map[string]any `json:"metadata,omitempty"`
	Dense    []float32      `json:"dense"`
	Sparse   sparseJSON     `json:"sparse"`
}

func runKBExport(e *env, args []string) int {
	fs := kbCommand(e, "export", kbExportUsage)
	docs := fs.Bool("documents", false, "one line per document, with its text and chunks (kb add reads it back)")
	if code, done := parseFlags(fs, e, args); done {
		return code
	}
	if fs.NArg() != 1 {
		return kbUsageErr(e, "export", "want one folder")
	}
	ctx, stop := signalContext()
	defer stop()
	var f kbFlags
	k, closeKB, err := openKB(ctx, e, fs.Arg(0), &f, false, false)
	if err != nil {
		return kbFail(e, "export", err)
	}
	defer closeKB()
	w := bufio.NewWriterSize(e.stdout, 1<<16)
	enc := json.NewEncoder(w)
	err = k.Export(ctx, func(d *kb.DocInfo) error {
		chunks := make([]exportChunk, len(d.Chunks))
		for i, c := range d.Chunks {
			chunks[i] = exportChunk{Chunk: c.Chunk, Start: c.Start, End: c.End, Tokens: c.Tokens, Text: c.Text,
				Dense: c.Dense, Sparse: sparseJSON{c.SparseIndices, c.SparseValues}}
			if !*docs {
				chunks[i].ID, chunks[i].DocID, chunks[i].Metadata = fmt.Sprintf("%s#%d", d.ID, c.Chunk), d.ID, d.Metadata
				if err := enc.Encode(&chunks[i]); err != nil {
					return err
				}
			}
		}
		if *docs {
			return enc.Encode(map[string]any{"id": d.ID, "text": d.Text, "metadata": d.Metadata, "chunks": chunks})
		}
		return nil
	})
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return kbFail(e, "export", err)
	}
	return exitOK
}

const kbCheckUsage = `usage: rerank kb check DIR

Reads everything the knowledge base holds and checks it: SQLite's integrity check, and every
document, chunk, sparse vector and vector row against its checksum. Exit status 1 and the
first problem found when something is corrupt.

Flags:
`

func runKBCheck(e *env, args []string) int {
	fs := kbCommand(e, "check", kbCheckUsage)
	if code, done := parseFlags(fs, e, args); done {
		return code
	}
	if fs.NArg() != 1 {
		return kbUsageErr(e, "check", "want one folder")
	}
	ctx, stop := signalContext()
	defer stop()
	var f kbFlags
	k, closeKB, err := openKB(ctx, e, fs.Arg(0), &f, false, false)
	if err != nil {
		return kbFail(e, "check", err)
	}
	defer closeKB()
	if err := k.Check(ctx); err != nil {
		return kbFail(e, "check", err)
	}
	fmt.Fprintf(e.stdout, "%s: ok\n", fs.Arg(0))
	return exitOK
}
