package server

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gorerank/gorerank/kb"
)

// TestKBSearchWeights: dense_weight and sparse_weight reach kb's weighted fusion: the dense
// weight alone is dense recall's order and scores, the sparse weight alone sparse recall's,
// none the paper's 1 and 0.3; bad ones are kb's 400, naming the field.
func TestKBSearchWeights(t *testing.T) {
	f := newKBFixture(t, Config{})
	if r := f.do(t, "POST", "/v1/documents", kbDocs); r.status != 200 {
		t.Fatalf("add: %d %s", r.status, r.body)
	}
	search := func(opts string) []kb.Hit {
		t.Helper()
		body := `{"query": "员工离职需要提前多久通知公司?", "top_k": 50, "top_n": 50, "rerank": false` + opts + `}`
		checkRequest(t, "POST", "/v1/search", body)
		r := f.do(t, "POST", "/v1/search", body)
		if r.status != 200 {
			t.Fatalf("%s: %d %s", body, r.status, r.body)
		}
		return decode[kbSearchReply](t, r.body).Results
	}
	same := func(name string, got, want []kb.Hit) {
		t.Helper()
		if len(got) < len(want) || len(want) == 0 {
			t.Fatalf("%s: %d hits, want at least %d", name, len(got), len(want))
		}
		for i, w := range want {
			g := got[i]
			if g.DocID != w.DocID || g.Chunk != w.Chunk || math.Abs(float64(g.RecallScore-w.RecallScore)) > 1e-6 {
				t.Fatalf("%s: hit %d is %s#%d %v, want %s#%d %v", name, i, g.DocID, g.Chunk, g.RecallScore, w.DocID, w.Chunk, w.RecallScore)
			}
		}
	}
	dense, sparse := search(`, "mode": "dense"`), search(`, "mode": "sparse"`)
	same("sparse_weight 0", search(`, "fusion": "weighted", "dense_weight": 1, "sparse_weight": 0`), dense)
	same("dense_weight 0", search(`, "fusion": "weighted", "dense_weight": 0, "sparse_weight": 1`), sparse)
	paper := search(`, "fusion": "weighted"`)
	same("no weights", paper, search(`, "fusion": "weighted", "dense_weight": 1, "sparse_weight": 0.3`))
	// other weights, another fusion: the sparse scores count ten times more
	heavy := search(`, "fusion": "weighted", "dense_weight": 0.1, "sparse_weight": 3`)
	if len(heavy) != len(paper) || heavy[0].RecallScore == paper[0].RecallScore {
		t.Errorf("dense_weight 0.1, sparse_weight 3 scored as the paper's weights: %v vs %v", heavy[0], paper[0])
	}

	for _, c := range []struct{ body, msg string }{
		{`{"query": "q", "fusion": "weighted", "dense_weight": -1}`, "dense_weight must be a finite number, 0 or more (got -1)"},
		{`{"query": "q", "fusion": "weighted", "sparse_weight": -0.5}`, "sparse_weight must be a finite number, 0 or more (got -0.5)"},
		{`{"query": "q", "fusion": "weighted", "dense_weight": 1e39}`, "dense_weight must be a finite number, 0 or more (got +Inf)"},
		{`{"query": "q", "dense_weight": 1}`, `dense_weight and sparse_weight weigh fusion "weighted" only (fusion is "rrf")`},
		{`{"query": "q", "fusion": "rrf", "sparse_weight": 0.3}`, `(fusion is "rrf")`},
		{`{"query": "q", "fusion": "weighted", "sparse_weight": "high"}`, `field "sparse_weight": expected a number, got string`},
	} {
		r := f.do(t, "POST", "/v1/search", c.body)
		e := decode[errorBody](t, r.body)
		if r.status != 400 || e.Error.Type != errInvalidRequest || !strings.Contains(e.Error.Message, c.msg) {
			t.Errorf("%s: %d %s, want 400 with %q", c.body, r.status, r.body, c.msg)
		}
	}
}

// kbInfoReply is /info's knowledge_base.
type kbInfoReply struct {
	Path        string  `json:"path"`
	Embedder    string  `json:"embedder"`
	Reranker    *string `json:"reranker"`
	VectorDType string  `json:"vector_dtype"`
	Dimensions  int     `json:"dimensions"`
	ChunkTokens int     `json:"chunk_tokens"`
	Overlap     int     `json:"overlap"`
	Documents   *int64  `json:"documents"`
	Chunks      int64   `json:"chunks"`
	Tokens      int64   `json:"tokens"`
	DeadRows    int64   `json:"dead_rows"`
	MemoryBytes int64   `json:"memory_bytes"`
	Error       string  `json:"error"`
}

func (f *kbFixture) info(t *testing.T) *kbInfoReply {
	t.Helper()
	r := f.do(t, "GET", "/info", "")
	var v struct {
		KB *kbInfoReply `json:"knowledge_base"`
	}
	if r.status != 200 || json.Unmarshal(r.body, &v) != nil {
		t.Fatalf("/info: %d %s", r.status, r.body)
	}
	return v.KB
}

// TestKBInfo: /info describes the served knowledge base (kb.Stats' counts, which follow
// what is added and removed; its configuration; the served models that run it), and has no
// knowledge_base without one.
func TestKBInfo(t *testing.T) {
	f := newKBFixture(t, Config{})
	ki := f.info(t)
	if ki == nil || ki.Path != f.dir || ki.Embedder != "bge-m3" || ki.Reranker == nil || *ki.Reranker != "reranker" ||
		ki.VectorDType != kb.DefaultVectors || ki.Dimensions < 1 || ki.ChunkTokens != 16 || ki.Overlap != 4 ||
		ki.Documents == nil || *ki.Documents != 0 || ki.Chunks != 0 || ki.Error != "" {
		t.Fatalf("/info of an empty knowledge base: %+v", ki)
	}
	if r := f.do(t, "POST", "/v1/documents", kbDocs); r.status != 200 {
		t.Fatalf("add: %d %s", r.status, r.body)
	}
	ki = f.info(t)
	if *ki.Documents != 5 || ki.Chunks < 5 || ki.Tokens < ki.Chunks || ki.MemoryBytes <= 0 || ki.DeadRows != 0 {
		t.Fatalf("/info after adding 5: %+v", ki)
	}
	chunks := ki.Chunks
	if r := f.do(t, "DELETE", "/v1/documents/42", ""); r.status != 200 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if ki = f.info(t); *ki.Documents != 4 || ki.Chunks >= chunks || ki.DeadRows < 1 {
		t.Errorf("/info after removing one: %+v", ki)
	}
	// served without a reranker: null
	f.s.SetKB(f.s.kbase.Load().kb, nil, nil)
	r := f.do(t, "GET", "/info", "")
	if !strings.Contains(string(r.body), `"reranker":null`) {
		t.Errorf("/info without a reranker: %s", r.body)
	}
	// no knowledge base: no knowledge_base
	f.s.SetKB(nil, nil, nil)
	r = f.do(t, "GET", "/info", "")
	if r.status != 200 || strings.Contains(string(r.body), "knowledge_base") {
		t.Errorf("/info without a knowledge base: %d %s", r.status, r.body)
	}
}

// syncBuffer is a log destination safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestKBCorrupt: a knowledge base whose vector file is damaged on disk answers a search
// with a 500 of type knowledge_base_corrupt that names the file and says what to do, logged
// once at error level; nothing of the damaged vector is served, and /info says it too.
func TestKBCorrupt(t *testing.T) {
	var logs syncBuffer
	f := newKBFixture(t, Config{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if r := f.do(t, "POST", "/v1/documents", kbDocs); r.status != 200 {
		t.Fatalf("add: %d %s", r.status, r.body)
	}
	// Another process adds a document, and its vector is damaged on disk before the
	// server reads it (the server loads the rows committed since, checking each).
	other, err := kb.Open(context.Background(), f.dir, kb.Options{Embedder: f.emb})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Add(context.Background(), []kb.Document{{ID: "late", Text: "A document another process added."}}); err != nil {
		t.Fatal(err)
	}
	other.Close()
	vectors := filepath.Join(f.dir, "vectors.bin")
	b, err := os.ReadFile(vectors)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-3] ^= 0x10 // in the last row: the new chunk's vector
	if err := os.WriteFile(vectors, b, 0o644); err != nil {
		t.Fatal(err)
	}

	r := f.do(t, "POST", "/v1/search", `{"query": "员工离职需要提前多久通知公司?"}`)
	e := decode[errorBody](t, r.body)
	id := r.header.Get("X-Request-Id")
	for _, want := range []string{
		"the knowledge base is corrupt: " + vectors + ": the vector of chunk row",
		"rerank kb check " + f.dir, "rerank kb init NEWDIR", "rerank kb add NEWDIR", "request id " + id,
	} {
		if r.status != 500 || e.Error.Type != errKBCorrupt || !strings.Contains(e.Error.Message, want) {
			t.Errorf("search of a corrupt knowledge base: %d %s, want 500 %s with %q", r.status, r.body, errKBCorrupt, want)
		}
	}
	var errorLines []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["level"] == "ERROR" {
			errorLines = append(errorLines, rec)
		}
	}
	if len(errorLines) != 1 || errorLines[0]["msg"] != "knowledge base corrupt" || errorLines[0]["request_id"] != id ||
		errorLines[0]["file"] != "vectors.bin" || errorLines[0]["kb"] != f.dir {
		t.Errorf("want one error log line for the corrupt knowledge base, got %v", errorLines)
	}
	// /info still answers, and says why it has no counts
	ki := f.info(t)
	if ki == nil || ki.Documents != nil || !strings.Contains(ki.Error, "the knowledge base is corrupt: "+vectors) {
		t.Errorf("/info of a corrupt knowledge base: %+v", ki)
	}
}
