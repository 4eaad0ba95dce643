package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/gorerank/gorerank/tensor"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func newTestServer(t *testing.T, cfg Config, eng Engine) *Server {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if eng != nil {
		if err := s.SetEngine(eng); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(s.Close)
	return s
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, h http.Handler, method, path, body string, hdr ...string) reply {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return reply{w.Code, w.Header(), w.Body.Bytes()}
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	return v
}

const threeDocs = `"query": "capital of France",
	"documents": ["Berlin is in Germany", {"text": "Paris is the capital of France"}, "the capital of Spain"]`

func TestV1Rerank(t *testing.T) {
	s := newTestServer(t, Config{}, &fakeEngine{})
	r := do(t, s.Handler(), "POST", "/v1/rerank", `{"model": "rerank-english-v3.0", `+threeDocs+`, "unknown_field": [1,2]}`, "X-Request-Id", "req-42")
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	v := decode[v1Response](t, r.body)
	if v.ID != "req-42" || r.header.Get("X-Request-Id") != "req-42" {
		t.Errorf("id %q, header %q; want the request id", v.ID, r.header.Get("X-Request-Id"))
	}
	if v.Model != "fake/reranker" {
		t.Errorf("model %q", v.Model)
	}
	want := []int{1, 2, 0}
	if len(v.Results) != 3 {
		t.Fatalf("results %+v", v.Results)
	}
	for k, res := range v.Results {
		if res.Index != want[k] {
			t.Errorf("results[%d].index = %d, want %d", k, res.Index, want[k])
		}
		if res.RelevanceScore <= 0 || res.RelevanceScore >= 1 {
			t.Errorf("relevance_score %v not a probability", res.RelevanceScore)
		}
		if k > 0 && res.RelevanceScore > v.Results[k-1].RelevanceScore {
			t.Errorf("not sorted: %+v", v.Results)
		}
		if res.Document == nil || res.Document.Text == "" {
			t.Errorf("results[%d] has no document", k)
		}
	}
	if v.Results[0].Document.Text != "Paris is the capital of France" {
		t.Errorf("top document %q", v.Results[0].Document.Text)
	}
	if v.RankedResults != nil {
		t.Error("/v1/rerank must not carry ranked_results")
	}
	// 3 pairs: <s> 3 query words </s></s> doc </s>
	if wantTok := (3 + 4 + 4) + (3 + 6 + 4) + (3 + 4 + 4); v.Usage.PromptTokens != wantTok || v.Usage.TotalTokens != wantTok {
		t.Errorf("usage %+v, want %d tokens", v.Usage, wantTok)
	}

	r = do(t, s.Handler(), "POST", "/v1/rerank", `{`+threeDocs+`, "top_n": 1, "return_documents": false, "raw_scores": true}`)
	v = decode[v1Response](t, r.body)
	if len(v.Results) != 1 || v.Results[0].Index != 1 || v.Results[0].Document != nil || v.Results[0].RelevanceScore != 1 {
		t.Errorf("top_n/return_documents/raw_scores: %s", r.body)
	}
}

func TestSeedRerank(t *testing.T) {
	s := newTestServer(t, Config{}, &fakeEngine{})
	r := do(t, s.Handler(), "POST", "/rerank", `{`+threeDocs+`}`)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	v := decode[v1Response](t, r.body)
	if len(v.RankedResults) != 3 || v.RankedResults[0].Index != 1 || v.RankedResults[0].Text != "Paris is the capital of France" {
		t.Fatalf("ranked_results %+v", v.RankedResults)
	}
	for k := range v.Results {
		if v.Results[k].Index != v.RankedResults[k].Index || v.Results[k].RelevanceScore != v.RankedResults[k].Score {
			t.Errorf("results and ranked_results disagree at %d", k)
		}
	}
}

func TestTEIRerank(t *testing.T) {
	s := newTestServer(t, Config{}, &fakeEngine{})
	r := do(t, s.Handler(), "POST", "/rerank", `{"query": "capital of France", "texts": ["Berlin", "Paris is the capital of France", "capital"], "raw_scores": true}`)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	got := decode[[]map[string]any](t, r.body)
	want := []map[string]any{{"index": 1.0, "score": 1.0}, {"index": 2.0, "score": -1.0}, {"index": 0.0, "score": -2.0}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	r = do(t, s.Handler(), "POST", "/rerank", `{"query": "capital of France", "texts": ["Berlin", "Paris"], "return_text": true, "truncate": true, "truncation_direction": "Left"}`)
	got = decode[[]map[string]any](t, r.body)
	if len(got) != 2 || got[0]["text"] == nil || got[0]["score"].(float64) >= 1 {
		t.Errorf("return_text: %s", r.body)
	}
}

func TestRerankErrors(t *testing.T) {
	s := newTestServer(t, Config{MaxDocuments: 3, MaxBodyBytes: 4096, MaxLength: 32}, &fakeEngine{})
	long := strings.Repeat("word ", 40)
	cases := []struct {
		name, path, body string
		status           int
		msg              string
	}{
		{"bad json", "/v1/rerank", `{"query": "q", "documents": [`, 400, "invalid JSON"},
		{"not an object", "/rerank", `["q"]`, 400, "must be a JSON object"},
		{"empty body", "/rerank", ` `, 400, "empty"},
		{"trailing garbage", "/rerank", `{"query":"q","documents":["a"]} x`, 400, "invalid"},
		{"query number", "/v1/rerank", `{"query": 5, "documents": ["a"]}`, 400, `"query"`},
		{"documents string", "/v1/rerank", `{"query": "q", "documents": "a"}`, 400, `"documents"`},
		{"top_n string", "/v1/rerank", `{"query": "q", "documents": ["a"], "top_n": "2"}`, 400, `"top_n"`},
		{"top_n negative", "/v1/rerank", `{"query": "q", "documents": ["a"], "top_n": -1}`, 400, `top_n`},
		{"top_n float", "/v1/rerank", `{"query": "q", "documents": ["a"], "top_n": 1.5}`, 400, `top_n`},
		{"invalid utf8", "/v1/rerank", "{\"query\": \"q\xff\", \"documents\": [\"a\"]}", 400, "UTF-8"},
		{"missing query", "/v1/rerank", `{"documents": ["a"]}`, 400, `"query" is required`},
		{"empty query", "/v1/rerank", `{"query": "", "documents": ["a"]}`, 400, "empty or blank"},
		{"lone surrogate in the query", "/v1/rerank", `{"query": "\ud800", "documents": ["a"]}`, 400, "lone UTF-16 surrogate"},
		{"lone surrogate in a text", "/rerank", `{"query": "q", "texts": ["a", "b\udc00"]}`, 400, "lone UTF-16 surrogate"},
		{"lone surrogate to tokenize", "/tokenize", `{"inputs": "\udbff"}`, 400, "lone UTF-16 surrogate"},
		{"blank query", "/v1/rerank", `{"query": " \t ", "documents": ["a"]}`, 400, "empty or blank"},
		{"QUERY is not query", "/v1/rerank", `{"QUERY": "q", "documents": ["a"]}`, 400, `"query" is required`},
		{"duplicate key", "/v1/rerank", `{"query": "q", "query": "r", "documents": ["a"]}`, 400, `"query" appears more than once`},
		{"duplicate text key", "/v1/rerank", `{"query": "q", "documents": [{"text": "a", "text": "b"}]}`, 400, `documents[0]: key "text" appears more than once`},
		{"TEXT is not text", "/v1/rerank", `{"query": "q", "documents": [{"TEXT": "a"}]}`, 400, `no "text"`},
		{"max_length and truncate_prompt_tokens", "/v1/rerank", `{"query": "q", "documents": ["a"], "max_length": 20, "truncate_prompt_tokens": 20}`, 400, "not both"},
		{"bad truncate_prompt_tokens", "/v1/rerank", `{"query": "q", "documents": ["a"], "truncate_prompt_tokens": 0}`, 400, "truncate_prompt_tokens"},
		{"bad max_tokens_per_doc", "/v2/rerank", `{"query": "q", "documents": ["a"], "max_tokens_per_doc": 0}`, 400, "max_tokens_per_doc"},
		{"bad truncation_side", "/v1/rerank", `{"query": "q", "documents": ["a"], "truncation_side": "middle"}`, 400, "truncation_side"},
		{"sides disagree", "/rerank", `{"query": "q", "texts": ["a"], "truncation_side": "left", "truncation_direction": "Right"}`, 400, "disagree"},
		{"missing documents", "/rerank", `{"query": "q"}`, 400, "required"},
		{"null documents", "/v1/rerank", `{"query": "q", "documents": null}`, 400, "required"},
		{"empty documents", "/v1/rerank", `{"query": "q", "documents": []}`, 400, "must not be empty"},
		{"empty texts", "/rerank", `{"query": "q", "texts": []}`, 400, `"texts" must not be empty`},
		{"too many documents", "/v1/rerank", `{"query": "q", "documents": ["a","b","c","d"]}`, 413, "--max-documents"},
		{"document number", "/v1/rerank", `{"query": "q", "documents": ["a", 7]}`, 400, "documents[1]"},
		{"document null", "/v1/rerank", `{"query": "q", "documents": [null]}`, 400, "documents[0]"},
		{"document object without text", "/v1/rerank", `{"query": "q", "documents": [{"title": "x"}]}`, 400, `no "text"`},
		{"document text number", "/v1/rerank", `{"query": "q", "documents": [{"text": 1}]}`, 400, `"text" must be a string`},
		{"tei object text", "/rerank", `{"query": "q", "texts": [{"text": "a"}]}`, 400, "texts[0]"},
		{"both lists", "/rerank", `{"query": "q", "documents": ["a"], "texts": ["b"]}`, 400, "not both"},
		{"texts on v1", "/v1/rerank", `{"query": "q", "texts": ["b"]}`, 400, "TEI"},
		{"max_length too big", "/v1/rerank", `{"query": "q", "documents": ["a"], "max_length": 100000}`, 400, "max_length"},
		{"max_length too small", "/v1/rerank", `{"query": "q", "documents": ["a"], "max_length": 4}`, 400, "max length 4 leaves no room beside the 4 special tokens"},
		{"bad truncation", "/v1/rerank", `{"query": "q", "documents": ["a"], "truncation": "middle"}`, 400, "truncation"},
		{"bad direction", "/rerank", `{"query": "q", "texts": ["a"], "truncation_direction": "up"}`, 400, "truncation_direction"},
		{"bad chunks", "/v1/rerank", `{"query": "q", "documents": ["a"], "max_chunks_per_doc": 0}`, 400, "max_chunks_per_doc"},
		{"too long, no truncation", "/v1/rerank", `{"query": "q", "documents": ["a", "` + long + `"], "truncate": false}`, 413, "documents[1]: the pair has more than 34 tokens, over max length 32"},
		{"query too long for only_second", "/v1/rerank", `{"query": "` + long + `", "documents": ["a"], "truncation": "only_second"}`, 413, "documents[0]: the query has more than 32 tokens; only_second with max length 32 keeps at most 27"},
		{"body too large", "/v1/rerank", `{"query": "q", "documents": ["` + strings.Repeat("x", 5000) + `"]}`, 413, "--max-body-bytes"},
		{"unknown path", "/v3/rerank", `{}`, 404, "no endpoint"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := do(t, s.Handler(), "POST", c.path, c.body)
			if r.status != c.status {
				t.Errorf("status %d, want %d: %s", r.status, c.status, r.body)
			}
			e := decode[errorBody](t, r.body)
			if !strings.Contains(e.Error.Message, c.msg) || e.Error.Type == "" {
				t.Errorf("error %+v, want a message containing %q", e.Error, c.msg)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
	r := do(t, s.Handler(), "POST", "/rerank", `{"query": "q", "texts": ["a", "`+long+`"], "truncate": false}`)
	if r.status != 413 || !strings.Contains(string(r.body), "texts[1]: the pair has") {
		t.Errorf("TEI too long: %d %s", r.status, r.body)
	}
	r = do(t, s.Handler(), "GET", "/v1/rerank", "")
	if r.status != 405 || r.header.Get("Allow") != "POST" {
		t.Errorf("GET /v1/rerank: %d %v", r.status, r.header)
	}
}

// TestTruncation through the seed dialect, which reports truncation (Cohere's results keep
// Cohere's keys only).
func TestTruncation(t *testing.T) {
	s := newTestServer(t, Config{MaxLength: 16}, &fakeEngine{})
	filler := strings.Repeat("filler ", 30)
	docs := fmt.Sprintf(`["%s paris france", "paris france"]`, filler)
	// longest_first cuts the end of document 0, where its matches are
	r := do(t, s.Handler(), "POST", "/rerank", `{"query": "paris france", "documents": `+docs+`, "raw_scores": true}`)
	v := decode[v1Response](t, r.body)
	if v.Results[0].Index != 1 || v.Results[1].RelevanceScore != -2 || !v.Results[1].Truncated || v.Results[0].Truncated {
		t.Errorf("longest_first: %s", r.body)
	}
	// windows scores the whole document and keeps the best window
	r = do(t, s.Handler(), "POST", "/rerank", `{"query": "paris france", "documents": `+docs+`, "raw_scores": true, "truncation": "windows", "max_chunks_per_doc": 16}`)
	v = decode[v1Response](t, r.body)
	if r.status != 200 || v.Results[0].RelevanceScore != 0 || v.Results[1].RelevanceScore != 0 || v.Results[0].Truncated || v.Results[1].Truncated {
		t.Errorf("windows: %s", r.body)
	}
	// not enough windows: truncated, or 413 without truncation
	r = do(t, s.Handler(), "POST", "/rerank", `{"query": "paris france", "documents": `+docs+`, "raw_scores": true, "truncation": "windows", "max_chunks_per_doc": 2}`)
	v = decode[v1Response](t, r.body)
	if v.Results[1].Index != 0 || !v.Results[1].Truncated {
		t.Errorf("windows, 2 chunks: %s", r.body)
	}
	r = do(t, s.Handler(), "POST", "/v1/rerank", `{"query": "paris france", "documents": `+docs+`, "truncation": "windows", "max_chunks_per_doc": 2, "truncate": false}`)
	if r.status != 413 {
		t.Errorf("windows without truncation: %d %s", r.status, r.body)
	}
	// flag: the query keeps 3/4 of max_length; the document gets the rest
	longQ := strings.Repeat("q ", 20) + "paris"
	r = do(t, s.Handler(), "POST", "/rerank", `{"query": "`+longQ+`", "documents": ["paris"], "raw_scores": true, "truncation": "flag"}`)
	v = decode[v1Response](t, r.body)
	if r.status != 200 || !v.Results[0].Truncated || v.Usage.TotalTokens != 16 {
		t.Errorf("flag: %s", r.body)
	}
	// the Cohere dialect keeps Cohere's result keys only
	r = do(t, s.Handler(), "POST", "/v1/rerank", `{"query": "paris france", "documents": `+docs+`}`)
	if r.status != 200 || bytes.Contains(r.body, []byte("truncated")) {
		t.Errorf("/v1/rerank reports truncation: %s", r.body)
	}
}

func TestHealthReadyInfo(t *testing.T) {
	s := newTestServer(t, Config{Version: "1.2.3", Extra: map[string]any{"dtype_flag": "auto"}}, nil)
	h := s.Handler()
	if r := do(t, h, "GET", "/health", ""); r.status != 200 {
		t.Errorf("/health before load: %d", r.status)
	}
	for _, p := range []string{"/ready", "/info"} {
		if r := do(t, h, "GET", p, ""); r.status != 503 || r.header.Get("Retry-After") == "" {
			t.Errorf("%s before load: %d %s", p, r.status, r.body)
		}
	}
	if r := do(t, h, "POST", "/v1/rerank", `{`+threeDocs+`}`); r.status != 503 {
		t.Errorf("rerank before load: %d", r.status)
	}
	if err := s.SetEngine(&fakeEngine{}); err != nil {
		t.Fatal(err)
	}
	if r := do(t, h, "GET", "/ready", ""); r.status != 200 {
		t.Errorf("/ready after load: %d", r.status)
	}
	r := do(t, h, "GET", "/info", "")
	info := decode[map[string]any](t, r.body)
	if info["model_id"] != "fake/reranker" || info["version"] != "1.2.3" || info["max_input_length"] != 512.0 || info["dtype_flag"] != "auto" {
		t.Errorf("/info: %s", r.body)
	}
	if tier := tensor.Tier(); info["cpu_tier"] != tier.Name || info["cpu_kernels"] != tier.String() {
		t.Errorf("/info reports tier %v (%v), want %s", info["cpu_tier"], info["cpu_kernels"], tier)
	}
	if r := do(t, h, "HEAD", "/health", ""); r.status != 200 {
		t.Errorf("HEAD /health: %d", r.status)
	}
}

func TestSetEngineRejectsLongMaxLength(t *testing.T) {
	s := newTestServer(t, Config{MaxLength: 10000}, nil)
	if err := s.SetEngine(&fakeEngine{}); err == nil {
		t.Error("max length over the model's position limit accepted")
	}
}

func TestTokenize(t *testing.T) {
	s := newTestServer(t, Config{}, &fakeEngine{})
	r := do(t, s.Handler(), "POST", "/tokenize", `{"inputs": "héllo world"}`)
	got := decode[[][]tokenOut](t, r.body)
	if r.status != 200 || len(got) != 1 || len(got[0]) != 4 || !got[0][0].Special || got[0][0].Start != nil ||
		got[0][1].Text != "▁héllo" || *got[0][1].Start != 0 || *got[0][1].Stop != 6 || *got[0][2].Start != 7 {
		t.Errorf("single: %d %s", r.status, r.body)
	}
	r = do(t, s.Handler(), "POST", "/tokenize", `{"inputs": ["a b", "c"], "add_special_tokens": false}`)
	got = decode[[][]tokenOut](t, r.body)
	if len(got) != 2 || len(got[0]) != 2 || len(got[1]) != 1 {
		t.Errorf("batch: %s", r.body)
	}
	r = do(t, s.Handler(), "POST", "/tokenize", `{"query": "a b", "documents": ["c d e", "f"], "max_length": 16}`)
	got = decode[[][]tokenOut](t, r.body)
	if len(got) != 2 || len(got[0]) != 9 || got[0][0].Sequence == nil || *got[0][6].Sequence != 1 {
		t.Errorf("pairs: %s", r.body)
	}
	r = do(t, s.Handler(), "POST", "/tokenize", `{"query": "`+strings.Repeat("q ", 40)+`", "documents": ["a"], "max_length": 16, "truncation": "only_second"}`)
	if r.status != 413 {
		t.Errorf("only_second with a long query: %d %s", r.status, r.body)
	}
	for _, bad := range []string{`{"inputs": 5}`, `{"inputs": []}`, `{}`, `{"query": "q"}`, `nope`} {
		if r := do(t, s.Handler(), "POST", "/tokenize", bad); r.status != 400 {
			t.Errorf("%s: status %d %s", bad, r.status, r.body)
		}
	}
}

func TestMetrics(t *testing.T) {
	s := newTestServer(t, Config{}, &fakeEngine{})
	do(t, s.Handler(), "POST", "/v1/rerank", `{`+threeDocs+`}`)
	do(t, s.Handler(), "POST", "/v1/rerank", `{`+threeDocs+`}`)
	do(t, s.Handler(), "POST", "/v1/rerank", `{}`)
	r := do(t, s.Handler(), "GET", "/metrics", "")
	text := string(r.body)
	for _, want := range []string{
		`rerank_requests_total{endpoint="/v1/rerank",status="200"} 2`,
		`rerank_requests_total{endpoint="/v1/rerank",status="400"} 1`,
		`rerank_request_duration_seconds_bucket{endpoint="/v1/rerank",le=`,
		`rerank_queue_duration_seconds_count 1`,
		`rerank_tokenization_duration_seconds_count 1`,
		`rerank_inference_duration_seconds_count 1`,
		`rerank_pairs_scored_total 3`,
		`rerank_tokens_scored_total 35`,
		`rerank_batch_size_count 1`,
		`rerank_batch_tokens_sum 35`,
		`rerank_queue_depth 0`,
		`rerank_cache_hits_total 3`,
		`rerank_cache_misses_total 3`,
		`rerank_cache_entries 3`,
		`rerank_ready 1`,
		`rerank_build_info{version="dev"} 1`,
		`go_goroutines`,
		`go_memstats_heap_alloc_bytes`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestCache(t *testing.T) {
	f := &fakeEngine{}
	s := newTestServer(t, Config{}, f)
	do(t, s.Handler(), "POST", "/v1/rerank", `{`+threeDocs+`}`)
	a := do(t, s.Handler(), "POST", "/v1/rerank", `{`+threeDocs+`, "return_documents": false}`)
	if calls, _ := f.snapshot(); calls != 1 {
		t.Errorf("engine called %d times, want 1 (second request from the cache)", calls)
	}
	do(t, s.Handler(), "POST", "/v1/rerank", `{`+threeDocs+`, "max_length": 64}`)
	if calls, _ := f.snapshot(); calls != 2 {
		t.Errorf("engine called %d times, want 2 (max_length is part of the key)", calls)
	}
	if v := decode[v1Response](t, a.body); v.Usage.TotalTokens != 35 {
		t.Errorf("cached usage %+v", v.Usage)
	}

	f2 := &fakeEngine{}
	s2 := newTestServer(t, Config{NoCache: true}, f2)
	do(t, s2.Handler(), "POST", "/v1/rerank", `{`+threeDocs+`}`)
	do(t, s2.Handler(), "POST", "/v1/rerank", `{`+threeDocs+`}`)
	if calls, _ := f2.snapshot(); calls != 2 {
		t.Errorf("cache off: engine called %d times, want 2", calls)
	}
}

func TestAuth(t *testing.T) {
	s := newTestServer(t, Config{APIKey: "s3cret"}, &fakeEngine{})
	h := s.Handler()
	if r := do(t, h, "POST", "/v1/rerank", `{`+threeDocs+`}`); r.status != 401 || r.header.Get("WWW-Authenticate") == "" {
		t.Errorf("no key: %d", r.status)
	}
	if r := do(t, h, "POST", "/v1/rerank", `{`+threeDocs+`}`, "Authorization", "Bearer wrong"); r.status != 401 {
		t.Errorf("wrong key: %d", r.status)
	}
	if r := do(t, h, "POST", "/v1/rerank", `{`+threeDocs+`}`, "Authorization", "bearer s3cret"); r.status != 200 {
		t.Errorf("right key: %d %s", r.status, r.body)
	}
	for _, p := range []string{"/health", "/ready", "/openapi.json"} {
		if r := do(t, h, "GET", p, ""); r.status != 200 {
			t.Errorf("%s without key: %d", p, r.status)
		}
	}
	for _, p := range []string{"/info", "/metrics"} {
		if r := do(t, h, "GET", p, ""); r.status != 401 {
			t.Errorf("%s without key: %d", p, r.status)
		}
	}
}

func TestCORS(t *testing.T) {
	off := newTestServer(t, Config{}, &fakeEngine{})
	r := do(t, off.Handler(), "GET", "/health", "", "Origin", "https://app.example")
	if r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Error("CORS on by default")
	}
	on := newTestServer(t, Config{CORSOrigins: []string{"https://app.example"}}, &fakeEngine{})
	r = do(t, on.Handler(), "OPTIONS", "/v1/rerank", "", "Origin", "https://app.example", "Access-Control-Request-Method", "POST")
	if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "https://app.example" || !strings.Contains(r.header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight: %d %v", r.status, r.header)
	}
	r = do(t, on.Handler(), "GET", "/health", "", "Origin", "https://evil.example")
	if r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Error("CORS allowed a foreign origin")
	}
}

func TestMaxConcurrentRequests(t *testing.T) {
	f := &fakeEngine{gate: make(chan struct{}), started: make(chan struct{}, 10)}
	s := newTestServer(t, Config{MaxConcurrentRequests: 1, NoCache: true}, f)
	h := s.Handler()
	done := make(chan int)
	go func() { done <- do(t, h, "POST", "/v1/rerank", `{`+threeDocs+`}`).status }()
	<-f.started
	r := do(t, h, "POST", "/v1/rerank", `{`+threeDocs+`}`)
	if r.status != 429 || r.header.Get("Retry-After") == "" || !strings.Contains(string(r.body), "--max-concurrent-requests") {
		t.Errorf("second request: %d %s", r.status, r.body)
	}
	close(f.gate)
	if c := <-done; c != 200 {
		t.Errorf("first request: %d", c)
	}
}

func TestRequestTimeout(t *testing.T) {
	f := &fakeEngine{gate: make(chan struct{})}
	s := newTestServer(t, Config{RequestTimeout: 50 * time.Millisecond}, f)
	r := do(t, s.Handler(), "POST", "/v1/rerank", `{`+threeDocs+`}`)
	close(f.gate)
	if r.status != 503 || decode[errorBody](t, r.body).Error.Type != errTimeout {
		t.Errorf("timeout: %d %s", r.status, r.body)
	}
}

// TestEngineFailures: an engine error, panic or NaN is a 500 with a generic message (the
// engine's text stays in the log), and the same server goes on answering.
func TestEngineFailures(t *testing.T) {
	for _, c := range []struct {
		name string
		f    *fakeEngine
	}{
		{"engine error", &fakeEngine{fail: errors.New("out of memory"), poison: "poison"}},
		{"engine panic", &fakeEngine{panics: true, poison: "poison"}},
	} {
		s := newTestServer(t, Config{NoCache: true}, c.f)
		bad := `{"query": "q", "documents": ["a", "poison b"]}`
		r := do(t, s.Handler(), "POST", "/v1/rerank", bad)
		e := decode[errorBody](t, r.body)
		if r.status != 500 || e.Error.Type != errInternal || strings.Contains(string(r.body), "out of memory") || strings.Contains(string(r.body), "exploded") {
			t.Errorf("%s: %d %s", c.name, r.status, r.body)
		}
		// the server that saw the failure still answers
		if r := do(t, s.Handler(), "POST", "/v1/rerank", `{`+threeDocs+`}`); r.status != 200 {
			t.Errorf("%s: afterwards %d %s", c.name, r.status, r.body)
		}
	}
	s := newTestServer(t, Config{}, &fakeEngine{nan: true})
	r := do(t, s.Handler(), "POST", "/v1/rerank", `{`+threeDocs+`}`)
	if r.status != 500 || !json.Valid(r.body) || decode[errorBody](t, r.body).Error.Type != errInternal {
		t.Errorf("NaN logits: %d %s", r.status, r.body)
	}
}

// TestBatchFailureStaysLocal: two requests share a batch; the engine fails (or panics) on
// one's input. The batch is re-run one request at a time: only the culprit gets the 500 and
// the other gets its scores.
func TestBatchFailureStaysLocal(t *testing.T) {
	for _, panics := range []bool{false, true} {
		f := &fakeEngine{poison: "poison", panics: panics, fail: errors.New("secret engine detail"), gate: make(chan struct{}), started: make(chan struct{}, 100)}
		s := newTestServer(t, Config{NoCache: true, MaxBatchTokens: 1000}, f)
		h := s.Handler()
		// a first request holds the only worker at the gate, so the next two queue together
		first := make(chan reply, 1)
		go func() { first <- do(t, h, "POST", "/v1/rerank", `{"query": "x", "documents": ["x"]}`) }()
		<-f.started
		results := make([]reply, 2)
		var wg sync.WaitGroup
		for i, body := range []string{`{"query": "paris", "documents": ["paris france", "berlin"], "raw_scores": true}`, `{"query": "q", "documents": ["poison q"]}`} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = do(t, h, "POST", "/v1/rerank", body)
			}()
		}
		waitFor(t, func() bool {
			s.engine.Load().batch.mu.Lock()
			defer s.engine.Load().batch.mu.Unlock()
			return s.engine.Load().batch.pending == 3
		})
		close(f.gate)
		wg.Wait()
		<-first
		good, bad := results[0], results[1]
		if good.status != 200 {
			t.Errorf("panics=%v: innocent request %d %s", panics, good.status, good.body)
		} else if v := decode[v1Response](t, good.body); v.Results[0].Index != 0 || v.Results[0].RelevanceScore != -1 {
			t.Errorf("panics=%v: innocent scores %s", panics, good.body)
		}
		if bad.status != 500 || strings.Contains(string(bad.body), "secret") || strings.Contains(string(bad.body), "exploded") {
			t.Errorf("panics=%v: culprit %d %s", panics, bad.status, bad.body)
		}
		_, batches := f.snapshot()
		if len(batches) < 4 { // the first request, the shared batch, then each request alone
			t.Errorf("panics=%v: batches %v", panics, batches)
		}
	}
}

func TestBatchingMergesRequests(t *testing.T) {
	f := &fakeEngine{gate: make(chan struct{}), started: make(chan struct{}, 100)}
	s := newTestServer(t, Config{NoCache: true, MaxBatchTokens: 1000}, f)
	h := s.Handler()
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf(`{"query": "q%d", "documents": ["a b", "c d e", "f"]}`, i)
			if r := do(t, h, "POST", "/v1/rerank", body); r.status != 200 {
				t.Errorf("status %d", r.status)
			}
		}()
		if i == 0 {
			<-f.started // the first request holds the worker; the rest queue up
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(s.m.queueDepth) < 15 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(f.gate)
	wg.Wait()
	_, batches := f.snapshot()
	if len(batches) != 2 || len(batches[1]) != 15 {
		t.Errorf("batches %v, want the 5 queued requests merged into one batch of 15", batches)
	}
	// within a request, longest first
	if b := batches[0]; len(b) != 3 || b[0] < b[1] || b[1] < b[2] {
		t.Errorf("first batch %v not sorted by length", b)
	}
}

func TestBatchTokenBudget(t *testing.T) {
	f := &fakeEngine{}
	s := newTestServer(t, Config{NoCache: true, MaxBatchTokens: 20}, f)
	r := do(t, s.Handler(), "POST", "/v1/rerank", `{"query": "q", "documents": ["a b c d e f g h", "a b c d e f g", "a", "b"]}`)
	if r.status != 200 {
		t.Fatal(r.status)
	}
	_, batches := f.snapshot()
	for _, b := range batches {
		sum := 0
		for _, n := range b {
			sum += n
		}
		if sum > 20 && len(b) > 1 {
			t.Errorf("batch %v over the 20-token budget", batches)
		}
	}
	if len(batches) != 2 { // 13 | 12+6... : [13] [12, 6] -> wait: 12+6=18 ≤ 20, then 6 more > 20
		t.Logf("batches %v", batches)
	}
}

func TestCancelledRequestDropsQueuedWork(t *testing.T) {
	f := &fakeEngine{gate: make(chan struct{}), started: make(chan struct{}, 10)}
	m := newMetrics("t", nil, newAdmission(1, 1, 1, &rateMeter{}))
	b := newBatcher(1, 1000, 1, m, &rateMeter{})
	l := b.lane("fake", rerankRun(f))
	defer b.close()
	go b.submit(context.Background(), l, [][]int32{{0, 10, 2, 2, 11, 2}}, 0)
	<-f.started
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() {
		_, err := b.submit(ctx, l, [][]int32{{0, 10, 2, 2, 11, 2}, {0, 12, 2, 2, 11, 2}}, 0)
		errc <- err
	}()
	for testutil.ToFloat64(m.queueDepth) < 2 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("err %v", err)
	}
	close(f.gate)
	for testutil.ToFloat64(m.queueDepth) > 0 {
		time.Sleep(time.Millisecond)
	}
	if n := testutil.ToFloat64(m.dropped); n != 2 {
		t.Errorf("dropped %v, want 2", n)
	}
	if calls, _ := f.snapshot(); calls != 1 {
		t.Errorf("engine ran %d batches, want 1 (the cancelled request's pairs dropped)", calls)
	}
}

func TestCloseFinishesQueuedWork(t *testing.T) {
	f := &fakeEngine{gate: make(chan struct{}), started: make(chan struct{}, 10)}
	m := newMetrics("t", nil, newAdmission(1, 1, 1, &rateMeter{}))
	b := newBatcher(1, 1000, 1, m, &rateMeter{})
	l := b.lane("fake", rerankRun(f))
	res := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := b.submit(context.Background(), l, [][]int32{{0, 10, 2, 2, 11, 2}}, 0)
			res <- err
		}()
	}
	<-f.started
	for testutil.ToFloat64(m.queueDepth) < 1 {
		time.Sleep(time.Millisecond)
	}
	go func() { time.Sleep(20 * time.Millisecond); close(f.gate) }()
	b.close()
	for range 2 {
		if err := <-res; err != nil {
			t.Error(err)
		}
	}
	if _, err := b.submit(context.Background(), l, [][]int32{{1}}, 0); !errors.Is(err, errClosed) {
		t.Errorf("submit after close: %v", err)
	}
}

func TestRequestIDGenerated(t *testing.T) {
	s := newTestServer(t, Config{}, &fakeEngine{})
	a := do(t, s.Handler(), "GET", "/health", "")
	b := do(t, s.Handler(), "GET", "/health", "", "X-Request-Id", "bad id with spaces")
	if len(a.header.Get("X-Request-Id")) != 24 || b.header.Get("X-Request-Id") == "bad id with spaces" {
		t.Errorf("ids %q %q", a.header.Get("X-Request-Id"), b.header.Get("X-Request-Id"))
	}
}

func TestDocsUI(t *testing.T) {
	s := newTestServer(t, Config{APIKey: "k"}, &fakeEngine{})
	if r := do(t, s.Handler(), "GET", "/docs", ""); r.status != 301 || r.header.Get("Location") != "/docs/" {
		t.Errorf("/docs: %d %v", r.status, r.header)
	}
	r := do(t, s.Handler(), "GET", "/docs/", "")
	if r.status != 200 || !bytes.Contains(r.body, []byte("swagger-ui-bundle.js")) {
		t.Errorf("/docs/: %d", r.status)
	}
	for _, f := range []string{"swagger-ui-bundle.js", "swagger-ui.css", "init.js", "LICENSE"} {
		if r := do(t, s.Handler(), "GET", "/docs/"+f, ""); r.status != 200 || len(r.body) == 0 {
			t.Errorf("/docs/%s: %d", f, r.status)
		}
	}
	if r := do(t, s.Handler(), "GET", "/docs/nope.js", ""); r.status != 404 {
		t.Errorf("missing asset: %d", r.status)
	}
}

// A client that goes away while its pairs are queued: the handler returns at once and the
// pairs never reach the engine.
func TestClientDisconnectDropsQueuedPairs(t *testing.T) {
	f := &fakeEngine{gate: make(chan struct{}), started: make(chan struct{}, 10)}
	s := newTestServer(t, Config{NoCache: true, MaxBatchSize: 1}, f)
	h := s.Handler()
	first := make(chan int)
	go func() { first <- do(t, h, "POST", "/rerank", `{"query": "q", "texts": ["a"]}`).status }()
	<-f.started // the worker is busy with the first request

	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequest("POST", "/v1/rerank", strings.NewReader(`{`+threeDocs+`}`)).WithContext(ctx)
	w := httptest.NewRecorder()
	returned := make(chan struct{})
	go func() { h.ServeHTTP(w, req); close(returned) }()
	for testutil.ToFloat64(s.m.queueDepth) < 3 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case <-returned:
	case <-time.After(5 * time.Second):
		t.Fatal("handler still waiting after the client went away")
	}
	close(f.gate)
	if c := <-first; c != 200 {
		t.Errorf("first request: %d", c)
	}
	for testutil.ToFloat64(s.m.queueDepth) > 0 {
		time.Sleep(time.Millisecond)
	}
	if calls, _ := f.snapshot(); calls != 1 {
		t.Errorf("engine ran %d batches, want 1", calls)
	}
	if n := testutil.ToFloat64(s.m.dropped); n != 3 {
		t.Errorf("dropped %v, want 3", n)
	}
	if n := testutil.ToFloat64(s.m.requests.WithLabelValues("/v1/rerank", "499")); n != 1 {
		t.Errorf("requests{status=499} = %v", n)
	}
}

// Large requests are tokenized in parallel; the error still names the first bad document
// and the results are the same as sequential tokenization.
func TestParallelTokenization(t *testing.T) {
	s := newTestServer(t, Config{MaxLength: 32, NoCache: true}, &fakeEngine{})
	docs := make([]string, 100)
	for i := range docs {
		docs[i] = fmt.Sprintf("doc %d capital of France", i)
	}
	long := strings.Repeat("w ", 40)
	docs[71], docs[37] = long, long
	body, _ := json.Marshal(map[string]any{"query": "capital of France", "documents": docs, "truncate": false})
	for range 5 {
		r := do(t, s.Handler(), "POST", "/v1/rerank", string(body))
		if r.status != 413 || !strings.Contains(string(r.body), "documents[37]") {
			t.Fatalf("%d %s", r.status, r.body)
		}
	}
	docs[71], docs[37] = "x", "y"
	body, _ = json.Marshal(map[string]any{"query": "capital of France", "documents": docs, "raw_scores": true})
	r := do(t, s.Handler(), "POST", "/v1/rerank", string(body))
	v := decode[v1Response](t, r.body)
	if len(v.Results) != 100 {
		t.Fatalf("%d results", len(v.Results))
	}
	for k, res := range v.Results {
		want := 1.0
		if res.Index == 37 || res.Index == 71 {
			want = -2
		}
		if res.RelevanceScore != want || (k < 98 && res.Index == 37) {
			t.Errorf("result %d: %+v", k, res)
		}
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5 s")
		}
	}
}
