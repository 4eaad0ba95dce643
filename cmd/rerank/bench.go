package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/gorerank/gorerank"
	"github.com/gorerank/gorerank/internal/ragwork"
	"github.com/gorerank/gorerank/tensor"
	"github.com/gorerank/gorerank/xlmr"
)

const benchUsage = `usage: rerank bench --model DIR [--batch B --seq S | --workload rag|long] [--output O] [flags]

Benchmarks the real forward pass of the model in DIR (config.json + safetensors; make a
full-size random one with 'rerank gen-random', --kind embedder for bge-m3). A reranker runs
Forward (pairs/s), an embedder Embed with the outputs of --output (texts/s).

Workloads:
  synthetic (default)  B sequences of S tokens each: <s> random ids </s>, no padding.
  long                 synthetic with one sequence of --seq tokens (default: the model's
                       limit, at most 8192): the time of one long text and the peak RSS.
                       One call can take a minute at full size: use --rounds 1.
  rag                  one query of ~16 tokens against 50 documents, tokenized for real
                       (DIR/tokenizer.json or --tokenizer), longest_first at 512 tokens.
                       Document lengths (tokens, without specials) are a fixed mix:
                       5×32, 5×64, 10×128, 10×192, 10×256, 5×384, 5×480 (mean 211),
                       in a fixed shuffled order; the text is seeded pseudo-English.
                       Each call tokenizes the 50 pairs and scores them in batches of
                       --batch (default: all 50 in one Forward). Rerankers only.

Each round repeats calls for at least --min-time and yields one pairs/s (texts/s) figure;
the report gives the median over --rounds and the spread (min..max). GFLOP/s counts the
multiply-adds of every linear layer and of attention (QKᵀ and P·V) that the engine performs,
2 FLOPs each (when only token 0 is read, as by the classifier or the dense output, the last
layer runs for token 0 only, but for its keys and values). The GEMM peak is
the best of five 200 ms windows of tensor.MatMulNT (all threads) on a 1024×1024×4096 shape.
Peak RSS includes the memory-mapped weights that were touched.

Example:
  rerank bench --model .bench/random-m3 --batch 8 --seq 128 --rounds 5 --threads 2
  rerank bench --model .bench/random-m3 --workload rag --json
  rerank bench --model .bench/random-m3 --workload rag --pairs-out rag.jsonl   # its texts, for other engines
  rerank bench --model .bench/random-bge-m3 --batch 8 --seq 128 --output all
  rerank bench --model .bench/random-bge-m3 --workload long --rounds 1 --no-peak

Flags:
`

// benchOptions are the parsed flags of rerank bench.
type benchOptions struct {
	mf                          modelFlags
	workload                    string
	cpuProfile                  string
	batch, seq, rounds, threads int
	minTime                     time.Duration
	seed                        uint64
	json, noPeak                bool
	peakM, peakN, peakK         int
	pairsOut                    string
	output                      string // embedders: gorerank.ParseOutputs names
}

func runBench(e *env, args []string) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(e.stderr, benchUsage)
		fs.PrintDefaults()
	}
	var o benchOptions
	o.mf.registerModel(fs)
	fs.StringVar(&o.workload, "workload", "synthetic", "synthetic, long or rag")
	fs.IntVar(&o.batch, "batch", 0, "sequences per Forward call (default 8; rag: 50)")
	fs.IntVar(&o.seq, "seq", 0, "tokens per sequence, specials included (synthetic: default 128; long: the model's limit, at most 8192)")
	fs.IntVar(&o.rounds, "rounds", 3, "timed rounds (after one warm-up call)")
	fs.IntVar(&o.threads, "threads", runtime.GOMAXPROCS(0), "threads (GOMAXPROCS) for the forward pass and the GEMM peak")
	fs.DurationVar(&o.minTime, "min-time", time.Second, "minimum duration of one round")
	fs.Uint64Var(&o.seed, "seed", 1, "seed for the synthetic ids and the rag texts")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a Go CPU profile of the timed rounds to this file (go tool pprof)")
	fs.BoolVar(&o.json, "json", false, "print one JSON object instead of the table")
	fs.BoolVar(&o.noPeak, "no-peak", false, "skip the GEMM peak measurement")
	fs.IntVar(&o.peakM, "peak-m", 1024, "GEMM peak shape: rows")
	fs.IntVar(&o.peakN, "peak-n", 1024, "GEMM peak shape: output columns")
	fs.IntVar(&o.peakK, "peak-k", 4096, "GEMM peak shape: inner dimension")
	fs.StringVar(&o.output, "output", "dense", "embedders: the outputs Embed computes: dense, sparse, colbert or all (or a list: dense,sparse)")
	fs.StringVar(&o.pairsOut, "pairs-out", "", "write the workload's (query, document) texts to this `FILE` as JSON Lines and exit, to give other engines the same input (synthetic: B pairs of exactly S tokens)")
	if code, done := parseFlags(fs, e, args); done {
		return code
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(e.stderr, "rerank bench: "+format+"\n", a...)
		return exitUsage
	}
	switch {
	case fs.NArg() > 0:
		return usageErr("unexpected argument %q", fs.Arg(0))
	case o.mf.model == "":
		return usageErr("--model is required (see --help)")
	case o.workload != "synthetic" && o.workload != "rag" && o.workload != "long":
		return usageErr("--workload must be synthetic, long or rag, not %q", o.workload)
	case o.batch < 0 || o.rounds < 1 || o.threads < 1 || o.minTime < 0:
		return usageErr("--batch, --rounds and --threads must be positive")
	case o.peakM < 1 || o.peakN < 1 || o.peakK < 1:
		return usageErr("--peak-m, --peak-n and --peak-k must be positive")
	case o.workload != "rag" && o.seq != 0 && o.seq < 2:
		return usageErr("--seq must be at least 2 (<s> and </s>)")
	case o.workload == "long" && o.batch > 1:
		return usageErr("--workload long is one sequence: --batch must be 1 or unset")
	}
	if _, err := gorerank.ParseOutputs(o.output); err != nil {
		return usageErr("--output: %v", err)
	}
	lo, err := o.mf.options(e.stderr)
	if err != nil {
		return usageErr("%v", err)
	}
	lo.NoTokenizer = o.workload != "rag" && o.pairsOut == ""
	switch {
	case o.workload == "long":
		o.batch = 1
	case o.batch == 0 && o.workload == "rag":
		o.batch = ragwork.Docs
	case o.batch == 0:
		o.batch = 8
	}
	if o.seq == 0 && o.workload == "synthetic" {
		o.seq = 128
	}
	if o.pairsOut != "" {
		if o.workload == "long" {
			return usageErr("--pairs-out writes the synthetic or rag workload's pairs")
		}
		if err := writePairs(&o, lo); err != nil {
			fmt.Fprintf(e.stderr, "rerank bench: %v\n", err)
			return exitFailure
		}
		return exitOK
	}
	r, err := bench(&o, lo)
	if err != nil {
		fmt.Fprintf(e.stderr, "rerank bench: %v\n", err)
		return exitFailure
	}
	if o.json {
		enc := json.NewEncoder(e.stdout)
		if err := enc.Encode(r); err != nil {
			fmt.Fprintf(e.stderr, "rerank bench: %v\n", err)
			return exitFailure
		}
	} else {
		r.print(e.stdout)
	}
	return exitOK
}

// benchResult is what one bench run reports; the JSON names are stable for scripts. A
// reranker's rates are pairs (pairs_*), an embedder's texts (texts_*); the other set is absent.
type benchResult struct {
	Workload       string             `json:"workload"`
	Model          string             `json:"model"`
	Kind           string             `json:"kind"`              // reranker or embedder
	Outputs        string             `json:"outputs,omitempty"` // embedder: what Embed computed (dense+sparse+colbert)
	DType          string             `json:"dtype"`
	CheckpointType string             `json:"checkpoint_dtype"`
	Batch          int                `json:"batch"`
	Seq            int                `json:"seq,omitempty"`
	Pairs          int                `json:"pairs_per_call,omitempty"`
	Texts          int                `json:"texts_per_call,omitempty"`
	TokensPerCall  int                `json:"tokens_per_call"`
	Threads        int                `json:"threads"`
	Rounds         int                `json:"rounds"`
	PairsPerS      float64            `json:"pairs_per_s,omitempty"`
	PairsPerSMin   float64            `json:"pairs_per_s_min,omitempty"`
	PairsPerSMax   float64            `json:"pairs_per_s_max,omitempty"`
	PairsPerSAll   []float64          `json:"pairs_per_s_all,omitempty"`
	TextsPerS      float64            `json:"texts_per_s,omitempty"`
	TextsPerSMin   float64            `json:"texts_per_s_min,omitempty"`
	TextsPerSMax   float64            `json:"texts_per_s_max,omitempty"`
	TextsPerSAll   []float64          `json:"texts_per_s_all,omitempty"`
	SecondsPerCall float64            `json:"seconds_per_call"` // median of rounds
	TokensPerS     float64            `json:"tokens_per_s"`
	GFLOPPerCall   float64            `json:"gflop_per_call"`
	GFLOPS         float64            `json:"gflops"`
	PeakGFLOPS     float64            `json:"gemm_peak_gflops,omitempty"`
	PctOfPeak      float64            `json:"pct_of_peak,omitempty"`
	PeakShape      string             `json:"gemm_peak_shape,omitempty"`
	StageMSPerCall map[string]float64 `json:"stage_ms_per_call"`
	PeakRSSBytes   int64              `json:"peak_rss_bytes"`
	GoVersion      string             `json:"go_version"`
	GOARCH         string             `json:"goarch"`
	CPUTier        string             `json:"cpu_tier"`    // tensor.Tier().Name
	CPUKernels     string             `json:"cpu_kernels"` // tensor.Tier().String()
	NumCPU         int                `json:"num_cpu"`
}

// benchCall is one timed unit of work: it returns the tokenize time and fills timings.
type benchCall func(t *xlmr.Timings) (tokenize time.Duration, err error)

// benchForward runs the model on a batch: Forward for a reranker, Embed for an embedder.
// It reuses its output buffers, which hold batches of up to the size it was made for.
type benchForward func(s *xlmr.Scratch, seqs [][]int32) error

// forwardFor returns the model's forward pass for batches of up to batch sequences, and
// the FLOPs it performs on sequences of the given lengths.
func forwardFor(m *xlmr.Model, want xlmr.Outputs, batch int) (benchForward, func([]int) float64, error) {
	if m.Kind != xlmr.Embedder {
		logits := make([]float32, batch*max(1, m.Config.NumLabels))
		return func(s *xlmr.Scratch, seqs [][]int32) error { return m.Forward(s, seqs, logits, nil) },
			func(lens []int) float64 { return forwardFLOPs(&m.Config, lens) }, nil
	}
	if want&^m.Heads() != 0 {
		return nil, nil, fmt.Errorf("--output %s: this embedder has %s (sparse and colbert need their side files)", want, m.Heads())
	}
	out := make([]xlmr.Embedding, batch)
	return func(s *xlmr.Scratch, seqs [][]int32) error { return m.Embed(s, seqs, want, out, nil) },
		func(lens []int) float64 { return embedFLOPs(&m.Config, lens, want) }, nil
}

func bench(o *benchOptions, lo gorerank.Options) (*benchResult, error) {
	// The tensor package sizes its worker pool from GOMAXPROCS on first use, so this must
	// happen before the first GEMM (in a fresh process, as the CLI is).
	prev := runtime.GOMAXPROCS(o.threads)
	defer runtime.GOMAXPROCS(prev)
	l, err := gorerank.LoadModel(context.Background(), o.mf.model, lo)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	m := l.Model
	r := &benchResult{Workload: o.workload, Model: o.mf.model, Kind: m.Kind.String(), DType: lo.DType.String(), CheckpointType: m.Report.DType,
		Batch: o.batch, Threads: o.threads,
		Rounds: o.rounds, GoVersion: runtime.Version(), GOARCH: runtime.GOARCH, NumCPU: runtime.NumCPU(),
		CPUTier: tensor.Tier().Name, CPUKernels: tensor.Tier().String()}
	want, _ := gorerank.ParseOutputs(o.output) // checked by runBench
	if m.Kind == xlmr.Embedder {
		r.Outputs = want.String()
	}
	forward, flops, err := forwardFor(m, want, o.batch)
	if err != nil {
		return nil, err
	}
	var call benchCall
	var lens []int
	switch o.workload {
	case "synthetic", "long":
		if o.seq == 0 { // long
			o.seq = min(m.MaxTokens(), 8192)
		}
		call, lens, err = syntheticWorkload(m, o, forward)
		r.Seq = o.seq
	default:
		if m.Kind == xlmr.Embedder {
			return nil, fmt.Errorf("the rag workload scores query-document pairs: rerankers only (%s is an embedder)", o.mf.model)
		}
		call, lens, err = ragWorkload(l, o, forward)
	}
	if err != nil {
		return nil, err
	}
	for _, l := range lens {
		r.TokensPerCall += l
	}
	r.GFLOPPerCall = flops(lens) / 1e9

	// Warm-up call (grows the scratch, faults in the weights), then the rounds.
	if _, err := call(&xlmr.Timings{}); err != nil {
		return nil, err
	}
	type round struct {
		rate   float64
		stages map[string]float64 // ms per call
	}
	var rounds []round
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
		defer pprof.StopCPUProfile()
	}
	for range o.rounds {
		var tm xlmr.Timings
		var tok time.Duration
		calls := 0
		start := time.Now()
		for calls == 0 || time.Since(start) < o.minTime {
			d, err := call(&tm)
			if err != nil {
				return nil, err
			}
			tok += d
			calls++
		}
		el := time.Since(start)
		ms := func(d time.Duration) float64 { return float64(d) / 1e6 / float64(calls) }
		rounds = append(rounds, round{
			rate: float64(calls*len(lens)) / el.Seconds(),
			stages: map[string]float64{"total": ms(el), "tokenize": ms(tok), "embeddings": ms(tm.Embeddings),
				"attention": ms(tm.Attention), "ffn": ms(tm.FFN), "head": ms(tm.Head),
				"qkv": ms(tm.QKV), "attend": ms(tm.Attend), "attn_out": ms(tm.AttnOut), "attn_norm": ms(tm.AttnNorm),
				"ffn_up": ms(tm.FFNUp), "ffn_down": ms(tm.FFNDown), "ffn_norm": ms(tm.FFNNorm)},
		})
	}
	var all []float64
	for _, x := range rounds {
		all = append(all, x.rate)
	}
	rate := median(all)
	if m.Kind == xlmr.Embedder {
		r.Texts, r.TextsPerS, r.TextsPerSAll = len(lens), rate, all
		r.TextsPerSMin, r.TextsPerSMax = slices.Min(all), slices.Max(all)
	} else {
		r.Pairs, r.PairsPerS, r.PairsPerSAll = len(lens), rate, all
		r.PairsPerSMin, r.PairsPerSMax = slices.Min(all), slices.Max(all)
	}
	r.SecondsPerCall = float64(len(lens)) / rate
	r.TokensPerS = rate * float64(r.TokensPerCall) / float64(len(lens))
	r.GFLOPS = r.GFLOPPerCall * rate / float64(len(lens))
	r.StageMSPerCall = map[string]float64{}
	for k := range rounds[0].stages {
		var v []float64
		for _, x := range rounds {
			v = append(v, x.stages[k])
		}
		r.StageMSPerCall[k] = median(v)
	}
	if o.workload != "rag" {
		delete(r.StageMSPerCall, "tokenize")
	}
	r.PeakRSSBytes = peakRSS() // before the GEMM peak run, whose buffers are not the model's
	if !o.noPeak {
		r.PeakGFLOPS = gemmPeak(o.peakM, o.peakN, o.peakK)
		r.PeakShape = fmt.Sprintf("%dx%dx%d", o.peakM, o.peakN, o.peakK)
		if r.PeakGFLOPS > 0 {
			r.PctOfPeak = 100 * r.GFLOPS / r.PeakGFLOPS
		}
	}
	return r, nil
}

// syntheticWorkload is B sequences of S tokens: <s>, random ids in [5, vocab), </s>.
func syntheticWorkload(m *xlmr.Model, o *benchOptions, forward benchForward) (benchCall, []int, error) {
	if o.seq > m.MaxTokens() {
		return nil, nil, fmt.Errorf("--seq %d exceeds the model's %d positions", o.seq, m.MaxTokens())
	}
	c := &m.Config
	if c.VocabSize <= 5 {
		return nil, nil, fmt.Errorf("vocab_size %d too small for synthetic ids", c.VocabSize)
	}
	rng := rand.New(rand.NewPCG(o.seed, uint64(o.batch*1000+o.seq)))
	seqs := make([][]int32, o.batch)
	lens := make([]int, o.batch)
	for i := range seqs {
		s := make([]int32, o.seq)
		for j := range s {
			s[j] = int32(5 + rng.IntN(c.VocabSize-5))
		}
		s[0], s[len(s)-1] = int32(c.BosTokenID), int32(c.EosTokenID)
		seqs[i], lens[i] = s, o.seq
	}
	sc := m.NewScratch()
	return func(t *xlmr.Timings) (time.Duration, error) {
		sc.Timings = t
		return 0, forward(sc, seqs)
	}, lens, nil
}

// writePairs writes the texts of the workload o describes as JSON Lines {"query", "document"}:
// rag's 50 documents, or for synthetic B documents that make pairs of exactly S tokens.
func writePairs(o *benchOptions, lo gorerank.Options) (err error) {
	l, err := gorerank.LoadModel(context.Background(), o.mf.model, lo)
	if err != nil {
		return err
	}
	defer l.Close()
	if l.Model.Kind == xlmr.Embedder {
		return fmt.Errorf("--pairs-out writes query-document pairs: rerankers only (%s is an embedder)", o.mf.model)
	}
	var docs []string
	if o.workload == "rag" {
		docs, err = ragwork.Documents(l.Tokenizer, o.seed)
	} else {
		docs, err = ragwork.PairDocuments(l.Tokenizer, o.seed, o.batch, o.seq)
	}
	if err != nil {
		return err
	}
	f, err := os.Create(o.pairsOut)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for _, d := range docs {
		if err := enc.Encode(map[string]string{"query": ragwork.Query, "document": d}); err != nil {
			return err
		}
	}
	return w.Flush()
}

// ragWorkload tokenizes one query against 50 documents of the fixed length mix per call,
// through the scoring pipeline (longest_first at 512 tokens).
func ragWorkload(l *gorerank.Loaded, o *benchOptions, forward benchForward) (benchCall, []int, error) {
	m := l.Model
	docs, err := ragwork.Documents(l.Tokenizer, o.seed)
	if err != nil {
		return nil, nil, err
	}
	so := gorerank.ScoreOptions{MaxLength: min(512, m.MaxTokens())}
	// the library's pipeline (gorerank.Score) with the benchmark's forward pass as its seam
	res, err := gorerank.Score(context.Background(), l.Pipeline, ragwork.Query, docs, so, func(context.Context, []gorerank.Input, []float32) error { return nil })
	if err != nil {
		return nil, nil, err
	}
	lens := make([]int, len(docs))
	for i, r := range res {
		lens[i] = r.Tokens
	}
	sc := m.NewScratch()
	seqs := make([][]int32, len(docs))
	return func(t *xlmr.Timings) (time.Duration, error) {
		start := time.Now()
		var tokTime time.Duration
		run := func(_ context.Context, inputs []gorerank.Input, _ []float32) error {
			tokTime = time.Since(start)
			for i, in := range inputs {
				seqs[i] = in.Seqs[0]
			}
			sc.Timings = t
			for lo := 0; lo < len(seqs); lo += o.batch {
				hi := min(lo+o.batch, len(seqs))
				if err := forward(sc, seqs[lo:hi]); err != nil {
					return err
				}
			}
			return nil
		}
		if _, err := gorerank.Score(context.Background(), l.Pipeline, ragwork.Query, docs, so, run); err != nil {
			return 0, err
		}
		return tokTime, nil
	}, lens, nil
}

// forwardFLOPs counts 2 FLOPs per multiply-add of every linear layer and of attention that
// the engine performs for sequences of the given lengths: every layer over all tokens but the
// last, which computes keys and values for all tokens and the rest for token 0 only (all the
// classifier reads), then the classifier on token 0.
func forwardFLOPs(c *xlmr.Config, lens []int) float64 {
	H, labels := float64(c.HiddenSize), float64(max(1, c.NumLabels))
	var f float64
	for _, n := range lens {
		f += encoderFLOPs(c, n, true) + 2*H*H + 2*H*labels
	}
	return f
}

// embedFLOPs is forwardFLOPs for Embed's outputs want: the dense output alone reads token 0
// (the last layer as for the classifier; the normalisation is not counted), sparse and
// ColBERT read every token of the last layer, through a (1,H) and an (H,H) linear layer.
func embedFLOPs(c *xlmr.Config, lens []int, want xlmr.Outputs) float64 {
	H := float64(c.HiddenSize)
	perToken := want&(xlmr.OutputSparse|xlmr.OutputColBERT) != 0
	var f float64
	for _, n := range lens {
		T := float64(n)
		f += encoderFLOPs(c, n, !perToken)
		if want&xlmr.OutputSparse != 0 {
			f += 2 * T * H
		}
		if want&xlmr.OutputColBERT != 0 {
			f += 2 * T * H * H
		}
	}
	return f
}

// encoderFLOPs counts the encoder's FLOPs on one sequence of n tokens: every layer over all
// tokens, or with firstOnly the last layer's keys and values for all tokens and the rest for
// token 0 only.
func encoderFLOPs(c *xlmr.Config, n int, firstOnly bool) float64 {
	H, I, L := float64(c.HiddenSize), float64(c.IntermediateSize), float64(c.NumHiddenLayers)
	T := float64(n)
	layer := 2*T*(4*H*H+2*H*I) + 4*T*T*H // q, k, v, attention output, FFN up and down; QKᵀ and P·V
	if L < 1 {
		return 0
	}
	if !firstOnly {
		return L * layer
	}
	last := 2*T*2*H*H + 2*(2*H*H+2*H*I) + 4*T*H
	return (L-1)*layer + last
}

// gemmPeak measures tensor.MatMulNT GFLOP/s on an (m,k)·(n,k)ᵀ problem (which MatMulNT
// spreads over GOMAXPROCS threads itself): after one warm-up call, the best of five windows
// of at least 200 ms each, so that a neighbour's burst on a shared machine does not pass
// for the peak.
func gemmPeak(m, n, k int) float64 {
	a := make([]float32, m*k)
	b := make([]float32, n*k)
	dst := make([]float32, m*n)
	for i := range a {
		a[i] = float32(i%7) * 0.1
	}
	for i := range b {
		b[i] = float32(i%5) * 0.1
	}
	once := func() { tensor.MatMulNT(dst, a, b, m, n, k) }
	once()
	var best float64
	for range 5 {
		calls, start := 0, time.Now()
		for calls == 0 || time.Since(start) < 200*time.Millisecond {
			once()
			calls++
		}
		best = max(best, 2*float64(m)*float64(n)*float64(k)*float64(calls)/time.Since(start).Seconds()/1e9)
	}
	return best
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// peakRSS is the process's peak resident set in bytes (VmHWM, else getrusage), -1 if unknown.
func peakRSS() int64 {
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				var kb int64
				if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb); err == nil {
					return kb << 10
				}
			}
		}
	}
	return rusageMaxRSS()
}

func (r *benchResult) print(w io.Writer) {
	unit, per, rate, lo, hi := "pairs", r.Pairs, r.PairsPerS, r.PairsPerSMin, r.PairsPerSMax
	if r.Kind == xlmr.Embedder.String() {
		unit, per, rate, lo, hi = "texts", r.Texts, r.TextsPerS, r.TextsPerSMin, r.TextsPerSMax
	}
	fmt.Fprintf(w, "model %s (%s, %s checkpoint, %s engine)  workload %s  batch %d", r.Model, r.Kind, r.CheckpointType, r.DType, r.Workload, r.Batch)
	if r.Workload != "rag" {
		fmt.Fprintf(w, "  seq %d", r.Seq)
	}
	if r.Outputs != "" {
		fmt.Fprintf(w, "  outputs %s", r.Outputs)
	}
	fmt.Fprintf(w, "  %s/call %d  tokens/call %d  threads %d  rounds %d\n",
		unit, per, r.TokensPerCall, r.Threads, r.Rounds)
	fmt.Fprintf(w, "cpu          %s\n", r.CPUKernels)
	fmt.Fprintf(w, "%-12s %10.2f   (min %.2f, max %.2f)\n", unit+"/s", rate, lo, hi)
	fmt.Fprintf(w, "s/call       %10.3f\n", r.SecondsPerCall)
	fmt.Fprintf(w, "tokens/s     %10.0f\n", r.TokensPerS)
	fmt.Fprintf(w, "GFLOP/s      %10.2f   (%.2f GFLOP per call)\n", r.GFLOPS, r.GFLOPPerCall)
	if r.PeakGFLOPS > 0 {
		fmt.Fprintf(w, "GEMM peak    %10.2f   GFLOP/s (MatMulNT %s): %.1f%% of peak\n", r.PeakGFLOPS, r.PeakShape, r.PctOfPeak)
	}
	fmt.Fprintln(w, "stage ms/call (median of rounds; the operations of the layers indented):")
	for _, k := range []string{"tokenize", "embeddings", "attention", "  qkv", "  attend", "  attn_out", "  attn_norm",
		"ffn", "  ffn_up", "  ffn_down", "  ffn_norm", "head", "total"} {
		if v, ok := r.StageMSPerCall[strings.TrimSpace(k)]; ok {
			fmt.Fprintf(w, "  %-11s %9.3f\n", k, v)
		}
	}
	if r.PeakRSSBytes >= 0 {
		fmt.Fprintf(w, "peak RSS     %10.1f MiB\n", float64(r.PeakRSSBytes)/(1<<20))
	} else {
		fmt.Fprintln(w, "peak RSS     unknown on this system")
	}
}
