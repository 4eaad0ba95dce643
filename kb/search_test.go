package kb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSearchOptionsChecked: checkSearch, the one place that validates SearchOptions, refuses
// fusion weights that are negative, NaN or infinite, or set with a fusion other than
// weighted, naming the field (the server's 400 and rerank kb search's usage error say it).
func TestSearchOptionsChecked(t *testing.T) {
	k := newKB(t, Config{ChunkTokens: 16, Overlap: 4})
	mustAdd(t, k, policyDocs...)
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, c := range []struct {
		o   SearchOptions
		msg string // "": valid
	}{
		{SearchOptions{Fusion: Weighted}, ""},
		{SearchOptions{Fusion: Weighted, DenseWeight: 1}, ""},
		{SearchOptions{Fusion: Weighted, SparseWeight: 2.5}, ""},
		{SearchOptions{Mode: Dense, Fusion: Weighted, DenseWeight: 1, SparseWeight: 1}, ""},
		{SearchOptions{Fusion: Weighted, DenseWeight: -1}, "dense_weight must be a finite number, 0 or more (got -1)"},
		{SearchOptions{Fusion: Weighted, DenseWeight: 1, SparseWeight: -0.5}, "sparse_weight must be a finite number, 0 or more (got -0.5)"},
		{SearchOptions{Fusion: Weighted, DenseWeight: nan}, "dense_weight must be a finite number"},
		{SearchOptions{Fusion: Weighted, SparseWeight: inf}, "sparse_weight must be a finite number, 0 or more (got +Inf)"},
		{SearchOptions{DenseWeight: 1}, `dense_weight and sparse_weight weigh fusion "weighted" only (fusion is "rrf")`},
		{SearchOptions{Fusion: RRF, SparseWeight: 0.3}, `(fusion is "rrf")`},
	} {
		_, err := k.Search(context.Background(), "员工离职", c.o)
		switch {
		case c.msg == "" && err != nil:
			t.Errorf("%+v: %v", c.o, err)
		case c.msg != "" && (!errors.Is(err, ErrOptions) || !strings.Contains(err.Error(), c.msg)):
			t.Errorf("%+v: %v, want ErrOptions with %q", c.o, err, c.msg)
		}
	}
}

// TestWeightedFusionWeights: weighted fusion scores every chunk DenseWeight·dense +
// SparseWeight·sparse: dense weight alone is dense recall's order and scores, sparse weight
// alone sparse recall's, no weights the paper's 1 and 0.3.
func TestWeightedFusionWeights(t *testing.T) {
	ctx := context.Background()
	k := newKB(t, Config{ChunkTokens: 16, Overlap: 4})
	mustAdd(t, k, policyDocs...)
	mustAdd(t, k, Document{ID: "notice-2", Text: "离职通知应当提前三十日提交，公司收到通知后办理离职手续。"},
		Document{ID: "other", Text: "The canteen opens at seven and closes at nine."})
	const q = "员工离职需要提前多久通知公司?"
	search := func(o SearchOptions) []Hit {
		t.Helper()
		o.TopK, o.TopN, o.NoRerank = 50, 50, true
		sr, err := k.Search(ctx, q, o)
		if err != nil {
			t.Fatal(err)
		}
		return sr.Hits
	}
	key := func(h Hit) string { return fmt.Sprintf("%s#%d", h.DocID, h.Chunk) }
	scores := func(hs []Hit) map[string]float64 {
		m := map[string]float64{}
		for _, h := range hs {
			m[key(h)] = float64(h.RecallScore)
		}
		return m
	}
	dense, sparse := search(SearchOptions{Mode: Dense}), search(SearchOptions{Mode: Sparse})
	if len(sparse) == 0 || len(sparse) == len(dense) {
		t.Fatalf("the test wants chunks that share no token with the query: %d dense, %d sparse hits", len(dense), len(sparse))
	}
	ds, ss := scores(dense), scores(sparse)
	same := func(name string, got, want []Hit) {
		t.Helper()
		if len(got) < len(want) {
			t.Fatalf("%s: %d hits, want at least %d", name, len(got), len(want))
		}
		for i, w := range want {
			if g := got[i]; key(g) != key(w) || math.Abs(float64(g.RecallScore-w.RecallScore)) > 1e-6 {
				t.Fatalf("%s: hit %d is %s %v, want %s %v", name, i, key(g), g.RecallScore, key(w), w.RecallScore)
			}
		}
	}
	same("dense_weight 1, sparse_weight 0", search(SearchOptions{Fusion: Weighted, DenseWeight: 1}), dense)
	same("dense_weight 0, sparse_weight 1", search(SearchOptions{Fusion: Weighted, SparseWeight: 1}), sparse)
	same("no weights", search(SearchOptions{Fusion: Weighted}), search(SearchOptions{Fusion: Weighted, DenseWeight: 1, SparseWeight: 0.3}))
	for _, w := range [][2]float64{{1, 0.3}, {0.2, 5}} {
		got := search(SearchOptions{Fusion: Weighted, DenseWeight: float32(w[0]), SparseWeight: float32(w[1])})
		for i, h := range got {
			want := w[0]*ds[key(h)] + w[1]*ss[key(h)] // 0 for a chunk sparse recall did not find
			if math.Abs(float64(h.RecallScore)-want) > 1e-5 || (i > 0 && h.RecallScore > got[i-1].RecallScore) {
				t.Fatalf("weights %v: hit %d %s scores %v, want %v, in descending order", w, i, key(h), h.RecallScore, want)
			}
		}
	}
}

// TestStatsCounts: Stats' counts are counted once per committed state: reused while nothing
// is committed, counted again after a commit of this knowledge base or of another process.
func TestStatsCounts(t *testing.T) {
	ctx := context.Background()
	emb, _ := models(t)
	k := newKB(t, Config{ChunkTokens: 16, Overlap: 4})
	stats := func() *Stats {
		t.Helper()
		st, err := k.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if st := stats(); st.Documents != 0 || st.Chunks != 0 {
		t.Fatalf("empty: %+v", st)
	}
	mustAdd(t, k, policyDocs...)
	st := stats()
	if st.Documents != 4 || st.Chunks < 4 || st.Tokens < st.Chunks || st.DeadRows != 0 || st.VectorBytes == 0 {
		t.Fatalf("after adding 4: %+v", st)
	}
	// nothing committed: the cached counts (marked so that reusing them shows)
	k.statsMu.Lock()
	k.stats.documents = 1000
	k.statsMu.Unlock()
	if st := stats(); st.Documents != 1000 {
		t.Fatalf("Stats counted again with nothing committed: %d documents", st.Documents)
	}
	// this knowledge base commits
	if _, err := k.Remove(ctx, "trap"); err != nil {
		t.Fatal(err)
	}
	if st := stats(); st.Documents != 3 || st.DeadRows < 1 {
		t.Fatalf("after a remove: %+v", st)
	}
	// another process (connection) commits
	b, err := Open(ctx, k.Dir(), Options{Embedder: emb})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	mustAdd(t, b, Document{ID: "new", Text: "A document added by another process."})
	if st := stats(); st.Documents != 4 {
		t.Fatalf("after another process's add: %+v", st)
	}
}

// TestCorruptErrorFile: a CorruptError names the file that is damaged: the vector file, or
// the database.
func TestCorruptErrorFile(t *testing.T) {
	ctx := context.Background()
	emb, _ := models(t)
	k := newKB(t, Config{ChunkTokens: 16, Overlap: 4})
	mustAdd(t, k, policyDocs...)
	dir := k.Dir()
	k.Close()

	// a chunk's text changed in kb.db: its checksum no longer matches
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, dbName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE chunks SET text = 'tampered' WHERE row = 0`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	b, err := Open(ctx, dir, Options{Embedder: emb})
	if err != nil {
		t.Fatal(err)
	}
	var ce *CorruptError
	if err := b.Check(ctx); !errors.As(err, &ce) || ce.File != dbName || !strings.Contains(err.Error(), "corrupt knowledge base: kb.db: chunk 0 of document") {
		t.Errorf("a changed chunk: %v", err)
	}
	b.Close()

	// the vector file cut short
	p := filepath.Join(dir, vectorsName)
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, st.Size()-7); err != nil {
		t.Fatal(err)
	}
	_, err = Open(ctx, dir, Options{Embedder: emb})
	if !errors.As(err, &ce) || ce.File != vectorsName || !strings.Contains(err.Error(), "corrupt knowledge base: vectors.bin: the vector file") {
		t.Errorf("a truncated vector file: %v", err)
	}
}
