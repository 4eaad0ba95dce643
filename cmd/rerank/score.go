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
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/gorerank/gorerank"
	"github.com/gorerank/gorerank/nn"
)

const scoreUsage = `usage: rerank score --model DIR --input FILE [flags]
       rerank score --model DIR --query Q DOC...

Scores (query, document) pairs with a cross-encoder. Score = sigmoid(logit), as
sentence-transformers CrossEncoder.predict reports it.

JSON Lines mode (--input FILE, '-' = stdin): each line is
  {"query": q, "document": d}        -> {"logit": x, "score": s}
  {"query": q, "documents": [d,...]} -> {"results": [{"index": i, "logit": x, "score": s}, ...]}
                                        (sorted by score, highest first)
One output line per input line, in input order. The whole input is read, parsed and
tokenized before anything is scored or written: a bad line (invalid JSON, unknown or
missing field, empty text) is reported with its line number, nothing is written to stdout
and the exit status is 1.

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
	model, weights, tokenizer, precision string
	maxLength                            int
}

func (f *modelFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.model, "model", "", "model `DIR` with config.json, safetensors weights and tokenizer.json (required)")
	fs.StringVar(&f.weights, "weights", "", "safetensors `FILE` (or shard *.index.json) to load instead of the folder's default")
	fs.StringVar(&f.tokenizer, "tokenizer", "", "tokenizer.json `FILE` (default DIR/tokenizer.json)")
	fs.StringVar(&f.precision, "dtype", "f32", "how linear weights are kept: f32, f16, bf16, bf16c (bf16 weights and activations) or int8 (int8 weights and activations; an int8 checkpoint from rerank quantize is used in place); f16/bf16 keep a half checkpoint in place at half the memory, f32 widens it")
	fs.StringVar(&f.precision, "precision", "f32", "the same as --dtype")
	fs.IntVar(&f.maxLength, "max-length", gorerank.DefaultMaxLength, "max pair length in tokens, special tokens included; longer pairs are truncated longest_first")
}

// options turns the flags into gorerank options (checking them).
func (f *modelFlags) options() (gorerank.Options, error) {
	if f.model == "" {
		return gorerank.Options{}, errors.New("--model is required")
	}
	if f.maxLength <= 0 {
		return gorerank.Options{}, fmt.Errorf("--max-length must be positive (got %d)", f.maxLength)
	}
	prec, err := parsePrecision(f.precision)
	if err != nil {
		return gorerank.Options{}, err
	}
	return gorerank.Options{TokenizerPath: f.tokenizer, WeightsFile: weightsPath(f.weights), Precision: prec}, nil
}

func parsePrecision(s string) (nn.Precision, error) {
	switch strings.ToLower(s) {
	case "f32", "fp32", "float32":
		return nn.F32, nil
	case "f16", "fp16", "float16":
		return nn.F16, nil
	case "bf16", "bfloat16":
		return nn.BF16, nil
	case "bf16c", "bf16-compute":
		return nn.BF16Compute, nil
	case "int8", "i8":
		return nn.Int8, nil
	}
	return 0, fmt.Errorf("--dtype %q: want f32, f16, bf16, bf16c or int8", s)
}

// weightsPath makes a --weights value that names an existing file relative to the working
// directory absolute; anything else is left for the library to resolve inside the model folder.
func weightsPath(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	if _, err := os.Stat(p); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			return abs
		}
	}
	return p
}

// parseFlags parses args, printing usage on error; done reports that the caller should
// return code (help was asked for, or the flags were wrong).
func parseFlags(fs *flag.FlagSet, e *env, usage string, args []string) (code int, done bool) {
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprint(e.stderr, usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, true
		}
		return exitUsage, true
	}
	return 0, false
}

func runScore(e *env, args []string) int {
	fs := flag.NewFlagSet("score", flag.ContinueOnError)
	var mf modelFlags
	mf.register(fs)
	input := fs.String("input", "", "JSON Lines `FILE` of pairs; '-' reads stdin")
	query := fs.String("query", "", "human mode: the query; the documents are the remaining arguments")
	progress := fs.String("progress", "auto", "JSON Lines mode: progress line and throughput summary on stderr: `MODE` auto (when stderr is a terminal), always or never")
	if code, done := parseFlags(fs, e, scoreUsage, args); done {
		return code
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(e.stderr, "rerank score: "+format+"\n", a...)
		fmt.Fprintln(e.stderr, "Run 'rerank score --help' for usage.")
		return exitUsage
	}
	opts, err := mf.options()
	if err != nil {
		return usageErr("%v", err)
	}
	var showProgress bool
	switch *progress {
	case "auto":
		showProgress = isTerminal(e.stderr)
	case "always":
		showProgress = true
	case "never":
	default:
		return usageErr("--progress %q: want auto, always or never", *progress)
	}
	switch {
	case *input != "" && *query != "":
		return usageErr("use either --input or --query, not both")
	case *input == "" && *query == "":
		return usageErr("one of --input FILE or --query Q DOC... is required")
	case *input != "" && fs.NArg() > 0:
		return usageErr("unexpected arguments %q with --input", fs.Args())
	case *query != "" && fs.NArg() == 0:
		return usageErr("--query needs at least one document argument")
	}

	// read and parse the input before the (slow) model load, so bad input fails fast
	var lines []scoreLine
	if *input != "" {
		r, closeIn, err := openInput(e, *input)
		if err != nil {
			fmt.Fprintf(e.stderr, "rerank score: %v\n", err)
			return exitFailure
		}
		lines, err = parseScoreInput(r, *input)
		closeIn()
		if err != nil {
			fmt.Fprintf(e.stderr, "rerank score: %v\n", err)
			return exitFailure
		}
	}

	rr, err := gorerank.Open(mf.model, opts)
	if err != nil {
		fmt.Fprintf(e.stderr, "rerank score: %v\n", err)
		return exitFailure
	}
	defer rr.Close()
	so := gorerank.ScoreOptions{MaxLength: mf.maxLength}
	ctx := context.Background()

	if *query != "" {
		res, err := rr.Rerank(ctx, *query, fs.Args(), so)
		if err != nil {
			fmt.Fprintf(e.stderr, "rerank score: %v\n", err)
			return exitFailure
		}
		return printTable(e, res, fs.Args())
	}
	var progressTo io.Writer
	if showProgress {
		progressTo = e.stderr
	}
	out, m, err := scoreLines(ctx, rr, lines, so, *input, progressTo)
	if err != nil {
		fmt.Fprintf(e.stderr, "rerank score: %v\n", err)
		return exitFailure
	}
	if _, err := e.stdout.Write(out); err != nil {
		fmt.Fprintf(e.stderr, "rerank score: writing output: %v\n", err)
		return exitFailure
	}
	if m != nil {
		m.summary()
	}
	return exitOK
}

// openInput opens a file, or stdin for "-".
func openInput(e *env, name string) (io.Reader, func(), error) {
	if name == "-" {
		return e.stdin, func() {}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

// scoreLine is one parsed input line: a single document or a list.
type scoreLine struct {
	line     int // 1-based
	query    string
	docs     []string
	multiple bool // "documents" (list output) rather than "document"
}

// maxLineBytes bounds one input line (a document of several megabytes is still accepted).
const maxLineBytes = 64 << 20

// parseScoreInput reads JSON Lines; every problem names its line.
func parseScoreInput(r io.Reader, name string) ([]scoreLine, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLineBytes)
	var lines []scoreLine
	for n := 1; sc.Scan(); n++ {
		l, err := parseScoreLine(sc.Bytes())
		if err != nil {
			return nil, fmt.Errorf("%s: line %d: %v", name, n, err)
		}
		l.line = n
		lines = append(lines, l)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%s: line %d: longer than %d bytes", name, len(lines)+1, maxLineBytes)
		}
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("%s: no input lines", name)
	}
	return lines, nil
}

func parseScoreLine(b []byte) (scoreLine, error) {
	b = bytes.TrimSuffix(b, []byte("\r"))
	if len(bytes.TrimSpace(b)) == 0 {
		return scoreLine{}, errors.New(`empty line (want a JSON object with "query" and "document" or "documents")`)
	}
	if !utf8.Valid(b) {
		return scoreLine{}, errors.New("not valid UTF-8")
	}
	var in struct {
		Query     *string   `json:"query"`
		Document  *string   `json:"document"`
		Documents *[]string `json:"documents"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return scoreLine{}, fmt.Errorf("invalid JSON: %v", err)
	}
	if dec.More() {
		return scoreLine{}, errors.New("invalid JSON: more than one value on the line")
	}
	switch {
	case in.Query == nil:
		return scoreLine{}, errors.New(`missing "query"`)
	case *in.Query == "":
		return scoreLine{}, errors.New(`"query" is empty`)
	case in.Document != nil && in.Documents != nil:
		return scoreLine{}, errors.New(`give either "document" or "documents", not both`)
	case in.Document != nil:
		if *in.Document == "" {
			return scoreLine{}, errors.New(`"document" is empty`)
		}
		return scoreLine{query: *in.Query, docs: []string{*in.Document}}, nil
	case in.Documents != nil:
		if len(*in.Documents) == 0 {
			return scoreLine{}, errors.New(`"documents" is empty`)
		}
		for i, d := range *in.Documents {
			if d == "" {
				return scoreLine{}, fmt.Errorf(`"documents"[%d] is empty`, i)
			}
		}
		return scoreLine{query: *in.Query, docs: *in.Documents, multiple: true}, nil
	}
	return scoreLine{}, errors.New(`missing "document" or "documents"`)
}

type scoredDoc struct {
	Index int     `json:"index"`
	Logit float32 `json:"logit"`
	Score float32 `json:"score"`
}

// scoreLines scores every pair of every line in token-budgeted batches and renders the
// whole output; nothing is returned on error. With progress not nil, a progress line is
// drawn there while scoring (and cleared before returning); the meter returned can then
// print the summary.
func scoreLines(ctx context.Context, rr *gorerank.Reranker, lines []scoreLine, so gorerank.ScoreOptions, name string, progress io.Writer) ([]byte, *meter, error) {
	var pairs []gorerank.Pair
	first := make([]int, len(lines)) // index of each line's first pair
	ends := make([]int, len(lines))  // one past each line's last pair
	for i, l := range lines {
		first[i] = len(pairs)
		for _, d := range l.docs {
			pairs = append(pairs, gorerank.Pair{Query: l.query, Document: d})
		}
		ends[i] = len(pairs)
	}
	var m *meter
	if progress != nil {
		m = startMeter(progress, ends)
		so.Progress = m.update
	}
	res, err := rr.ScorePairs(ctx, pairs, so)
	if m != nil {
		m.end()
	}
	if err != nil {
		var pe *gorerank.PairError
		if errors.As(err, &pe) {
			// map the pair back to its line
			li := 0
			for li+1 < len(lines) && first[li+1] <= pe.Index {
				li++
			}
			if lines[li].multiple {
				return nil, nil, fmt.Errorf("%s: line %d: document %d: %v", name, lines[li].line, pe.Index-first[li], pe.Err)
			}
			return nil, nil, fmt.Errorf("%s: line %d: %v", name, lines[li].line, pe.Err)
		}
		return nil, nil, err
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	for i, l := range lines {
		r := res[first[i] : first[i]+len(l.docs)]
		if !l.multiple {
			enc.Encode(struct {
				Logit float32 `json:"logit"`
				Score float32 `json:"score"`
			}{r[0].Logit, r[0].Score})
			continue
		}
		docs := make([]scoredDoc, len(r))
		for j, x := range r {
			docs[j] = scoredDoc{j, x.Logit, x.Score}
		}
		sortByScore(docs)
		enc.Encode(struct {
			Results []scoredDoc `json:"results"`
		}{docs})
	}
	return out.Bytes(), m, nil
}

// sortByScore orders by score, highest first; ties keep input order.
func sortByScore(d []scoredDoc) {
	for i := 1; i < len(d); i++ { // insertion sort: stable and lists are short
		for j := i; j > 0 && d[j].Score > d[j-1].Score; j-- {
			d[j], d[j-1] = d[j-1], d[j]
		}
	}
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
