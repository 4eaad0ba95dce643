package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorerank/gorerank"
	"github.com/gorerank/gorerank/internal/m3kit"
	"github.com/gorerank/gorerank/internal/server"
)

// TestLoadtest runs the load generator briefly against the real binary on the tiny model:
// one open-loop level and two closed-loop levels, with a fake bench result for the ratio.
func TestLoadtest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	p := startServe(t, "--model", "../../testdata/tiny", "--tokenizer", testTokenizer, "--cache-size", "0")
	benchFile := filepath.Join(t.TempDir(), "bench.json")
	os.WriteFile(benchFile, []byte(`{"workload": "rag", "pairs_per_s": 100}`), 0o644)
	var out, errb bytes.Buffer
	code := run(&env{stdout: &out, stderr: &errb}, []string{"loadtest", "--url", p.base, "--tokenizer", testTokenizer,
		"--bench", benchFile, "--rate", "20", "--concurrency", "1,4", "--requests", "8", "--duration", "20s", "--json"})
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, errb.String(), out.String())
	}
	var rep loadReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if rep.Documents != 50 || rep.MaxBatchTokens != 16384 || len(rep.Levels) != 3 || rep.BenchPairsPerS != 100 {
		t.Fatalf("report: %+v", rep)
	}
	for _, l := range rep.Levels {
		if l.Sent != 8 || l.OK != 8 || len(l.Errors) > 0 {
			t.Errorf("%s %v/%d: sent %d ok %d errors %v", l.Mode, l.OfferedQPS, l.Concurrency, l.Sent, l.OK, l.Errors)
		}
		// every answered pair was scored by the model (no cache), within rounding of the clocks
		if math.Abs(l.ServerPairsPS-l.PairsPerS) > 0.05*l.PairsPerS || l.PairsPerS <= 0 {
			t.Errorf("pairs/s: client %v, server %v", l.PairsPerS, l.ServerPairsPS)
		}
		if math.Abs(l.BenchRatio-l.ServerPairsPS/100) > 1e-9 {
			t.Errorf("ratio %v for %v server pairs/s", l.BenchRatio, l.ServerPairsPS)
		}
		lat := l.LatencyMS
		if !(lat.P50 > 0 && lat.P50 <= lat.P95 && lat.P95 <= lat.P99) || l.QueueMS.Mean < 0 || l.QueueMS.P99 < l.QueueMS.P50 {
			t.Errorf("latency %+v queue %+v", lat, l.QueueMS)
		}
		// a request's 50 pairs (~11k tokens) fit one 16384-token batch: fill in (0.5, 1]
		if l.BatchFill <= 0.5 || l.BatchFill > 1 || l.PairsPerBatch < 50 {
			t.Errorf("batch fill %v, pairs per batch %v", l.BatchFill, l.PairsPerBatch)
		}
	}
	if rep.Levels[0].Mode != "rate" || rep.Levels[0].OfferedQPS != 20 || rep.Levels[2].Concurrency != 4 {
		t.Errorf("levels %+v", rep.Levels)
	}

	// the text report
	out.Reset()
	if code := run(&env{stdout: &out, stderr: &errb}, []string{"loadtest", "--url", p.base, "--tokenizer", testTokenizer,
		"--concurrency", "2", "--requests", "2"}); code != exitOK || !strings.Contains(out.String(), "conc 2") {
		t.Errorf("text report: %d\n%s", code, out.String())
	}
}

// With the server's cache on, repeated requests are answered from it: loadtest says so and fails.
func TestLoadtestRefusesCache(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	p := startServe(t, "--model", "../../testdata/tiny", "--tokenizer", testTokenizer)
	var out, errb bytes.Buffer
	code := run(&env{stdout: &out, stderr: &errb}, []string{"loadtest", "--url", p.base, "--tokenizer", testTokenizer,
		"--concurrency", "1", "--requests", "3"})
	if code != exitFailure || !strings.Contains(errb.String(), "--cache-size 0") {
		t.Errorf("exit %d\n%s", code, errb.String())
	}
}

// twoStageServer serves the tiny reranker and the m3-tiny embedder in process, as
// 'rerank serve --model tiny --model m3-tiny' does.
func twoStageServer(t *testing.T, cfg server.Config) *httptest.Server {
	t.Helper()
	ctx := context.Background()
	var engines []server.Engine
	var embedders []server.EmbedEngine
	for _, dir := range []string{tinyModel, m3kit.Dir(t)} {
		l, err := gorerank.LoadModel(ctx, dir, gorerank.Options{TokenizerPath: tinyTokenizer})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		if dir == tinyModel {
			e, err := server.NewXLMREngine(l, server.ModelInfo{ID: "tiny"})
			if err != nil {
				t.Fatal(err)
			}
			engines = append(engines, e)
		} else {
			e, err := server.NewXLMREmbedder(l, server.ModelInfo{ID: "m3-tiny"})
			if err != nil {
				t.Fatal(err)
			}
			embedders = append(embedders, e)
		}
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.SetModels(engines, embedders); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { ts.Close(); srv.Close() })
	return ts
}

// TestLoadtestRoutes drives every embedding route and TEI's /rerank of an in-process server
// with both kinds of model: each level's requests all answered, the rates in the route's
// unit, and the server's tokens what was asked for (every text exactly --text-tokens).
func TestLoadtestRoutes(t *testing.T) {
	ts := twoStageServer(t, server.Config{NoCache: true})
	benchFile := filepath.Join(t.TempDir(), "bench.json")
	os.WriteFile(benchFile, []byte(`{"workload": "synthetic", "kind": "embedder", "seq": 16, "texts_per_s": 100}`), 0o644)
	for _, route := range []string{"/v1/embeddings", "/embed", "/embed_sparse", "/embed_colbert", "/rerank"} {
		t.Run(strings.TrimPrefix(route, "/"), func(t *testing.T) {
			args := []string{"loadtest", "--url", ts.URL, "--tokenizer", testTokenizer, "--route", route,
				"--concurrency", "1,3", "--requests", "6"}
			embed := route != "/rerank"
			if embed {
				args = append(args, "--texts", "5", "--text-tokens", "16", "--bench", benchFile)
			} else {
				args = append(args, "--documents", "7")
			}
			var out, errb bytes.Buffer
			if code := run(&env{stdout: &out, stderr: &errb}, append(args, "--json")); code != exitOK {
				t.Fatalf("exit %d\n%s\n%s", code, errb.String(), out.String())
			}
			var rep loadReport
			if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			if rep.Route != route || len(rep.Levels) != 2 {
				t.Fatalf("report: %+v", rep)
			}
			if embed && (rep.Model != "m3-tiny" || rep.Texts != 5 || rep.TextTokens != 16 || rep.Documents != 0 || rep.BenchTextsPerS != 100) ||
				!embed && (rep.Model != "tiny" || rep.Documents != 7 || rep.Texts != 0) {
				t.Errorf("report: %+v", rep)
			}
			for _, l := range rep.Levels {
				if l.Sent != 6 || l.OK != 6 || len(l.Errors) > 0 {
					t.Errorf("conc %d: sent %d ok %d errors %v", l.Concurrency, l.Sent, l.OK, l.Errors)
				}
				perS, server, perBatch := l.rates()
				// every answered item was run by the model (no cache): the same count, over the same seconds
				if perS <= 0 || math.Abs(server-perS) > 1e-6*perS || perBatch < 1 {
					t.Errorf("conc %d: %v items/s, server %v, %v per batch", l.Concurrency, perS, server, perBatch)
				}
				if embed {
					if l.PairsPerS != 0 || l.TextsPerS <= 0 || math.Abs(l.ServerTokensPS-16*l.ServerTextsPS) > 1e-6*l.ServerTokensPS {
						t.Errorf("conc %d: pairs/s %v, texts/s %v, server tokens/s %v for %v texts/s of 16 tokens", l.Concurrency, l.PairsPerS, l.TextsPerS, l.ServerTokensPS, l.ServerTextsPS)
					}
					if math.Abs(l.BenchRatio-l.ServerTextsPS/100) > 1e-9 {
						t.Errorf("ratio %v for %v server texts/s", l.BenchRatio, l.ServerTextsPS)
					}
				} else if l.TextsPerS != 0 || l.PairsPerS <= 0 || l.ServerTokensPS <= l.ServerPairsPS {
					t.Errorf("conc %d: pairs/s %v, texts/s %v, tokens/s %v", l.Concurrency, l.PairsPerS, l.TextsPerS, l.ServerTokensPS)
				}
				if lat := l.LatencyMS; !(lat.P50 > 0 && lat.P50 <= lat.P95 && lat.P95 <= lat.P99) {
					t.Errorf("latency %+v", lat)
				}
			}
			// the text report names the unit and counts 429s
			out.Reset()
			if code := run(&env{stdout: &out, stderr: &errb}, args); code != exitOK {
				t.Fatalf("text report: exit %d\n%s", code, errb.String())
			}
			unit := "pairs/s"
			if embed {
				unit = "texts/s"
			}
			if !strings.Contains(out.String(), unit) || !strings.Contains(out.String(), " 429 ") || !strings.Contains(out.String(), route) {
				t.Errorf("text report:\n%s", out.String())
			}
		})
	}
}

// With the server's cache on, repeated texts are answered from it: loadtest says so and fails.
func TestLoadtestRefusesEmbedCache(t *testing.T) {
	ts := twoStageServer(t, server.Config{})
	var out, errb bytes.Buffer
	code := run(&env{stdout: &out, stderr: &errb}, []string{"loadtest", "--url", ts.URL, "--tokenizer", testTokenizer,
		"--route", "/embed", "--texts", "2", "--text-tokens", "8", "--concurrency", "1", "--requests", "3"})
	if code != exitFailure || !strings.Contains(errb.String(), "cache answered 4 texts") || !strings.Contains(errb.String(), "--cache-size 0") {
		t.Errorf("exit %d\n%s", code, errb.String())
	}
	// a bench of another text length is no reference
	bad := filepath.Join(t.TempDir(), "b.json")
	os.WriteFile(bad, []byte(`{"kind": "embedder", "seq": 128, "texts_per_s": 3}`), 0o644)
	code = run(&env{stdout: &out, stderr: &errb}, []string{"loadtest", "--url", ts.URL, "--tokenizer", testTokenizer,
		"--route", "/embed", "--text-tokens", "64", "--concurrency", "1", "--bench", bad})
	if code != exitFailure || !strings.Contains(errb.String(), "--seq 64") {
		t.Errorf("bench at another --seq: exit %d\n%s", code, errb.String())
	}
}

func TestLoadtestUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--url", "http://x"},
		{"--url", "http://x", "--tokenizer", "t"},
		{"--url", "http://x", "--tokenizer", "t", "--rate", "-1"},
		{"--url", "http://x", "--tokenizer", "t", "--rate", "NaN"},
		{"--url", "http://x", "--tokenizer", "t", "--concurrency", "0"},
		{"--url", "http://x", "--tokenizer", "t", "--concurrency", "1,x"},
		{"--url", "http://x", "--tokenizer", "t", "--rate", "1", "--requests", "0"},
		{"--url", "http://x", "--tokenizer", "t", "--rate", "1", "extra"},
		{"--url", "http://x", "--tokenizer", "t", "--rate", "1", "--route", "/v1/nope"},
		{"--url", "http://x", "--tokenizer", "t", "--rate", "1", "--route", "/embed", "--documents", "5"},
		{"--url", "http://x", "--tokenizer", "t", "--rate", "1", "--texts", "5"},
		{"--url", "http://x", "--tokenizer", "t", "--rate", "1", "--route", "/v1/rerank", "--text-tokens", "64"},
		{"--url", "http://x", "--tokenizer", "t", "--rate", "1", "--route", "/embed", "--texts", "0"},
		{"--url", "http://x", "--tokenizer", "t", "--rate", "1", "--route", "/embed", "--text-tokens", "2"},
		{"--bogus"},
	} {
		var out, errb bytes.Buffer
		if code := run(&env{stdout: &out, stderr: &errb}, append([]string{"loadtest"}, args...)); code != exitUsage {
			t.Errorf("loadtest %v: exit %d\n%s", args, code, errb.String())
		}
	}
	var out, errb bytes.Buffer
	if code := run(&env{stdout: &out, stderr: &errb}, []string{"loadtest", "--help"}); code != exitOK || !strings.Contains(errb.String(), "--cache-size 0") {
		t.Errorf("--help: %d", code)
	}
	// a bench file of the wrong workload, an unreachable server: runtime failures
	bad := filepath.Join(t.TempDir(), "b.json")
	os.WriteFile(bad, []byte(`{"workload": "synthetic", "pairs_per_s": 3}`), 0o644)
	for _, args := range [][]string{
		{"--url", "http://127.0.0.1:1", "--tokenizer", testTokenizer, "--rate", "1", "--bench", bad},
		{"--url", "http://127.0.0.1:1", "--tokenizer", testTokenizer, "--rate", "1"},
	} {
		if code := run(&env{stdout: &out, stderr: &errb}, append([]string{"loadtest"}, args...)); code != exitFailure {
			t.Errorf("loadtest %v: exit %d", args, code)
		}
	}
}

func TestHistogramQuantile(t *testing.T) {
	before := metricSamples{`h_bucket{le="1"}`: 5, `h_bucket{le="2"}`: 5, `h_bucket{le="4"}`: 5, `h_bucket{le="+Inf"}`: 5}
	// 10 new observations: 2 in (0,1], 6 in (1,2], 2 in (2,4]
	after := metricSamples{`h_bucket{le="1"}`: 7, `h_bucket{le="2"}`: 13, `h_bucket{le="4"}`: 15, `h_bucket{le="+Inf"}`: 15}
	for _, c := range []struct{ q, want float64 }{{0.1, 0.5}, {0.2, 1}, {0.5, 1.5}, {0.9, 3}, {1, 4}} {
		if got := histogramQuantile(c.q, "h", before, after); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("q%v: %v, want %v", c.q, got, c.want)
		}
	}
	if got := histogramQuantile(0.5, "h", after, after); got != 0 {
		t.Errorf("no observations: %v", got)
	}
	inf := metricSamples{`h_bucket{le="1"}`: 0, `h_bucket{le="+Inf"}`: 3}
	if got := histogramQuantile(0.5, "h", metricSamples{}, inf); got != 1 {
		t.Errorf("all beyond the last bound: %v, want 1", got)
	}
}

func TestParseMetrics(t *testing.T) {
	m, err := parseMetrics(strings.NewReader("# HELP x y\n# TYPE x counter\nx 3\nh_bucket{le=\"+Inf\"} 2.5e+01\n\n"))
	if err != nil || m["x"] != 3 || m[`h_bucket{le="+Inf"}`] != 25 {
		t.Errorf("%v %v", m, err)
	}
	for _, bad := range []string{"novalue\n", "x y\n"} {
		if _, err := parseMetrics(strings.NewReader(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
