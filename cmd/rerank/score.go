package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/gorerank/gorerank"
	"github.com/gorerank/gorerank/internal/jsonin"
)

const scoreUsage = `usage: rerank score --model M --input FILE [flags]
       rerank score --model M --query Q DOC...

Scores (query, document) pairs with a cross-encoder. Score = sigmoid(logit), as
sentence-transformers CrossEncoder.predict reports it.

JSON Lines mode (--input FILE, '-' = stdin): each line is
  {"query": q, "document": d}        -> {"logit": x, "score": s}
  {"query": q, "documents": [d,...]} -> {"results": [{"index": i, "logit": x, "score": s}, ...]}
                                        (ranked by logit, highest first; ties by index)
One output line per input line, in input order, written as the input is read (a chunk of
lines at a time, so memory does not grow with the input). A bad line (invalid JSON,
unknown or missing field, blank query, a pair that cannot be cut to --max-length) gets
{"error": "line N: ..."} on its output line and a message on stderr; the other lines go
on, and the exit status is 1 at the end. --fail-fast stops at the first bad line instead.
An empty document is scored (as HF does: <s> query </s></s></s>). --model is a folder or a
hub id (BAAI/bge-reranker-v2-m3, from the HF cache or downloaded).

On a terminal (stderr), JSON Lines mode draws a progress line while it scores and ends
with a summary such as "scored 5000 pairs from 100 lines in 1m40s (50.0 pairs/s, 9800
tokens/s)"; both go to stderr, never to stdout. --progress always or never turns them on
or off whatever stderr is.

Human mode (--query Q DOC...): prints the documents ranked in a table.

Examples:
  rerank score --model ./bge-reranker-v2-m3 --input pairs.jsonl > scores.jsonl
  rerank score --model DIR --input pairs.jsonl --progress never > scores.jsonl
  echo '{"query":"capital of China?","documents":["Beijing.","Shanghai."]}' | rerank score --model DIR --input -
  rerank score --model DIR --query "capital of China?" "Beijing is the capital." "Shanghai is big."
  rerank score --model testdata/tiny --tokenizer testdata/tokenizer/tokenizer.json --query q d1 d2

Flags:
`

// modelFlags are the flags shared by the subcommands that load a model.
type modelFlags struct {
	loadFlags
	maxLength, maxDocTokens   int
	windowOverlap, maxWindows int
	truncation, side          string
	noTruncate                bool
}

// loadFlags are the flags that say which model to load and how: every subcommand that loads
// one (score, bench, inspect, serve, …) registers them through registerModel.
type loadFlags struct {
	model, weights, tokenizer, revision string
	models                              []string // every --model (serve takes several; model is the first)
	dtype                               gorerank.DType
}

// modelList is the --model flag: each use appends, the first is model.
type modelList struct{ f *loadFlags }

func (m modelList) String() string {
	if m.f == nil {
		return ""
	}
	return strings.Join(m.f.models, ",")
}

func (m modelList) Set(v string) error {
	if v == "" {
		return errors.New("empty model")
	}
	m.f.models = append(m.f.models, v)
	m.f.model = m.f.models[0]
	return nil
}

func (f *modelFlags) register(fs *flag.FlagSet) {
	f.registerModel(fs)
	fs.IntVar(&f.maxLength, "max-length", gorerank.DefaultMaxLength, "max pair length in tokens, special tokens included")
	fs.StringVar(&f.truncation, "truncation", string(gorerank.TruncateLongestFirst), "how an over-long pair is cut: longest_first, only_second, flag (query ≤ 3/4 of max length, then only_second), windows (best of overlapping windows) or none (an error)")
	fs.BoolVar(&f.noTruncate, "no-truncate", false, "an over-long pair is an error instead of being cut (windows: a document needing more than --max-windows windows)")
	fs.StringVar(&f.side, "truncation-side", "right", "which end of a text truncation cuts: right or left")
	fs.IntVar(&f.maxDocTokens, "max-tokens-per-doc", 0, "cut each document to this many tokens first (0: no limit)")
	fs.IntVar(&f.windowOverlap, "window-overlap", gorerank.DefaultWindowOverlap, "windows truncation: tokens shared by neighbouring windows")
	fs.IntVar(&f.maxWindows, "max-windows", gorerank.DefaultMaxWindows, "windows truncation: most windows per document")
}

// registerModel registers the flags that say which model to load and how.
func (f *loadFlags) registerModel(fs *flag.FlagSet) {
	fs.Var(modelList{f}, "model", "model: a `DIR` with config.json, weights (safetensors, or pytorch_model.bin) and tokenizer.json, a folder in the HF cache layout, or a hub id like BAAI/bge-reranker-v2-m3 (required); a value starting with . / or ~, or whose first element exists here, is always a folder")
	fs.StringVar(&f.weights, "weights", "", "safetensors `FILE` (or shard *.index.json) to load instead of the folder's default; a relative path is inside the model folder")
	fs.StringVar(&f.tokenizer, "tokenizer", "", "tokenizer.json `FILE` (default: the model folder's tokenizer.json)")
	fs.StringVar(&f.revision, "revision", "main", "hub revision (branch, tag or commit) when --model is a hub id")
	fs.Var(&f.dtype, "dtype", "how linear weights are kept and multiplied: "+gorerank.DTypeUsage()+" (default f32)")
	fs.Var(&f.dtype, "precision", "the same as --dtype")
}

// options turns the flags into gorerank options (checking them). progress receives hub
// download progress when it is a terminal.
func (f *loadFlags) options(progress io.Writer) (gorerank.Options, error) {
	if len(f.models) > 1 {
		return gorerank.Options{}, fmt.Errorf("--model given %d times: this command takes one model (rerank serve hosts several)", len(f.models))
	}
	return f.loadOptions(progress)
}

// loadOptions is options for every --model at once (serve).
func (f *loadFlags) loadOptions(progress io.Writer) (gorerank.Options, error) {
	if f.model == "" {
		return gorerank.Options{}, errors.New("--model is required")
	}
	o := gorerank.Options{TokenizerPath: f.tokenizer, WeightsFile: f.weights, DType: f.dtype, Revision: f.revision}
	if isTerminal(progress) {
		o.HubProgress = progress
	}
	return o, nil
}

// scoreOptions turns --max-length and --truncation into score options.
func (f *modelFlags) scoreOptions() (gorerank.ScoreOptions, error) {
	if f.maxLength <= 0 {
		return gorerank.ScoreOptions{}, fmt.Errorf("--max-length must be positive (got %d)", f.maxLength)
	}
	t, err := gorerank.ParseTruncation(f.truncation)
	if err != nil {
		return gorerank.ScoreOptions{}, fmt.Errorf("--truncation: %w", err)
	}
	o := gorerank.ScoreOptions{MaxLength: f.maxLength, Truncation: t, MaxDocTokens: f.maxDocTokens, WindowOverlap: f.windowOverlap, MaxWindows: f.maxWindows, Strict: f.noTruncate}
	switch f.side {
	case "right":
	case "left":
		o.Left = true
	default:
		return gorerank.ScoreOptions{}, fmt.Errorf("--truncation-side must be left or right, got %q", f.side)
	}
	if f.maxDocTokens < 0 || f.windowOverlap < 0 || f.maxWindows < 1 {
		return gorerank.ScoreOptions{}, errors.New("--max-tokens-per-doc and --window-overlap must not be negative, --max-windows must be positive")
	}
	return o, nil
}

func runScore(e *env, args []string) int {
	fs := flag.NewFlagSet("score", flag.ContinueOnError)
	var mf modelFlags
	mf.register(fs)
	input := fs.String("input", "", "JSON Lines `FILE` of pairs; '-' reads stdin")
	query := fs.String("query", "", "human mode: the query; the documents are the remaining arguments")
	var sf streamFlags
	sf.register(fs)
	fs.Usage = func() {
		fmt.Fprint(e.stderr, scoreUsage)
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, e, args); done {
		return code
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(e.stderr, "rerank score: "+format+"\n", a...)
		fmt.Fprintln(e.stderr, "Run 'rerank score --help' for usage.")
		return exitUsage
	}
	opts, err := mf.options(e.stderr)
	if err != nil {
		return usageErr("%v", err)
	}
	so, err := mf.scoreOptions()
	if err != nil {
		return usageErr("%v", err)
	}
	showProgress, err := progressFlag(e, sf.progress)
	if err != nil {
		return usageErr("%v", err)
	}
	// human mode is --query given, even empty: an empty query is the query's error, not a
	// missing flag
	human := false
	fs.Visit(func(f *flag.Flag) { human = human || f.Name == "query" })
	queryErr := func(err error) int {
		return usageErr("--query: %s", strings.TrimPrefix(err.Error(), "gorerank: "))
	}
	switch {
	case *input != "" && human:
		return usageErr("use either --input or --query, not both")
	case *input == "" && !human:
		return usageErr("one of --input FILE or --query Q DOC... is required")
	case *input != "" && fs.NArg() > 0:
		return usageErr("unexpected arguments %q with --input", fs.Args())
	}
	if human {
		if err := gorerank.CheckQuery(*query); err != nil { // before loading; the pipeline has the last word below
			return queryErr(err)
		}
		if fs.NArg() == 0 {
			return usageErr("--query needs at least one document argument")
		}
	}
	var in io.Reader
	totalLines := 0
	if *input != "" {
		r, n, closeIn, err := openLines(e, *input, showProgress)
		if err != nil {
			fmt.Fprintf(e.stderr, "rerank score: %v\n", err)
			return exitFailure
		}
		defer closeIn()
		in, totalLines = r, n
	}

	rr, err := gorerank.Open(mf.model, opts)
	if err != nil {
		fmt.Fprintf(e.stderr, "rerank score: %v\n", err)
		if errors.Is(err, gorerank.ErrKind) {
			fmt.Fprintln(e.stderr, "rerank score: an embedder embeds texts with rerank embed")
		}
		return exitFailure
	}
	defer rr.Close()
	ctx := context.Background()
	checked, err := rr.Pipeline().Check(so)
	if err != nil {
		fmt.Fprintf(e.stderr, "rerank score: %v\n", err)
		return exitFailure
	}

	if human {
		res, err := rr.Rerank(ctx, *query, fs.Args(), so)
		if errors.Is(err, gorerank.ErrEmptyQuery) {
			return queryErr(err)
		}
		if err != nil {
			fmt.Fprintf(e.stderr, "rerank score: %v\n", err)
			return exitFailure
		}
		return printTable(e, res, fs.Args())
	}
	var m *meter
	if showProgress {
		m = startMeter(e.stderr, totalLines)
	}
	st, err := scoreStream(ctx, rr, in, e.stdout, checked, *input, sf.failFast, e.stderr, m)
	return finishStream(e, "score", *input, m, st, err)
}

// scoreLine is one parsed input line: a single document or a list.
type scoreLine struct {
	line     int // 1-based
	query    string
	docs     []string
	multiple bool // "documents" (list output) rather than "document"
}

// chunkTokens and chunkPairs bound the work held at once by scoreStream: lines are read
// until their pairs may hold chunkTokens tokens (lineTokens: for most text about four times
// what they hold) or hold chunkPairs pairs, then scored and written.
const (
	chunkTokens = 16 * gorerank.DefaultBatchTokens
	chunkPairs  = 1024
)

// pending is a read line waiting for its scores.
type pending struct {
	line scoreLine
	err  error             // parse, policy or tokenization error: written as {"error": ...}
	res  []gorerank.Result // filled after scoring: ranked for a list of documents
}

func (pd *pending) number() int    { return pd.line.line }
func (pd *pending) lineErr() error { return pd.err }

type streamStats struct{ lines, failed, pairs, tokens int }

// scoreStream reads JSON Lines from r and writes one output line per input line to w, in
// order, holding only one chunk of lines at a time (streamChunks), each chunk one
// Reranker.RerankEach call. A bad line gets {"error": "..."} (and a message on stderr);
// with failFast the first one ends the run with an error instead. so is checked.
func scoreStream(ctx context.Context, rr *gorerank.Reranker, r io.Reader, w io.Writer, so gorerank.ScoreOptions, name string, failFast bool, stderr io.Writer, m *meter) (streamStats, error) {
	out := bufio.NewWriter(w)
	tmpl := rr.Pipeline().Template()
	specials := len(tmpl.Prefix) + len(tmpl.Middle) + len(tmpl.Suffix)
	var st streamStats
	prepare := func(n int, b []byte, err error) (*pending, int, int) {
		pd := &pending{line: scoreLine{line: n}}
		if err == nil {
			pd.line, err = parseScoreLine(b)
			pd.line.line = n
		}
		if err != nil {
			pd.err = err
			return pd, 0, 0
		}
		return pd, lineTokens(pd.line, so, specials), len(pd.line.docs)
	}
	run := func(chunk []*pending) error {
		var groups []gorerank.Group
		var lines []*pending
		for _, pd := range chunk {
			if pd.err == nil {
				groups = append(groups, gorerank.Group{Query: pd.line.query, Documents: pd.line.docs})
				lines = append(lines, pd)
			}
		}
		res, errs, err := rr.RerankEach(ctx, groups, so)
		if err != nil {
			return err
		}
		for k, pd := range lines {
			pd.res, pd.err = res[k], errs[k]
			var pe *gorerank.PairError
			if !pd.line.multiple && errors.As(pd.err, &pe) {
				pd.err = pe.Err // a line with one "document" has no document number
			}
		}
		return nil
	}
	write := func(pd *pending) error {
		st.lines++
		if pd.err != nil {
			st.failed++
		} else {
			st.pairs += len(pd.res)
			for _, x := range pd.res {
				st.tokens += x.Tokens
			}
		}
		return writeLine(out, pd)
	}
	written := func() {
		if m != nil {
			m.update(st.lines, st.pairs, st.tokens)
		}
	}
	err := streamChunks(r, chunker[*pending]{name: name, cmd: "score", failFast: failFast, stderr: stderr, out: out,
		maxTokens: chunkTokens, maxInputs: chunkPairs, prepare: prepare, run: run, write: write, written: written})
	return st, err
}

// lineTokens bounds the tokens of a line's pairs before they are tokenized: a text becomes
// at most one token per character and a word boundary (text normalization that expands
// characters can exceed it), a pair at most MaxLength tokens, or MaxLength × MaxWindows in
// windows mode (so is checked).
func lineTokens(l scoreLine, so gorerank.ScoreOptions, specials int) int {
	perPair := so.MaxLength
	if so.Truncation == gorerank.TruncateWindows {
		perPair *= so.MaxWindows
	}
	q := utf8.RuneCountInString(l.query) + 1
	n := 0
	for _, d := range l.docs {
		n += min(q+utf8.RuneCountInString(d)+1+specials, perPair)
	}
	return n
}

// writeLine writes a line's output: its score(s), or {"error": ...}.
func writeLine(w io.Writer, pd *pending) error {
	var v any
	switch {
	case pd.err != nil:
		v = struct {
			Error string `json:"error"`
		}{fmt.Sprintf("line %d: %v", pd.line.line, pd.err)}
	case !pd.line.multiple:
		v = struct {
			Logit float32 `json:"logit"`
			Score float32 `json:"score"`
		}{pd.res[0].Logit, pd.res[0].Score}
	default:
		docs := make([]scoredDoc, len(pd.res))
		for j, x := range pd.res {
			docs[j] = scoredDoc{x.Index, x.Logit, x.Score}
		}
		v = struct {
			Results []scoredDoc `json:"results"`
		}{docs}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// parseScoreLine reads one JSON Lines input line. Its errors speak of the line's fields
// and JSON types (field "document" must be a string, got a number), not of Go's types.
func parseScoreLine(b []byte) (scoreLine, error) {
	b = bytes.TrimSuffix(b, []byte("\r"))
	if len(bytes.TrimSpace(b)) == 0 {
		return scoreLine{}, errors.New(`empty line (want a JSON object with "query" and "document" or "documents")`)
	}
	if !utf8.Valid(b) {
		return scoreLine{}, fmt.Errorf("%w", gorerank.ErrInvalidUTF8)
	}
	if k := jsonKind(bytes.TrimSpace(b)); k != "" && k != "an object" && json.Valid(b) {
		return scoreLine{}, fmt.Errorf(`want a JSON object with "query" and "document" or "documents", got %s`, k)
	}
	var in struct {
		Query     json.RawMessage `json:"query"`
		Document  json.RawMessage `json:"document"`
		Documents json.RawMessage `json:"documents"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return scoreLine{}, jsonLineError(err, `want "query" and "document" or "documents"`)
	}
	if dec.More() {
		return scoreLine{}, errors.New("invalid JSON: more than one value on the line")
	}
	if err := jsonin.CheckSurrogates(b); err != nil {
		return scoreLine{}, err
	}
	switch {
	case in.Query == nil:
		return scoreLine{}, errors.New(`missing "query"`)
	case in.Document != nil && in.Documents != nil:
		return scoreLine{}, errors.New(`give either "document" or "documents", not both`)
	case in.Document == nil && in.Documents == nil:
		return scoreLine{}, errors.New(`missing "document" or "documents"`)
	}
	query, err := jsonString("query", in.Query)
	if err != nil {
		return scoreLine{}, err
	}
	if in.Document != nil {
		doc, err := jsonString("document", in.Document)
		if err != nil {
			return scoreLine{}, err
		}
		return scoreLine{query: query, docs: []string{doc}}, nil
	}
	var items []json.RawMessage
	if k := jsonKind(in.Documents); k != "an array" || json.Unmarshal(in.Documents, &items) != nil {
		return scoreLine{}, fmt.Errorf(`field "documents" must be a list of strings, got %s`, k)
	}
	if len(items) == 0 {
		return scoreLine{}, errors.New(`"documents" is empty`)
	}
	docs := make([]string, len(items))
	for i, m := range items {
		if docs[i], err = jsonString(fmt.Sprintf("documents[%d]", i), m); err != nil {
			return scoreLine{}, err
		}
	}
	return scoreLine{query: query, docs: docs, multiple: true}, nil
}

// jsonString decodes the field name's value, which must be a JSON string.
func jsonString(name string, v json.RawMessage) (string, error) {
	var s string
	if k := jsonKind(v); k != "a string" || json.Unmarshal(v, &s) != nil {
		return "", fmt.Errorf("field %q must be a string, got %s", name, k)
	}
	return s, nil
}

// jsonKind names the JSON type of a value by its first byte ("" if none fits).
func jsonKind(v []byte) string {
	if len(v) == 0 {
		return ""
	}
	switch c := v[0]; {
	case c == '"':
		return "a string"
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case c == '-' || '0' <= c && c <= '9':
		return "a number"
	}
	return ""
}

// jsonLineError words a decoding error of a line without Go's vocabulary; want says what the
// line should hold, for an unknown field.
func jsonLineError(err error, want string) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("invalid JSON at byte %d: %v", se.Offset, se)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return errors.New("invalid JSON: the line ends inside a value")
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return fmt.Errorf(`unknown field %s (%s)`, name, want)
	}
	return fmt.Errorf("invalid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
}

type scoredDoc struct {
	Index int     `json:"index"`
	Logit float32 `json:"logit"`
	Score float32 `json:"score"`
}

// printTable prints ranked results for people.
func printTable(e *env, res []gorerank.Result, docs []string) int {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RANK\tSCORE\tLOGIT\tDOC\tTEXT")
	for rank, r := range res {
		text := oneLine(docs[r.Index], 60)
		if r.Truncated {
			text += " (truncated)"
		}
		fmt.Fprintf(tw, "%d\t%.6f\t%.6f\t%d\t%s\n", rank+1, r.Score, r.Logit, r.Index, text)
	}
	if err := tw.Flush(); err != nil {
		fmt.Fprintf(e.stderr, "rerank score: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// oneLine shortens s to n runes on one line.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
