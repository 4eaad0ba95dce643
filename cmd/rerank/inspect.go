package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/gorerank/gorerank"
	"github.com/gorerank/gorerank/weights"
	"github.com/gorerank/gorerank/xlmr"
)

const inspectUsage = `usage: rerank inspect --model DIR --query Q --document D --out FILE.safetensors [flags]
       rerank inspect --model DIR --text T --out FILE.safetensors [flags]     (an embedder)
       rerank inspect --model DIR --ids 0,6,2,2,7,2 --out FILE.safetensors [flags]
       rerank inspect --diff A.safetensors B.safetensors [--tol X]

Runs one pair (a reranker) or one text (an embedder) through the model and writes every
intermediate as safetensors, in the layout of HF transformers (output_hidden_states=True,
output_attentions=True):
  input_ids      I64 [1, T]
  hidden_states  F32 [L+1, T, H]        index 0 = embeddings, l = output of layer l
  attentions     F32 [L, heads, T, T]
  logits         F32 [1, 1]             a reranker
  dense          F32 [1, H]             an embedder: h[0]/‖h[0]‖ of the last layer's h
  sparse         F32 [1, T]             ... relu(h·Wsᵀ + bs) per token (before the max per
                                        token id that the sparse output keeps); with sparse_linear
  colbert        F32 [1, T-1, H]        ... (h[1:]·Wcᵀ + bc), each row normalised; with colbert_linear
The pair is tokenized like rerank score does (default: tokenizer(q, d, truncation=True,
max_length=N), longest_first), the text like rerank embed does (truncated to --max-length
when given, else to the model's limit); --ids gives the token ids directly instead (no
tokenizer needed). --model is a folder or a hub id.

--diff prints, for every tensor of A and B, the max absolute difference, the relative
difference (max abs diff / max |B|) and where the largest difference is; hidden_states also
layer by layer (hidden_states[l]). Tensors found in
only one file are listed (a PyTorch dump may leave out attentions). With --tol it exits 1
when a common tensor differs by more than X or has another shape.

Examples:
  rerank inspect --model DIR --query "capital of China?" --document "Beijing." --out go.safetensors
  python3 scripts/torch_inspect.py --model DIR --ids go.safetensors --out torch.safetensors
  rerank inspect --diff go.safetensors torch.safetensors --tol 1e-4
  rerank inspect --model .bench/random-bge-m3 --text "some text" --out go.safetensors
  python3 scripts/torch_inspect.py --model .bench/random-bge-m3 --ids go.safetensors --out torch.safetensors --float64

Flags:
`

func runInspect(e *env, args []string) int {
	fs := flag.NewFlagSet("inspect", flag.ContinueOnError)
	var mf modelFlags
	mf.register(fs)
	query := fs.String("query", "", "the query")
	document := fs.String("document", "", "the document")
	text := fs.String("text", "", "the text (an embedder)")
	ids := fs.String("ids", "", "comma-separated token `IDS` instead of --query/--document")
	out := fs.String("out", "", "output `FILE`.safetensors")
	diff := fs.Bool("diff", false, "compare the two safetensors files given as arguments")
	tol := fs.Float64("tol", -1, "with --diff: exit 1 when a max abs diff exceeds `X`")
	fs.Usage = func() {
		fmt.Fprint(e.stderr, inspectUsage)
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, e, args); done {
		return code
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(e.stderr, "rerank inspect: "+format+"\n", a...)
		fmt.Fprintln(e.stderr, "Run 'rerank inspect --help' for usage.")
		return exitUsage
	}
	if *diff {
		if fs.NArg() != 2 {
			return usageErr("--diff needs exactly two files")
		}
		return inspectDiff(e, fs.Arg(0), fs.Arg(1), *tol)
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected arguments %q", fs.Args())
	}
	opts, err := mf.options(e.stderr)
	if err != nil {
		return usageErr("%v", err)
	}
	so, err := mf.scoreOptions()
	if err != nil {
		return usageErr("%v", err)
	}
	if *out == "" {
		return usageErr("--out is required")
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	pair := set["query"] || set["document"]
	switch n := btoi(*ids != "") + btoi(pair) + btoi(set["text"]); {
	case n == 0:
		return usageErr("give --query and --document (a reranker), --text (an embedder), or --ids")
	case n > 1:
		return usageErr("give only one of --query/--document, --text and --ids")
	case pair && (!set["query"] || !set["document"]):
		return usageErr("--query and --document are both required (--document \"\" is an empty document)")
	}
	var seq []int32
	if *ids != "" {
		var err error
		if seq, err = parseIDs(*ids); err != nil {
			return usageErr("--ids: %v", err)
		}
		opts.NoTokenizer = true
	}
	l, err := gorerank.LoadModel(context.Background(), mf.model, opts)
	if err != nil {
		fmt.Fprintf(e.stderr, "rerank inspect: %v\n", err)
		return exitFailure
	}
	defer l.Close()
	m := l.Model
	switch {
	case pair && m.Kind == xlmr.Embedder:
		fmt.Fprintf(e.stderr, "rerank inspect: %s is an embedder: give it one --text\n", mf.model)
		return exitFailure
	case set["text"] && m.Kind != xlmr.Embedder:
		fmt.Fprintf(e.stderr, "rerank inspect: %s is a %s: give it --query and --document\n", mf.model, m.Kind)
		return exitFailure
	case set["text"]:
		eo := gorerank.EmbedOptions{Truncate: true}
		if set["max-length"] {
			eo.MaxLength = mf.maxLength
		}
		// the library's pipeline, with a forward pass that keeps the model input
		keep := func(_ context.Context, seqs [][]int32, _ xlmr.Outputs, _ []xlmr.Embedding) error {
			seq = seqs[0]
			return nil
		}
		if _, err := gorerank.Embed(context.Background(), l.Pipeline, []string{*text}, eo, keep); err != nil {
			fmt.Fprintf(e.stderr, "rerank inspect: %v\n", err)
			return exitFailure
		}
	case pair:
		var in gorerank.Input
		keep := func(_ context.Context, inputs []gorerank.Input, _ []float32) error {
			in = inputs[0]
			return nil
		}
		if _, err := gorerank.Score(context.Background(), l.Pipeline, *query, []string{*document}, so, keep); err != nil {
			fmt.Fprintf(e.stderr, "rerank inspect: %v\n", err)
			return exitFailure
		}
		if len(in.Seqs) != 1 {
			fmt.Fprintf(e.stderr, "rerank inspect: the pair needs %d windows; inspect runs one sequence (use another --truncation or a larger --max-length)\n", len(in.Seqs))
			return exitFailure
		}
		seq = in.Seqs[0]
	}
	tensors, err := inspectForward(m, seq)
	if err != nil {
		fmt.Fprintf(e.stderr, "rerank inspect: %v\n", err)
		return exitFailure
	}
	meta := map[string]string{"format": "pt", "generator": "gorerank inspect", "model": mf.model}
	switch {
	case pair:
		meta["query"], meta["document"] = *query, *document
	case set["text"]:
		meta["text"] = *text
	}
	if err := weights.WriteFile(*out, tensors, meta); err != nil {
		fmt.Fprintf(e.stderr, "rerank inspect: %v\n", err)
		return exitFailure
	}
	if m.Kind == xlmr.Embedder {
		fmt.Fprintf(e.stderr, "wrote %s: %d tokens, %d layers, outputs %s\n", *out, len(seq), m.Config.NumHiddenLayers, m.Heads())
	} else {
		fmt.Fprintf(e.stderr, "wrote %s: %d tokens, %d layers, logit %s\n", *out, len(seq), m.Config.NumHiddenLayers, formatFloat(tensorsLogit(tensors)))
	}
	return exitOK
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func parseIDs(s string) ([]int32, error) {
	var ids []int32
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseInt(strings.TrimSpace(f), 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%q is not a token id", f)
		}
		ids = append(ids, int32(v))
	}
	return ids, nil
}

// inspectForward runs one sequence with a hook and packs the intermediates as tensors: a
// reranker's logit, or every output an embedder has.
func inspectForward(m *xlmr.Model, seq []int32) ([]weights.Tensor, error) {
	c := m.Config
	T, H, L, nh := len(seq), c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads
	hidden := make([]float32, (L+1)*T*H)
	attn := make([]float32, L*nh*T*T)
	var heads []weights.Tensor
	hook := func(_ int, name string, shape []int, data []float32) {
		var l int
		switch {
		case name == "dense" || name == "sparse" || name == "colbert":
			heads = append(heads, weights.Tensor{Name: name, DType: weights.F32, Shape: append([]int{1}, shape...), Data: f32Bytes(data)})
		case name == "embeddings":
			copy(hidden, data)
		case strings.HasPrefix(name, "layer."):
			l, _ = strconv.Atoi(name[len("layer."):])
			copy(hidden[(l+1)*T*H:], data)
		case strings.HasPrefix(name, "attention.probs."):
			l, _ = strconv.Atoi(name[len("attention.probs."):])
			copy(attn[l*nh*T*T:], data)
		}
	}
	if m.Kind == xlmr.Embedder {
		out := make([]xlmr.Embedding, 1)
		if err := m.Embed(m.NewScratch(), [][]int32{seq}, m.Heads(), out, hook); err != nil {
			return nil, err
		}
	} else {
		logits := make([]float32, 1)
		if err := m.Forward(m.NewScratch(), [][]int32{seq}, logits, hook); err != nil {
			return nil, err
		}
		heads = []weights.Tensor{{Name: "logits", DType: weights.F32, Shape: []int{1, 1}, Data: f32Bytes(logits)}}
	}
	ids := make([]byte, 8*T)
	for i, id := range seq {
		binary.LittleEndian.PutUint64(ids[8*i:], uint64(id))
	}
	return append([]weights.Tensor{
		{Name: "input_ids", DType: weights.I64, Shape: []int{1, T}, Data: ids},
		{Name: "hidden_states", DType: weights.F32, Shape: []int{L + 1, T, H}, Data: f32Bytes(hidden)},
		{Name: "attentions", DType: weights.F32, Shape: []int{L, nh, T, T}, Data: f32Bytes(attn)},
	}, heads...), nil
}

func f32Bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func tensorsLogit(ts []weights.Tensor) float64 {
	for _, t := range ts {
		if t.Name == "logits" {
			return float64(math.Float32frombits(binary.LittleEndian.Uint32(t.Data)))
		}
	}
	return math.NaN()
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', 8, 64) }

// inspectDiff prints per-tensor differences between two safetensors files.
func inspectDiff(e *env, pa, pb string, tol float64) int {
	a, err := weights.OpenFiles(pa)
	if err != nil {
		fmt.Fprintf(e.stderr, "rerank inspect: %v\n", err)
		return exitFailure
	}
	defer a.Close()
	b, err := weights.OpenFiles(pb)
	if err != nil {
		fmt.Fprintf(e.stderr, "rerank inspect: %v\n", err)
		return exitFailure
	}
	defer b.Close()
	names := slices.Concat(a.Names(), b.Names())
	slices.Sort(names)
	names = slices.Compact(names)
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENSOR\tSHAPE\tMAXABS\tREL\tAT")
	failed := false
	for _, n := range names {
		ta, errA := a.Tensor(n)
		tb, errB := b.Tensor(n)
		switch {
		case errA != nil:
			fmt.Fprintf(tw, "%s\t-\tonly in %s\t-\t-\n", n, pb)
			continue
		case errB != nil:
			fmt.Fprintf(tw, "%s\t-\tonly in %s\t-\t-\n", n, pa)
			continue
		case !slices.Equal(ta.Shape, tb.Shape):
			fmt.Fprintf(tw, "%s\t%s vs %s\tshape mismatch\t\t\n", n, dims(ta.Shape), dims(tb.Shape))
			failed = true
			continue
		}
		va, err := values(ta)
		if err == nil {
			var vb []float64
			if vb, err = values(tb); err == nil {
				maxAbs, rel, at := diffStats(va, vb)
				fmt.Fprintf(tw, "%s\t%s\t%.3g\t%.3g\t%s\n", n, dims(ta.Shape), maxAbs, rel, dims(unravel(at, ta.Shape)))
				if tol >= 0 && !(maxAbs <= tol) {
					failed = true
				}
				if n == "hidden_states" && len(ta.Shape) > 1 && len(va) > 0 {
					// layer by layer: [0] is the embeddings, [l] the output of layer l
					per := len(va) / ta.Shape[0]
					for l := range ta.Shape[0] {
						maxAbs, rel, at := diffStats(va[l*per:(l+1)*per], vb[l*per:(l+1)*per])
						fmt.Fprintf(tw, "%s[%d]\t%s\t%.3g\t%.3g\t%s\n", n, l, dims(ta.Shape[1:]), maxAbs, rel, dims(unravel(at, ta.Shape[1:])))
					}
				}
				continue
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%v\t\t\n", n, dims(ta.Shape), err)
		failed = true
	}
	tw.Flush()
	if tol >= 0 && failed {
		fmt.Fprintf(e.stderr, "rerank inspect: differences above --tol %g\n", tol)
		return exitFailure
	}
	return exitOK
}

// diffStats returns the max absolute difference of a and b (NaN wins), where it is, and
// its ratio to max |b|.
func diffStats(a, b []float64) (maxAbs, rel float64, at int) {
	maxB := 0.0
	for i := range a {
		d := math.Abs(a[i] - b[i])
		if d > maxAbs || math.IsNaN(d) && !math.IsNaN(maxAbs) {
			maxAbs, at = d, i
		}
		maxB = math.Max(maxB, math.Abs(b[i]))
	}
	if maxB > 0 {
		rel = maxAbs / maxB
	}
	return maxAbs, rel, at
}

// values widens any numeric tensor the inspect files use to float64.
func values(t *weights.Tensor) ([]float64, error) {
	switch t.DType {
	case weights.I64, weights.I32:
		v, err := t.Int64()
		if err != nil {
			return nil, err
		}
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = float64(x)
		}
		return out, nil
	}
	v, err := t.Float64()
	if err != nil {
		return nil, errors.New("unsupported dtype " + string(t.DType))
	}
	return v, nil
}

// unravel turns a flat index into coordinates.
func unravel(i int, shape []int) []int {
	at := make([]int, len(shape))
	for d := len(shape) - 1; d >= 0; d-- {
		if shape[d] > 0 {
			at[d] = i % shape[d]
			i /= shape[d]
		}
	}
	return at
}

// dims formats a shape or coordinate without spaces: [4,16,32].
func dims(d []int) string {
	s := make([]string, len(d))
	for i, v := range d {
		s[i] = strconv.Itoa(v)
	}
	return "[" + strings.Join(s, ",") + "]"
}
