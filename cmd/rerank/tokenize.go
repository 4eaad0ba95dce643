package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/gorerank/gorerank/tokenizer"
)

const tokenizeUsage = `usage: rerank tokenize --tokenizer FILE [--input FILE] [flags]

Tokenizes texts or (query, document) pairs with a HF tokenizer.json, one JSON object per
input line, like HF tokenizers' encode / encode pair.

Input (JSON Lines; --input - or no --input reads stdin):
  {"text": "..."}                        one text
  {"query": "...", "document": "..."}    a pair: <s> query </s></s> document </s>

Output: one line per input line, in the same order:
  {"ids": [...], "tokens": [...], "offsets": [[start, end], ...]}
offsets are [start, end) in Unicode code points of the text (of the query or the document
for a pair); special tokens have [0, 0]. A line that cannot be tokenized gives
  {"error": "..."}
and the command goes on (exit status 1 at the end if any line failed).

Flags:
`

const tokenizeExample = `
Example:
  echo '{"query": "what is panda?", "document": "The giant panda is a bear."}' |
    rerank tokenize --tokenizer tokenizer.json --max-length 512
`

type tokenizeOut struct {
	IDs     []int32  `json:"ids"`
	Tokens  []string `json:"tokens"`
	Offsets [][2]int `json:"offsets"`
}

type tokenizeErr struct {
	Error string `json:"error"`
}

func runTokenize(e *env, args []string) int {
	fs := flag.NewFlagSet("tokenize", flag.ContinueOnError)
	tokPath := fs.String("tokenizer", "", "tokenizer.json `file` (required)")
	input := fs.String("input", "-", "JSON Lines input `file`, - for stdin")
	maxLen := fs.Int("max-length", 0, "truncate to at most `N` tokens, special tokens included (0: no truncation)")
	strategy := fs.String("truncation", string(tokenizer.LongestFirst), "pair truncation `strategy`: longest_first, only_first or only_second")
	left := fs.Bool("truncate-left", false, "remove tokens from the start instead of the end")
	noSpecial := fs.Bool("no-special", false, "do not add special tokens (<s>, </s>)")
	fs.Usage = func() {
		fmt.Fprint(e.stderr, tokenizeUsage)
		fs.PrintDefaults()
		fmt.Fprint(e.stderr, tokenizeExample)
	}
	if code, done := parseFlags(fs, e, args); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "rerank tokenize: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if *tokPath == "" {
		fmt.Fprintln(e.stderr, "rerank tokenize: --tokenizer is required")
		return exitUsage
	}
	if *maxLen < 0 {
		fmt.Fprintln(e.stderr, "rerank tokenize: --max-length must be >= 0")
		return exitUsage
	}
	s := tokenizer.Strategy(*strategy)
	switch s {
	case tokenizer.LongestFirst, tokenizer.OnlyFirst, tokenizer.OnlySecond:
	default:
		fmt.Fprintf(e.stderr, "rerank tokenize: unknown --truncation %q (longest_first, only_first, only_second)\n", *strategy)
		return exitUsage
	}
	opts := tokenizer.Options{MaxLength: *maxLen, Strategy: s, Left: *left, NoSpecial: *noSpecial}

	tk, err := tokenizer.Load(*tokPath)
	if err != nil {
		fmt.Fprintf(e.stderr, "rerank tokenize: %v\n", err)
		return exitFailure
	}
	var in io.Reader = e.stdin
	if *input != "-" {
		f, err := os.Open(*input)
		if err != nil {
			fmt.Fprintf(e.stderr, "rerank tokenize: %v\n", err)
			return exitFailure
		}
		defer f.Close()
		in = f
	}
	out := bufio.NewWriter(e.stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	failed := 0
	r := bufio.NewReader(in)
	for lineNo := 1; ; lineNo++ {
		line, err := r.ReadBytes('\n')
		if len(line) == 0 && err != nil {
			if err != io.EOF {
				fmt.Fprintf(e.stderr, "rerank tokenize: reading input: %v\n", err)
				return exitFailure
			}
			break
		}
		res, lineErr := tokenizeLine(tk, line, opts)
		if lineErr != nil {
			failed++
			_ = enc.Encode(tokenizeErr{fmt.Sprintf("line %d: %v", lineNo, lineErr)})
		} else if err := enc.Encode(res); err != nil {
			fmt.Fprintf(e.stderr, "rerank tokenize: writing output: %v\n", err)
			return exitFailure
		}
		if err == io.EOF {
			break
		}
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintf(e.stderr, "rerank tokenize: writing output: %v\n", err)
		return exitFailure
	}
	if failed > 0 {
		fmt.Fprintf(e.stderr, "rerank tokenize: %d line(s) failed\n", failed)
		return exitFailure
	}
	return exitOK
}

// tokenizeLine tokenizes one input line.
func tokenizeLine(tk *tokenizer.Tokenizer, line []byte, opts tokenizer.Options) (*tokenizeOut, error) {
	var in struct {
		Text     *string `json:"text"`
		Query    *string `json:"query"`
		Document *string `json:"document"`
	}
	if err := json.Unmarshal(line, &in); err != nil {
		return nil, fmt.Errorf("bad JSON: %v", err)
	}
	var enc *tokenizer.Encoding
	var err error
	switch {
	case in.Text != nil && in.Query == nil && in.Document == nil:
		enc, err = tk.Encode(*in.Text, opts)
	case in.Text == nil && in.Query != nil && in.Document != nil:
		enc, err = tk.EncodePair(*in.Query, *in.Document, opts)
	default:
		return nil, errors.New(`want {"text": ...} or {"query": ..., "document": ...}`)
	}
	if err != nil {
		return nil, err
	}
	return &tokenizeOut{IDs: enc.IDs, Tokens: enc.Tokens, Offsets: enc.Offsets}, nil
}
