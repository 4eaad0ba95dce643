package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// buildRerank compiles the command once per test binary.
var buildRerank = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "rerank-e2e-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "rerank")
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		goBin = "go"
	}
	out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// serverProc is a running `rerank serve` on a loopback port.
type serverProc struct {
	cmd  *exec.Cmd
	base string
	logs *syncBuffer
	done chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServe runs the real binary on 127.0.0.1 with a free port and waits until /ready.
func startServe(t testing.TB, args ...string) *serverProc {
	t.Helper()
	bin, err := buildRerank()
	if err != nil {
		t.Fatal(err)
	}
	args = append([]string{"serve", "--host", "127.0.0.1", "--port", "0", "--log-format", "json"}, args...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "HF_HUB_OFFLINE=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serverProc{cmd: cmd, logs: &syncBuffer{}, done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(p.logs, line)
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "listening" {
				addr <- rec["addr"].(string)
			}
		}
	}()
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-p.done
		}
	})
	select {
	case a := <-addr:
		p.base = "http://" + a
	case err := <-p.done:
		t.Fatalf("serve exited early: %v\n%s", err, p.logs)
	case <-time.After(60 * time.Second):
		t.Fatalf("no listening line\n%s", p.logs)
	}
	if !strings.HasPrefix(p.base, "http://127.0.0.1:") {
		t.Fatalf("not on loopback: %s", p.base)
	}
	deadline := time.Now().Add(120 * time.Second)
	for {
		resp, err := http.Get(p.base + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
			if resp.StatusCode != 503 {
				t.Fatalf("/ready: %d", resp.StatusCode)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready\n%s", p.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return p
}

func (p *serverProc) post(t testing.TB, path string, body any) (int, []byte) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(p.base+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

type serveGolden struct {
	Query    string  `json:"query"`
	Document string  `json:"document"`
	Logit    float64 `json:"logit_f64"`
}

func loadServeGoldens(t testing.TB) []serveGolden {
	b, err := os.ReadFile("../../testdata/tiny/goldens_index.json")
	if err != nil {
		t.Fatal(err)
	}
	var idx struct {
		Pairs []serveGolden `json:"pairs"`
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	if len(idx.Pairs) < 10 {
		t.Fatalf("only %d golden pairs", len(idx.Pairs))
	}
	return idx.Pairs
}

// TestServeEndToEnd starts the real binary on the tiny model and checks all three wire
// formats against the PyTorch golden logits, then the other endpoints and a graceful stop.
func TestServeEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	p := startServe(t, "--model", "../../testdata/tiny", "--tokenizer", "../../testdata/tokenizer/tokenizer.json")
	pairs := loadServeGoldens(t)
	byQuery := map[string][]serveGolden{}
	var order []string
	for _, g := range pairs {
		if strings.TrimSpace(g.Query) == "" {
			continue // the server answers 400 to an empty query (checked below)
		}
		if byQuery[g.Query] == nil {
			order = append(order, g.Query)
		}
		byQuery[g.Query] = append(byQuery[g.Query], g)
	}
	checked := 0
	for _, q := range order {
		gs := byQuery[q]
		docs := make([]string, len(gs))
		for i, g := range gs {
			docs[i] = g.Document
		}
		want := func(idx int) float64 { return gs[idx].Logit }

		// Cohere/Jina
		code, body := p.post(t, "/v1/rerank", map[string]any{"query": q, "documents": docs, "raw_scores": true})
		if code != 200 {
			t.Fatalf("/v1/rerank: %d %s", code, body)
		}
		var v1 struct {
			Results []struct {
				Index          int     `json:"index"`
				RelevanceScore float64 `json:"relevance_score"`
				Document       struct{ Text string }
			} `json:"results"`
			Usage struct {
				TotalTokens int `json:"total_tokens"`
			} `json:"usage"`
		}
		json.Unmarshal(body, &v1)
		if len(v1.Results) != len(docs) || v1.Usage.TotalTokens == 0 {
			t.Fatalf("/v1/rerank: %s", body)
		}
		for k, r := range v1.Results {
			if d := math.Abs(r.RelevanceScore - want(r.Index)); d > 1e-4 {
				t.Errorf("/v1/rerank %q doc %d: %v, golden %v", q, r.Index, r.RelevanceScore, want(r.Index))
			}
			if r.Document.Text != docs[r.Index] {
				t.Errorf("document text mismatch at %d", r.Index)
			}
			if k > 0 && r.RelevanceScore > v1.Results[k-1].RelevanceScore {
				t.Errorf("not sorted")
			}
			checked++
		}

		// seed format, sigmoid scores
		code, body = p.post(t, "/rerank", map[string]any{"query": q, "documents": docs})
		var seed struct {
			Ranked []struct {
				Index int     `json:"index"`
				Score float64 `json:"score"`
				Text  string  `json:"text"`
			} `json:"ranked_results"`
		}
		json.Unmarshal(body, &seed)
		if code != 200 || len(seed.Ranked) != len(docs) {
			t.Fatalf("/rerank documents: %d %s", code, body)
		}
		for _, r := range seed.Ranked {
			if d := math.Abs(r.Score - 1/(1+math.Exp(-want(r.Index)))); d > 1e-4 || r.Text != docs[r.Index] {
				t.Errorf("/rerank seed %q doc %d: %v", q, r.Index, r.Score)
			}
		}

		// TEI
		code, body = p.post(t, "/rerank", map[string]any{"query": q, "texts": docs, "raw_scores": true, "return_text": true})
		var tei []struct {
			Index int     `json:"index"`
			Score float64 `json:"score"`
			Text  string  `json:"text"`
		}
		json.Unmarshal(body, &tei)
		if code != 200 || len(tei) != len(docs) {
			t.Fatalf("/rerank texts: %d %s", code, body)
		}
		for _, r := range tei {
			if d := math.Abs(r.Score - want(r.Index)); d > 1e-4 || r.Text != docs[r.Index] {
				t.Errorf("/rerank TEI %q doc %d: %v, golden %v", q, r.Index, r.Score, want(r.Index))
			}
		}
	}
	t.Logf("%d golden pairs checked through the server", checked)

	// errors keep their status through the real stack
	if code, body := p.post(t, "/v1/rerank", map[string]any{"query": "", "documents": []string{"a"}}); code != 400 || !strings.Contains(string(body), `"type":"invalid_request_error"`) {
		t.Errorf("empty query: %d %s", code, body)
	}
	if code, _ := p.post(t, "/tokenize", map[string]any{"inputs": "Hello world"}); code != 200 {
		t.Errorf("/tokenize: %d", code)
	}
	for _, path := range []string{"/health", "/info", "/metrics", "/openapi.json", "/docs/"} {
		resp, err := http.Get(p.base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
		if path == "/metrics" && !strings.Contains(string(b), "rerank_pairs_scored_total") {
			t.Errorf("/metrics lacks rerank_pairs_scored_total")
		}
		if path == "/info" && !strings.Contains(string(b), `"model_type":"xlm-roberta"`) {
			t.Errorf("/info: %s", b)
		}
	}

	// graceful stop
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", err, p.logs)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
	if !strings.Contains(p.logs.String(), `"msg":"stopped"`) {
		t.Errorf("no stopped log:\n%s", p.logs)
	}
}

func TestServeUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--model"},
		{"--model", "x", "--port", "70000"},
		{"--model", "x", "--dtype", "int4"},
		{"--model", "x", "--log-format", "xml"},
		{"--model", "x", "extra"},
		{"--nope"},
	} {
		var out, errb bytes.Buffer
		if code := run(&env{stdout: &out, stderr: &errb}, append([]string{"serve"}, args...)); code != exitUsage {
			t.Errorf("serve %v: exit %d, want %d\n%s", args, code, exitUsage, errb.String())
		}
	}
	var out, errb bytes.Buffer
	if code := run(&env{stdout: &out, stderr: &errb}, []string{"serve", "--help"}); code != exitOK || !strings.Contains(errb.String(), "Examples:") {
		t.Errorf("serve --help: %d\n%s", code, errb.String())
	}
}

func TestServeMissingModelFails(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(&env{stdout: &out, stderr: &errb}, []string{"serve", "--model", t.TempDir(), "--port", "0", "--no-warmup"})
	if code != exitFailure || !strings.Contains(errb.String(), "config.json") {
		t.Errorf("exit %d\n%s", code, errb.String())
	}
}

func TestVersion(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(&env{stdout: &out, stderr: &errb}, []string{"version"}); code != exitOK || !strings.HasPrefix(out.String(), "rerank ") {
		t.Errorf("version: %d %q", code, out.String())
	}
	if code := run(&env{stdout: &out, stderr: &errb}, []string{"version", "x"}); code != exitUsage {
		t.Errorf("version x: %d", code)
	}
}

func TestDownloadUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"x/y", "../etc"}, {"../etc"}, {"--bogus", "x/y"}} {
		var out, errb bytes.Buffer
		if code := run(&env{stdout: &out, stderr: &errb}, append([]string{"download"}, args...)); code != exitUsage {
			t.Errorf("download %v: %d", args, code)
		}
	}
	var out, errb bytes.Buffer
	t.Setenv("HF_HOME", t.TempDir())
	t.Setenv("HF_HUB_OFFLINE", "1")
	if code := run(&env{stdout: &out, stderr: &errb}, []string{"download", "--quiet", "BAAI/bge-reranker-v2-m3"}); code != exitFailure || !strings.Contains(errb.String(), "offline") {
		t.Errorf("offline download: %d %s", code, errb.String())
	}
}

// SIGTERM while a large request is being scored: the request still gets its full answer,
// then the process exits 0.
func TestServeGracefulShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	p := startServe(t, "--model", "../../testdata/tiny", "--tokenizer", "../../testdata/tokenizer/tokenizer.json", "--cache-size", "0", "--max-batch-size", "16")
	docs := make([]string, 400)
	for i := range docs {
		docs[i] = fmt.Sprintf("Document %d says that Beijing is the capital of China and Paris the capital of France.", i)
	}
	type result struct {
		code int
		body []byte
	}
	res := make(chan result, 1)
	go func() {
		code, body := p.post(t, "/v1/rerank", map[string]any{"query": "capital of China", "documents": docs})
		res <- result{code, body}
	}()
	// wait until the request is queued or running
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(p.base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), "rerank_requests_in_flight 1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("request never in flight")
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r := <-res
	if r.code != 200 || strings.Count(string(r.body), `"index"`) != len(docs) {
		t.Errorf("in-flight request: %d %.300s", r.code, r.body)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("exit: %v\n%s", err, p.logs)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
	if _, err := http.Get(p.base + "/health"); err == nil {
		t.Error("still accepting connections after shutdown")
	}
}

// TestServeInfoDType: /info says what runs, with the checkpoint's element type beside it: a
// BF16 checkpoint under the default --dtype is widened and computes in f32.
func TestServeInfoDType(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	for _, c := range []struct {
		dtype, model, weights, compute string
	}{
		{"", "f32", "f32", "f32"},
		{"bf16", "bf16", "bf16", ""}, // compute: bf16 or f32, as the CPU tier decides
	} {
		args := []string{"--model", "../../testdata/tiny", "--tokenizer", "../../testdata/tokenizer/tokenizer.json",
			"--weights", "model-bf16.safetensors", "--no-warmup", "--shutdown-delay", "0"}
		if c.dtype != "" {
			args = append(args, "--dtype", c.dtype)
		}
		p := startServe(t, args...)
		resp, err := http.Get(p.base + "/info")
		if err != nil {
			t.Fatal(err)
		}
		var info map[string]any
		json.NewDecoder(resp.Body).Decode(&info)
		resp.Body.Close()
		if info["model_dtype"] != c.model || info["weights_dtype"] != c.weights || info["checkpoint_dtype"] != "bf16" ||
			(c.compute != "" && info["compute_dtype"] != c.compute) {
			t.Errorf("--dtype %q on a BF16 checkpoint: model_dtype %v, weights_dtype %v, compute_dtype %v, checkpoint_dtype %v",
				c.dtype, info["model_dtype"], info["weights_dtype"], info["compute_dtype"], info["checkpoint_dtype"])
		}
		p.cmd.Process.Signal(syscall.SIGTERM)
		<-p.done
	}
}

// TestServeTwoStages: one process serves the tiny reranker and the tiny bge-m3, each route
// reaching its model, as `rerank serve --model BAAI/bge-reranker-v2-m3 --model BAAI/bge-m3`.
func TestServeTwoStages(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	p := startServe(t, "--model", "../../testdata/tiny", "--model", m3Model(t), "--tokenizer", "../../testdata/tokenizer/tokenizer.json",
		"--shutdown-delay", "0")
	if code, body := p.post(t, "/v1/rerank", map[string]any{"model": "rerank-v3.5", "query": "capital of China", "documents": []string{"Beijing.", "Paris."}}); code != 200 {
		t.Errorf("/v1/rerank: %d %s", code, body)
	}
	code, body := p.post(t, "/v1/embeddings", map[string]any{"model": "text-embedding-3-small", "input": []string{"员工离职需要提前多久通知公司?", "Beijing."}})
	var oa struct {
		Data []struct {
			Embedding []float32 `json:"embedding"`
		} `json:"data"`
	}
	if code != 200 || json.Unmarshal(body, &oa) != nil || len(oa.Data) != 2 || len(oa.Data[0].Embedding) != 32 {
		t.Errorf("/v1/embeddings: %d %.300s", code, body)
	}
	for _, path := range []string{"/embed", "/embed_sparse", "/embed_colbert"} {
		if code, body := p.post(t, path, map[string]any{"inputs": "Beijing is the capital of China."}); code != 200 {
			t.Errorf("%s: %d %.300s", path, code, body)
		}
	}
	resp, err := http.Get(p.base + "/info")
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		Models []struct {
			ID   string `json:"model_id"`
			Task string `json:"task"`
		} `json:"models"`
	}
	json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if len(info.Models) != 2 || info.Models[0].Task != "rerank" || info.Models[1].Task != "embed" {
		t.Errorf("/info models: %+v", info.Models)
	}
	// one model per command elsewhere; serve refuses what names one model
	if code, _, stderr := runCmd("", "serve", "--model", "a", "--model", "b", "--served-model-name", "x"); code != exitUsage || !strings.Contains(stderr, "--served-model-name") {
		t.Errorf("serve with two models and one served name: %d %s", code, stderr)
	}
	if code, _, stderr := runCmd("", "score", "--model", "a", "--model", "b", "--query", "q", "d"); code == exitOK || !strings.Contains(stderr, "--model given 2 times") {
		t.Errorf("score with two models: %d %s", code, stderr)
	}
}
