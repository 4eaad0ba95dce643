package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/gorerank/gorerank"
	"github.com/gorerank/gorerank/xlmr"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestLRU(t *testing.T) {
	c := newLRU(2, 1<<20)
	k := func(s string) cacheKey { return rerankKey("m", s, "d", gorerank.ScoreOptions{MaxLength: 512}) }
	c.put(k("a"), cacheValue{logit: 1})
	c.put(k("b"), cacheValue{logit: 2})
	if _, ok := c.get(k("a")); !ok {
		t.Fatal("a missing")
	}
	c.put(k("c"), cacheValue{logit: 3}) // evicts b, the least recently used
	if _, ok := c.get(k("b")); ok {
		t.Error("b not evicted")
	}
	if v, ok := c.get(k("a")); !ok || v.logit != 1 {
		t.Error("a evicted")
	}
	if n, b := c.stats(); n != 2 || b != 2*cacheEntryOverhead {
		t.Errorf("%d entries, %d bytes", n, b)
	}
	var off *lru
	off.put(k("a"), cacheValue{})
	if _, ok := off.get(k("a")); ok {
		t.Error("nil cache stores")
	}
	if n, b := off.stats(); n != 0 || b != 0 {
		t.Error("nil cache has entries")
	}
	if newLRU(10, 0) != nil || newLRU(0, 1<<20) != nil {
		t.Error("a zero bound should turn the cache off")
	}
}

// denseValue is an embedding entry holding a dense vector of n floats.
func denseEntry(n int) cacheValue {
	return cacheValue{emb: &xlmr.Embedding{Outputs: xlmr.OutputDense, Dense: make([]float32, n)}, tokens: 8}
}

// colbertValue is an entry holding t ColBERT vectors of h floats (one backing array, as
// xlmr.Model.Embed makes them).
func colbertEntry(t, h int) cacheValue {
	back := make([]float32, t*h)
	rows := make([][]float32, t)
	for r := range rows {
		rows[r] = back[r*h : (r+1)*h : (r+1)*h]
	}
	return cacheValue{emb: &xlmr.Embedding{Outputs: xlmr.OutputColBERT, ColBERT: rows}, tokens: int32(t + 1)}
}

func sparseEntry(n int) cacheValue {
	m := make(map[int32]float32)
	for i := range n {
		m[int32(i*7)] = 1
	}
	return cacheValue{emb: &xlmr.Embedding{Outputs: xlmr.OutputSparse, Sparse: m}, tokens: int32(n + 2)}
}

// TestCacheByteBound: many distinct entries of every size, from logits to ColBERT outputs:
// the bytes held never pass the budget (counted bytes, whatever the number of entries), the
// count matches the entries, and an entry over 1/cacheEntryShare of the budget is not kept.
func TestCacheByteBound(t *testing.T) {
	const budget = 256 << 10
	c := newLRU(1<<30, budget) // the entry bound never binds
	values := []cacheValue{{logit: 1}, denseEntry(32), denseEntry(1024), sparseEntry(40), colbertEntry(8, 128), colbertEntry(2, 1024)}
	for i := range 5000 {
		v := values[i%len(values)]
		c.put(rerankKey("m", fmt.Sprint(i), "", gorerank.ScoreOptions{}), v)
		n, b := c.stats()
		if b > budget {
			t.Fatalf("after %d puts: %d bytes held, budget %d", i+1, b, budget)
		}
		if i == 4999 {
			sum := int64(0)
			for e := c.ll.Front(); e != nil; e = e.Next() {
				le := e.Value.(*lruEntry)
				sum += le.val.size()
			}
			if sum != b || n != c.ll.Len() || n != len(c.items) {
				t.Errorf("%d bytes counted, entries hold %d; %d entries, list %d, map %d", b, sum, n, c.ll.Len(), len(c.items))
			}
			if b < budget*9/10 {
				t.Errorf("%d bytes held after 5000 distinct puts: the budget %d should be nearly full", b, budget)
			}
			t.Logf("%d entries, %d bytes of %d", n, b, budget)
		}
	}
	// replacing an entry counts its new size, not both
	small := newLRU(10, budget)
	k := rerankKey("m", "again", "", gorerank.ScoreOptions{})
	small.put(k, denseEntry(32))
	_, b0 := small.stats()
	small.put(k, denseEntry(64))
	if n, b1 := small.stats(); n != 1 || b1 != b0+4*32 {
		t.Errorf("replacing a 32-float vector by a 64-float one: %d bytes, then %d in %d entries", b0, b1, n)
	}
	// too large for the cache: a 1024-token ColBERT output of 1024 floats (4 MiB); a 5 KiB
	// one is over 1/64 of the 256 KiB budget too
	for _, v := range []cacheValue{colbertEntry(1024, 1024), colbertEntry(10, 128)} {
		kb := rerankKey("m", "big", fmt.Sprint(v.size()), gorerank.ScoreOptions{})
		c.put(kb, v)
		if _, ok := c.get(kb); ok {
			t.Errorf("an entry of %d bytes was cached (budget %d, at most %d an entry)", v.size(), budget, budget/cacheEntryShare)
		}
	}
}

// TestCacheBytesAccounted: what an entry is counted is at least what it holds on the heap
// (measured over many entries), and not far above it, so --cache-bytes is a memory bound.
func TestCacheBytesAccounted(t *testing.T) {
	if testing.Short() {
		t.Skip("measures the heap")
	}
	const n = 20000
	for _, c := range []struct {
		name string
		make func() cacheValue
	}{
		{"logit", func() cacheValue { return cacheValue{logit: 1} }},
		{"dense 32", func() cacheValue { return denseEntry(32) }},
		{"dense 1024", func() cacheValue { return denseEntry(1024) }},
		{"sparse 12", func() cacheValue { return sparseEntry(12) }},
		{"sparse 100", func() cacheValue { return sparseEntry(100) }},
		{"colbert 16x32", func() cacheValue { return colbertEntry(16, 32) }},
	} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		cache := newLRU(n, 1<<40)
		for i := range n {
			cache.put(rerankKey("m", fmt.Sprint(i), "", gorerank.ScoreOptions{}), c.make())
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		entries, counted := cache.stats()
		heap := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(entries)
		per := float64(counted) / float64(entries)
		t.Logf("%-14s counted %7.0f bytes an entry, heap %7.0f", c.name, per, heap)
		if per < heap || per > 2*heap+64 {
			t.Errorf("%s: counted %.0f bytes an entry, the heap holds %.0f", c.name, per, heap)
		}
		runtime.KeepAlive(cache)
	}
}

// TestCacheKeysCoverOptions: every option that changes an answer changes its key, and
// rerank, text and token-id keys never meet. A new field in ScoreOptions or EmbedOptions
// fails here until the key says whether it changes the answer.
func TestCacheKeysCoverOptions(t *testing.T) {
	if n := reflect.TypeFor[gorerank.ScoreOptions]().NumField(); n != 8 {
		t.Errorf("gorerank.ScoreOptions has %d fields: does the new one change a logit? put it in rerankKey, then update this count", n)
	}
	if n := reflect.TypeFor[gorerank.EmbedOptions]().NumField(); n != 4 {
		t.Errorf("gorerank.EmbedOptions has %d fields: does the new one change an embedding? put it in embedKey, then update this count", n)
	}
	so := gorerank.ScoreOptions{MaxLength: 512, Truncation: gorerank.TruncateLongestFirst, WindowOverlap: 64, MaxWindows: 8}
	keys := map[cacheKey]string{}
	add := func(name string, k cacheKey) {
		t.Helper()
		if old, ok := keys[k]; ok {
			t.Errorf("%s has the key of %s", name, old)
		}
		keys[k] = name
	}
	add("rerank", rerankKey("m", "q", "d", so))
	add("rerank other model", rerankKey("m2", "q", "d", so))
	add("rerank q|d split", rerankKey("m", "qd", "", so))
	for name, f := range map[string]func(*gorerank.ScoreOptions){
		"max_length":     func(o *gorerank.ScoreOptions) { o.MaxLength = 256 },
		"truncation":     func(o *gorerank.ScoreOptions) { o.Truncation = gorerank.TruncateWindows },
		"max_doc_tokens": func(o *gorerank.ScoreOptions) { o.MaxDocTokens = 100 },
		"overlap":        func(o *gorerank.ScoreOptions) { o.WindowOverlap = 32 },
		"max_windows":    func(o *gorerank.ScoreOptions) { o.MaxWindows = 2 },
		"strict":         func(o *gorerank.ScoreOptions) { o.Strict = true },
		"left":           func(o *gorerank.ScoreOptions) { o.Left = true },
	} {
		o := so
		f(&o)
		add("rerank "+name, rerankKey("m", "q", "d", o))
	}
	eo := gorerank.EmbedOptions{Outputs: xlmr.OutputDense, MaxLength: 8192, Truncate: true}
	text := &embedInput{texts: []string{"q", "d"}}
	add("embed", embedKey("m", text, 0, eo))
	add("embed other text", embedKey("m", text, 1, eo))
	add("embed other model", embedKey("m2", text, 0, eo))
	add("embed ids", embedKey("m", &embedInput{ids: [][]int32{{113}}}, 0, eo))      // 'q' is 113: ids are not text
	add("embed ids 2", embedKey("m", &embedInput{ids: [][]int32{{113, 0}}}, 0, eo)) // nor a prefix of longer ids
	for name, f := range map[string]func(*gorerank.EmbedOptions){
		"sparse":     func(o *gorerank.EmbedOptions) { o.Outputs = xlmr.OutputSparse },
		"colbert":    func(o *gorerank.EmbedOptions) { o.Outputs = xlmr.OutputColBERT },
		"all":        func(o *gorerank.EmbedOptions) { o.Outputs = xlmr.OutputAll },
		"max_length": func(o *gorerank.EmbedOptions) { o.MaxLength = 512 },
		"truncate":   func(o *gorerank.EmbedOptions) { o.Truncate = false },
		"left":       func(o *gorerank.EmbedOptions) { o.Left = true },
	} {
		o := eo
		f(&o)
		add("embed "+name, embedKey("m", text, 0, o))
	}
	if rerankKey("m", "q", "d", so) != rerankKey("m", "q", "d", so) || embedKey("m", text, 0, eo) != embedKey("m", &embedInput{texts: []string{"q"}}, 0, eo) {
		t.Error("keys are not deterministic")
	}
}

// embedRoutes are the embedding requests of the cache tests: every route and format.
// warm: the texts are cached already, by the request before (the cache keeps outputs, not
// their encoding).
var embedRoutes = []struct {
	path, body string
	warm       bool
}{
	{"/v1/embeddings", `{"input": ["hello world", "a b c"]}`, false},
	{"/v1/embeddings", `{"input": ["hello world", "a b c"], "encoding_format": "base64"}`, true},
	{"/v1/embeddings", `{"input": [[11, 12, 13], [14]]}`, false},
	{"/embed", `{"inputs": ["hello world", "a b c"]}`, false},
	{"/embed", `{"inputs": ["hello world", "a b c"], "truncation_direction": "Left"}`, false},
	{"/embed_sparse", `{"inputs": ["hello world", "b a b"]}`, false},
	{"/embed_colbert", `{"inputs": ["hello world", "a b c"]}`, false},
}

// TestEmbedCacheHit: for every embedding route, the second request is answered from the
// cache with the same bytes as the first (and as a server without a cache), and a request
// that half hits gives the same bytes too. The model runs only for what the cache lacks.
func TestEmbedCacheHit(t *testing.T) {
	_, emb := m3Tiny(t)
	cached := newEmbedServer(t, Config{}, nil, emb)
	plain := newEmbedServer(t, Config{NoCache: true}, nil, emb)
	seqs := func() float64 { return testutil.ToFloat64(cached.m.modelSeqs.WithLabelValues("BAAI/bge-m3")) }
	for _, r := range embedRoutes {
		want := do(t, plain.Handler(), "POST", r.path, r.body)
		if want.status != 200 {
			t.Fatalf("%s %s: %d %s", r.path, r.body, want.status, want.body)
		}
		hits, runs := testutil.ToFloat64(cached.m.cacheHits), seqs()
		ran, hit1 := 2.0, 0.0
		if r.warm {
			ran, hit1 = 0, 2
		}
		miss := do(t, cached.Handler(), "POST", r.path, r.body)
		if d := seqs() - runs; d != ran {
			t.Errorf("%s %s: the first request ran %v texts, want %v", r.path, r.body, d, ran)
		}
		hit := do(t, cached.Handler(), "POST", r.path, r.body)
		if d := seqs() - runs; d != ran {
			t.Errorf("%s %s: the second request ran the model (%v texts in all)", r.path, r.body, d)
		}
		if d := testutil.ToFloat64(cached.m.cacheHits) - hits; d != 2+hit1 {
			t.Errorf("%s %s: %v cache hits, want %v", r.path, r.body, d, 2+hit1)
		}
		if !bytes.Equal(miss.body, want.body) || !bytes.Equal(hit.body, want.body) {
			t.Errorf("%s %s:\nno cache %.200s\nmiss     %.200s\nhit      %.200s", r.path, r.body, want.body, miss.body, hit.body)
		}
	}
	// half a hit: "hello world" is cached (dense, from /embed), "x y z" is not
	body := `{"inputs": ["x y z", "hello world"]}`
	want := do(t, plain.Handler(), "POST", "/embed", body)
	runs := seqs()
	if got := do(t, cached.Handler(), "POST", "/embed", body); !bytes.Equal(got.body, want.body) || seqs()-runs != 1 {
		t.Errorf("half cached: ran %v texts\n%s\nwant %s", seqs()-runs, got.body, want.body)
	}
	// usage counts cached tokens as OpenAI's usage counts them
	var u struct{ Usage usage }
	json.Unmarshal(do(t, cached.Handler(), "POST", "/v1/embeddings", `{"input": ["hello world", "a b c"]}`).body, &u)
	var w struct{ Usage usage }
	json.Unmarshal(do(t, plain.Handler(), "POST", "/v1/embeddings", `{"input": ["hello world", "a b c"]}`).body, &w)
	if u.Usage != w.Usage || u.Usage.PromptTokens == 0 {
		t.Errorf("usage from the cache %+v, without %+v", u.Usage, w.Usage)
	}
	if b, tk := cached.adm.heldBytes.Load(), cached.adm.heldTokens.Load(); b != 0 || tk != 0 {
		t.Errorf("held after the answers: %d bytes, %d tokens", b, tk)
	}
}

// TestEmbedCacheSeparatesRequests: what the same text is asked for in another way (another
// output, truncation side, length limit, model, or a rerank pair of it) runs the model.
func TestEmbedCacheSeparatesRequests(t *testing.T) {
	s := newEmbedServer(t, Config{}, []Engine{&fakeEngine{}}, &fakeEmbedder{id: "e1"}, &fakeEmbedder{id: "e2"})
	h := s.Handler()
	long := strings.Repeat("w ", 30) + strings.Repeat("v ", 60) // over the fake's 64 tokens
	seqs := func() float64 {
		return testutil.ToFloat64(s.m.modelSeqs.WithLabelValues("e1")) + testutil.ToFloat64(s.m.modelSeqs.WithLabelValues("e2"))
	}
	var answers []string
	for _, r := range []struct{ path, body string }{
		{"/embed", `{"model": "e1", "inputs": "` + long + `"}`},
		{"/embed", `{"model": "e1", "inputs": "` + long + `", "truncation_direction": "left"}`},
		{"/embed_sparse", `{"model": "e1", "inputs": "` + long + `"}`},
		{"/embed_colbert", `{"model": "e1", "inputs": "` + long + `"}`},
		{"/embed", `{"model": "e2", "inputs": "` + long + `"}`},
		{"/v1/embeddings", `{"model": "e1", "input": "w w w"}`},
		{"/v1/embeddings", `{"model": "e1", "input": [` + itoa(wordID("w")) + `,` + itoa(wordID("w")) + `,` + itoa(wordID("w")) + `]}`},
	} {
		before := seqs()
		got := do(t, h, "POST", r.path, r.body)
		if got.status != 200 || seqs()-before != 1 {
			t.Errorf("%s %.80s: %d, ran %v texts, want 1 (a cache hit from another request?)", r.path, r.body, got.status, seqs()-before)
		}
		answers = append(answers, string(got.body))
	}
	if answers[0] == answers[1] {
		t.Error("truncation from the left and from the right gave the same answer")
	}
	// the same text as a rerank pair's document: a rerank entry, beside the embedding
	if r := do(t, h, "POST", "/rerank", `{"query": "w", "texts": ["w w w"]}`); r.status != 200 {
		t.Errorf("rerank: %d %s", r.status, r.body)
	}
	if n, _ := s.cache.stats(); n != 8 {
		t.Errorf("%d cache entries, want 8 (7 embeddings and a pair)", n)
	}
}

// TestEmbedCacheBounded: many distinct texts through the server keep the cache within
// --cache-bytes (rerank_cache_bytes says how much), and a ColBERT answer too large for the
// cache is not kept.
func TestEmbedCacheBounded(t *testing.T) {
	_, emb := m3Tiny(t)
	const budget = 64 << 10
	s := newEmbedServer(t, Config{CacheBytes: budget, CacheSize: 1 << 20}, nil, emb)
	h := s.Handler()
	for i := range 20 {
		texts := make([]string, 25)
		for k := range texts {
			texts[k] = fmt.Sprintf("text number %d of request %d", k, i)
		}
		body, _ := json.Marshal(map[string]any{"inputs": texts})
		for _, path := range []string{"/embed", "/embed_sparse"} {
			if r := do(t, h, "POST", path, string(body)); r.status != 200 {
				t.Fatalf("%s: %d %s", path, r.status, r.body)
			}
		}
		if _, b := s.cache.stats(); b > budget {
			t.Fatalf("after %d requests: %d bytes cached, budget %d", 2*(i+1), b, budget)
		}
	}
	n, b := s.cache.stats()
	if g := testutil.ToFloat64(s.m.cacheBytes); g != float64(b) || b < budget*9/10 {
		t.Errorf("rerank_cache_bytes %v, cache %d bytes of %d", g, b, budget)
	}
	t.Logf("1000 distinct texts: %d entries, %d bytes (budget %d)", n, b, budget)
	// ColBERT of a 300-token text: 299 × 32 floats, 38 KiB, over 1/64 of the budget
	long := strings.Repeat("hello ", 298)
	for range 2 {
		if r := do(t, h, "POST", "/embed_colbert", `{"inputs": "`+long+`"}`); r.status != 200 {
			t.Fatalf("colbert: %d %.200s", r.status, r.body)
		}
	}
	if n2, _ := s.cache.stats(); n2 > n {
		t.Errorf("a large ColBERT answer was cached: %d entries, then %d", n, n2)
	}
}

// TestCacheConcurrent: clients asking overlapping rerank and embedding requests at once
// through a cache small enough to evict all the time all get the answers of a server
// without a cache (run under -race).
func TestCacheConcurrent(t *testing.T) {
	cached := newEmbedServer(t, Config{CacheBytes: 32 << 10, CacheSize: 60, MaxConcurrentRequests: 64}, []Engine{&fakeEngine{}}, &fakeEmbedder{})
	plain := newEmbedServer(t, Config{NoCache: true, MaxConcurrentRequests: 64}, []Engine{&fakeEngine{}}, &fakeEmbedder{})
	type req struct{ path, body string }
	var reqs []req
	for i := range 12 {
		words := fmt.Sprintf("w%d w%d x%d", i%5, i%3, i%4)
		reqs = append(reqs,
			req{"/embed", `{"inputs": ["` + words + `", "shared text"]}`},
			req{"/embed_sparse", `{"inputs": ["` + words + `"]}`},
			req{"/embed_colbert", `{"inputs": ["` + words + `", "shared text"]}`},
			req{"/v1/embeddings", `{"input": "` + words + `", "encoding_format": "base64"}`},
			req{"/rerank", `{"query": "w1 x2", "texts": ["` + words + `", "shared text"]}`})
	}
	want := make([][]byte, len(reqs))
	for i, r := range reqs {
		want[i] = do(t, plain.Handler(), "POST", r.path, r.body).body
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range 60 {
				i := (g*7 + n*5) % len(reqs)
				r := do(t, cached.Handler(), "POST", reqs[i].path, reqs[i].body)
				if r.status != 200 || !bytes.Equal(r.body, want[i]) {
					t.Errorf("%s %s: %d\n%s\nwant %s", reqs[i].path, reqs[i].body, r.status, r.body, want[i])
					return
				}
			}
		}()
	}
	wg.Wait()
	if n, b := cached.cache.stats(); n > 60 || b > 32<<10 {
		t.Errorf("%d entries, %d bytes: over the bounds", n, b)
	}
	if testutil.ToFloat64(cached.m.cacheHits) == 0 {
		t.Error("no cache hit")
	}
}
