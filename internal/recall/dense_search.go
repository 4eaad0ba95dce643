package recall

import (
	"context"
	"math"
	"sync"
	"sync/atomic"

	"github.com/gorerank/gorerank/internal/workers"
	"github.com/gorerank/gorerank/tensor"
)

// Search returns the k best live rows for query (Dim values) by exact score (see the package
// documentation), best first: score descending, then row ascending. keep, if not nil, is a
// filter: a row is a result only if keep(row) is true. keep is called from several goroutines
// at once, only for rows that could still enter the top k, at most once per row.
//
// The result holds min(k, rows that pass) hits; k ≤ 0 gives none. Search fails with
// ErrDimension or ErrNotFinite on a bad query and with ctx.Err() when ctx ends (checked
// between blocks of 1024 rows). It allocates the result and a few small objects; its scratch
// (scores of a block, one heap of k hits per worker) is pooled, so nothing grows with the index.
func (d *Dense) Search(ctx context.Context, query []float32, k int, keep func(row int) bool) ([]Hit, error) {
	if err := d.checkQuery("Search", query); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n, list := d.snapshot()
	if k <= 0 || n == 0 {
		return []Hit{}, nil
	}
	k = min(k, n) // the heaps hold k hits each
	j := densePool.Get().(*denseJob)
	defer j.release()
	j.d, j.ctx, j.query, j.keep, j.chunks, j.n = d, ctx, query, keep, list, n
	j.canceled.Store(false)
	j.prepare()
	tasks := ceilDiv(n, chunkRows)
	threads := min(workers.Threads(), tasks)
	for len(j.slots) < threads {
		j.slots = append(j.slots, &denseSlot{})
	}
	for _, s := range j.slots[:threads] {
		s.top.reset(k)
		if cap(s.scores) < d.kernRows {
			s.scores = make([]float32, d.kernRows)
		}
	}
	j.g.Run(j, tasks, threads)
	if j.canceled.Load() {
		return nil, ctx.Err()
	}
	j.heaps = j.heaps[:0]
	for _, s := range j.slots[:threads] {
		j.heaps = append(j.heaps, &s.top)
	}
	var out []Hit
	out, j.merge = mergeTop(j.heaps, k, j.merge)
	return out, nil
}

// denseJob is one search: the query, its bound, the snapshot it reads and one slot of scratch
// per worker. Pooled.
type denseJob struct {
	d        *Dense
	ctx      context.Context
	query    []float32
	keep     func(int) bool
	chunks   []*chunk
	n        int
	widen    bool       // Int8 rows widened to float32 for the float32 kernel (see int8Exact)
	qa       []int8     // Int8: the quantized query
	sa       [1]float32 // Int8: its scale
	c, a     float64    // bound: |approx − exact| ≤ norm·c + 8u·|approx| + a
	canceled atomic.Bool
	slots    []*denseSlot // one per worker; pointers keep their heaps off each other's cache lines
	heaps    []*topK
	merge    []Hit
	g        workers.Group
}

// denseSlot is one worker's scratch.
type denseSlot struct {
	top    topK
	scores []float32          // (kernRows) approximate scores of one kernel call
	w      tensor.Int8Weights // Int8: the rows of one kernel call, in place
	wide   []float32          // Int8 widened: (kernRows, dim) decoded rows
}

var densePool = sync.Pool{New: func() any { return new(denseJob) }}

// release drops the job's references to caller data and pools it.
func (j *denseJob) release() {
	j.d, j.ctx, j.query, j.keep, j.chunks = nil, nil, nil, nil, nil
	for _, s := range j.slots {
		s.w = tensor.Int8Weights{}
	}
	j.widen = false
	densePool.Put(j)
}

// prepare quantizes the query (Int8) and computes the constants of the bound.
//
// The kernels give an approximate score ã of a row; the exact score e is defined in Dense.exact.
// A row can enter the top k only if e may reach the k-th best exact score so far, so the
// search computes e only where ã + bound ≥ that score. The bound, for a query x (‖x‖ = X) and a
// row whose decoded values have norm at most ν (kept per row), with u = 2⁻²⁴ and K = Dim:
//
//   - F32, F16: tensor's float32 kernels stay within (K+2)·u·Σ|xᵢwᵢ| ≤ (K+2)·u·X·ν of the
//     float64 oracle that e is (the half weights are widened exactly): bound (2K+8)·u·X·ν.
//   - Int8: the query is quantized, x = sa·qa + ε, and the kernel returns
//     fl(fl(Σ qa·q)·fl(sa·s)): three roundings, ≤ 3u·|ã| (plus u), off the real sa·s·Σ qa·q,
//     which differs from Σ xᵢ·s·qᵢ by Σ εᵢ·s·qᵢ ≤ ‖ε‖·ν (Cauchy–Schwarz); the decoded values
//     fl(s·qᵢ) and the float64 sum of e add at most u·X·ν more. Bound ‖ε‖·ν + (2K+8)·u·X·ν +
//     8u·|ã|. Where the int8 kernel is not exact (int8Exact), the rows are widened to
//     float32 and the float32 bound holds instead.
//
// Both get 8u·|ã| for the roundings of ã and e, a factor 1.01 on c for the rounding of the
// bound itself, and an absolute K·2⁻¹²⁰ for products in float32's subnormal range. A zero query
// scores exactly 0 everywhere: no slack then.
func (j *denseJob) prepare() {
	d, q := j.d, j.query
	const u = 0x1p-24
	var xx float64
	for _, v := range q {
		xx += float64(v) * float64(v)
	}
	x := math.Sqrt(xx)
	if x == 0 {
		j.c, j.a = 0, 0
	} else {
		j.c = x * float64(2*d.dim+8) * u
		j.a = float64(d.dim) * 0x1p-120
	}
	j.widen = d.format == Int8 && (forceWiden || !int8Exact())
	if d.format == Int8 && !j.widen {
		if cap(j.qa) < d.dim {
			j.qa = make([]int8, d.dim)
		}
		j.qa = j.qa[:d.dim]
		tensor.QuantizeInt8(j.qa, j.sa[:], q, 1, d.dim)
		var ee float64
		sa := float64(j.sa[0])
		for i, v := range q {
			e := float64(v) - sa*float64(j.qa[i])
			ee += e * e
		}
		j.c += math.Sqrt(ee) * (1 + 1e-6)
	}
	j.c *= 1.01
}

// Work takes chunks until none is left (workers.Job).
func (j *denseJob) Work(g *workers.Group) {
	s := j.slots[g.Slot()]
	for t, ok := g.Next(); ok; t, ok = g.Next() {
		if j.canceled.Load() {
			continue
		}
		if j.ctx.Err() != nil {
			j.canceled.Store(true)
			continue
		}
		j.chunk(s, t)
	}
}

// chunk scores chunk t: approximate scores by the kernels, kernRows rows per call, then the
// exact score of every row that may enter the top k.
func (j *denseJob) chunk(s *denseSlot, t int) {
	d, c := j.d, j.chunks[t]
	r0 := t * chunkRows
	rows := min(chunkRows, j.n-r0)
	for b := 0; b < rows; b += d.kernRows {
		m := min(d.kernRows, rows-b)
		j.pick(s, c, r0, b, j.approx(s, c, b, m))
	}
}

// approx computes the approximate scores of rows [b, b+m) of chunk c (m ≤ kernRows) with
// tensor's kernels, into s.scores.
func (j *denseJob) approx(s *denseSlot, c *chunk, b, m int) []float32 {
	dim, sc := j.d.dim, s.scores[:m]
	switch j.d.format {
	case F32:
		tensor.MatMulNT(sc, j.query, c.f32[b*dim:(b+m)*dim], 1, m, dim)
	case F16:
		tensor.MatMulNTF16(sc, j.query, c.f16[b*dim:(b+m)*dim], 1, m, dim)
	case Int8:
		if j.widen {
			s.wide = grow(s.wide, m*dim)
			for i := range m {
				j.d.decode(s.wide[i*dim:(i+1)*dim], c, b+i)
			}
			tensor.MatMulNT(sc, j.query, s.wide, 1, m, dim)
			break
		}
		// A new value each call: the rows differ from call to call.
		s.w = tensor.Int8Weights{Q: c.q[b*dim : (b+m)*dim], Scale: c.scale[b : b+m], Comp: c.comp[b : b+m], N: m, K: dim}
		tensor.GemmInt8NT(sc, j.qa, j.sa[:], &s.w, nil, 1)
	}
	return sc
}

// int8Exact says whether tensor.GemmInt8NT multiplies the int8 values it is given exactly on
// the CPU tier in use: dst = float32(Σ qa·q)·(sa·scale) with the integer sum exact, tensor's
// documented contract, which the Int8 bound rests on. It is checked once, on a probe (odd
// weights over a depth with a tail, five rows). A tier that multiplies an approximation of the
// weights instead (a 7-bit copy, say) fails it; Int8 searches then widen each block of rows to
// float32 and use the float32 kernel and its bound: slower, as exact.
var int8Exact = sync.OnceValue(func() bool {
	const n, k = 5, 100
	qa, q := make([]int8, k), make([]int8, n*k)
	for p := range qa {
		qa[p] = int8((p*37+11)%255 - 127)
	}
	for i := range q {
		q[i] = int8((i*53+7)%255 - 127)
	}
	scale, sa, got := []float32{1, 1, 1, 1, 1}, []float32{1}, make([]float32, n)
	tensor.GemmInt8NT(got, qa, sa, tensor.NewInt8Weights(q, scale, n, k), nil, 1)
	for j := range n {
		var acc int32 // |acc| ≤ 127²·100 < 2²⁴: exact in float32 too
		for p := range k {
			acc += int32(qa[p]) * int32(q[j*k+p])
		}
		if got[j] != float32(acc) {
			return false
		}
	}
	return true
})

// forceWiden is a test hook: Int8 searches take the widened path even where int8Exact holds.
var forceWiden bool

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// pick offers rows b… of chunk c (row numbers r0+b…), whose approximate scores are sc, to the
// worker's heap.
func (j *denseJob) pick(s *denseSlot, c *chunk, r0, b int, sc []float32) {
	const u8 = 8 * 0x1p-24
	top, norm := &s.top, c.norm[b:b+len(sc)]
	for i, a := range sc {
		off, row := b+i, r0+b+i
		if top.full() {
			af := float64(a)
			if !top.mayEnter(af+float64(norm[i])*j.c+u8*math.Abs(af)+j.a, row) {
				continue
			}
		}
		if c.isDead(off) || (j.keep != nil && !j.keep(row)) {
			continue
		}
		top.push(Hit{Row: row, Score: j.d.exact(j.query, c, off)})
	}
}
