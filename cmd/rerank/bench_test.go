package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gorerank/gorerank/internal/ragwork"
	"github.com/gorerank/gorerank/tokenizer"
	"github.com/gorerank/gorerank/xlmr"
)

// forwardFLOPs against a count done by hand for a 1-layer model.
func TestForwardFLOPs(t *testing.T) {
	c := &xlmr.Config{HiddenSize: 4, IntermediateSize: 8, NumHiddenLayers: 1, NumLabels: 1}
	// T=3, the only layer is the last: k,v: 2·(3·4·4) MACs; q,o for token 0: 2·(4·4);
	// FFN for token 0: 2·(4·8); QKᵀ and PV for query row 0: 2·(3·4); head: 4·4 + 4.
	macs := 2*3*4*4 + 2*4*4 + 2*4*8 + 2*3*4 + 4*4 + 4
	if got := forwardFLOPs(c, []int{3}); got != float64(2*macs) {
		t.Errorf("forwardFLOPs = %v, want %v", got, 2*macs)
	}
	// Full size, T=128: ≈ 2 · 302M non-embedding parameters · 128 tokens + attention
	// (78.92 GFLOP), less what the last layer skips for tokens 1..127.
	raw, err := os.ReadFile("../../testdata/bge-reranker-v2-m3.config.json")
	if err != nil {
		t.Fatal(err)
	}
	var full xlmr.Config
	if err := json.Unmarshal(raw, &full); err != nil {
		t.Fatal(err)
	}
	if got := forwardFLOPs(&full, []int{128}) / 1e9; math.Abs(got-76.19) > 0.01 {
		t.Errorf("full size T=128: %.3f GFLOP, want 76.19", got)
	}
}

func TestBenchHelpers(t *testing.T) {
	if median([]float64{3, 1, 2}) != 2 || median([]float64{4, 1, 3, 2}) != 2.5 {
		t.Error("median")
	}
	sum := 0
	for _, l := range ragwork.DocLens {
		if l < 32 || l > 480 {
			t.Errorf("doc length %d outside 32..480", l)
		}
		sum += l
	}
	if len(ragwork.DocLens) != ragwork.Docs || sum != 10560 {
		t.Errorf("%d docs, %d tokens", len(ragwork.DocLens), sum)
	}
	if rss := peakRSS(); rss < 1<<20 {
		t.Errorf("peak RSS %d bytes", rss)
	}
	if g := gemmPeak(16, 16, 16); !(g > 0) {
		t.Errorf("gemm peak %v", g)
	}
}

func TestBenchUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--help"}, exitOK, "Example"},
		{[]string{}, exitUsage, "--model is required"},
		{[]string{"--model", "x", "--workload", "nope"}, exitUsage, "synthetic, long or rag"},
		{[]string{"--model", "x", "--output", "nope"}, exitUsage, "--output"},
		{[]string{"--model", "x", "--workload", "long", "--batch", "2"}, exitUsage, "one sequence"},
		{[]string{"--model", "x", "--rounds", "0"}, exitUsage, "must be positive"},
		{[]string{"--model", "x", "--seq", "1"}, exitUsage, "at least 2"},
		{[]string{"--model", "x", "extra"}, exitUsage, "unexpected argument"},
		{[]string{"--model", "x", "--bogus"}, exitUsage, "not defined"},
		{[]string{"--model", "x", "--dtype", "q4"}, exitUsage, "want f32"},
		{[]string{"--model", "/nonexistent/model"}, exitFailure, "rerank bench:"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(&env{stdout: &stdout, stderr: &stderr}, append([]string{"bench"}, tc.args...))
		if code != tc.code || !strings.Contains(stderr.String(), tc.msg) {
			t.Errorf("%v: exit %d (want %d), stderr %q (want %q)", tc.args, code, tc.code, stderr.String(), tc.msg)
		}
	}
}

// End to end on the tiny checkpoint: synthetic and rag, table and JSON.
func TestBenchTiny(t *testing.T) {
	for _, args := range [][]string{
		{"--batch", "3", "--seq", "20"},
		{"--workload", "rag", "--tokenizer", "../../testdata/tokenizer/tokenizer.json", "--batch", "16", "--rounds", "1"},
	} {
		var stdout, stderr bytes.Buffer
		base := []string{"bench", "--model", "../../testdata/tiny", "--rounds", "2", "--min-time", "1ms",
			"--peak-m", "64", "--peak-n", "64", "--peak-k", "64", "--threads", "1", "--json"}
		if code := run(&env{stdout: &stdout, stderr: &stderr}, append(base, args...)); code != exitOK {
			t.Fatalf("%v: exit %d: %s", args, code, stderr.String())
		}
		var r map[string]any
		if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, stdout.String())
		}
		for _, k := range []string{"pairs_per_s", "tokens_per_s", "gflops", "peak_rss_bytes", "gemm_peak_gflops"} {
			if v, ok := r[k].(float64); !ok || !(v > 0) {
				t.Errorf("%v: %s = %v", args, k, r[k])
			}
		}
		stages := r["stage_ms_per_call"].(map[string]any)
		if args[0] == "--workload" {
			// 50 pairs of 16-token query + 32..480-token documents + 4 specials.
			if tok := r["tokens_per_call"].(float64); tok < 50*(16+211) || tok > 50*(22+215) {
				t.Errorf("rag tokens per call %v", tok)
			}
			if _, ok := stages["tokenize"]; !ok {
				t.Error("rag: no tokenize stage")
			}
		} else if r["tokens_per_call"].(float64) != 60 {
			t.Errorf("synthetic tokens per call %v", r["tokens_per_call"])
		}
		if stages["total"].(float64) <= 0 {
			t.Errorf("stages %v", stages)
		}
		// The operations split their stage (medians of rounds: equal up to rounding when
		// rounds differ, so compared loosely).
		sum := func(keys ...string) (v float64) {
			for _, k := range keys {
				x, ok := stages[k].(float64)
				if !ok || x < 0 {
					t.Errorf("%v: stage %s = %v", args, k, stages[k])
				}
				v += x
			}
			return v
		}
		for stage, ops := range map[string][]string{"attention": {"qkv", "attend", "attn_out", "attn_norm"}, "ffn": {"ffn_up", "ffn_down", "ffn_norm"}} {
			if got, want := sum(ops...), stages[stage].(float64); got < 0.5*want || got > 2*want {
				t.Errorf("%v: %v sum to %.4f ms, %s is %.4f ms", args, ops, got, stage, want)
			}
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run(&env{stdout: &stdout, stderr: &stderr}, []string{"bench", "--model", "../../testdata/tiny",
		"--rounds", "1", "--min-time", "1ms", "--batch", "2", "--seq", "10", "--no-peak"}); code != exitOK {
		t.Fatalf("table: exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{"pairs/s", "tokens/s", "GFLOP/s", "attention", "peak RSS"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, stdout.String())
		}
	}
	// --seq beyond the position table is a runtime error, not a panic.
	if code := run(&env{stdout: &stdout, stderr: &stderr}, []string{"bench", "--model", "../../testdata/tiny",
		"--seq", "100000", "--no-peak"}); code != exitFailure {
		t.Errorf("--seq 100000: exit %d", code)
	}
}

// TestBenchPairsOut: --pairs-out writes the workload as texts (rag: its 50 pairs; BxS: B pairs
// of exactly S tokens) and exits without benchmarking.
func TestBenchPairsOut(t *testing.T) {
	tok, err := tokenizer.Load("../../testdata/tokenizer/tokenizer.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args        []string
		pairs, size int // size 0: any length
	}{
		{[]string{"--batch", "3", "--seq", "40"}, 3, 40},
		{[]string{"--workload", "rag"}, ragwork.Docs, 0},
	} {
		out := filepath.Join(t.TempDir(), "pairs.jsonl")
		var stdout, stderr bytes.Buffer
		args := append([]string{"bench", "--model", "../../testdata/tiny", "--tokenizer", "../../testdata/tokenizer/tokenizer.json",
			"--pairs-out", out}, tc.args...)
		if code := run(&env{stdout: &stdout, stderr: &stderr}, args); code != exitOK {
			t.Fatalf("%v: exit %d: %s", tc.args, code, stderr.String())
		}
		if stdout.Len() != 0 {
			t.Errorf("%v: printed %q; --pairs-out benchmarks nothing", tc.args, stdout.String())
		}
		raw, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
		if len(lines) != tc.pairs {
			t.Fatalf("%v: %d lines, want %d", tc.args, len(lines), tc.pairs)
		}
		for i, l := range lines {
			var p struct{ Query, Document string }
			if err := json.Unmarshal([]byte(l), &p); err != nil || p.Query != ragwork.Query || p.Document == "" {
				t.Fatalf("%v line %d: %q (%v)", tc.args, i, l, err)
			}
			if tc.size == 0 {
				continue
			}
			enc, err := tok.EncodePair(p.Query, p.Document, tokenizer.Options{})
			if err != nil || len(enc.IDs) != tc.size {
				t.Errorf("%v pair %d: %d tokens (%v), want %d", tc.args, i, len(enc.IDs), err, tc.size)
			}
		}
	}
}

// embedFLOPs against a count done by hand for a 1-layer model, and against forwardFLOPs:
// the dense output alone runs the encoder as the classifier does.
func TestEmbedFLOPs(t *testing.T) {
	c := &xlmr.Config{HiddenSize: 4, IntermediateSize: 8, NumHiddenLayers: 1, NumLabels: 1}
	// T=3, one full layer: q,k,v,o 4·(3·4·4); FFN 2·(3·4·8); QKᵀ and PV 2·(3·3·4).
	layer := 4*3*4*4 + 2*3*4*8 + 2*3*3*4
	for _, tc := range []struct {
		want xlmr.Outputs
		macs int
	}{
		{xlmr.OutputSparse, layer + 3*4},
		{xlmr.OutputColBERT, layer + 3*4*4},
		{xlmr.OutputAll, layer + 3*4 + 3*4*4},
	} {
		if got := embedFLOPs(c, []int{3}, tc.want); got != float64(2*tc.macs) {
			t.Errorf("%s: embedFLOPs = %v, want %v", tc.want, got, 2*tc.macs)
		}
	}
	head := 2 * (4*4 + 4) // the classifier
	if d, f := embedFLOPs(c, []int{3, 5}, xlmr.OutputDense), forwardFLOPs(c, []int{3, 5}); d != f-float64(2*head) {
		t.Errorf("dense %v, forward %v less two classifiers", d, f)
	}
}

// An embedder runs Embed: texts/s instead of pairs/s, on the m3-tiny kit and on a tiny
// embedder from gen-random; the long workload is one sequence; rag and --pairs-out are a
// reranker's.
func TestBenchEmbedder(t *testing.T) {
	gen := filepath.Join(t.TempDir(), "m3")
	if code, _, stderr := runCmd("", "gen-random", "--kind", "embedder", "--config", "../../testdata/tiny/config.json", "--out", gen); code != exitOK {
		t.Fatalf("gen-random: %s", stderr)
	}
	base := []string{"bench", "--rounds", "2", "--min-time", "1ms", "--no-peak", "--threads", "1", "--json"}
	for _, tc := range []struct {
		model  string
		args   []string
		seq    int
		output string
	}{
		{m3Model(t), []string{"--batch", "3", "--seq", "20"}, 20, "dense"},
		{m3Model(t), []string{"--batch", "2", "--seq", "16", "--output", "all"}, 16, "dense+sparse+colbert"},
		{gen, []string{"--seq", "12", "--output", "sparse,colbert"}, 12, "sparse+colbert"},
		{m3Model(t), []string{"--workload", "long", "--seq", "300"}, 300, "dense"},
		{m3Model(t), []string{"--workload", "long", "--rounds", "1"}, 8192, "dense"}, // the model's limit
	} {
		code, stdout, stderr := runCmd("", append(append(base, "--model", tc.model), tc.args...)...)
		if code != exitOK {
			t.Fatalf("%v: exit %d: %s", tc.args, code, stderr)
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatalf("%v: %v\n%s", tc.args, err, stdout)
		}
		for _, k := range []string{"texts_per_s", "texts_per_s_min", "seconds_per_call", "tokens_per_s", "gflops", "peak_rss_bytes"} {
			if v, ok := r[k].(float64); !ok || !(v > 0) {
				t.Errorf("%v: %s = %v", tc.args, k, r[k])
			}
		}
		if _, ok := r["pairs_per_s"]; ok {
			t.Errorf("%v: an embedder reports pairs/s", tc.args)
		}
		batch := 8
		if tc.args[0] == "--workload" {
			batch = 1
		} else if tc.args[0] == "--batch" {
			batch, _ = strconv.Atoi(tc.args[1])
		}
		if r["kind"] != "embedder" || r["outputs"] != tc.output || r["seq"] != float64(tc.seq) ||
			r["texts_per_call"] != float64(batch) || r["tokens_per_call"] != float64(batch*tc.seq) {
			t.Errorf("%v: kind %v outputs %v seq %v texts %v tokens %v", tc.args, r["kind"], r["outputs"], r["seq"], r["texts_per_call"], r["tokens_per_call"])
		}
	}
	code, stdout, stderr := runCmd("", "bench", "--model", m3Model(t), "--rounds", "1", "--min-time", "1ms", "--batch", "2", "--seq", "10", "--no-peak", "--output", "all")
	if code != exitOK {
		t.Fatalf("table: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"embedder", "outputs dense+sparse+colbert", "texts/call 2", "texts/s", "s/call", "peak RSS"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}
	nodir := filepath.Join(t.TempDir(), "dense-only")
	if err := os.CopyFS(nodir, os.DirFS(gen)); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(nodir, "colbert_linear.safetensors"))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--model", m3Model(t), "--workload", "rag", "--tokenizer", tinyTokenizer}, "rerankers only"},
		{[]string{"--model", m3Model(t), "--pairs-out", filepath.Join(t.TempDir(), "p.jsonl"), "--tokenizer", tinyTokenizer}, "rerankers only"},
		{[]string{"--model", nodir, "--output", "colbert"}, "side files"},
	} {
		if code, _, stderr := runCmd("", append([]string{"bench", "--no-peak"}, tc.args...)...); code != exitFailure || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %q", tc.args, code, stderr, tc.want)
		}
	}
}
