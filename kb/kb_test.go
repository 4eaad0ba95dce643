package kb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gorerank/gorerank"
	"github.com/gorerank/gorerank/internal/m3kit"
	"github.com/gorerank/gorerank/internal/randmodel"
	"github.com/gorerank/gorerank/internal/testmodels"
	"github.com/gorerank/gorerank/weights"
)

// The test models (m3kit): a tiny bge-m3 and a tiny reranker. Their scores mean nothing;
// what they test is the plumbing.
var (
	modelsOnce sync.Once
	testEmb    *gorerank.Embedder
	testRR     *gorerank.Reranker
	embDir     string
	modelsErr  error
)

func models(t testing.TB) (*gorerank.Embedder, *gorerank.Reranker) {
	t.Helper()
	embDir = testmodels.EmbedderDir(t)
	rrDir := testmodels.RerankerDir(t)
	modelsOnce.Do(func() {
		if testEmb, modelsErr = gorerank.OpenEmbedder(embDir, gorerank.Options{}); modelsErr != nil {
			return
		}
		testRR, modelsErr = gorerank.Open(rrDir, gorerank.Options{})
	})
	if modelsErr != nil {
		t.Fatal(modelsErr)
	}
	return testEmb, testRR
}

// The labour-law example: four policy sentences and keyword traps.
var policyDocs = []Document{
	{ID: "notice", Text: "员工离职应提前三十日以书面形式通知用人单位。试用期内提前三日通知即可。", Metadata: map[string]any{"lang": "zh", "topic": "resignation"}},
	{ID: "severance", Text: "用人单位解除劳动合同的，应当向劳动者支付经济补偿。", Metadata: map[string]any{"lang": "zh", "topic": "severance"}},
	{ID: "leave", Text: "Employees are entitled to fifteen days of paid annual leave after one year of service.", Metadata: map[string]any{"lang": "en", "topic": "leave"}},
	{ID: "trap", Text: "公司通知:员工食堂离职窗口提前关闭。", Metadata: map[string]any{"lang": "zh", "topic": []any{"trap", "canteen"}}},
}

func newKB(t *testing.T, cfg Config) *KB {
	t.Helper()
	emb, rr := models(t)
	if cfg.Embedder == "" {
		cfg.Embedder = embDir
	}
	k, err := Create(context.Background(), t.TempDir(), cfg, emb)
	if err != nil {
		t.Fatal(err)
	}
	k.opt.Reranker = rr
	t.Cleanup(func() { k.Close() })
	return k
}

func mustAdd(t *testing.T, k *KB, docs ...Document) []AddResult {
	t.Helper()
	res, err := k.Add(context.Background(), docs)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestAddSearchRemove(t *testing.T) {
	ctx := context.Background()
	for _, vectors := range Formats {
		t.Run(vectors, func(t *testing.T) {
			k := newKB(t, Config{Vectors: vectors, ChunkTokens: 16, Overlap: 4})
			res := mustAdd(t, k, policyDocs...)
			for i, r := range res {
				if r.Status != Added || r.Chunks < 1 || r.Err != nil {
					t.Fatalf("doc %d: %+v", i, r)
				}
			}
			// The same again: unchanged, nothing embedded.
			for _, r := range mustAdd(t, k, policyDocs...) {
				if r.Status != Unchanged {
					t.Fatalf("re-add: %+v", r)
				}
			}
			// A chunk's own text finds it first by dense recall (the same text, the same
			// vector), and among the recalled by every mode.
			for _, d := range policyDocs {
				info, err := k.Get(ctx, d.ID)
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range info.Chunks {
					if d.Text[c.Start:c.End] != c.Text {
						t.Fatalf("offsets [%d:%d] do not give the chunk text %q", c.Start, c.End, c.Text)
					}
					for _, mode := range []Mode{Dense, Sparse, Hybrid} {
						sr, err := k.Search(ctx, c.Text, SearchOptions{Mode: mode, NoRerank: true, TopK: 50, TopN: 50})
						if err != nil {
							t.Fatal(err)
						}
						at := slices.IndexFunc(sr.Hits, func(h Hit) bool { return h.DocID == d.ID && h.Chunk == c.Chunk })
						if at < 0 || (mode == Dense && at != 0) {
							t.Fatalf("%s search for chunk %d of %q: at %d of %+v", mode, c.Chunk, d.ID, at, sr.Hits)
						}
						if h := sr.Hits[at]; h.Text != c.Text || h.Start != c.Start || h.Metadata["lang"] != d.Metadata["lang"] {
							t.Fatalf("hit %+v, chunk %+v", h, c)
						}
					}
				}
			}
			sr, err := k.Search(ctx, "员工离职需要提前多久通知公司?", SearchOptions{TopK: 10, TopN: 3})
			if err != nil {
				t.Fatal(err)
			}
			if len(sr.Hits) != 3 || !sr.Hits[0].Reranked || sr.Hits[0].Rank != 1 {
				t.Fatalf("reranked search: %+v", sr.Hits)
			}
			for i := 1; i < len(sr.Hits); i++ {
				if sr.Hits[i].RerankScore > sr.Hits[i-1].RerankScore {
					t.Fatalf("not in rerank order: %+v", sr.Hits)
				}
			}
			// Filters: a scalar, a list in the filter, a list in the metadata.
			for _, c := range []struct {
				filter map[string]any
				want   []string
			}{
				{map[string]any{"lang": "en"}, []string{"leave"}},
				{map[string]any{"topic": []any{"severance", "leave"}}, []string{"leave", "severance"}},
				{map[string]any{"topic": "canteen"}, []string{"trap"}},
				{map[string]any{"lang": "fr"}, nil},
			} {
				sr, err := k.Search(ctx, "通知", SearchOptions{TopK: 50, TopN: 50, Filter: c.filter, NoRerank: true})
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, h := range sr.Hits {
					if !slices.Contains(got, h.DocID) {
						got = append(got, h.DocID)
					}
				}
				slices.Sort(got)
				if !slices.Equal(got, c.want) {
					t.Fatalf("filter %v: got %v, want %v", c.filter, got, c.want)
				}
			}
			// Replace one, remove one.
			changed := policyDocs[2]
			changed.Text = "Annual leave: twenty days."
			if r := mustAdd(t, k, changed); r[0].Status != Replaced {
				t.Fatalf("replace: %+v", r)
			}
			removed, err := k.Remove(ctx, "trap", "nope")
			if !slices.Equal(removed, []string{"trap"}) || !errors.Is(err, ErrNotFound) {
				t.Fatalf("remove: %v %v", removed, err)
			}
			sr, err = k.Search(ctx, policyDocs[2].Text, SearchOptions{TopK: 50, TopN: 50, NoRerank: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range sr.Hits {
				if h.DocID == "trap" || (h.DocID == "leave" && h.Text != changed.Text) {
					t.Fatalf("a removed or replaced chunk was found: %+v", h)
				}
			}
			st, err := k.Stats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.Documents != 3 || st.DeadRows < 2 {
				t.Fatalf("stats: %+v", st)
			}
			if err := k.Check(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestRecallExact: dense recall is the exact top-k of the stored vectors (the brute force
// over kb export's vectors), and so recall is 1.0.
func TestRecallExact(t *testing.T) {
	ctx := context.Background()
	k := newKB(t, Config{ChunkTokens: 16, Overlap: 0})
	kit := m3kit.Refs(t, m3kit.Dir(t))
	var docs []Document
	for i, r := range kit[:120] {
		docs = append(docs, Document{ID: fmt.Sprint(i), Text: r.Text})
	}
	res := mustAdd(t, k, docs...)
	type vec struct {
		doc   string
		chunk int
		dense []float32
	}
	var all []vec
	if err := k.Export(ctx, func(d *DocInfo) error {
		for _, c := range d.Chunks {
			all = append(all, vec{d.ID, c.Chunk, c.Dense})
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	added := 0
	for _, r := range res {
		added += r.Chunks
	}
	if len(all) != added {
		t.Fatalf("export has %d chunks, add stored %d", len(all), added)
	}
	emb, _ := models(t)
	for _, q := range []string{"员工离职", "the weather today", kit[7].Text[:min(len(kit[7].Text), 40)]} {
		e, err := emb.Embed(ctx, []string{q}, gorerank.EmbedOptions{})
		if err != nil {
			t.Fatal(err)
		}
		type scored struct {
			key   string
			score float64
		}
		var brute []scored
		for _, v := range all {
			var s float64
			for i := range v.dense {
				s += float64(v.dense[i]) * float64(e[0].Dense[i])
			}
			brute = append(brute, scored{fmt.Sprintf("%s#%d", v.doc, v.chunk), s})
		}
		slices.SortFunc(brute, func(a, b scored) int {
			if a.score > b.score {
				return -1
			}
			if a.score < b.score {
				return 1
			}
			return 0
		})
		sr, err := k.Search(ctx, q, SearchOptions{Mode: Dense, TopK: 20, TopN: 20, NoRerank: true})
		if err != nil {
			t.Fatal(err)
		}
		for i, h := range sr.Hits {
			if d := float64(h.RecallScore) - brute[i].score; d > 1e-5 || d < -1e-5 {
				t.Fatalf("query %q rank %d: score %v, brute force %v (%s)", q, i, h.RecallScore, brute[i].score, brute[i].key)
			}
		}
	}
}

// TestReopenAndIdentity: what was added is there after a reopen; another embedder is refused.
func TestReopenAndIdentity(t *testing.T) {
	ctx := context.Background()
	emb, rr := models(t)
	dir := t.TempDir()
	k, err := Create(ctx, dir, Config{Embedder: embDir}, emb)
	if err != nil {
		t.Fatal(err)
	}
	mustAdd(t, k, policyDocs...)
	k.Close()
	if _, err := Create(ctx, dir, Config{Embedder: embDir}, emb); !errors.Is(err, ErrExists) {
		t.Fatalf("Create over a knowledge base: %v", err)
	}
	k, err = Open(ctx, dir, Options{Embedder: emb, Reranker: rr})
	if err != nil {
		t.Fatal(err)
	}
	d, err := k.Get(ctx, "notice")
	if err != nil || d.Text != policyDocs[0].Text || d.Metadata["topic"] != "resignation" {
		t.Fatalf("get after reopen: %+v %v", d, err)
	}
	if _, err := k.Get(ctx, "absent"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get absent: %v", err)
	}
	k.Close()

	// Another bge-m3 of the same shape and tokenizer, other weights (another seed).
	other := filepath.Join(t.TempDir(), "other")
	raw, err := os.ReadFile(filepath.Join(embDir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := randmodel.WriteDir(other, raw, weights.F32, 7); err != nil {
		t.Fatal(err)
	}
	tok, _ := filepath.Abs("../testdata/tokenizer/tokenizer.json")
	os.Symlink(tok, filepath.Join(other, "tokenizer.json"))
	emb2, err := gorerank.OpenEmbedder(other, gorerank.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer emb2.Close()
	var ee *EmbedderError
	if _, err := Open(ctx, dir, Options{Embedder: emb2}); !errors.As(err, &ee) {
		t.Fatalf("open with another embedder: %v", err)
	}
	// Without an embedder it opens for listing, and refuses to add or search.
	k, err = Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if _, err := k.Search(ctx, "x", SearchOptions{}); !errors.Is(err, ErrNoEmbedder) {
		t.Fatalf("search without embedder: %v", err)
	}
	if _, err := k.Add(ctx, policyDocs[:1]); !errors.Is(err, ErrNoEmbedder) {
		t.Fatalf("add without embedder: %v", err)
	}
}

func TestRejected(t *testing.T) {
	k := newKB(t, Config{})
	k.opt.MaxDocBytes = 1000
	docs := []Document{
		{ID: "", Text: "x"},
		{ID: "empty", Text: ""},
		{ID: "blank", Text: " \n\t "},
		{ID: "utf8", Text: "ok \xff\xfe"},
		{ID: "nul", Text: "a\x00b"},
		{ID: "big", Text: strings.Repeat("a ", 600)},
		{ID: "good", Text: "a good document"},
		{ID: "good", Text: "the same id twice"},
		{ID: "prechunked", Text: "abc", Chunks: []EmbeddedChunk{{Start: 0, End: 9}}},
	}
	res := mustAdd(t, k, docs...)
	for i, r := range res {
		want := Rejected
		if i == 6 {
			want = Added
		}
		if r.Status != want {
			t.Errorf("doc %d (%q): %s %v, want %s", i, docs[i].ID, r.Status, r.Err, want)
		}
		if want == Rejected && (r.Err == nil || !strings.Contains(r.Err.Error(), "document")) {
			t.Errorf("doc %d: error %v", i, r.Err)
		}
	}
}

// TestPreEmbedded: kb export --documents output goes back in without embedding it all, and
// vectors from another model are refused.
func TestPreEmbedded(t *testing.T) {
	ctx := context.Background()
	src := newKB(t, Config{ChunkTokens: 16, Overlap: 4})
	mustAdd(t, src, policyDocs...)
	var docs []Document
	if err := src.Export(ctx, func(d *DocInfo) error {
		doc := Document{ID: d.ID, Text: d.Text, Metadata: d.Metadata}
		for _, c := range d.Chunks {
			doc.Chunks = append(doc.Chunks, EmbeddedChunk{Start: c.Start, End: c.End, Dense: c.Dense, SparseIndices: c.SparseIndices, SparseValues: c.SparseValues})
		}
		docs = append(docs, doc)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	dst := newKB(t, Config{ChunkTokens: 16, Overlap: 4})
	for _, r := range mustAdd(t, dst, docs...) {
		if r.Status != Added {
			t.Fatalf("%+v", r)
		}
	}
	// A vector from elsewhere: rotate the first chunk's dense vector.
	bad := docs[0]
	bad.ID = "bad"
	bad.Chunks = slices.Clone(bad.Chunks)
	d := slices.Clone(bad.Chunks[0].Dense)
	d = append(d[1:], d[0])
	bad.Chunks[0].Dense = d
	if r := mustAdd(t, dst, bad); r[0].Status != Rejected || !strings.Contains(r[0].Err.Error(), "another model") {
		t.Fatalf("foreign vectors: %+v", r[0])
	}
}

// TestConcurrentSearchDuringAdd: searches run, and see whole documents only, while another
// goroutine adds and removes.
func TestConcurrentSearchDuringAdd(t *testing.T) {
	ctx := context.Background()
	k := newKB(t, Config{ChunkTokens: 16, Overlap: 4})
	mustAdd(t, k, policyDocs...)
	kit := m3kit.Refs(t, m3kit.Dir(t))
	done := make(chan error)
	go func() {
		defer close(done)
		for i := 0; i < 20; i++ {
			d := Document{ID: fmt.Sprint("k", i%7), Text: kit[i].Text}
			if _, err := k.Add(ctx, []Document{d}); err != nil {
				done <- err
				return
			}
			if i%5 == 4 {
				k.Remove(ctx, fmt.Sprint("k", i%3))
			}
		}
	}()
	n := 0
	for running := true; running; n++ {
		select {
		case err, ok := <-done:
			if ok {
				t.Fatal(err)
			}
			running = false
		default:
		}
		sr, err := k.Search(ctx, "通知", SearchOptions{TopK: 30, TopN: 30, NoRerank: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range sr.Hits {
			if h.Text == "" {
				t.Fatalf("empty hit %+v", h)
			}
		}
	}
	t.Logf("%d searches during the adds", n)
}

// twoHandles returns a new knowledge base and a second handle on its folder, as another
// process would have; both are closed when the test ends.
func twoHandles(t *testing.T) (a, b *KB) {
	t.Helper()
	emb, _ := models(t)
	a = newKB(t, Config{})
	b, err := Open(context.Background(), a.Dir(), Options{Embedder: emb})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return a, b
}

// TestCrossProcessRefresh: a second KB handle on the folder (as another process would have)
// sees what the first adds and removes.
func TestCrossProcessRefresh(t *testing.T) {
	ctx := context.Background()
	a, b := twoHandles(t)
	mustAdd(t, a, policyDocs...)
	sr, err := b.Search(ctx, policyDocs[1].Text, SearchOptions{TopN: 1, NoRerank: true})
	if err != nil || len(sr.Hits) != 1 || sr.Hits[0].DocID != "severance" {
		t.Fatalf("b after a's add: %+v %v", sr, err)
	}
	a.Remove(ctx, "severance")
	sr, err = b.Search(ctx, policyDocs[1].Text, SearchOptions{TopK: 50, TopN: 50, NoRerank: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range sr.Hits {
		if h.DocID == "severance" {
			t.Fatalf("b still finds a removed document: %+v", h)
		}
	}
}

// TestRefreshFailsWhole: a refresh that fails part way through what another process added
// (here the last new row's vector does not match its checksum) leaves none of it in the
// index: once the file is mended, the next search finds every chunk exactly once.
func TestRefreshFailsWhole(t *testing.T) {
	ctx := context.Background()
	a, b := twoHandles(t)
	mustAdd(t, a, policyDocs[0])
	all := SearchOptions{Mode: Dense, TopK: 50, TopN: 50, NoRerank: true}
	if _, err := b.Search(ctx, policyDocs[1].Text, all); err != nil { // b loads the first document
		t.Fatal(err)
	}
	mustAdd(t, a, policyDocs[1:]...)
	path := filepath.Join(a.Dir(), vectorsName)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	bad := slices.Clone(good)
	bad[len(bad)-1] ^= 0x40 // the last row: the earlier new rows load before it fails
	if err := os.WriteFile(path, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	var ce *CorruptError
	if _, err := b.Search(ctx, policyDocs[1].Text, all); !errors.As(err, &ce) {
		t.Fatalf("search over a damaged new row: %v, want a CorruptError", err)
	}
	if err := os.WriteFile(path, good, 0o644); err != nil {
		t.Fatal(err)
	}
	sr, err := b.Search(ctx, policyDocs[1].Text, all)
	if err != nil {
		t.Fatal(err)
	}
	st, err := b.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, h := range sr.Hits {
		key := fmt.Sprint(h.DocID, "#", h.Chunk)
		if seen[key] {
			t.Errorf("chunk %s found twice", key)
		}
		seen[key] = true
	}
	if int64(len(seen)) != st.Chunks || len(sr.Hits) != len(seen) {
		t.Errorf("%d hits, %d distinct, the knowledge base has %d chunks", len(sr.Hits), len(seen), st.Chunks)
	}
}

// snapshot is everything a knowledge base serves, for comparing a damaged copy with the original.
func snapshot(t *testing.T, dir string) (string, error) {
	emb, _ := models(t)
	k, err := Open(context.Background(), dir, Options{Embedder: emb})
	if err != nil {
		return "", err
	}
	defer k.Close()
	var sb strings.Builder
	err = k.Export(context.Background(), func(d *DocInfo) error {
		b, _ := json.Marshal(d)
		sb.Write(b)
		for _, c := range d.Chunks {
			fmt.Fprint(&sb, c.SparseIndices, c.SparseValues)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	sr, err := k.Search(context.Background(), "员工离职需要提前多久通知公司?", SearchOptions{TopK: 20, TopN: 20, NoRerank: true})
	if err != nil {
		return "", err
	}
	b, _ := json.Marshal(sr.Hits)
	sb.Write(b)
	return sb.String(), nil
}

// TestDamagedFiles: a truncated or bit-flipped file is reported (a CorruptError or SQLite's
// error), never served as other data: every single-bit flip at a sample of offsets of
// kb.db and vectors.bin either fails Open, Export or Search, or changes nothing served.
func TestDamagedFiles(t *testing.T) {
	ctx := context.Background()
	emb, _ := models(t)
	orig := t.TempDir()
	k, err := Create(ctx, orig, Config{Embedder: embDir, ChunkTokens: 16, Overlap: 4}, emb)
	if err != nil {
		t.Fatal(err)
	}
	mustAdd(t, k, policyDocs...)
	k.Remove(ctx, "leave")
	mustAdd(t, k, policyDocs[2])
	k.Close()
	want, err := snapshot(t, orig)
	if err != nil {
		t.Fatal(err)
	}
	copyKB := func() string {
		dir := t.TempDir()
		for _, f := range []string{dbName, vectorsName} {
			b, err := os.ReadFile(filepath.Join(orig, f))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dir, f), b, 0o644)
		}
		return dir
	}
	if _, err := os.Stat(filepath.Join(orig, dbName+"-wal")); err == nil {
		t.Fatal("the WAL was not checkpointed at close: the copies would miss commits")
	}
	// Truncated vector file.
	dir := copyKB()
	st, _ := os.Stat(filepath.Join(dir, vectorsName))
	os.Truncate(filepath.Join(dir, vectorsName), st.Size()-7)
	var ce *CorruptError
	if _, err := snapshot(t, dir); !errors.As(err, &ce) {
		t.Fatalf("truncated vector file: %v", err)
	}
	// Truncated database.
	dir = copyKB()
	st, _ = os.Stat(filepath.Join(dir, dbName))
	os.Truncate(filepath.Join(dir, dbName), st.Size()/2)
	if _, err := snapshot(t, dir); err == nil {
		t.Fatal("a database cut in half was served")
	}
	// Bit flips.
	rng := rand.New(rand.NewPCG(1, 2))
	flips := 150
	if testing.Short() {
		flips = 30
	}
	for _, f := range []string{vectorsName, dbName} {
		size := int(mustSize(t, filepath.Join(orig, f)))
		detected, harmless := 0, 0
		for i := 0; i < flips; i++ {
			dir := copyKB()
			off := rng.IntN(size)
			p := filepath.Join(dir, f)
			b, _ := os.ReadFile(p)
			b[off] ^= 1 << rng.IntN(8)
			os.WriteFile(p, b, 0o644)
			got, err := snapshot(t, dir)
			switch {
			case err != nil:
				detected++
			case got == want:
				harmless++
			default:
				t.Fatalf("%s: a flipped bit at offset %d was served as data (first difference at %d)", f, off, firstDiff(got, want))
			}
		}
		t.Logf("%s (%d bytes): %d flips detected, %d harmless (unused space)", f, size, detected, harmless)
	}
}

func mustSize(t *testing.T, p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

func firstDiff(a, b string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

var _ = sql.ErrNoRows
