package recall

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// sparseOracle keeps every row's vector as a map and scores by brute force.
type sparseOracle struct {
	rows map[int]map[int32]float32
	dead map[int]bool
}

func newSparseOracle() *sparseOracle {
	return &sparseOracle{rows: map[int]map[int32]float32{}, dead: map[int]bool{}}
}

// score is Σ over the query's tokens, in query order, of w_q·w_row in float64; ok when a token
// is shared.
func (o *sparseOracle) score(qi []int32, qv []float32, row int) (float32, bool) {
	var s float64
	ok := false
	for i, id := range qi {
		if w, has := o.rows[row][id]; has {
			s += float64(qv[i]) * float64(w)
			ok = true
		}
	}
	return float32(s), ok
}

func (o *sparseOracle) search(qi []int32, qv []float32, k int, keep func(int) bool) []Hit {
	all := []Hit{}
	for r := range o.rows {
		if o.dead[r] || (keep != nil && !keep(r)) {
			continue
		}
		if s, ok := o.score(qi, qv, r); ok {
			all = append(all, Hit{r, s})
		}
	}
	sortHits(all)
	return all[:min(k, len(all))]
}

// sparseVec draws nnz distinct ids from [0,vocab) with a skew towards small ids (Zipf-like,
// so that posting lists differ in length), weights from a small set (ties) or uniform.
func sparseVec(r *rand.Rand, vocab, nnz int, ties bool) ([]int32, []float32) {
	nnz = min(nnz, vocab)
	seen := map[int32]bool{}
	var ids []int32
	for len(ids) < nnz {
		id := int32(float64(vocab) * math.Pow(r.Float64(), 3))
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	vals := make([]float32, nnz)
	for i := range vals {
		if ties {
			vals[i] = []float32{0.25, 0.5, 1}[r.IntN(3)]
		} else {
			vals[i] = float32(r.Float64()*0.4 + 1e-3)
		}
	}
	return ids, vals
}

func buildSparse(t testing.TB, vocab, n, nnz int, ties bool, r *rand.Rand) (*Sparse, *sparseOracle) {
	t.Helper()
	s, o := NewSparse(vocab), newSparseOracle()
	// Rows in a shuffled order (up to 2000 rows: an insertion costs a copy of the list's
	// tail), some left out (rows without a sparse vector).
	perm := r.Perm(min(n, 2000))
	for i := len(perm); i < n; i++ {
		perm = append(perm, i)
	}
	for _, row := range perm {
		if row%11 == 5 {
			continue
		}
		ids, vals := sparseVec(r, vocab, 1+r.IntN(nnz), ties)
		if err := s.Add(row, ids, vals); err != nil {
			t.Fatal(err)
		}
		m := map[int32]float32{}
		for i, id := range ids {
			m[id] = vals[i]
		}
		o.rows[row] = m
	}
	return s, o
}

func TestSparseSearchOracle(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	ctx := context.Background()
	sizes := []int{0, 1, 10, 1000, 2*sparseBlock + 77}
	if testing.Short() {
		sizes = []int{0, 10, 1000, sparseBlock + 77}
	}
	for _, vocab := range []int{30, 5000} {
		for _, ties := range []bool{true, false} {
			for _, n := range sizes {
				s, o := buildSparse(t, vocab, n, 8, ties, r)
				name := fmt.Sprintf("vocab %d ties %v n %d", vocab, ties, n)
				for range 4 {
					qi, qv := sparseVec(r, vocab, 1+r.IntN(6), ties)
					for _, k := range []int{1, 5, 50, n + 3} {
						got, err := s.Search(ctx, qi, qv, k, nil)
						if err != nil {
							t.Fatal(err)
						}
						sameHits(t, fmt.Sprintf("%s k %d", name, k), got, o.search(qi, qv, k, nil))
					}
				}
				for i := 0; i < n; i += 1 + r.IntN(5) {
					s.Delete(i)
					o.dead[i] = true
				}
				keep := func(row int) bool { return row%4 != 2 }
				qi, qv := sparseVec(r, vocab, 5, ties)
				for _, k := range []int{1, 20, n} {
					got, err := s.Search(ctx, qi, qv, k, keep)
					if err != nil {
						t.Fatal(err)
					}
					sameHits(t, fmt.Sprintf("%s k %d deletes+filter", name, k), got, o.search(qi, qv, k, keep))
				}
				// ScoreRows: every row (and one past the end), deleted or not.
				rows := make([]int, n+1)
				for i := range rows {
					rows[i] = i
				}
				sc := make([]float32, len(rows))
				if err := s.ScoreRows(qi, qv, rows, sc); err != nil {
					t.Fatal(err)
				}
				for i, row := range rows {
					if want, _ := o.score(qi, qv, row); sc[i] != want {
						t.Fatalf("%s: ScoreRows row %d = %v, want %v", name, row, sc[i], want)
					}
				}
			}
		}
	}
}

func TestSparseCounts(t *testing.T) {
	s := NewSparse(100)
	s.Add(5, []int32{1, 2, 3}, []float32{1, 1, 1})
	s.Add(2, []int32{3}, []float32{1})
	s.Delete(2)
	s.Delete(2)
	s.Delete(4) // no vector: a tombstone all the same
	if s.Len() != 6 || s.Live() != 1 || s.Postings() != 4 || !s.Deleted(4) || s.Deleted(5) {
		t.Errorf("Len %d Live %d Postings %d", s.Len(), s.Live(), s.Postings())
	}
	if err := s.Delete(6); !errors.Is(err, ErrRow) {
		t.Errorf("Delete(6) of 6 rows: %v", err)
	}
	s.Add(4, []int32{9}, []float32{1}) // added after its delete: stays deleted
	if s.Live() != 1 {
		t.Errorf("Live %d after adding a deleted row", s.Live())
	}
	h, _ := s.Search(context.Background(), []int32{9, 3}, []float32{1, 1}, 10, nil)
	sameHits(t, "deleted rows", h, []Hit{{5, 1}})
}

func TestSparseErrors(t *testing.T) {
	s := NewSparse(10)
	ctx := context.Background()
	bad := []struct {
		ids  []int32
		vals []float32
	}{
		{[]int32{1, 2}, []float32{1}},
		{[]int32{10}, []float32{1}},
		{[]int32{-1}, []float32{1}},
		{[]int32{3, 4, 3}, []float32{1, 1, 1}},
		{[]int32{1}, []float32{0}},
		{[]int32{1}, []float32{-1}},
		{[]int32{1}, []float32{float32(math.NaN())}},
		{[]int32{1}, []float32{float32(math.Inf(1))}},
	}
	for _, b := range bad {
		if err := s.Add(0, b.ids, b.vals); !errors.Is(err, ErrSparse) {
			t.Errorf("Add %v %v: %v", b.ids, b.vals, err)
		}
		if _, err := s.Search(ctx, b.ids, b.vals, 3, nil); !errors.Is(err, ErrSparse) {
			t.Errorf("Search %v %v: %v", b.ids, b.vals, err)
		}
	}
	if s.Postings() != 0 || s.Len() != 0 {
		t.Fatalf("rejected vectors were added")
	}
	if err := s.Add(3, []int32{1}, []float32{1}); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(3, []int32{2}, []float32{1}); !errors.Is(err, ErrRow) {
		t.Errorf("row added twice: %v", err)
	}
	if err := s.Add(-1, nil, nil); !errors.Is(err, ErrRow) {
		t.Errorf("row -1: %v", err)
	}
	if err := s.Delete(-1); !errors.Is(err, ErrRow) {
		t.Errorf("Delete(-1): %v", err)
	}
	if err := s.ScoreRows([]int32{1}, []float32{1}, []int{-2}, make([]float32, 1)); !errors.Is(err, ErrRow) {
		t.Errorf("ScoreRows row -2: %v", err)
	}
	if h, err := s.Search(ctx, nil, nil, 3, nil); len(h) != 0 || err != nil {
		t.Errorf("empty query: %v %v", h, err)
	}
}

func TestSparseCancel(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	s, _ := buildSparse(t, 20, 10*sparseBlock, 3, false, r)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Search(ctx, []int32{1}, []float32{1}, 5, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled before: %v", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	keep := func(int) bool { cancel(); return true }
	ids := make([]int32, 20)
	vals := make([]float32, 20)
	for i := range ids {
		ids[i], vals[i] = int32(i), 1
	}
	if _, err := s.Search(ctx, ids, vals, 5, keep); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled during: %v", err)
	}
}

func TestSparseConcurrent(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	s := NewSparse(200)
	var wg sync.WaitGroup
	var stop atomic.Bool
	type vec struct {
		ids  []int32
		vals []float32
	}
	vecs := make([]vec, 5000)
	for i := range vecs {
		vecs[i].ids, vecs[i].vals = sparseVec(r, 200, 10, false)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer stop.Store(true)
		for i, v := range vecs {
			if err := s.Add(i, v.ids, v.vals); err != nil {
				t.Error(err)
				return
			}
			if i%13 == 0 {
				s.Delete(i / 2)
			}
		}
	}()
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rr := rand.New(rand.NewPCG(uint64(w), 27))
			for !stop.Load() {
				qi, qv := sparseVec(rr, 200, 5, false)
				hits, err := s.Search(context.Background(), qi, qv, 10, nil)
				if err != nil {
					t.Error(err)
					return
				}
				rows := make([]int, len(hits))
				for i, h := range hits {
					rows[i] = h.Row
				}
				sc := make([]float32, len(rows))
				s.ScoreRows(qi, qv, rows, sc)
				for i := range sc {
					if sc[i] != hits[i].Score {
						t.Errorf("row %d: search %v, ScoreRows %v", rows[i], hits[i].Score, sc[i])
					}
				}
			}
		}()
	}
	wg.Wait()
}

func TestSparseSearchAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	r := rand.New(rand.NewPCG(28, 29))
	small, _ := buildSparse(t, 1000, 2*sparseBlock, 20, false, r)
	large, _ := buildSparse(t, 1000, 8*sparseBlock, 20, false, r)
	qi, qv := sparseVec(r, 1000, 10, false)
	ctx := context.Background()
	count := func(s *Sparse) float64 {
		s.Search(ctx, qi, qv, 50, nil)
		return testing.AllocsPerRun(10, func() { s.Search(ctx, qi, qv, 50, nil) })
	}
	if a, b := count(small), count(large); b > a || b > 4 {
		t.Errorf("%v allocations per search at 64k rows, %v at 256k", a, b)
	}
}

func TestSparseOutOfOrderAdds(t *testing.T) {
	s := NewSparse(5)
	for _, row := range []int{9, 3, 7, 0, 5} {
		s.Add(row, []int32{2}, []float32{float32(row + 1)})
	}
	l := s.lists[2]
	if !slices.IsSortedFunc(l, func(a, b posting) int { return int(a.row) - int(b.row) }) || len(l) != 5 {
		t.Fatalf("posting list %v", l)
	}
	h, _ := s.Search(context.Background(), []int32{2}, []float32{1}, 3, nil)
	sameHits(t, "order", h, []Hit{{9, 10}, {7, 8}, {5, 6}})
}
