package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorerank/gorerank/internal/randmodel"
	"github.com/gorerank/gorerank/internal/testmodels"
	"github.com/gorerank/gorerank/kb"
	"github.com/gorerank/gorerank/weights"
)

// newServeKB makes a knowledge base with the test kit's bge-m3 and reranker and three
// documents, and another bge-m3 of the same shape and tokenizer with other weights.
func newServeKB(t *testing.T) (dir, emb, rr, other string) {
	t.Helper()
	emb, rr = testmodels.EmbedderDir(t), testmodels.RerankerDir(t)
	dir = filepath.Join(t.TempDir(), "kb")
	if code, out, errOut := runRerank(t, "", "kb", "init", dir, "--embedder", emb, "--reranker", rr, "--chunk-tokens", "24", "--overlap", "4"); code != exitOK {
		t.Fatalf("kb init: %d %s %s", code, out, errOut)
	}
	docs := `{"id": "notice", "text": "员工离职应提前三十日以书面形式通知用人单位。试用期内提前三日通知即可。", "metadata": {"lang": "zh"}}
{"id": "leave", "text": "Employees are entitled to fifteen days of paid annual leave after one year of service.", "metadata": {"lang": "en"}}
{"id": "trap", "text": "公司通知:员工食堂离职窗口提前关闭。", "metadata": {"lang": "zh"}}
`
	if code, out, errOut := runRerank(t, docs, "kb", "add", dir, "-"); code != exitOK {
		t.Fatalf("kb add: %d %s %s", code, out, errOut)
	}
	other = filepath.Join(t.TempDir(), "other-m3")
	raw, err := os.ReadFile(filepath.Join(emb, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := randmodel.WriteDir(other, raw, weights.F32, 7); err != nil {
		t.Fatal(err)
	}
	tok, _ := filepath.Abs("../../testdata/tokenizer/tokenizer.json")
	if err := os.Symlink(tok, filepath.Join(other, "tokenizer.json")); err != nil {
		t.Fatal(err)
	}
	return dir, emb, rr, other
}

// TestServeKB: rerank serve --kb DIR alone serves the models the knowledge base records, on
// the knowledge base routes and on the model routes; with --model, the served embedder that
// is the knowledge base's is found among others.
func TestServeKB(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir, emb, rr, other := newServeKB(t)
	p := startServe(t, "--kb", dir, "--shutdown-delay", "0")
	code, body := p.post(t, "/v1/search", map[string]any{"query": "员工离职需要提前多久通知公司?", "top_k": 10, "top_n": 2})
	var sr struct {
		Results []struct {
			DocumentID string `json:"document_id"`
			Text       string `json:"text"`
			Reranked   bool   `json:"reranked"`
		} `json:"results"`
	}
	if code != 200 || json.Unmarshal(body, &sr) != nil || len(sr.Results) != 2 || !sr.Results[0].Reranked || sr.Results[0].Text == "" {
		t.Fatalf("/v1/search: %d %s", code, body)
	}
	// /info names the knowledge base, what it holds and the models that run it
	var info struct {
		KB struct {
			Path        string  `json:"path"`
			Embedder    string  `json:"embedder"`
			Reranker    *string `json:"reranker"`
			VectorDType string  `json:"vector_dtype"`
			Documents   int     `json:"documents"`
			ChunkTokens int     `json:"chunk_tokens"`
		} `json:"knowledge_base"`
	}
	if resp, err := http.Get(p.base + "/info"); err != nil {
		t.Fatal(err)
	} else {
		err = json.NewDecoder(resp.Body).Decode(&info)
		resp.Body.Close()
		if k := info.KB; err != nil || k.Path != dir || k.Embedder != emb || k.Reranker == nil || *k.Reranker != rr || k.Documents != 3 || k.ChunkTokens != 24 || k.VectorDType != kb.DefaultVectors {
			t.Errorf("/info knowledge_base: %+v %v", k, err)
		}
	}
	if code, body := p.post(t, "/v1/documents", map[string]any{"documents": []any{map[string]any{"id": "new", "text": "A document added over HTTP."}}}); code != 200 || !strings.Contains(string(body), `"added"`) {
		t.Fatalf("/v1/documents: %d %s", code, body)
	}
	resp, err := http.Get(p.base + "/v1/documents/new")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET /v1/documents/new: %d", resp.StatusCode)
	}
	// the recorded models serve their own routes too
	if code, body := p.post(t, "/v1/embeddings", map[string]any{"input": "Beijing."}); code != 200 {
		t.Errorf("/v1/embeddings: %d %s", code, body)
	}
	if code, body := p.post(t, "/v1/rerank", map[string]any{"query": "capital of China", "documents": []string{"Beijing.", "Paris."}}); code != 200 {
		t.Errorf("/v1/rerank: %d %s", code, body)
	}
	if !strings.Contains(p.logs.String(), `"msg":"knowledge base opened"`) {
		t.Errorf("no knowledge base log line:\n%s", p.logs)
	}

	// two embedders served: the knowledge base takes the one it was built with
	p2 := startServe(t, "--kb", dir, "--model", other, "--model", emb, "--model", rr, "--shutdown-delay", "0", "--no-warmup")
	if code, body := p2.post(t, "/v1/search", map[string]any{"query": "annual leave"}); code != 200 || !strings.Contains(string(body), `"reranked":true`) {
		t.Errorf("/v1/search with two embedders served: %d %s", code, body)
	}
	var opened map[string]any
	for _, line := range strings.Split(p2.logs.String(), "\n") {
		if strings.Contains(line, `"knowledge base opened"`) {
			json.Unmarshal([]byte(line), &opened)
		}
	}
	if opened["embedder"] != emb || opened["reranker"] != rr {
		t.Errorf("knowledge base opened with %v", opened)
	}
}

// TestServeKBStartupErrors: a knowledge base that cannot be served stops serve at startup
// with a message saying why.
func TestServeKBStartupErrors(t *testing.T) {
	dir, _, _, other := newServeKB(t)
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--kb", dir, "--model", "../../testdata/tiny", "--tokenizer", "../../testdata/tokenizer/tokenizer.json"}, exitFailure, "no embedder is served"},
		{[]string{"--kb", dir, "--model", other}, exitFailure, "not the one this knowledge base was built with"},
		{[]string{"--kb", t.TempDir()}, exitFailure, "not a knowledge base"},
		{[]string{"--kb", dir, "--weights", "model.safetensors"}, exitUsage, "--weights"},
		{[]string{}, exitUsage, "--model is required, or --kb"},
	} {
		var out, errb bytes.Buffer
		args := append([]string{"serve", "--port", "0", "--no-warmup", "--shutdown-delay", "0"}, c.args...)
		if code := run(&env{stdout: &out, stderr: &errb}, args); code != c.code || !strings.Contains(errb.String(), c.msg) {
			t.Errorf("serve %v: exit %d, want %d with %q\n%s", c.args, code, c.code, c.msg, errb.String())
		}
	}
}
