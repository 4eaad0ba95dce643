package server

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/gorerank/gorerank"
	"github.com/gorerank/gorerank/internal/testmodels"
	"github.com/gorerank/gorerank/kb"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// kbFixture is a server of the tiny bge-m3 and the tiny reranker (m3kit's model folders,
// as rerank serve --kb loads them) with a knowledge base built with that bge-m3, its forward
// passes through the server (KBOptions).
type kbFixture struct {
	s   *Server
	dir string
	emb *gorerank.Embedder // the served embedder, as the knowledge base takes it
	h   http.Handler
}

func newKBFixture(t *testing.T, cfg Config) *kbFixture {
	t.Helper()
	ctx := context.Background()
	embDir, rrDir := testmodels.EmbedderDir(t), testmodels.RerankerDir(t)
	load := func(dir string) *gorerank.Loaded {
		l, err := gorerank.LoadModel(ctx, dir, gorerank.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return l
	}
	el, rl := load(embDir), load(rrDir)
	emb, err := NewXLMREmbedder(el, ModelInfo{ID: "bge-m3"})
	if err != nil {
		t.Fatal(err)
	}
	rr, err := NewXLMREngine(rl, ModelInfo{ID: "reranker"})
	if err != nil {
		t.Fatal(err)
	}
	s := newEmbedServer(t, cfg, []Engine{rr}, emb)
	ge, err := gorerank.EmbedderOf(el)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	k0, err := kb.Create(ctx, dir, kb.Config{Embedder: embDir, ChunkTokens: 16, Overlap: 4}, ge)
	if err != nil {
		t.Fatal(err)
	}
	k0.Close()
	o := s.KBOptions(emb, rr)
	o.Embedder = ge
	k, err := kb.Open(ctx, dir, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	s.SetKB(k, emb, rr)
	return &kbFixture{s: s, dir: dir, emb: ge, h: s.Handler()}
}

// do sends a request and checks its answer against openapi.json.
func (f *kbFixture) do(t *testing.T, method, path, body string) reply {
	t.Helper()
	r := do(t, f.h, method, path, body)
	checkResponse(t, method, path, r)
	return r
}

// The labour-law example of package kb, with a slash in an id and a numeric one.
const kbDocs = `{"documents": [
	{"id": "notice", "text": "员工离职应提前三十日以书面形式通知用人单位。试用期内提前三日通知即可。", "metadata": {"lang": "zh", "topic": "resignation"}},
	{"id": "severance", "text": "用人单位解除劳动合同的，应当向劳动者支付经济补偿。", "metadata": {"lang": "zh"}},
	{"id": "leave", "text": "Employees are entitled to fifteen days of paid annual leave after one year of service.", "metadata": {"lang": "en"}},
	{"id": "docs/trap.md", "text": "公司通知:员工食堂离职窗口提前关闭。", "metadata": {"lang": "zh", "topic": ["trap", "canteen"]}},
	{"id": 42, "text": "A document with a numeric id."}]}`

type kbSearchReply struct {
	Results  []kb.Hit           `json:"results"`
	Recalled int                `json:"recalled"`
	Searched int                `json:"searched"`
	Timings  map[string]float64 `json:"timings_ms"`
}

// TestKBRoutes: add, search (every mode, fusion, filter, rerank off), get and delete through
// HTTP, each answer as openapi.json says; the server's search finds what the library's does
// with the models called directly.
func TestKBRoutes(t *testing.T) {
	f := newKBFixture(t, Config{})
	r := f.do(t, "POST", "/v1/documents", kbDocs)
	checkRequest(t, "POST", "/v1/documents", kbDocs)
	added := decode[documentsResponse](t, r.body)
	if r.status != 200 || added.Added != 5 || len(added.Documents) != 5 || added.Tokens < 5 {
		t.Fatalf("add: %d %s", r.status, r.body)
	}
	for i, d := range added.Documents {
		if d.Status != "added" || d.Chunks < 1 || d.Tokens < 1 || d.Error != "" {
			t.Errorf("document %d: %+v", i, d)
		}
	}
	if added.Documents[4].ID != "42" {
		t.Errorf("numeric id: %q", added.Documents[4].ID)
	}
	// again: unchanged, nothing embedded
	r = f.do(t, "POST", "/v1/documents", kbDocs)
	if again := decode[documentsResponse](t, r.body); r.status != 200 || again.Unchanged != 5 || again.Tokens != 0 {
		t.Fatalf("add again: %d %s", r.status, r.body)
	}
	// some rejected: 207, each with its status; all rejected: 422
	r = f.do(t, "POST", "/v1/documents", `{"documents": [{"id": "blank", "text": "  \n "}, {"id": "notice", "text": "员工离职应提前三十日通知。"}, {"id": "nul", "text": "a\u0000b"}]}`)
	part := decode[documentsResponse](t, r.body)
	if r.status != http.StatusMultiStatus || part.Rejected != 2 || part.Replaced != 1 ||
		part.Documents[0].Status != "rejected" || !strings.Contains(part.Documents[0].Error, "no text") ||
		part.Documents[1].Status != "replaced" || part.Documents[2].Status != "rejected" {
		t.Fatalf("partly rejected: %d %s", r.status, r.body)
	}
	r = f.do(t, "POST", "/v1/documents", `{"documents": [{"id": "", "text": "no id"}, {"id": "x", "text": ""}]}`)
	if all := decode[documentsResponse](t, r.body); r.status != http.StatusUnprocessableEntity || all.Rejected != 2 || !strings.Contains(all.Documents[0].Error, "id") {
		t.Fatalf("all rejected: %d %s", r.status, r.body)
	}

	// search: the library's answer, computed with the models called directly
	rr, err := gorerank.Open(testmodels.RerankerDir(t), gorerank.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Close()
	direct, err := kb.Open(context.Background(), f.dir, kb.Options{Embedder: f.emb, Reranker: rr})
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	const query = "员工离职需要提前多久通知公司?"
	body := `{"query": "` + query + `", "top_k": 10, "top_n": 3}`
	checkRequest(t, "POST", "/v1/search", body)
	r = f.do(t, "POST", "/v1/search", body)
	got := decode[kbSearchReply](t, r.body)
	want, err := direct.Search(context.Background(), query, kb.SearchOptions{TopK: 10, TopN: 3})
	if err != nil {
		t.Fatal(err)
	}
	if r.status != 200 || len(got.Results) != 3 || got.Recalled < 3 || got.Searched < got.Recalled || got.Timings["total"] <= 0 {
		t.Fatalf("search: %d %s", r.status, r.body)
	}
	for i, h := range got.Results {
		w := want.Hits[i]
		if !h.Reranked || h.Rank != i+1 || h.Text == "" || h.DocID != w.DocID || h.Chunk != w.Chunk || h.Start != w.Start || h.End != w.End ||
			h.RecallRank != w.RecallRank || math.Abs(float64(h.RerankScore-w.RerankScore)) > 1e-5 {
			t.Errorf("hit %d: server %+v, library %+v", i, h, w)
		}
	}

	// the options, each a valid request of the spec
	for _, c := range []struct {
		body  string
		check func(kbSearchReply) string
	}{
		{`{"query": "annual leave", "rerank": false, "top_n": 5}`, func(s kbSearchReply) string {
			for i, h := range s.Results {
				if h.Reranked || h.RecallRank != i+1 {
					return fmt.Sprintf("hit %d: %+v", i, h)
				}
			}
			return ""
		}},
		{`{"query": "annual leave", "filter": {"lang": "en"}}`, func(s kbSearchReply) string {
			for _, h := range s.Results {
				if h.DocID != "leave" {
					return "the filter kept other documents"
				}
			}
			if len(s.Results) == 0 || s.Searched != s.Recalled {
				return "the filter kept nothing, or recall saw other documents"
			}
			return ""
		}},
		{`{"query": "canteen", "filter": {"topic": ["trap", "x"]}}`, func(s kbSearchReply) string {
			if len(s.Results) != 1 || s.Results[0].DocID != "docs/trap.md" || s.Results[0].Metadata["lang"] != "zh" {
				return "a list filter"
			}
			return ""
		}},
		{`{"query": "通知", "mode": "dense", "top_k": 2}`, func(s kbSearchReply) string {
			if len(s.Results) != 2 || s.Recalled != 2 {
				return "dense top_k 2"
			}
			return ""
		}},
		{`{"query": "通知", "mode": "sparse"}`, nil},
		{`{"query": "通知", "mode": "hybrid", "fusion": "weighted"}`, nil},
		{`{"query": "nothing matches this filter", "filter": {"lang": "fr"}}`, func(s kbSearchReply) string {
			if s.Results == nil || len(s.Results) != 0 {
				return "want an empty list"
			}
			return ""
		}},
	} {
		checkRequest(t, "POST", "/v1/search", c.body)
		r := f.do(t, "POST", "/v1/search", c.body)
		if r.status != 200 {
			t.Errorf("%s: %d %s", c.body, r.status, r.body)
			continue
		}
		if c.check != nil {
			if msg := c.check(decode[kbSearchReply](t, r.body)); msg != "" {
				t.Errorf("%s: %s\n%s", c.body, msg, r.body)
			}
		}
	}

	// get: the document and its chunks; the id after the prefix, slashes and escapes included
	for _, path := range []string{"/v1/documents/docs/trap.md", "/v1/documents/docs%2Ftrap.md"} {
		r = f.do(t, "GET", path, "")
		d := decode[kb.DocInfo](t, r.body)
		if r.status != 200 || d.ID != "docs/trap.md" || d.Text != "公司通知:员工食堂离职窗口提前关闭。" || len(d.Chunks) == 0 || d.Metadata["lang"] != "zh" {
			t.Fatalf("GET %s: %d %s", path, r.status, r.body)
		}
		for _, c := range d.Chunks {
			if d.Text[c.Start:c.End] != c.Text || c.Dense != nil {
				t.Errorf("chunk %+v", c)
			}
		}
	}
	if r := do(t, f.h, "HEAD", "/v1/documents/notice", ""); r.status != 200 {
		t.Errorf("HEAD: %d", r.status)
	}
	// delete: 200, then 404 for both methods, and search no longer finds it
	if r = f.do(t, "DELETE", "/v1/documents/42", ""); r.status != 200 || !strings.Contains(string(r.body), `"removed"`) {
		t.Fatalf("DELETE: %d %s", r.status, r.body)
	}
	for _, m := range []string{"GET", "DELETE"} {
		if r = f.do(t, m, "/v1/documents/42", ""); r.status != 404 || !strings.Contains(string(r.body), `no document \"42\"`) {
			t.Errorf("%s after delete: %d %s", m, r.status, r.body)
		}
	}
	r = f.do(t, "POST", "/v1/search", `{"query": "A document with a numeric id.", "top_k": 50, "top_n": 50}`)
	if strings.Contains(string(r.body), `"document_id":"42"`) {
		t.Errorf("a removed document found: %s", r.body)
	}
	// the metrics name the route, not the id
	if n := testutil.ToFloat64(f.s.m.requests.WithLabelValues("/v1/documents/{id}", "404")); n != 2 {
		t.Errorf("rerank_requests_total{endpoint=\"/v1/documents/{id}\",code=\"404\"} = %v, want 2", n)
	}
}

// TestKBBadRequests: every client fault of the knowledge base routes is a 4xx in the error
// shape of the other routes, the one openapi.json documents.
func TestKBBadRequests(t *testing.T) {
	f := newKBFixture(t, Config{MaxDocuments: 3, MaxBodyBytes: 4096})
	if r := f.do(t, "POST", "/v1/documents", `{"documents": [{"id": "a", "text": "Annual leave is fifteen days."}]}`); r.status != 200 {
		t.Fatalf("add: %d %s", r.status, r.body)
	}
	for _, c := range []struct {
		method, path, body string
		status             int
		msg                string
	}{
		{"POST", "/v1/search", `{"query": "  "}`, 400, `field "query": the query is empty or blank`},
		{"POST", "/v1/search", `{"query": "\u200b"}`, 400, `empty or blank`},
		{"POST", "/v1/search", `{"top_k": 3}`, 400, `field "query" is required`},
		{"POST", "/v1/search", `{"query": "q", "top_k": 5, "top_n": 9}`, 400, "top_n must be between 1 and top_k"},
		{"POST", "/v1/search", `{"query": "q", "top_k": 5000}`, 400, "top_k must be between 1 and 1000"},
		{"POST", "/v1/search", `{"query": "q", "top_k": -1}`, 400, "top_k"},
		{"POST", "/v1/search", `{"query": "q", "mode": "fuzzy"}`, 400, `unknown mode "fuzzy"`},
		{"POST", "/v1/search", `{"query": "q", "fusion": "max"}`, 400, `unknown fusion "max"`},
		{"POST", "/v1/search", `{"query": "q", "topk": 5, "Mode": "dense"}`, 400, `unknown fields "Mode", "topk"`},
		{"POST", "/v1/search", `{"query": "q", "filter": 3}`, 400, `field "filter": expected an object`},
		{"POST", "/v1/search", `{"query": "q", "rerank": "yes"}`, 400, `field "rerank": expected a boolean`},
		{"POST", "/v1/search", `{"query": "q", "query": "r"}`, 400, "more than once"},
		{"POST", "/v1/search", `{"query": `, 400, "invalid JSON"},
		{"POST", "/v1/search", `["q"]`, 400, "must be a JSON object"},
		{"POST", "/v1/search", ``, 400, "empty"},
		{"POST", "/v1/documents", `{}`, 400, `field "documents" is required`},
		{"POST", "/v1/documents", `{"documents": []}`, 400, "must not be empty"},
		{"POST", "/v1/documents", `{"docs": []}`, 400, `unknown field "docs"`},
		{"POST", "/v1/documents", `{"documents": [{"id": "a"}]}`, 400, `documents[0]: "text" is missing`},
		{"POST", "/v1/documents", `{"documents": [{"id": "b", "text": "x"}, {"id": "a", "text": "x", "meta": {}}]}`, 400, "documents[1]: "},
		{"POST", "/v1/documents", `{"documents": ["just a text"]}`, 400, "documents[0]: "},
		{"POST", "/v1/documents", `{"documents": [{"id": true, "text": "x"}]}`, 400, `"id" must be a string or a number`},
		{"POST", "/v1/documents", `{"documents": [{"id": "a", "text": "x", "metadata": [1]}]}`, 400, "documents[0]: "},
		{"POST", "/v1/documents", `{"documents": [{"id": "1", "text": "x"}, {"id": "2", "text": "x"}, {"id": "3", "text": "x"}, {"id": "4", "text": "x"}]}`, 413, "--max-documents"},
		{"POST", "/v1/documents", `{"documents": [{"id": "big", "text": "` + strings.Repeat("x", 5000) + `"}]}`, 413, "--max-body-bytes"},
		{"GET", "/v1/documents/absent", "", 404, `no document "absent"`},
		{"DELETE", "/v1/documents/absent", "", 404, `no document "absent"`},
		{"GET", "/v1/documents/", "", 404, "no endpoint"},
		{"PUT", "/v1/documents/a", `{}`, 405, "takes GET, DELETE"},
		{"GET", "/v1/search", "", 405, "takes POST"},
		{"GET", "/v1/documents", "", 405, "takes POST"},
	} {
		r := f.do(t, c.method, c.path, c.body)
		if r.status != c.status || !strings.Contains(string(r.body), jsonEscape(c.msg)) {
			t.Errorf("%s %s %.80s: %d %s, want %d with %q", c.method, c.path, c.body, r.status, r.body, c.status, c.msg)
		}
		if c.status == 405 && r.header.Get("Allow") == "" {
			t.Errorf("%s %s: 405 without Allow", c.method, c.path)
		}
	}
	// nothing of the refused requests went in
	r := f.do(t, "POST", "/v1/search", `{"query": "x", "top_k": 100, "top_n": 100, "rerank": false}`)
	if got := decode[kbSearchReply](t, r.body); len(got.Results) != 1 || got.Results[0].DocID != "a" {
		t.Errorf("after the bad requests: %s", r.body)
	}
}

// jsonEscape is s as it appears inside a JSON string.
func jsonEscape(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// TestKBNotServed: without a knowledge base the four operations answer 404 saying how to get
// one; while the models load, 503 as the other routes.
func TestKBNotServed(t *testing.T) {
	s := newEmbedServer(t, Config{}, []Engine{&fakeEngine{}}, &fakeEmbedder{})
	loading := newTestServer(t, Config{}, nil)
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/v1/search", `{"query": "q"}`},
		{"POST", "/v1/documents", `{"documents": [{"id": "a", "text": "b"}]}`},
		{"GET", "/v1/documents/a", ""},
		{"DELETE", "/v1/documents/a", ""},
	} {
		r := do(t, s.Handler(), c.method, c.path, c.body)
		checkResponse(t, c.method, c.path, r)
		if e := decode[errorBody](t, r.body); r.status != 404 || e.Error.Type != errNotFound || e.Error.Message != "no knowledge base: start the server with --kb DIR" {
			t.Errorf("%s %s without a knowledge base: %d %s", c.method, c.path, r.status, r.body)
		}
		r = do(t, loading.Handler(), c.method, c.path, c.body)
		checkResponse(t, c.method, c.path, r)
		if r.status != 503 || r.header.Get("Retry-After") == "" {
			t.Errorf("%s %s while loading: %d %s", c.method, c.path, r.status, r.body)
		}
	}
}

// TestKBThroughServer: the knowledge base's forward passes run on the served models through
// the batcher (each model's lane counts them), the query's embedding and the rerank scores
// are answered from the cache the second time, a document's chunks are not cached, and a
// search takes the request's admission like any route.
func TestKBThroughServer(t *testing.T) {
	f := newKBFixture(t, Config{})
	seqs := func(model string) float64 { return testutil.ToFloat64(f.s.m.modelSeqs.WithLabelValues(model)) }
	if r := f.do(t, "POST", "/v1/documents", kbDocs); r.status != 200 {
		t.Fatalf("add: %d %s", r.status, r.body)
	}
	if seqs("bge-m3") < 5 {
		t.Errorf("the chunks were not embedded through the batcher: %v sequences", seqs("bge-m3"))
	}
	if n, _ := f.s.cache.stats(); n != 0 {
		t.Errorf("adding documents cached %d entries", n)
	}
	emb0, rr0 := seqs("bge-m3"), seqs("reranker")
	search := `{"query": "员工离职需要提前多久通知公司?", "top_k": 5}`
	if r := f.do(t, "POST", "/v1/search", search); r.status != 200 {
		t.Fatalf("search: %d %s", r.status, r.body)
	}
	if seqs("bge-m3") != emb0+1 || seqs("reranker") != rr0+5 {
		t.Errorf("search: %v query embeddings and %v pairs through the batcher, want 1 and 5", seqs("bge-m3")-emb0, seqs("reranker")-rr0)
	}
	hits := testutil.ToFloat64(f.s.m.cacheHits)
	first := f.do(t, "POST", "/v1/search", search)
	if testutil.ToFloat64(f.s.m.cacheHits) != hits+6 || seqs("bge-m3") != emb0+1 {
		t.Errorf("the same search again: %v cache hits, want 6 (the query and 5 pairs)", testutil.ToFloat64(f.s.m.cacheHits)-hits)
	}
	if first.status != 200 {
		t.Errorf("cached search: %d %s", first.status, first.body)
	}
	// admission: with every request slot taken, a search waits its second, then 429
	for range cap(f.s.adm.slots) {
		f.s.adm.slots <- struct{}{}
	}
	r := do(t, f.h, "POST", "/v1/search", search)
	for range cap(f.s.adm.slots) {
		<-f.s.adm.slots
	}
	if r.status != 429 || r.header.Get("Retry-After") == "" {
		t.Errorf("search with no request slot: %d %s", r.status, r.body)
	}
}

// TestKBSearchWhileAdding: searches run while documents are added and replaced; each answer
// is whole, and every document added is there at the end.
func TestKBSearchWhileAdding(t *testing.T) {
	f := newKBFixture(t, Config{})
	if r := f.do(t, "POST", "/v1/documents", kbDocs); r.status != 200 {
		t.Fatalf("add: %d %s", r.status, r.body)
	}
	rounds := 6
	if testing.Short() {
		rounds = 3
	}
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for a := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				body := fmt.Sprintf(`{"documents": [{"id": "w%d-%d", "text": "Writer %d adds document %d about annual leave and notice periods.", "metadata": {"writer": %d}}, {"id": "notice", "text": "员工离职应提前三十日通知。版本 %d-%d"}]}`, a, i, a, i, a, a, i)
				if r := do(t, f.h, "POST", "/v1/documents", body); r.status != 200 {
					errs <- fmt.Sprintf("add: %d %s", r.status, r.body)
				}
			}
		}()
	}
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				r := do(t, f.h, "POST", "/v1/search", `{"query": "notice period for leaving", "top_k": 20, "top_n": 5}`)
				var got kbSearchReply
				if r.status != 200 || json.Unmarshal(r.body, &got) != nil || len(got.Results) == 0 {
					errs <- fmt.Sprintf("search: %d %s", r.status, r.body)
					continue
				}
				for i, h := range got.Results {
					if h.Text == "" || h.Rank != i+1 || !h.Reranked {
						errs <- fmt.Sprintf("hit %d: %+v", i, h)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	for a := range 2 {
		for i := range rounds {
			if r := do(t, f.h, "GET", fmt.Sprintf("/v1/documents/w%d-%d", a, i), ""); r.status != 200 {
				t.Errorf("w%d-%d: %d %s", a, i, r.status, r.body)
			}
		}
	}
}
