package server

import (
	"math"
	"strings"
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
