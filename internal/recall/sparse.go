package recall

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/gorerank/gorerank/internal/workers"
)

// M3Vocab is the vocabulary size of bge-m3 (XLM-RoBERTa's tokenizer): sparse token ids lie in
// [0, M3Vocab).
const M3Vocab = 250002

// sparseBlock is the number of rows a sparse search task accumulates at once: 32768 float64
// accumulators are 256 KiB, resident in L2 while the postings stream past.
const sparseBlock = 1 << 15

// posting is one (row, weight) entry of a token's posting list: 8 bytes.
type posting struct {
	row uint32
	w   float32
}

// Sparse is an exact inverted index of sparse lexical vectors (bge-m3's lexical weights:
// token id → weight > 0), scored by Σ over shared ids of w_query·w_row (see the package
// documentation).
//
// Locking: a read-write mutex. Search and ScoreRows hold it for reading for their whole run;
// Add and Delete hold it for writing, so they wait for the searches in flight (tens of
// milliseconds at a million rows) and searches that start meanwhile wait for them. All
// methods are safe for concurrent use.
type Sparse struct {
	vocab int

	mu      sync.RWMutex
	lists   [][]posting // (vocab) postings of each token id, rows ascending
	added   []uint64    // bitmap: rows added
	dead    []uint64    // bitmap: rows deleted
	n       int         // 1 + the largest row added
	rows    int         // rows added
	ndead   int         // rows added and deleted
	entries int         // postings
}

// NewSparse returns an empty index for token ids in [0, vocab) (M3Vocab for bge-m3). Its
// empty posting lists take 24 bytes per id (6 MB for bge-m3). vocab < 1 panics.
func NewSparse(vocab int) *Sparse {
	if vocab < 1 {
		panic("recall: NewSparse: vocabulary size < 1")
	}
	return &Sparse{vocab: vocab, lists: make([][]posting, vocab)}
}

// Vocab is the vocabulary size the index was made for.
func (s *Sparse) Vocab() int { return s.vocab }

// Len is 1 + the largest row added (0 when empty).
func (s *Sparse) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.n
}

// Live is the number of rows added and not deleted.
func (s *Sparse) Live() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.rows - s.ndead
}

// Postings is the number of (row, token) entries stored: 8 bytes each (plus the slack of the
// growing lists, at most as much again).
func (s *Sparse) Postings() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.entries
}

// maxSparseRow bounds row numbers: they are stored as uint32.
const maxSparseRow = math.MaxUint32 - 1

var sortPool = sync.Pool{New: func() any { return new([]int32) }}

// checkSparse validates a sparse vector: equal lengths, ids in [0,vocab) and distinct, weights
// positive and finite.
func (s *Sparse) checkSparse(op string, indices []int32, values []float32) error {
	if len(indices) != len(values) {
		return fmt.Errorf("recall: %s: %d indices, %d values: %w", op, len(indices), len(values), ErrSparse)
	}
	for i, id := range indices {
		if id < 0 || int(id) >= s.vocab {
			return fmt.Errorf("recall: %s: token id %d outside [0,%d): %w", op, id, s.vocab, ErrSparse)
		}
		if v := values[i]; !(v > 0) || !finite(v) {
			return fmt.Errorf("recall: %s: weight %v of token %d is not a positive finite number: %w", op, v, id, ErrSparse)
		}
	}
	p := sortPool.Get().(*[]int32)
	defer sortPool.Put(p)
	ids := append((*p)[:0], indices...)
	*p = ids
	slices.Sort(ids)
	for i := 1; i < len(ids); i++ {
		if ids[i] == ids[i-1] {
			return fmt.Errorf("recall: %s: token id %d appears twice: %w", op, ids[i], ErrSparse)
		}
	}
	return nil
}

func bit(b []uint64, row int) bool { return row/64 < len(b) && b[row/64]&(1<<(row%64)) != 0 }

func setBit(b []uint64, row int) []uint64 {
	if w := row / 64; w >= len(b) {
		b = append(b, make([]uint64, w+1-len(b))...)
	}
	b[row/64] |= 1 << (row % 64)
	return b
}

// Add stores row's sparse vector (indices[i] → values[i]; any order; ids distinct, in
// [0, Vocab()), weights positive and finite, else ErrSparse). A row is added at most once
// (ErrRow otherwise); rows may come in any order, and adding them in increasing order costs
// O(1) per entry (amortised), a smaller row than one already in a list an insertion. An empty
// vector adds the row with no postings (it never matches).
func (s *Sparse) Add(row int, indices []int32, values []float32) error {
	if err := s.checkSparse("Add", indices, values); err != nil {
		return err
	}
	if row < 0 || row > maxSparseRow {
		return fmt.Errorf("recall: Add: row %d out of range: %w", row, ErrRow)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if bit(s.added, row) {
		return fmt.Errorf("recall: Add: row %d already added: %w", row, ErrRow)
	}
	s.added = setBit(s.added, row)
	for i, id := range indices {
		l := s.lists[id]
		p := posting{uint32(row), values[i]}
		if len(l) == 0 || l[len(l)-1].row < p.row {
			s.lists[id] = append(l, p)
			continue
		}
		at, _ := slices.BinarySearchFunc(l, p.row, func(e posting, r uint32) int { return int(e.row) - int(r) })
		s.lists[id] = slices.Insert(l, at, p)
	}
	s.n = max(s.n, row+1)
	s.rows++
	s.entries += len(indices)
	if bit(s.dead, row) {
		s.ndead++
	}
	return nil
}

// Delete marks row deleted: searches skip it from then on, and it stays deleted if it is
// added later. Any row in [0, Len()) may be deleted, one that holds no sparse vector too (a
// chunk with a dense vector only); a row outside is ErrRow. Postings stay (the KB rebuilds to
// reclaim them).
func (s *Sparse) Delete(row int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if row < 0 || row >= s.n {
		return fmt.Errorf("recall: Delete: row %d of %d: %w", row, s.n, ErrRow)
	}
	if bit(s.dead, row) {
		return nil
	}
	s.dead = setBit(s.dead, row)
	if bit(s.added, row) {
		s.ndead++
	}
	return nil
}

// Deleted says whether row has been deleted.
func (s *Sparse) Deleted(row int) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return row >= 0 && bit(s.dead, row)
}

// ScoreRows writes the exact score of the query (indices, values) with each of rows into dst
// (len(dst) ≥ len(rows), else it panics): the score Search gives, deleted or not; 0 for a row
// that shares no token with the query or holds no vector. A negative row is ErrRow, a bad query
// ErrSparse. It costs a binary search per query token and row. No allocation.
func (s *Sparse) ScoreRows(indices []int32, values []float32, rows []int, dst []float32) error {
	if len(dst) < len(rows) {
		panic("recall: ScoreRows: dst shorter than rows")
	}
	if err := s.checkSparse("ScoreRows", indices, values); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for i, r := range rows {
		if r < 0 {
			return fmt.Errorf("recall: ScoreRows: row %d: %w", r, ErrRow)
		}
		var acc float64
		if r < s.n {
			for t, id := range indices {
				l := s.lists[id]
				if p := lowerBound(l, uint32(r)); p < len(l) && l[p].row == uint32(r) {
					acc += float64(values[t]) * float64(l[p].w)
				}
			}
		}
		dst[i] = float32(acc)
	}
	return nil
}

// lowerBound is the first index of l whose row is ≥ r.
func lowerBound(l []posting, r uint32) int {
	lo, hi := 0, len(l)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if l[m].row < r {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// Search returns the k best live rows for the query (indices[i] → values[i], validated as Add
// does), best first: score descending, then row ascending. Only rows that share at least one
// token with the query are results. keep, if not nil, filters rows as in Dense.Search (called
// concurrently, only for rows that could enter the top k). It fails with ErrSparse on a bad
// query and with ctx.Err() when ctx ends (checked between blocks of 32768 rows). The scratch
// (float64 accumulators for a block of rows, a heap per worker) is pooled.
func (s *Sparse) Search(ctx context.Context, indices []int32, values []float32, k int, keep func(row int) bool) ([]Hit, error) {
	if err := s.checkSparse("Search", indices, values); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if k <= 0 {
		return []Hit{}, nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	j := sparsePool.Get().(*sparseJob)
	defer j.release()
	j.s, j.ctx, j.keep = s, ctx, keep
	j.canceled.Store(false)
	j.lists, j.wq = j.lists[:0], j.wq[:0]
	for i, id := range indices {
		if l := s.lists[id]; len(l) > 0 {
			j.lists = append(j.lists, l)
			j.wq = append(j.wq, float64(values[i]))
		}
	}
	if len(j.lists) == 0 || s.n == 0 {
		return []Hit{}, nil
	}
	k = min(k, s.n) // the heaps hold k hits each
	tasks := ceilDiv(s.n, sparseBlock)
	threads := min(workers.Threads(), tasks)
	for len(j.slots) < threads {
		j.slots = append(j.slots, &sparseSlot{})
	}
	for _, sl := range j.slots[:threads] {
		sl.top.reset(k)
		if cap(sl.acc) < sparseBlock {
			sl.acc = make([]float64, sparseBlock)
		}
	}
	j.g.Run(j, tasks, threads)
	if j.canceled.Load() {
		return nil, ctx.Err()
	}
	j.heaps = j.heaps[:0]
	for _, sl := range j.slots[:threads] {
		j.heaps = append(j.heaps, &sl.top)
	}
	var out []Hit
	out, j.merge = mergeTop(j.heaps, k, j.merge)
	return out, nil
}

// sparseJob is one sparse search. Pooled.
type sparseJob struct {
	s        *Sparse
	ctx      context.Context
	keep     func(int) bool
	lists    [][]posting // posting lists of the query's tokens (non-empty ones), query order
	wq       []float64   // their query weights
	canceled atomic.Bool
	slots    []*sparseSlot
	heaps    []*topK
	merge    []Hit
	g        workers.Group
}

type sparseSlot struct {
	top topK
	acc []float64 // (sparseBlock) scores of a block of rows
}

var sparsePool = sync.Pool{New: func() any { return new(sparseJob) }}

func (j *sparseJob) release() {
	j.s, j.ctx, j.keep = nil, nil, nil
	clear(j.lists)
	sparsePool.Put(j)
}

// Work takes blocks of rows until none is left (workers.Job).
func (j *sparseJob) Work(g *workers.Group) {
	sl := j.slots[g.Slot()]
	for t, ok := g.Next(); ok; t, ok = g.Next() {
		if j.canceled.Load() {
			continue
		}
		if j.ctx.Err() != nil {
			j.canceled.Store(true)
			continue
		}
		j.block(sl, t)
	}
}

// block scores rows [t·sparseBlock, …): each query token's postings in the block are added
// into the accumulators (in query order, so every row's sum is taken in the order ScoreRows
// and the oracle take it), then every row that matched is offered to the heap.
func (j *sparseJob) block(sl *sparseSlot, t int) {
	r0 := t * sparseBlock
	r1 := min(r0+sparseBlock, j.s.n)
	acc := sl.acc[:r1-r0]
	clear(acc)
	for i, l := range j.lists {
		wq := j.wq[i]
		p := lowerBound(l, uint32(r0))
		for _, e := range l[p:] {
			if e.row >= uint32(r1) {
				break
			}
			acc[e.row-uint32(r0)] += wq * float64(e.w)
		}
	}
	top, dead := &sl.top, j.s.dead
	for i, a := range acc {
		if a == 0 { // every product is > 0 (positive weights; float64 holds them): no match
			continue
		}
		h := Hit{Row: r0 + i, Score: float32(a)}
		if top.full() && !better(h, top.worst()) {
			continue
		}
		if bit(dead, h.Row) || (j.keep != nil && !j.keep(h.Row)) {
			continue
		}
		top.push(h)
	}
}
