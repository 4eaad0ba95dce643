package recall

import (
	"cmp"
	"context"
	"fmt"
	"slices"
)

// RRF fuses ranked lists by reciprocal rank fusion (Cormack, Clarke and Büttcher, SIGIR 2009):
// a row's fused score is Σ over the lists that hold it of 1/(k + rank), rank 1 for the first
// hit of a list; a row listed twice in one list counts at its best rank. k = 60 is the
// paper's constant (and the default of Elasticsearch's rank_constant and Milvus's
// RRFRanker); a negative k panics. The sums
// are taken in float64 in list order and rounded to float32. The result, best first (score
// descending, then row ascending), holds the n best rows, or all when n ≤ 0.
func RRF(lists [][]Hit, k int, n int) []Hit {
	if k < 0 {
		panic("recall: RRF: negative k")
	}
	at := make(map[int]int) // row → index in sums
	var rows []int
	var sums []float64
	for _, l := range lists {
		seen := make(map[int]bool, len(l))
		for r, h := range l {
			if seen[h.Row] {
				continue
			}
			seen[h.Row] = true
			i, ok := at[h.Row]
			if !ok {
				i = len(rows)
				at[h.Row] = i
				rows = append(rows, h.Row)
				sums = append(sums, 0)
			}
			sums[i] += 1 / float64(k+r+1)
		}
	}
	out := make([]Hit, len(rows))
	for i, r := range rows {
		out[i] = Hit{Row: r, Score: float32(sums[i])}
	}
	sortHits(out)
	if n > 0 && len(out) > n {
		out = out[:n:n]
	}
	return out
}

// Weights are the weights of bge-m3's hybrid score s = Dense·s_dense + Sparse·s_sparse.
type Weights struct {
	Dense, Sparse float32
}

var (
	// PaperWeights are the M3-Embedding paper's dense+sparse weights (Chen et al. 2024,
	// "BGE M3-Embedding", the Dense+Sparse rows of its retrieval tables): 1 and 0.3.
	PaperWeights = Weights{Dense: 1, Sparse: 0.3}
	// FlagEmbeddingWeights give (up to rounding) the score of FlagEmbedding's
	// BGEM3FlagModel.compute_score "sparse+dense" with its default
	// weights_for_different_modes [0.4, 0.2, 0.4], which divides by the sum of the two
	// weights: (0.4·dense + 0.2·sparse)/(0.4 + 0.2). Weights{0.4, 0.2} give the same order.
	FlagEmbeddingWeights = Weights{Dense: 0.4 / 0.6, Sparse: 0.2 / 0.6}
)

// Query is a bge-m3 query: its dense vector and its sparse lexical weights (token ids and
// weights, as Sparse.Search takes them).
type Query struct {
	Dense   []float32
	Indices []int32
	Values  []float32
}

// Fused is a hybrid result: the weighted score and the two exact scores it is made of.
type Fused struct {
	Row    int
	Score  float32 // float32(w.Dense·Dense + w.Sparse·Sparse), products and sum in float64
	Dense  float32 // the dense score, as Dense.Search and Dense.ScoreRows give it
	Sparse float32 // the sparse score, as Sparse.Search and Sparse.ScoreRows give it (0: no shared token)
}

// Hybrid is bge-m3's dense+sparse retrieval: the depth best rows of d for q.Dense and the
// depth best rows of s for the sparse query (both exact, both filtered by keep, as Search
// does), fused by Weighted with w into the n best (all when n ≤ 0). Errors are those of the
// searches (a bad query, ctx ending).
func Hybrid(ctx context.Context, d *Dense, s *Sparse, q Query, w Weights, depth, n int, keep func(row int) bool) ([]Fused, error) {
	dh, err := d.Search(ctx, q.Dense, depth, keep)
	if err != nil {
		return nil, fmt.Errorf("recall: Hybrid: dense: %w", err)
	}
	sh, err := s.Search(ctx, q.Indices, q.Values, depth, keep)
	if err != nil {
		return nil, fmt.Errorf("recall: Hybrid: sparse: %w", err)
	}
	return Weighted(d, s, q, dh, sh, w, n)
}

// Weighted is bge-m3's hybrid score over the union of a dense and a sparse result list
// (from d and s, for q): every row of dense ∪ sparse gets w.Dense·s_dense + w.Sparse·s_sparse,
// each score exact, taken from the list that holds it or else computed by Dense.ScoreRows or
// Sparse.ScoreRows (0 for a row that shares no token with the query). The result, best first
// (score descending, then row ascending), holds the n best rows, or all when n ≤ 0. The order
// is exact over the union; a row in neither list is not considered: search both indexes
// deeper than n to widen it (an extra candidate costs one exact dense score, ~1 µs at
// dimension 1024, and a binary search per query token).
//
// Weights: the M3-Embedding paper uses 1 and 0.3 (PaperWeights); FlagEmbedding's
// compute_score divides 0.4·dense + 0.2·sparse by 0.6 (FlagEmbeddingWeights).
// A query or a row that ScoreRows refuses is its error.
func Weighted(d *Dense, s *Sparse, q Query, dense, sparse []Hit, w Weights, n int) ([]Fused, error) {
	// The union, rows ascending, with the scores the lists already hold.
	type cand struct {
		Fused
		hasD, hasS bool
	}
	cands := make([]cand, 0, len(dense)+len(sparse))
	for _, h := range dense {
		cands = append(cands, cand{Fused: Fused{Row: h.Row, Dense: h.Score}, hasD: true})
	}
	for _, h := range sparse {
		cands = append(cands, cand{Fused: Fused{Row: h.Row, Sparse: h.Score}, hasS: true})
	}
	slices.SortFunc(cands, func(a, b cand) int { return cmp.Compare(a.Row, b.Row) })
	u := cands[:0] // merged in place
	for _, c := range cands {
		if l := len(u) - 1; l >= 0 && u[l].Row == c.Row {
			if c.hasD {
				u[l].Dense, u[l].hasD = c.Dense, true
			}
			if c.hasS {
				u[l].Sparse, u[l].hasS = c.Sparse, true
			}
			continue
		}
		u = append(u, c)
	}
	// The scores the lists lack: one ScoreRows call per index.
	var needD, needS []int
	for _, c := range u {
		if !c.hasD {
			needD = append(needD, c.Row)
		}
		if !c.hasS {
			needS = append(needS, c.Row)
		}
	}
	ds, ss := make([]float32, len(needD)), make([]float32, len(needS))
	if len(needD) > 0 {
		if err := d.ScoreRows(q.Dense, needD, ds); err != nil {
			return nil, fmt.Errorf("recall: Weighted: dense: %w", err)
		}
	}
	if len(needS) > 0 {
		if err := s.ScoreRows(q.Indices, q.Values, needS, ss); err != nil {
			return nil, fmt.Errorf("recall: Weighted: sparse: %w", err)
		}
	}
	out := make([]Fused, len(u))
	for i, c := range u {
		if !c.hasD {
			c.Dense, ds = ds[0], ds[1:]
		}
		if !c.hasS {
			c.Sparse, ss = ss[0], ss[1:]
		}
		c.Score = float32(float64(w.Dense)*float64(c.Dense) + float64(w.Sparse)*float64(c.Sparse))
		out[i] = c.Fused
	}
	slices.SortFunc(out, func(a, b Fused) int { return compareHits(Hit{a.Row, a.Score}, Hit{b.Row, b.Score}) })
	if n > 0 && len(out) > n {
		out = out[:n:n]
	}
	return out, nil
}
