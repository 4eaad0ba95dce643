package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/gorerank/gorerank"
	"github.com/gorerank/gorerank/xlmr"
)

const embedUsage = `usage: rerank embed --model M --input FILE [flags]
       rerank embed --model M TEXT...

Embeds texts with a bge-m3 embedder (BAAI/bge-m3: config.json XLMRobertaModel, the weights,
and the sparse_linear / colbert_linear heads beside them): dense (the <s> vector,
unit length), sparse (lexical weights per token id) and ColBERT (one unit vector per token
after <s>) outputs, as FlagEmbedding's BGEM3FlagModel.encode returns them.

JSON Lines mode (--input FILE, '-' = stdin): each line is a JSON string, or an object
  {"text": t}  or  {"text": t, "id": x}    (x a string or a number, echoed)
and gives one output line, in input order, with the outputs --output asks for:
  {"id": x, "dense": [...], "sparse": {"indices": [...], "values": [...]}, "colbert": [[...], ...]}
Sparse indices are token ids, ascending. Lines are read, tokenized and embedded a chunk at a
time, so memory does not grow with the input. A bad line (invalid JSON, the empty text "",
invalid UTF-8, a text over --max-length without --truncate) gets {"error": "line N: ..."}
(with its "id" when it has one) and a message on stderr; the other lines go on, and the exit
status is 1 at the end. --fail-fast stops at the first bad line instead. A text of white
space only is embedded (as <s> </s>), as TEI and OpenAI do; "" is refused, as they do.
On a terminal (stderr) a progress line and a throughput summary are drawn on stderr
(--progress always or never to force them on or off).

Human mode (TEXT arguments): prints each text's outputs in short (tokens, dense size,
number of sparse weights, ColBERT vectors) and, for two texts or more, the scores of each
against the first (xlmr.Score: dense, sparse, ColBERT, and their weighted combination
0.4/0.2/0.4 as on bge-m3's model card). Without --output it computes every output the
model has.

Examples:
  rerank embed --model BAAI/bge-m3 --input texts.jsonl --output dense,sparse > vectors.jsonl
  echo '{"id": 7, "text": "BM25 is a bag-of-words function."}' | rerank embed --model DIR --input - --output all
  rerank embed --model DIR "What is BGE M3?" "BGE M3 is an embedding model."
  rerank embed --model DIR --max-length 512 --truncate --input long.jsonl

Flags:
`

// embedChunkTokens bounds the tokens (and so the output: ColBERT vectors are 4·hidden bytes
// a token) of the lines rerank embed holds at once, as counted before tokenizing (for most
// text about four times what they hold); chunkPairs bounds their number.
const embedChunkTokens = 2 * gorerank.DefaultBatchTokens

func runEmbed(e *env, args []string) int {
	fs := flag.NewFlagSet("embed", flag.ContinueOnError)
	var lf loadFlags
	lf.registerModel(fs)
	input := fs.String("input", "", "JSON Lines `FILE` of texts; '-' reads stdin")
	output := fs.String("output", "", "outputs to compute: `LIST` of dense, sparse, colbert (comma-separated) or all (default: dense with --input; every output the model has for TEXT arguments)")
	maxLength := fs.Int("max-length", 0, "max text length in tokens, special tokens included (default: the model's position limit, 8192 for bge-m3)")
	truncate := fs.Bool("truncate", false, "cut a text longer than --max-length to it instead of failing it")
	side := fs.String("truncation-side", "right", "which end of a text --truncate cuts: right or left")
	var sf streamFlags
	sf.register(fs)
	fs.Usage = func() {
		fmt.Fprint(e.stderr, embedUsage)
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, e, args); done {
		return code
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(e.stderr, "rerank embed: "+format+"\n", a...)
		fmt.Fprintln(e.stderr, "Run 'rerank embed --help' for usage.")
		return exitUsage
	}
	opts, err := lf.options(e.stderr)
	if err != nil {
		return usageErr("%v", err)
	}
	want, err := gorerank.ParseOutputs(*output)
	if err != nil {
		return usageErr("--output: %s", strings.TrimPrefix(err.Error(), "gorerank: "))
	}
	eo := gorerank.EmbedOptions{Outputs: want, MaxLength: *maxLength, Truncate: *truncate}
	switch *side {
	case "right":
	case "left":
		eo.Left = true
	default:
		return usageErr("--truncation-side must be left or right, got %q", *side)
	}
	if *maxLength < 0 {
		return usageErr("--max-length must not be negative (got %d)", *maxLength)
	}
	showProgress, err := progressFlag(e, sf.progress)
	if err != nil {
		return usageErr("%v", err)
	}
	human := *input == ""
	switch {
	case !human && fs.NArg() > 0:
		return usageErr("unexpected arguments %q with --input", fs.Args())
	case human && fs.NArg() == 0:
		return usageErr("one of --input FILE or TEXT... is required")
	}
	var in io.Reader
	totalLines := 0
	if !human {
		r, n, closeIn, err := openLines(e, *input, showProgress)
		if err != nil {
			fmt.Fprintf(e.stderr, "rerank embed: %v\n", err)
			return exitFailure
		}
		defer closeIn()
		in, totalLines = r, n
	}

	emb, err := gorerank.OpenEmbedder(lf.model, opts)
	if err != nil {
		fmt.Fprintf(e.stderr, "rerank embed: %v\n", err)
		if errors.Is(err, gorerank.ErrKind) {
			fmt.Fprintln(e.stderr, "rerank embed: a reranker scores pairs with rerank score")
		}
		return exitFailure
	}
	defer emb.Close()
	if human && eo.Outputs == 0 {
		eo.Outputs = emb.Model().Heads()
	}
	if eo, err = emb.Check(eo); err != nil {
		fmt.Fprintf(e.stderr, "rerank embed: %v\n", err)
		return exitFailure
	}
	ctx := context.Background()

	if human {
		res, err := emb.Embed(ctx, fs.Args(), eo)
		if err != nil {
			fmt.Fprintf(e.stderr, "rerank embed: %v\n", err)
			return exitFailure
		}
		return printEmbeddings(e, emb, res, fs.Args())
	}
	var m *meter
	if showProgress {
		m = startMeterFor(e.stderr, totalLines, "embedded", "text")
	}
	st, err := embedStream(ctx, emb, in, e.stdout, eo, *input, sf.failFast, e.stderr, m)
	return finishStream(e, "embed", *input, m, st, err)
}

// embedLine is a read input line waiting for its embedding.
type embedLine struct {
	line int             // 1-based
	id   json.RawMessage // the line's "id", echoed; nil: none
	text string
	err  error              // parse or policy error: written as {"error": ...}
	res  gorerank.Embedding // filled after the forward pass
}

func (l *embedLine) number() int    { return l.line }
func (l *embedLine) lineErr() error { return l.err }

// embedStream reads JSON Lines from r and writes one output line per input line to w, in
// order, a chunk of lines at a time (streamChunks, as rerank score), each chunk one
// Embedder.EmbedEach call, so the answers are those of Embedder.Embed. eo is checked.
func embedStream(ctx context.Context, emb *gorerank.Embedder, r io.Reader, w io.Writer, eo gorerank.EmbedOptions, name string, failFast bool, stderr io.Writer, m *meter) (streamStats, error) {
	out := bufio.NewWriter(w)
	tmpl := emb.Pipeline().Template()
	specials := len(tmpl.SinglePrefix) + len(tmpl.SingleSuffix)
	var st streamStats
	prepare := func(n int, b []byte, err error) (*embedLine, int, int) {
		l := &embedLine{line: n}
		if err == nil {
			l.text, l.id, err = parseEmbedLine(b)
		}
		if err != nil {
			l.err = err
			return l, 0, 0
		}
		// a text becomes at most one token per character and a word boundary (text
		// normalization that expands characters can exceed it), and at most MaxLength
		return l, min(utf8.RuneCountInString(l.text)+1+specials, eo.MaxLength), 1
	}
	run := func(chunk []*embedLine) error {
		var texts []string
		var lines []*embedLine
		for _, l := range chunk {
			if l.err == nil {
				texts = append(texts, l.text)
				lines = append(lines, l)
			}
		}
		res, errs, err := emb.EmbedEach(ctx, texts, eo)
		if err != nil {
			return err
		}
		for k, l := range lines {
			l.res, l.err, l.text = res[k], errs[k], ""
		}
		return nil
	}
	write := func(l *embedLine) error {
		st.lines++
		if l.err != nil {
			st.failed++
		} else {
			st.pairs++
			st.tokens += l.res.Tokens
		}
		err := writeEmbedLine(out, l, eo.Outputs)
		l.res = gorerank.Embedding{} // the chunk's outputs can go once written
		return err
	}
	written := func() {
		if m != nil {
			m.update(st.lines, st.pairs, st.tokens)
		}
	}
	err := streamChunks(r, chunker[*embedLine]{name: name, cmd: "embed", failFast: failFast, stderr: stderr, out: out,
		maxTokens: embedChunkTokens, maxInputs: chunkPairs, prepare: prepare, run: run, write: write, written: written})
	return st, err
}

// parseEmbedLine reads one JSON Lines input line of rerank embed: a JSON string, or an
// object with "text" and an optional "id" (a string or a number). Its errors speak of the
// line's fields and JSON types, like rerank score's.
func parseEmbedLine(b []byte) (text string, id json.RawMessage, err error) {
	const want = `want a JSON string or an object with "text"`
	b = bytes.TrimSpace(bytes.TrimSuffix(b, []byte("\r")))
	if len(b) == 0 {
		return "", nil, errors.New("empty line (" + want + ")")
	}
	if !utf8.Valid(b) {
		return "", nil, fmt.Errorf("%w", gorerank.ErrInvalidUTF8)
	}
	k := jsonKind(b)
	if k == "a string" {
		dec := json.NewDecoder(bytes.NewReader(b))
		if err := dec.Decode(&text); err != nil {
			return "", nil, jsonLineError(err, want)
		}
		if dec.More() {
			return "", nil, errors.New("invalid JSON: more than one value on the line")
		}
		return text, nil, nil
	}
	if k != "" && k != "an object" && json.Valid(b) {
		return "", nil, fmt.Errorf("%s, got %s", want, k)
	}
	var in struct {
		Text json.RawMessage `json:"text"`
		ID   json.RawMessage `json:"id"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return "", nil, jsonLineError(err, `want "text" and optionally "id"`)
	}
	if dec.More() {
		return "", nil, errors.New("invalid JSON: more than one value on the line")
	}
	if in.ID != nil {
		if k := jsonKind(in.ID); k != "a string" && k != "a number" {
			return "", nil, fmt.Errorf(`field "id" must be a string or a number, got %s`, k)
		}
		var c bytes.Buffer
		if err := json.Compact(&c, in.ID); err != nil {
			return "", nil, jsonLineError(err, "")
		}
		id = c.Bytes()
	}
	if in.Text == nil {
		return "", id, errors.New(`missing "text"`)
	}
	text, err = jsonString("text", in.Text)
	return text, id, err
}

// sparseJSON is the sparse output on an output line: token ids ascending, and their weights.
type sparseJSON struct {
	Indices []int32   `json:"indices"`
	Values  []float32 `json:"values"`
}

// writeEmbedLine writes a line's output: the outputs want of its embedding, or {"error": ...};
// "id" first when the line has one.
func writeEmbedLine(w io.Writer, l *embedLine, want xlmr.Outputs) error {
	var v any
	if l.err != nil {
		v = struct {
			ID    json.RawMessage `json:"id,omitempty"`
			Error string          `json:"error"`
		}{l.id, fmt.Sprintf("line %d: %v", l.line, l.err)}
	} else {
		o := struct {
			ID      json.RawMessage `json:"id,omitempty"`
			Dense   []float32       `json:"dense,omitempty"`
			Sparse  *sparseJSON     `json:"sparse,omitempty"`
			ColBERT [][]float32     `json:"colbert,omitempty"`
		}{ID: l.id}
		if want&xlmr.OutputDense != 0 {
			o.Dense = l.res.Dense
		}
		if want&xlmr.OutputSparse != 0 {
			ix, vals := l.res.SparseSorted()
			o.Sparse = &sparseJSON{ix, vals}
		}
		if want&xlmr.OutputColBERT != 0 {
			o.ColBERT = l.res.ColBERT
		}
		v = o
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// printEmbeddings prints, for people, each text's outputs in short and, for two texts or
// more, the scores of each against the first.
func printEmbeddings(e *env, emb *gorerank.Embedder, res []gorerank.Embedding, texts []string) int {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	dash := func(have bool, s string) string {
		if !have {
			return "-"
		}
		return s
	}
	fmt.Fprintln(tw, "#\tTOKENS\tDENSE\tSPARSE\tCOLBERT\tTEXT")
	for i, r := range res {
		text := oneLine(texts[i], 50)
		if r.Truncated {
			text += " (truncated)"
		}
		hidden := emb.Model().Config.HiddenSize
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\n", i, r.Tokens,
			dash(r.Outputs&xlmr.OutputDense != 0, fmt.Sprintf("%d dims", len(r.Dense))),
			dash(r.Outputs&xlmr.OutputSparse != 0, sparseSummary(emb, &r)),
			dash(r.Outputs&xlmr.OutputColBERT != 0, fmt.Sprintf("%d × %d", len(r.ColBERT), hidden)),
			text)
	}
	if len(res) > 1 {
		w := xlmr.DefaultWeights()
		fmt.Fprintf(tw, "\nscores against text 0 (combined: %.1f dense, %.1f sparse, %.1f colbert, over the outputs computed):\n", w.Dense, w.Sparse, w.ColBERT)
		fmt.Fprintln(tw, "#\tDENSE\tSPARSE\tCOLBERT\tCOMBINED")
		for i := 1; i < len(res); i++ {
			sc := xlmr.Score(&res[0].Embedding, &res[i].Embedding, w)
			f := func(bit xlmr.Outputs, v float32) string { return dash(sc.Outputs&bit != 0, fmt.Sprintf("%.4f", v)) }
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%.4f\n", i, f(xlmr.OutputDense, sc.Dense), f(xlmr.OutputSparse, sc.Sparse), f(xlmr.OutputColBERT, sc.ColBERT), sc.Combined)
		}
	}
	if err := tw.Flush(); err != nil {
		fmt.Fprintf(e.stderr, "rerank embed: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// sparseSummary is "N weights" and the heaviest three tokens: "3 weights (▁panda 0.31, …)".
func sparseSummary(emb *gorerank.Embedder, r *gorerank.Embedding) string {
	ix, vals := r.SparseSorted()
	s := fmt.Sprintf("%d %s", len(ix), plural(len(ix), "weight"))
	if len(ix) == 0 {
		return s
	}
	order := make([]int, len(ix))
	for i := range order {
		order[i] = i
	}
	// heaviest first; equal weights by token id (ix is ascending)
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(vals[b], vals[a]) })
	var top []string
	for _, k := range order[:min(3, len(order))] {
		top = append(top, fmt.Sprintf("%s %.3f", emb.Tokenizer().Token(ix[k]), vals[k]))
	}
	if len(order) > 3 {
		top = append(top, "…")
	}
	return s + " (" + strings.Join(top, ", ") + ")"
}
