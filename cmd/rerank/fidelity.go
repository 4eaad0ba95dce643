package main

import (
	"cmp"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gorerank/gorerank"
	"github.com/gorerank/gorerank/internal/ragwork"
	"github.com/gorerank/gorerank/nn"
	"github.com/gorerank/gorerank/tokenizer"
	"github.com/gorerank/gorerank/xlmr"
)

const fidelityUsage = `usage: rerank fidelity --model DIR [--tokenizer FILE] [--dtypes int8,bf16c] [--sets 100] [--docs 20]
                       [--queries 100] [--corpus 200] [--outliers N [--outlier-scale 20]] [--ablate] [--seed 1]

Measures how far reduced precisions move the scores and the rankings from float32 (our float32
forward is within ~1e-6 of float64 on the goldens: it is the reference).

A reranker is scored on the bench rag workload (one query, 50 documents of 32–480 tokens) and
--sets random sets of one query and --docs documents (pseudo-English from the rag vocabulary,
8–160 words each), all truncated to 512 tokens. For each precision of --dtypes it prints,
separately for rag and the random sets:
  sd(f32)             spread of the float32 logits within a set (mean over sets): the scale
                      on which the differences below move rankings
  max |Δ|, mean |Δ|   logit difference against float32 over all pairs
  spearman            Spearman rank correlation of a set's scores with float32's (mean; min)
  top5                mean overlap of the top 5 documents with float32's top 5 (of 5)
  top1                share of sets whose best document is float32's best

An embedder (bge-m3) embeds a synthetic retrieval set: --queries queries of 4–16 words and a
corpus of --corpus documents of 32–256 tokens (the same vocabulary), with every output the
model has (dense, sparse, colbert), and scores every query against every document
(xlmr.Score: dense dot, lexical, ColBERT MaxSim, and combined = 0.4 dense + 0.2 sparse + 0.4
colbert over the outputs present). Per precision and output it prints:
  vectors             texts (dense; sparse: those with a weight > 0 at either precision) or
                      token vectors (colbert) compared
  cos, min            cosine to the float32 vector (sparse: of the weight maps), mean and min
  sd(f32)             spread of a query's float32 scores over the corpus (mean over queries)
  max |Δ|, mean |Δ|   score difference against float32 over all query × document pairs
  spearman, min       Spearman correlation of a query's ranking of the corpus with float32's
  top10≠              share of queries whose top-10 set differs from float32's
  @10                 mean overlap of the top 10 with float32's top 10 (of 10)

--outliers N multiplies N hidden dimensions (chosen by --seed) of every LayerNorm's weight and
bias by --outlier-scale, in every model compared: random weights have no outlier features,
trained transformers do, and per-token activation quantization shares one scale per row.
--ablate adds rows DTYPE-KIND: the same precision with every linear layer of one kind (qkv,
attn.out, ffn.up, ffn.down) in float32, which shows where the difference comes from.

Examples (full-size random models; int8 quantized at load from the F32 checkpoint):
  rerank fidelity --model .bench/random-m3 --dtypes int8,bf16c --sets 100 --docs 20
  rerank fidelity --model .bench/random-m3 --dtypes int8,bf16c --sets 100 --docs 20 --outliers 4 --ablate
  rerank fidelity --model .bench/random-bge-m3 --dtypes int8,bf16,f16 --queries 100 --corpus 200

Flags:
`

type fidelityOptions struct {
	model, tokenizer, weights, dtypes string
	sets, docs, outliers              int
	queries, corpus                   int
	outlierScale                      float64
	seed                              uint64
	ablate                            bool
	unk                               int32 // the tokenizer's <unk> id, for an embedder's sparse head
}

func runFidelity(e *env, args []string) int {
	fs := flag.NewFlagSet("fidelity", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(e.stderr, fidelityUsage)
		fs.PrintDefaults()
	}
	var o fidelityOptions
	fs.StringVar(&o.model, "model", "", "model folder (required)")
	fs.StringVar(&o.tokenizer, "tokenizer", "", "tokenizer.json (default DIR/tokenizer.json)")
	fs.StringVar(&o.weights, "weights", "", "weights file inside or outside the model folder (default: the folder's)")
	fs.StringVar(&o.dtypes, "dtypes", "int8,bf16c", "comma-separated precisions to compare with f32")
	fs.IntVar(&o.sets, "sets", 100, "random query/document sets besides the rag workload")
	fs.IntVar(&o.docs, "docs", 20, "documents per random set")
	fs.IntVar(&o.queries, "queries", 100, "queries of an embedder's retrieval set")
	fs.IntVar(&o.corpus, "corpus", 200, "documents of an embedder's retrieval set")
	fs.IntVar(&o.outliers, "outliers", 0, "hidden dimensions to turn into outlier channels")
	fs.Float64Var(&o.outlierScale, "outlier-scale", 20, "factor of the outlier channels")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the texts and of the outlier dimensions")
	fs.BoolVar(&o.ablate, "ablate", false, "also run each precision with one kind of linear layer (qkv, attn.out, ffn.up, ffn.down) in float32")
	if code, done := parseFlags(fs, e, args); done {
		return code
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(e.stderr, "rerank fidelity: "+format+"\n", a...)
		return exitUsage
	}
	switch {
	case fs.NArg() > 0:
		return usageErr("unexpected argument %q", fs.Arg(0))
	case o.model == "":
		return usageErr("--model is required (see --help)")
	case o.sets < 0 || o.docs < 2 || o.docs > 1000 || o.sets > 100000:
		return usageErr("--sets must be ≥ 0 and --docs in [2,1000]")
	case o.queries < 1 || o.queries > 100000 || o.corpus < 2 || o.corpus > 100000:
		return usageErr("--queries must be in [1,100000] and --corpus in [2,100000]")
	case o.outliers < 0 || !(o.outlierScale > 0 && o.outlierScale < 1e6):
		return usageErr("--outliers must be ≥ 0 and --outlier-scale in (0,1e6)")
	}
	var precs []nn.Precision
	var names []string
	for _, s := range strings.Split(o.dtypes, ",") {
		d, err := gorerank.ParseDType(s)
		if err != nil {
			return usageErr("--dtypes: %v", err)
		}
		p, err := d.Precision()
		if err != nil {
			return usageErr("--dtypes: %v", err)
		}
		precs, names = append(precs, p), append(names, strings.TrimSpace(s))
	}
	if err := fidelity(e.stdout, &o, precs, names); err != nil {
		fmt.Fprintf(e.stderr, "rerank fidelity: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// fidelitySets tokenizes the rag workload (set 0) and the random sets.
func fidelitySets(tok *tokenizer.Tokenizer, o *fidelityOptions, maxTokens int) ([][][]int32, error) {
	opts := tokenizer.Options{MaxLength: min(512, maxTokens), Strategy: tokenizer.LongestFirst}
	encode := func(q string, docs []string) ([][]int32, error) {
		seqs := make([][]int32, len(docs))
		for i, d := range docs {
			enc, err := tok.EncodePair(q, d, opts)
			if err != nil {
				return nil, err
			}
			seqs[i] = enc.IDs
		}
		return seqs, nil
	}
	rag, err := ragwork.Documents(tok, o.seed)
	if err != nil {
		return nil, err
	}
	first, err := encode(ragwork.Query, rag)
	if err != nil {
		return nil, err
	}
	sets := [][][]int32{first}
	rng := rand.New(rand.NewPCG(o.seed, 0xf1de))
	words := func(n int) string {
		w := make([]string, n)
		for i := range w {
			w[i] = ragwork.Vocabulary[rng.IntN(len(ragwork.Vocabulary))]
		}
		return strings.Join(w, " ")
	}
	for range o.sets {
		q := words(4 + rng.IntN(13))
		docs := make([]string, o.docs)
		for i := range docs {
			docs[i] = words(8 + rng.IntN(153))
		}
		s, err := encode(q, docs)
		if err != nil {
			return nil, err
		}
		sets = append(sets, s)
	}
	return sets, nil
}

// loadFidelityModel loads the model at precision p, with the outlier channels injected.
func loadFidelityModel(o *fidelityOptions, p nn.Precision) (*xlmr.Model, error) {
	m, err := xlmr.Load(o.model, xlmr.LoadOptions{WeightsFile: o.weights, Precision: p, UnkTokenID: o.unk})
	if err != nil {
		return nil, err
	}
	injectOutliers(m, o)
	return m, nil
}

// linearGroups are the kinds of encoder linear layers --ablate restores to float32, one kind
// at a time, to show which of them the error comes from.
var linearGroups = []struct {
	name string
	get  func(y *xlmr.Layer) []**nn.Linear
}{
	{"qkv", func(y *xlmr.Layer) []**nn.Linear {
		return []**nn.Linear{&y.Attention.Self.Query, &y.Attention.Self.Key, &y.Attention.Self.Value}
	}},
	{"attn.out", func(y *xlmr.Layer) []**nn.Linear { return []**nn.Linear{&y.Attention.Output.Dense} }},
	{"ffn.up", func(y *xlmr.Layer) []**nn.Linear { return []**nn.Linear{&y.Intermediate.Dense} }},
	{"ffn.down", func(y *xlmr.Layer) []**nn.Linear { return []**nn.Linear{&y.Output.Dense} }},
}

// swapLinears exchanges the linear layers of group g between models a and b (same config).
func swapLinears(a, b *xlmr.Model, g int) {
	for i := range a.Layers {
		pa, pb := linearGroups[g].get(&a.Layers[i]), linearGroups[g].get(&b.Layers[i])
		for j := range pa {
			*pa[j], *pb[j] = *pb[j], *pa[j]
		}
	}
}

// scoreSets returns m's logits (first label) of every set.
func scoreSets(m *xlmr.Model, sets [][][]int32) ([][]float32, error) {
	nl := max(1, m.Config.NumLabels)
	sc := m.NewScratch()
	out := make([][]float32, len(sets))
	for i, seqs := range sets {
		logits := make([]float32, len(seqs)*nl)
		for lo := 0; lo < len(seqs); lo += 16 {
			hi := min(lo+16, len(seqs))
			if err := m.Forward(sc, seqs[lo:hi], logits[lo*nl:hi*nl], nil); err != nil {
				return nil, err
			}
		}
		out[i] = make([]float32, len(seqs))
		for j := range seqs {
			out[i][j] = logits[j*nl]
		}
	}
	return out, nil
}

// injectOutliers scales o.outliers hidden dimensions of every LayerNorm (weight and bias) by
// o.outlierScale, on copies: the model's own slices may be the read-only memory map.
func injectOutliers(m *xlmr.Model, o *fidelityOptions) {
	if o.outliers == 0 {
		return
	}
	H := m.Config.HiddenSize
	dims := rand.New(rand.NewPCG(o.seed, 0x0071)).Perm(H)[:min(o.outliers, H)]
	scale := func(n *xlmr.Norm) {
		w, b := slices.Clone(n.Weight), slices.Clone(n.Bias)
		for _, d := range dims {
			w[d] *= float32(o.outlierScale)
			b[d] *= float32(o.outlierScale)
		}
		n.Weight, n.Bias = w, b
	}
	scale(&m.Embeddings.LayerNorm)
	for i := range m.Layers {
		scale(&m.Layers[i].Attention.Output.LayerNorm)
		scale(&m.Layers[i].Output.LayerNorm)
	}
}

// fidelityStats compares scores with the reference over a group of sets (a reranker's
// query/document sets, or an embedder's queries each ranking the corpus).
type fidelityStats struct {
	k              int // the top-k compared (5 when 0)
	pairs, sets    int
	maxAbs, sumAbs float64
	sumRho, minRho float64
	sumTopK, top1  float64
	topChanged     int     // sets whose top-k set differs from the reference's
	sumSD          float64 // standard deviations of the reference scores, one per set
}

func (s *fidelityStats) add(ref, got []float32) {
	for i := range ref {
		d := math.Abs(float64(got[i]) - float64(ref[i]))
		if d != d {
			d = math.Inf(1)
		}
		s.maxAbs = max(s.maxAbs, d)
		s.sumAbs += d
	}
	var mean, ss float64
	for _, v := range ref {
		mean += float64(v) / float64(len(ref))
	}
	for _, v := range ref {
		ss += (float64(v) - mean) * (float64(v) - mean)
	}
	s.sumSD += math.Sqrt(ss / float64(len(ref)))
	rho := spearman(ref, got)
	if s.sets == 0 || rho < s.minRho {
		s.minRho = rho
	}
	s.pairs += len(ref)
	s.sets++
	s.sumRho += rho
	k := cmp.Or(s.k, 5)
	tr, tg := topK(ref, k), topK(got, k)
	same := 0
	for _, i := range tg {
		if slices.Contains(tr, i) {
			same++
		}
	}
	s.sumTopK += float64(same)
	if same < len(tr) {
		s.topChanged++
	}
	if tr[0] == tg[0] {
		s.top1++
	}
}

func (s *fidelityStats) print(w io.Writer, name, group string) {
	n := float64(max(s.sets, 1))
	fmt.Fprintf(w, "%-14s %-7s %6d %10.3g %10.3g %10.3g %8.5f %8.5f %6.2f %6.3f\n", name, group, s.pairs,
		s.sumSD/n, s.maxAbs, s.sumAbs/float64(max(s.pairs, 1)), s.sumRho/n, s.minRho, s.sumTopK/n, s.top1/n)
}

// topK returns the indices of the k largest values, largest first (k ≤ len(v)).
func topK(v []float32, k int) []int {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmpDesc(v[a], v[b]) })
	return idx[:min(k, len(v))]
}

func cmpDesc(a, b float32) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}

// spearman is the rank correlation of a and b (average ranks for ties); 1 for constant input.
func spearman(a, b []float32) float64 {
	ra, rb := ranks(a), ranks(b)
	n := float64(len(a))
	mean := (n + 1) / 2
	var sab, saa, sbb float64
	for i := range ra {
		x, y := ra[i]-mean, rb[i]-mean
		sab, saa, sbb = sab+x*y, saa+x*x, sbb+y*y
	}
	if saa == 0 || sbb == 0 {
		return 1
	}
	return sab / math.Sqrt(saa*sbb)
}

func ranks(v []float32) []float64 {
	idx := topK(v, len(v))
	r := make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && v[idx[j+1]] == v[idx[i]] {
			j++
		}
		for k := i; k <= j; k++ {
			r[idx[k]] = float64(i+j)/2 + 1
		}
		i = j + 1
	}
	return r
}

// fidelityReport compares model m (loaded at one precision, or ablated) with the float32
// reference and prints its rows under the name given.
type fidelityReport func(m *xlmr.Model, name string) error

func fidelity(w io.Writer, o *fidelityOptions, precs []nn.Precision, names []string) error {
	path := o.tokenizer
	if path == "" {
		path = filepath.Join(o.model, "tokenizer.json")
	}
	tok, err := tokenizer.Load(path)
	if err != nil {
		return fmt.Errorf("fidelity needs a tokenizer: %w", err)
	}
	if unk, ok := tok.UnkID(); ok {
		o.unk = unk
	}
	refModel, err := loadFidelityModel(o, nn.F32)
	if err != nil {
		return err
	}
	defer refModel.Close()
	var report fidelityReport
	if refModel.Kind == xlmr.Embedder {
		report, err = embedFidelity(w, o, tok, refModel)
	} else {
		report, err = rerankFidelity(w, o, tok, refModel)
	}
	if err != nil {
		return err
	}
	for pi, p := range precs {
		m, err := loadFidelityModel(o, p)
		if err != nil {
			return fmt.Errorf("%s: %w", names[pi], err)
		}
		err = report(m, names[pi])
		for g := 0; err == nil && o.ablate && p != nn.F32 && g < len(linearGroups); g++ {
			swapLinears(m, refModel, g) // group g in float32
			err = report(m, names[pi]+"-"+linearGroups[g].name)
			swapLinears(m, refModel, g)
		}
		m.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// rerankFidelity scores the rag workload and the random sets with the reference, prints the
// header and returns the report of a reranker.
func rerankFidelity(w io.Writer, o *fidelityOptions, tok *tokenizer.Tokenizer, refModel *xlmr.Model) (fidelityReport, error) {
	sets, err := fidelitySets(tok, o, refModel.MaxTokens())
	if err != nil {
		return nil, err
	}
	ref, err := scoreSets(refModel, sets)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "model %s  reference f32  outliers %d (×%g)  rag: 1 set of %d  random: %d sets of %d\n",
		o.model, o.outliers, o.outlierScale, len(sets[0]), o.sets, o.docs)
	fmt.Fprintf(w, "%-14s %-7s %6s %10s %10s %10s %8s %8s %6s %6s\n", "dtype", "inputs", "pairs", "sd(f32)", "max|Δ|", "mean|Δ|", "spearman", "min", "top5", "top1")
	return func(m *xlmr.Model, name string) error {
		got, err := scoreSets(m, sets)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		var rag, random fidelityStats
		rag.add(ref[0], got[0])
		for i := 1; i < len(sets); i++ {
			random.add(ref[i], got[i])
		}
		rag.print(w, name, "rag")
		if o.sets > 0 {
			random.print(w, name, "random")
		}
		return nil
	}, nil
}

// retrievalSet tokenizes an embedder's synthetic retrieval set: o.queries queries of 4–16
// words and o.corpus documents of 32–256 tokens (special tokens included; cut to maxTokens),
// words drawn from the rag vocabulary with o.seed.
func retrievalSet(tok *tokenizer.Tokenizer, o *fidelityOptions, maxTokens int) (queries, docs [][]int32, err error) {
	rng := rand.New(rand.NewPCG(o.seed, 0x3e7b))
	words := func(n int) string {
		w := make([]string, n)
		for i := range w {
			w[i] = ragwork.Vocabulary[rng.IntN(len(ragwork.Vocabulary))]
		}
		return strings.Join(w, " ")
	}
	encode := func(text string, limit int) ([]int32, error) {
		enc, err := tok.Encode(text, tokenizer.Options{MaxLength: min(limit, maxTokens)})
		if err != nil {
			return nil, err
		}
		return enc.IDs, nil
	}
	for range o.queries {
		ids, err := encode(words(4+rng.IntN(13)), maxTokens)
		if err != nil {
			return nil, nil, err
		}
		queries = append(queries, ids)
	}
	for range o.corpus {
		n := 32 + rng.IntN(225) // every word is at least one token: n words are cut to n tokens
		ids, err := encode(words(n), n)
		if err != nil {
			return nil, nil, err
		}
		docs = append(docs, ids)
	}
	return queries, docs, nil
}

// embedTexts computes the outputs want of every sequence with m, in batches of at most 2048
// tokens.
func embedTexts(m *xlmr.Model, seqs [][]int32, want xlmr.Outputs) ([]xlmr.Embedding, error) {
	sc := m.NewScratch()
	out := make([]xlmr.Embedding, len(seqs))
	for lo := 0; lo < len(seqs); {
		hi, n := lo, 0
		for hi < len(seqs) && (hi == lo || n+len(seqs[hi]) <= 2048) {
			n += len(seqs[hi])
			hi++
		}
		if err := m.Embed(sc, seqs[lo:hi], want, out[lo:hi], nil); err != nil {
			return nil, err
		}
		lo = hi
	}
	return out, nil
}

// scoreRetrieval scores every query against every document (xlmr.Score with the default
// weights): [query][document], the queries spread over GOMAXPROCS goroutines.
func scoreRetrieval(q, d []xlmr.Embedding) [][]xlmr.Scores {
	out := make([][]xlmr.Scores, len(q))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(q); i = int(next.Add(1) - 1) {
				row := make([]xlmr.Scores, len(d))
				for j := range d {
					row[j] = xlmr.Score(&q[i], &d[j], xlmr.DefaultWeights())
				}
				out[i] = row
			}
		})
	}
	wg.Wait()
	return out
}

// embedOutputs are the rows of an embedder's report: each output's score, and how its
// vectors compare (nil for the combined score, which has none).
var embedOutputs = []struct {
	name  string
	bit   xlmr.Outputs // the output the row needs; 0: the combined score, shown with two or more
	score func(s *xlmr.Scores) float32
	cos   func(c *cosineStats, a, b *xlmr.Embedding)
}{
	{"dense", xlmr.OutputDense, func(s *xlmr.Scores) float32 { return s.Dense },
		func(c *cosineStats, a, b *xlmr.Embedding) { c.add(cosine(a.Dense, b.Dense)) }},
	{"sparse", xlmr.OutputSparse, func(s *xlmr.Scores) float32 { return s.Sparse },
		func(c *cosineStats, a, b *xlmr.Embedding) {
			if len(a.Sparse) > 0 || len(b.Sparse) > 0 { // two empty maps agree, and say nothing
				c.add(sparseCosine(a.Sparse, b.Sparse))
			}
		}},
	{"colbert", xlmr.OutputColBERT, func(s *xlmr.Scores) float32 { return s.ColBERT },
		func(c *cosineStats, a, b *xlmr.Embedding) {
			for r := range a.ColBERT {
				c.add(cosine(a.ColBERT[r], b.ColBERT[r]))
			}
		}},
	{"combined", 0, func(s *xlmr.Scores) float32 { return s.Combined }, nil},
}

// cosineStats gathers cosines: how many, their sum and their minimum (a NaN counts as −Inf).
type cosineStats struct {
	n        int
	sum, min float64
}

func (c *cosineStats) add(v float64) {
	if v != v {
		v = math.Inf(-1)
	}
	if c.n == 0 || v < c.min {
		c.min = v
	}
	c.n++
	c.sum += v
}

// cosine is a·b / (‖a‖‖b‖) in float64; 1 when both are zero, 0 when one is.
func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i, x := range a {
		y := float64(b[i])
		ab, aa, bb = ab+float64(x)*y, aa+float64(x)*float64(x), bb+y*y
	}
	return cosineOf(ab, aa, bb)
}

// sparseCosine is the cosine of two lexical weight maps as vectors over the token ids.
func sparseCosine(a, b map[int32]float32) float64 {
	var ab, aa, bb float64
	for id, x := range a {
		aa += float64(x) * float64(x)
		ab += float64(x) * float64(b[id])
	}
	for _, y := range b {
		bb += float64(y) * float64(y)
	}
	return cosineOf(ab, aa, bb)
}

func cosineOf(ab, aa, bb float64) float64 {
	switch {
	case aa == 0 && bb == 0:
		return 1
	case aa == 0 || bb == 0:
		return 0
	}
	return ab / math.Sqrt(aa*bb)
}

// embedFidelity embeds the retrieval set with the reference, prints the header and returns
// the report of an embedder.
func embedFidelity(w io.Writer, o *fidelityOptions, tok *tokenizer.Tokenizer, refModel *xlmr.Model) (fidelityReport, error) {
	queries, docs, err := retrievalSet(tok, o, refModel.MaxTokens())
	if err != nil {
		return nil, err
	}
	want := refModel.Heads()
	embed := func(m *xlmr.Model) (q, d []xlmr.Embedding, scores [][]xlmr.Scores, err error) {
		if q, err = embedTexts(m, queries, want); err != nil {
			return nil, nil, nil, err
		}
		if d, err = embedTexts(m, docs, want); err != nil {
			return nil, nil, nil, err
		}
		return q, d, scoreRetrieval(q, d), nil
	}
	refQ, refD, refScores, err := embed(refModel)
	if err != nil {
		return nil, err
	}
	tokens := func(seqs [][]int32) (n int) {
		for _, s := range seqs {
			n += len(s)
		}
		return n
	}
	k := min(10, len(docs))
	fmt.Fprintf(w, "model %s  reference f32  outliers %d (×%g)  outputs %s  retrieval: %d queries (%d tokens) × %d documents (%d tokens)\n",
		o.model, o.outliers, o.outlierScale, want, len(queries), tokens(queries), len(docs), tokens(docs))
	fmt.Fprintf(w, "%-14s %-8s %7s %10s %10s %7s %9s %9s %9s %8s %8s %6s %5s\n", "dtype", "output", "vectors", "cos", "min",
		"pairs", "sd(f32)", "max|Δ|", "mean|Δ|", "spearman", "min", fmt.Sprintf("top%d≠", k), fmt.Sprintf("@%d", k))
	refs, score := make([]float32, len(docs)), make([]float32, len(docs))
	return func(m *xlmr.Model, name string) error {
		q, d, scores, err := embed(m)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		for _, out := range embedOutputs {
			if out.bit&want != out.bit || out.bit == 0 && want&(want-1) == 0 {
				continue // an output the model lacks; combined with a single output
			}
			var c cosineStats
			if out.cos != nil {
				for i := range q {
					out.cos(&c, &refQ[i], &q[i])
				}
				for i := range d {
					out.cos(&c, &refD[i], &d[i])
				}
			}
			st := fidelityStats{k: k}
			for i := range q {
				for j := range d {
					refs[j], score[j] = out.score(&refScores[i][j]), out.score(&scores[i][j])
				}
				st.add(refs, score)
			}
			vectors, cos, cmin := "-", "-", "-"
			if c.n > 0 {
				vectors, cos, cmin = strconv.Itoa(c.n), fmt.Sprintf("%.7f", c.sum/float64(c.n)), fmt.Sprintf("%.7f", c.min)
			}
			n := float64(st.sets)
			fmt.Fprintf(w, "%-14s %-8s %7s %10s %10s %7d %9.3g %9.3g %9.3g %8.5f %8.5f %6.3f %5.2f\n", name, out.name, vectors, cos, cmin,
				st.pairs, st.sumSD/n, st.maxAbs, st.sumAbs/float64(st.pairs), st.sumRho/n, st.minRho, float64(st.topChanged)/n, st.sumTopK/n)
		}
		return nil
	}, nil
}
