package server

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gorerank/gorerank"
)

var fuzzSeeds = []string{
	`{"query": "q", "documents": ["a", {"text": "b"}]}`,
	`{"query": "q", "texts": ["a"], "raw_scores": true, "return_text": true, "truncation_direction": "Left"}`,
	`{"query": "q", "documents": ["a"], "top_n": 1, "max_length": 32, "truncate": false, "truncation": "windows", "max_chunks_per_doc": 2}`,
	`{"query": "q", "documents": [null, 1, true, [], {}]}`,
	`{"query": 1}`, `[]`, `null`, `"x"`, `{"documents": {"text": "a"}}`, "{\"query\": \"\xff\"}",
	`{"query": "q", "documents": ["a"], "top_n": 1e400}`, `{"query": "q", "documents": ["a"], "max_length": -1}`,
	`{"query": "q", "query": "r", "documents": ["a"]}`, `{"QUERY": "q", "query": "r", "documents": [{"text": "a", "TEXT": 1}]}`,
	`{"query": "q", "documents": ["a b c d e f"], "max_tokens_per_doc": 2, "truncate_prompt_tokens": 5, "truncation_side": "left"}`,
}

// FuzzParseRerank: any body is either rejected with a 4xx apiError or yields a request
// within the limits; nothing panics.
func FuzzParseRerank(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	lim := limits{maxDocuments: 4, maxLength: 64, defaultMode: gorerank.TruncateLongestFirst, maxChunks: 4, defaultReturn: true}
	f.Fuzz(func(t *testing.T, body []byte, cohere bool) {
		r, err := parseRerank(body, cohere, lim)
		if err != nil {
			if err.status < 400 || err.status > 499 || err.msg == "" || err.typ == "" {
				t.Fatalf("bad error %+v", err)
			}
			return
		}
		if strings.TrimSpace(r.query) == "" || len(r.docs) == 0 || len(r.docs) > lim.maxDocuments ||
			r.opts.score.MaxLength < 1 || r.opts.score.MaxLength > lim.maxLength || r.topN < 0 ||
			r.opts.score.MaxWindows < 1 || r.opts.score.MaxWindows > lim.maxChunks || r.opts.score.MaxDocTokens < 0 {
			t.Fatalf("accepted out-of-range request %+v from %q", r, body)
		}
	})
}

// FuzzRerankHandler: through the whole handler with the fake engine, every body gets JSON
// and never a 5xx.
func FuzzRerankHandler(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	s, err := New(Config{MaxDocuments: 8, MaxLength: 32, MaxBodyBytes: 1 << 16})
	if err != nil {
		f.Fatal(err)
	}
	if err := s.SetEngine(&fakeEngine{}); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(s.Close)
	f.Fuzz(func(t *testing.T, body string) {
		for _, path := range []string{"/v1/rerank", "/rerank", "/tokenize"} {
			r := do(t, s.Handler(), "POST", path, body)
			if r.status >= 500 {
				t.Fatalf("%s %q: %d %s", path, body, r.status, r.body)
			}
			if !json.Valid(r.body) {
				t.Fatalf("%s: not JSON: %s", path, r.body)
			}
		}
	})
}
