package kb

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/gorerank/gorerank"
	"github.com/gorerank/gorerank/internal/recall"
	"github.com/gorerank/gorerank/xlmr"
)

// Mode is how Search recalls chunks.
type Mode string

const (
	Hybrid Mode = "hybrid" // dense and sparse recall, fused (the default)
	Dense  Mode = "dense"  // the dense vectors alone
	Sparse Mode = "sparse" // the lexical weights alone
)

// Fusion is how hybrid recall merges the dense and the sparse lists.
type Fusion string

const (
	// RRF is reciprocal rank fusion: Σ 1/(60 + rank) over the two lists; scale-free.
	RRF Fusion = "rrf"
	// Weighted is bge-m3's own: DenseWeight·dense + SparseWeight·sparse, computed exactly
	// for every chunk either list found.
	Weighted Fusion = "weighted"
)

// Defaults for SearchOptions.
const (
	DefaultTopK = 50
	DefaultTopN = 5
	// MaxTopK bounds TopK: recall is exact, but the reranker reads every chunk recalled.
	MaxTopK = 1000
	rrfK    = 60
)

// SearchOptions control Search. The zero value is hybrid recall of 50 chunks fused by RRF,
// reranked when the knowledge base has a reranker, best 5 returned.
type SearchOptions struct {
	TopK   int    // chunks recalled (and reranked); 0: DefaultTopK
	TopN   int    // chunks returned; 0: DefaultTopN; at most TopK
	Mode   Mode   // "": Hybrid
	Fusion Fusion // hybrid only; "": RRF
	// DenseWeight and SparseWeight weigh Weighted fusion (the server's dense_weight and
	// sparse_weight, rerank kb search's --dense-weight and --sparse-weight); both 0: the M3
	// paper's dense+sparse weights, 1 and 0.3; otherwise each as given, so that
	// {DenseWeight: 1} is the dense score alone. Finite and not negative; either set with a
	// fusion other than Weighted is an error (ErrOptions).
	DenseWeight, SparseWeight float32
	// NoRerank returns recall's order even when a reranker is there.
	NoRerank bool
	// Filter keeps the chunks of documents whose metadata has every key with that value (a
	// list in the filter: any of its values; a list in the metadata: contains the value).
	Filter map[string]any
}

// Hit is one chunk found.
type Hit struct {
	DocID    string         `json:"document_id"`
	Chunk    int            `json:"chunk"` // the chunk's number within its document
	Start    int            `json:"start"` // byte offsets of the chunk in the document's text
	End      int            `json:"end"`
	Text     string         `json:"text"`
	Metadata map[string]any `json:"metadata,omitempty"`
	// RecallRank (1-based) and RecallScore are the chunk's place and score in recall: a dot
	// product (dense), a lexical score (sparse), or the fused score (hybrid).
	RecallRank  int     `json:"recall_rank"`
	RecallScore float32 `json:"recall_score"`
	// RerankScore is sigmoid(logit) from the reranker (Reranked set), what TEI and
	// sentence-transformers report.
	Reranked    bool    `json:"reranked"`
	RerankScore float32 `json:"rerank_score,omitempty"`
	Rank        int     `json:"rank"` // 1-based, final
}

// Timings are the time each stage of a search took.
type Timings struct {
	Embed  time.Duration // the query's embedding
	Recall time.Duration // dense and sparse scans and fusion
	Fetch  time.Duration // reading the recalled chunks
	Rerank time.Duration
	Total  time.Duration
}

// SearchResult is what Search found.
type SearchResult struct {
	Hits     []Hit
	Recalled int // chunks recall handed on (at most TopK)
	Searched int // live chunks the filter kept, that recall scanned
	Timings  Timings
}

// MarshalJSON is the JSON form of a search answer, the one rerank kb search --json prints and
// the server's POST /v1/search answers:
//
//	{"results": [Hit, ...], "recalled": N, "searched": N,
//	 "timings_ms": {"embed": ms, "recall": ms, "fetch": ms, "rerank": ms, "total": ms}}
func (r SearchResult) MarshalJSON() ([]byte, error) {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	hits := r.Hits
	if hits == nil {
		hits = []Hit{} // no results is an empty list, not null
	}
	t := r.Timings
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // texts as they are: "<" stays "<"
	err := enc.Encode(struct {
		Results  []Hit              `json:"results"`
		Recalled int                `json:"recalled"`
		Searched int                `json:"searched"`
		Timings  map[string]float64 `json:"timings_ms"`
	}{hits, r.Recalled, r.Searched, map[string]float64{
		"embed": ms(t.Embed), "recall": ms(t.Recall), "fetch": ms(t.Fetch), "rerank": ms(t.Rerank), "total": ms(t.Total),
	}})
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), err
}

// checkSearch is the one place that validates and defaults SearchOptions.
func (k *KB) checkSearch(o SearchOptions) (SearchOptions, error) {
	if o.TopK == 0 {
		o.TopK = DefaultTopK
	}
	if o.TopN == 0 {
		o.TopN = min(DefaultTopN, o.TopK)
	}
	if o.Mode == "" {
		o.Mode = Hybrid
	}
	if o.Fusion == "" {
		o.Fusion = RRF
	}
	weights := o.DenseWeight != 0 || o.SparseWeight != 0 // given (NaN included); else the paper's
	if !weights {
		o.DenseWeight, o.SparseWeight = recall.PaperWeights.Dense, recall.PaperWeights.Sparse
	}
	bad := func(format string, a ...any) (SearchOptions, error) {
		return o, fmt.Errorf("%w: %s", ErrOptions, fmt.Sprintf(format, a...))
	}
	badWeight := func(w float32) bool { return w < 0 || math.IsNaN(float64(w)) || math.IsInf(float64(w), 0) }
	switch {
	case o.TopK < 1 || o.TopK > MaxTopK:
		return bad("top_k must be between 1 and %d (got %d)", MaxTopK, o.TopK)
	case o.TopN < 1 || o.TopN > o.TopK:
		return bad("top_n must be between 1 and top_k, %d (got %d)", o.TopK, o.TopN)
	case o.Mode != Hybrid && o.Mode != Dense && o.Mode != Sparse:
		return bad("unknown mode %q (want hybrid, dense or sparse)", o.Mode)
	case o.Fusion != RRF && o.Fusion != Weighted:
		return bad("unknown fusion %q (want rrf or weighted)", o.Fusion)
	case badWeight(o.DenseWeight):
		return bad("dense_weight must be a finite number, 0 or more (got %v)", o.DenseWeight)
	case badWeight(o.SparseWeight):
		return bad("sparse_weight must be a finite number, 0 or more (got %v)", o.SparseWeight)
	case weights && o.Fusion != Weighted:
		return bad("dense_weight and sparse_weight weigh fusion %q only (fusion is %q)", Weighted, o.Fusion)
	}
	for key, v := range o.Filter {
		if _, err := json.Marshal(v); err != nil {
			return bad("filter %q: %v", key, err)
		}
	}
	return o, nil
}

// Search finds the chunks that best answer query: exact recall over every chunk (dense,
// sparse or both fused), then, with a reranker and without NoRerank, the reranker's order.
func (k *KB) Search(ctx context.Context, query string, o SearchOptions) (*SearchResult, error) {
	start := time.Now()
	e := k.opt.Embedder
	if e == nil {
		return nil, ErrNoEmbedder
	}
	if err := gorerank.CheckQuery(query); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrEmptyQuery, err)
	}
	o, err := k.checkSearch(o)
	if err != nil {
		return nil, err
	}
	if err := k.refresh(ctx); err != nil {
		return nil, err
	}
	res := &SearchResult{}

	t := time.Now()
	want := xlmr.OutputDense | xlmr.OutputSparse
	switch o.Mode {
	case Dense:
		want = xlmr.OutputDense
	case Sparse:
		want = xlmr.OutputSparse
	}
	embs, err := k.embed(ctx, []string{query}, gorerank.EmbedOptions{Outputs: want, Truncate: true})
	if err != nil {
		return nil, fmt.Errorf("kb: embed the query: %w", err)
	}
	q := embs[0]
	qIDs, qVals := q.SparseSorted()
	res.Timings.Embed = time.Since(t)

	t = time.Now()
	type cand struct {
		fileRow int64
		doc     docRef
		score   float32
	}
	var cands []cand
	err = func() error {
		k.mu.RLock()
		defer k.mu.RUnlock()
		ix := k.index
		keep := ix.filter(o.Filter)
		var hits []recall.Hit
		var err error
		switch o.Mode {
		case Dense:
			hits, err = ix.dense.Search(ctx, q.Dense, o.TopK, keep)
		case Sparse:
			hits, err = ix.sparse.Search(ctx, qIDs, qVals, o.TopK, keep)
		default:
			if o.Fusion == RRF {
				var dh, sh []recall.Hit
				if dh, err = ix.dense.Search(ctx, q.Dense, o.TopK, keep); err != nil {
					return err
				}
				if sh, err = ix.sparse.Search(ctx, qIDs, qVals, o.TopK, keep); err != nil {
					return err
				}
				hits = recall.RRF([][]recall.Hit{dh, sh}, rrfK, o.TopK)
				break
			}
			w := recall.Weights{Dense: o.DenseWeight, Sparse: o.SparseWeight}
			fused, err := recall.Hybrid(ctx, ix.dense, ix.sparse, recall.Query{Dense: q.Dense, Indices: qIDs, Values: qVals}, w, o.TopK, o.TopK, keep)
			if err != nil {
				return err
			}
			for _, f := range fused {
				hits = append(hits, recall.Hit{Row: f.Row, Score: f.Score})
			}
		}
		if err != nil {
			return err
		}
		res.Searched = ix.live(keep)
		for _, h := range hits {
			cands = append(cands, cand{fileRow: ix.fileRow[h.Row], doc: ix.docs[ix.rowDoc[h.Row]], score: h.Score})
		}
		return nil
	}()
	if err != nil {
		return nil, err
	}
	res.Timings.Recall = time.Since(t)

	t = time.Now()
	rows := make([]int64, len(cands))
	for i, c := range cands {
		rows[i] = c.fileRow
	}
	chunks, err := k.fetchChunks(ctx, rows)
	if err != nil {
		return nil, err
	}
	for i, c := range cands {
		ch, ok := chunks[c.fileRow]
		if !ok {
			continue // removed since recall saw it
		}
		res.Hits = append(res.Hits, Hit{DocID: c.doc.id, Chunk: ch.seq, Start: ch.start, End: ch.end, Text: ch.text,
			Metadata: c.doc.meta, RecallRank: i + 1, RecallScore: c.score})
	}
	res.Recalled = len(res.Hits)
	res.Timings.Fetch = time.Since(t)

	if !o.NoRerank && len(res.Hits) > 0 {
		t = time.Now()
		texts := make([]string, len(res.Hits))
		for i, h := range res.Hits {
			texts[i] = h.Text
		}
		scored, _, err := k.rerank(ctx, query, texts)
		if err != nil {
			return nil, fmt.Errorf("kb: rerank: %w", err)
		}
		for _, s := range scored {
			res.Hits[s.Index].Reranked = true
			res.Hits[s.Index].RerankScore = s.Score
		}
		slices.SortStableFunc(res.Hits, func(a, b Hit) int { return cmp.Compare(b.RerankScore, a.RerankScore) })
		res.Timings.Rerank = time.Since(t)
	}
	if len(res.Hits) > o.TopN {
		res.Hits = res.Hits[:o.TopN]
	}
	for i := range res.Hits {
		res.Hits[i].Rank = i + 1
	}
	res.Timings.Total = time.Since(start)
	return res, nil
}

// filter returns the row predicate of a metadata filter; nil keeps every live row.
func (ix *index) filter(f map[string]any) func(row int) bool {
	if len(f) == 0 {
		return nil
	}
	match := make([]bool, len(ix.docs))
	for i, d := range ix.docs {
		match[i] = matches(d.meta, f)
	}
	return func(row int) bool { return match[ix.rowDoc[row]] }
}

// live counts the live rows keep keeps.
func (ix *index) live(keep func(int) bool) int {
	n := 0
	for row := range ix.fileRow {
		if !ix.dense.Deleted(row) && (keep == nil || keep(row)) {
			n++
		}
	}
	return n
}

// matches says whether metadata meta satisfies filter f (see SearchOptions.Filter).
func matches(meta, f map[string]any) bool {
	for key, want := range f {
		have, ok := meta[key]
		if !ok || !matchValue(have, want) {
			return false
		}
	}
	return true
}

func matchValue(have, want any) bool {
	if ws, ok := want.([]any); ok {
		for _, w := range ws {
			if matchValue(have, w) {
				return true
			}
		}
		return false
	}
	if hs, ok := have.([]any); ok {
		for _, h := range hs {
			if equalJSON(h, want) {
				return true
			}
		}
		return false
	}
	return equalJSON(have, want)
}

// equalJSON compares two values decoded from JSON (numbers as float64, or any Go number
// a library caller used).
func equalJSON(a, b any) bool {
	if fa, ok := toFloat(a); ok {
		fb, ok := toFloat(b)
		return ok && fa == fb
	}
	return reflect.DeepEqual(a, b)
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

// chunkRow is a chunk as read back for an answer.
type chunkRow struct {
	doc                     int64
	seq, start, end, tokens int
	text                    string
}

// fetchChunks reads the chunks at these vector rows and checks each against its checksum.
func (k *KB) fetchChunks(ctx context.Context, rows []int64) (map[int64]chunkRow, error) {
	out := make(map[int64]chunkRow, len(rows))
	if len(rows) == 0 {
		return out, nil
	}
	args := make([]any, len(rows))
	for i, r := range rows {
		args[i] = r
	}
	q := `SELECT row, doc, seq, start, end, tokens, text, sum FROM chunks WHERE row IN (?` + strings.Repeat(",?", len(rows)-1) + `)`
	rs, err := k.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, dbErr(err, "read chunks")
	}
	defer rs.Close()
	for rs.Next() {
		var row int64
		var c chunkRow
		var sum uint32
		if err := rs.Scan(&row, &c.doc, &c.seq, &c.start, &c.end, &c.tokens, &c.text, &sum); err != nil {
			return nil, dbErr(err, "read chunks")
		}
		if chunkSum(c.doc, int64(c.seq), int64(c.start), int64(c.end), int64(c.tokens), c.text) != sum {
			return nil, corruptf("chunk row %d (chunk %d of document number %d) does not match its checksum", row, c.seq, c.doc)
		}
		out[row] = c
	}
	return out, dbErr(rs.Err(), "read chunks")
}
