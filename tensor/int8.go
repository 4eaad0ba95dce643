package tensor

import (
	"math"
	"sync"
	"unsafe"

	"github.com/gorerank/gorerank/internal/workers"
)

// This file is the int8 product: quantization (QuantizeInt8), the weight bundle (Int8Weights),
// the blocked driver shared by every CPU tier (GemmInt8NT, MatMulNTInt8) and the naive
// oracle (GemmInt8NTRef). The conventions are in doc_int8.go.

// Int8MaxK is the deepest product the int8 kernels accept: with |a|,|w| ≤ 127 and the +128
// shift of the VPDPBUSD tiers a partial sum stays below 255·127·k < 2³¹ (the avx2 tier's
// 7-bit weights +64 keep it below 127·128·k).
const Int8MaxK = 1 << 16

// Int8Weights is a linear layer's weight (n,k) = [out,in] quantized per output row:
// W[j,p] ≈ Scale[j]·Q[j*k+p], Q symmetric in [-127,127]. Q may alias the memory map of an
// int8 checkpoint. Comp[j] = 128·Σ_p Q[j,p] is what the VPDPBUSD tiers (unsigned
// activations shifted by +128) subtract; NewInt8Weights computes it. The avx2 tier multiplies
// a 7-bit copy of Q instead (see doc_int8.go), which NewInt8Weights makes when that tier is
// in use, or the first product on that tier does: Q must not change after that.
type Int8Weights struct {
	Q     []int8    // (N,K) row-major
	Scale []float32 // (N)
	Comp  []int32   // (N) 128·Σ_p Q[j,p]
	N, K  int

	u7     []uint8 // (N,K) the 7-bit form for int8Kernel.u7 (see reduced), 64-byte aligned
	u7once sync.Once
}

// reduced returns the 7-bit form of w for the kernels that multiply the weights as unsigned
// bytes (int8Kernel.u7): u = Q7+64 ∈ [0,128] with Q7 = round(Q·64/127) ∈ [-64,64], so that
// W[j,p] ≈ Scale[j]·(127/64)·Q7[j,p] (the factor goes with the activation scale). It is made
// on first use: one pass over Q, N·K bytes.
func (w *Int8Weights) reduced() []uint8 {
	w.u7once.Do(func() {
		buf := make([]uint8, w.N*w.K+63)
		off := int(-uintptr(unsafe.Pointer(&buf[0])) & 63)
		u := buf[off : off+w.N*w.K]
		for i, v := range w.Q[:len(u)] {
			u[i] = reduce7(v)
		}
		w.u7 = u
	})
	return w.u7
}

// u7Scale is the factor of a u7 tier's activation scales: sa·(127/64) multiplies Q7.
const u7Scale = 127.0 / 64

// reduce7 is round(q·64/127)+64 ∈ [0,128], q ∈ [-127,127] (there are no ties: 127 is odd and
// prime to 64).
func reduce7(q int8) uint8 {
	v := int32(q)
	if v < 0 {
		return uint8(64 - (127-128*v)/254)
	}
	return uint8(64 + (128*v+127)/254)
}

// NewInt8Weights bundles q (n,k) and its per-row scales, computing the compensation terms.
// It panics when a length does not match, k exceeds Int8MaxK or q holds -128.
func NewInt8Weights(q []int8, scale []float32, n, k int) *Int8Weights {
	if n < 0 || k < 0 || k > Int8MaxK || len(q) != n*k || len(scale) != n {
		panic("tensor: NewInt8Weights: q/scale length does not match (n,k), or k > Int8MaxK")
	}
	comp := make([]int32, n)
	for j := range n {
		var s int32
		for _, v := range q[j*k : (j+1)*k] {
			if v == -128 {
				panic("tensor: NewInt8Weights: weight -128 (the int8 kernels need [-127,127])")
			}
			s += int32(v)
		}
		comp[j] = 128 * s
	}
	w := &Int8Weights{Q: q, Scale: scale, Comp: comp, N: n, K: k}
	if active.int8.u7 {
		w.reduced() // at load rather than in the first product
	}
	return w
}

// QuantizeInt8 quantizes each row of x (rows,cols) symmetrically: scale[r] = max|x[r,:]|/127
// and q[r,c] = x[r,c]·(127/max) rounded to nearest, ties to even, so q ∈ [-127,127] and
// x ≈ scale·q. (When 127/max overflows float32, max < 3.7e-37, the products are taken in
// float64.) An all-zero row gets scale 0 and q 0. A row holding NaN or ±Inf gets scale NaN
// and q 0, so every product output of that row is NaN (as float32 math would mostly give).
// The same function quantizes weights at load and activations per call. No allocation.
func QuantizeInt8(q []int8, scale []float32, x []float32, rows, cols int) {
	if rows < 0 || cols < 0 || len(q) < rows*cols || len(scale) < rows || len(x) < rows*cols {
		panic("tensor: QuantizeInt8: slice shorter than (rows,cols)")
	}
	for r := range rows {
		scale[r] = active.int8.quantize(q[r*cols:(r+1)*cols], x[r*cols:(r+1)*cols], 0)
	}
}

// quantizeRowGeneric quantizes one row into q, XORing every byte with flip (0, or 0x80 for the
// shifted unsigned form of the VPDPBUSD tiers), and returns the scale.
func quantizeRowGeneric(q []int8, x []float32, flip int8) float32 {
	q = q[:len(x)]
	amax := rowAbsMax(x)
	return quantizeWith(q, x, amax, flip, 0)
}

// quantizeWith quantizes x[done:] with the row's max already known (the vector tiers do the
// first done values themselves, after checking amax here).
func quantizeWith(q []int8, x []float32, amax float32, flip int8, done int) float32 {
	if !(amax <= math.MaxFloat32) { // NaN or ±Inf somewhere
		for i := range q {
			q[i] = flip
		}
		return float32(math.NaN())
	}
	if amax == 0 {
		for i := range q {
			q[i] = flip
		}
		return 0
	}
	inv := 127 / amax
	if math.IsInf(float64(inv), 1) { // amax < 127/MaxFloat32 (subnormal range): float64 math
		inv64 := 127 / float64(amax)
		for i, v := range x { // all of the row: a vector tier leaves such rows to this loop
			q[i] = int8(max(-127, min(127, math.RoundToEven(float64(v)*inv64)))) ^ flip
		}
		return amax / 127
	}
	for i := done; i < len(x); i++ {
		v := x[i]
		r := math.RoundToEven(float64(v * inv))
		q[i] = int8(max(-127, min(127, r))) ^ flip
	}
	return amax / 127
}

// rowAbsMax is max|x|, or NaN/+Inf when x holds NaN/±Inf.
func rowAbsMax(x []float32) float32 {
	var m float32
	for _, v := range x {
		a := float32(math.Abs(float64(v)))
		if a != a {
			return a
		}
		m = max(m, a)
	}
	return m
}

// dequantRef is the dequantization every tier uses, in this order and with float32 rounding
// after each operation: y = float32(acc)·(sa·sw) + b.
func dequantRef(acc int32, sa, sw, b float32) float32 {
	s := sa * sw
	return float32(float32(acc)*s) + b
}

// GemmInt8NTRef is the naive oracle of GemmInt8NT on the tier in use: exact integer dot
// products (int64) of the integers that tier multiplies, then the same dequantization. Those
// are qa and w.Q, except on the avx2 tier, which multiplies qa by 7-bit weights
// Q7 = round(Q·64/127) and dequantizes with sa·(127/64) for sa (doc_int8.go; Q7 computed
// here the naive way). bias may be nil (then b = 0 is added). It allocates.
func GemmInt8NTRef(dst []float32, qa []int8, sa []float32, w *Int8Weights, bias []float32, m int) {
	n, k := w.N, w.K
	checkInt8(dst, qa, sa, w, bias, m)
	q, f := w.Q, float32(1)
	if active.int8.u7 {
		q, f = reduce7Ref(w), u7Scale
	}
	for i := range m {
		ar := qa[i*k : (i+1)*k]
		for j := range n {
			var acc int64
			for p, av := range ar {
				acc += int64(av) * int64(q[j*k+p])
			}
			b := float32(0)
			if bias != nil {
				b = bias[j]
			}
			dst[i*n+j] = dequantRef(int32(acc), sa[i]*f, w.Scale[j], b)
		}
	}
}

// reduce7Ref is the 7-bit form of w's weights (Int8Weights.reduced, without the +64) the
// naive way: Q7 = round(Q·64/127) in float64.
func reduce7Ref(w *Int8Weights) []int8 {
	q7 := make([]int8, w.N*w.K)
	for i, v := range w.Q[:w.N*w.K] {
		q7[i] = int8(math.Round(float64(v) * 64 / 127))
	}
	return q7
}

func checkInt8(dst []float32, qa []int8, sa []float32, w *Int8Weights, bias []float32, m int) {
	n, k := w.N, w.K
	if m < 0 || len(dst) < m*n || len(qa) < m*k || len(sa) < m || (bias != nil && len(bias) < n) ||
		len(w.Q) < n*k || len(w.Scale) < n || len(w.Comp) < n || k > Int8MaxK {
		panic("tensor: int8 product: slice shorter than its shape, or k > Int8MaxK")
	}
}

// GemmInt8NT computes dst (m,n) = dequant(qa (m,k) · w.Q (n,k)ᵀ) + bias:
// dst[i,j] = float32(Σ_p qa[i,p]·w.Q[j,p]) · (sa[i]·w.Scale[j]) + bias[j], each operation
// rounded to float32 in that order (bias nil adds 0), so every CPU tier gives the same bits,
// but for the avx2 tier, whose weights are 7-bit (see GemmInt8NTRef and doc_int8.go).
// qa must lie in [-127,127] (QuantizeInt8 output). No allocation in steady state.
func GemmInt8NT(dst []float32, qa []int8, sa []float32, w *Int8Weights, bias []float32, m int) {
	checkInt8(dst, qa, sa, w, bias, m)
	int8Run(dst, nil, qa, sa, w, bias, m)
}

// MatMulNTInt8 computes dst (m,n) = a (m,k) · Wᵀ + bias with W in int8: each row of a is
// quantized (QuantizeInt8) into a pooled buffer, then multiplied as GemmInt8NT does. This is
// what nn.Linear runs at precision Int8. No allocation in steady state.
func MatMulNTInt8(dst, a []float32, w *Int8Weights, bias []float32, m int) {
	if m < 0 || len(a) < m*w.K {
		panic("tensor: MatMulNTInt8: a shorter than (m,k)")
	}
	if len(dst) < m*w.N || (bias != nil && len(bias) < w.N) || len(w.Q) < w.N*w.K ||
		len(w.Scale) < w.N || len(w.Comp) < w.N || w.K > Int8MaxK {
		panic("tensor: MatMulNTInt8: slice shorter than its shape, or k > Int8MaxK")
	}
	int8Run(dst, a, nil, nil, w, bias, m)
}

// int8Kernel is a CPU tier's int8 building blocks (cpuTier.int8).
type int8Kernel struct {
	name string
	// shifted: activations are stored as unsigned a+128 (byte XOR 0x80) and the tile sums
	// (a+128)·w, from which the dequantization subtracts w.Comp (VPDPBUSD is u8×s8).
	shifted bool
	// u7: the tile multiplies the signed activations by the weights' 7-bit form as unsigned
	// bytes Q7+64 (Int8Weights.reduced); the dequantization subtracts 64·Σ_p a[i,p] per row
	// and scales by sa·(127/64) (AVX2 VPMADDUBSW is u8×s8 with int16 pair sums).
	u7 bool
	// step is the k granularity of tile: it handles kv = k rounded down to a multiple of step.
	step int
	// tile computes nt ≥ 1 4×4 tiles side by side: c[r*ldc+c] = Σ_{p<kv} a[r*lda+p]·w[c*ldw+p]
	// for r < 4, c < 4·nt (a read as u8 when shifted, else s8; w read as u8 when u7, else s8).
	// One call per row group and column block keeps the call and loop overhead off every
	// 4×4 tile.
	tile func(kv int, a *int8, lda int, w *int8, ldw int, c *int32, ldc int, nt int)
	// quantize quantizes one row as QuantizeInt8 does, XORing each byte with flip, and
	// returns the scale (quantizeRowGeneric's result, bit for bit).
	quantize func(q []int8, x []float32, flip int8) float32
	// sum, for a u7 tier, is Σ q[i] of a staged activation row (int8Sum's result).
	sum func(q []int8) int32
	// dequant computes dst[j] = float32(acc[j]-comp[j]-rc)·(sa·sw[j]) + b[j] (int32 math).
	dequant func(dst []float32, acc, comp []int32, rc int32, sa float32, sw, b []float32)
}

var int8Generic = &int8Kernel{name: "generic", step: 1, tile: int8TileGeneric,
	quantize: quantizeRowGeneric, dequant: int8DequantGeneric}

// int8TileGeneric is the portable 4×4 tile, nt side by side (signed activations).
func int8TileGeneric(kv int, a *int8, lda int, w *int8, ldw int, c *int32, ldc int, nt int) {
	as := unsafeInt8s(a, 3*lda+kv)
	ws := unsafeInt8s(w, (4*nt-1)*ldw+kv)
	cs := unsafeInt32s(c, 3*ldc+4*nt)
	for r := range 4 {
		ar := as[r*lda : r*lda+kv]
		for col := range 4 * nt {
			wr := ws[col*ldw : col*ldw+kv]
			var s int32
			for p, av := range ar {
				s += int32(av) * int32(wr[p])
			}
			cs[r*ldc+col] = s
		}
	}
}

// Blocking. A task owns a block of output columns and a block of rows. It walks its rows 4 at
// a time (the 4 activation rows, 4·k bytes, stay in L1) and, for each, every group of 4
// weight rows of its column block (int8ColBytes of weights: L2). Tiles go to an int32 row
// block that is dequantized row by row.
const (
	int8ColBytes  = 256 << 10 // weight bytes per column block
	int8TaskRows  = 64        // rows per task, when the rows are split
	int8ParallelM = 1 << 20   // m·n·k below which a call stays on the caller
)

// int8Job is one call of the int8 product.
type int8Job struct {
	dst    []float32
	a      []float32 // float activations to quantize (MatMulNTInt8), or nil
	qa     []int8    // caller's quantized activations (GemmInt8NT), or nil
	sa     []float32
	w      *Int8Weights
	bias   []float32
	m      int
	tier   *int8Kernel
	wq     []int8  // the weights the tier multiplies: w.Q, or the bytes of its 7-bit form
	buf    int8Buf // activations in the tier's form, rows padded to a multiple of 4
	colBlk int     // columns per column block (multiple of 4)
	nColB  int
	nRowB  int
	prep   bool
	tasks  workers.Group
}

// int8Buf holds a call's staged activations, their scales (times 127/64 for a u7 tier) and,
// for a u7 tier, each row's compensation 64·Σ_p q[r,p] (else 0).
type int8Buf struct {
	q  []int8
	sa []float32
	rc []int32
}

// int8Scratch is one worker's scratch: the int32 tile rows, a padded copy of the last weight
// rows and zero vectors standing in for a nil bias or an unshifted tier's compensation.
type int8Scratch struct {
	acc  []int32
	wpad []int8
	zb   []float32
	zc   []int32
}

var (
	int8JobPool     = sync.Pool{New: func() any { return new(int8Job) }}
	int8ScratchPool = sync.Pool{New: func() any { return new(int8Scratch) }}
)

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

func int8Run(dst, a []float32, qa []int8, sa []float32, w *Int8Weights, bias []float32, m int) {
	n, k := w.N, w.K
	if m == 0 || n == 0 {
		return
	}
	j := int8JobPool.Get().(*int8Job)
	j.dst, j.a, j.qa, j.sa, j.w, j.bias, j.m, j.tier = dst, a, qa, sa, w, bias, m, active.int8
	j.wq = w.Q
	if j.tier.u7 {
		u := w.reduced()
		j.wq = unsafe.Slice((*int8)(unsafe.Pointer(unsafe.SliceData(u))), len(u))
	}
	mp := (m + 3) &^ 3
	j.buf.q = grow(j.buf.q, mp*k)
	j.buf.sa = grow(j.buf.sa, mp)
	j.buf.rc = grow(j.buf.rc, mp)
	threads := workers.Threads()
	if m*n*max(k, 1) < int8ParallelM {
		threads = 1
	}
	// Stage the activations: quantize (or copy) into the tier's form, in row pieces.
	j.nRowB = (mp + int8TaskRows - 1) / int8TaskRows
	j.prep = true
	j.tasks.Run(j, j.nRowB, threads)
	j.prep = false
	// Column blocks: L2-sized, but narrow enough that every thread gets work.
	cb := max(4, (int8ColBytes/max(k, 1))&^3)
	if nb := (n + cb - 1) / cb; nb*j.nRowB < 4*threads {
		want := (4*threads + j.nRowB - 1) / j.nRowB
		cb = max(4, ((n+want-1)/want+3)&^3)
	}
	j.colBlk = cb
	j.nColB = (n + cb - 1) / cb
	j.tasks.Run(j, j.nColB*j.nRowB, threads)
	j.dst, j.a, j.qa, j.sa, j.w, j.bias, j.tier, j.wq = nil, nil, nil, nil, nil, nil, nil, nil
	int8JobPool.Put(j)
}

// Work takes tasks of j until none is left (workers.Job).
func (j *int8Job) Work(g *workers.Group) {
	if j.prep {
		for t, ok := g.Next(); ok; t, ok = g.Next() {
			j.stage(t)
		}
		return
	}
	s := int8ScratchPool.Get().(*int8Scratch)
	for t, ok := g.Next(); ok; t, ok = g.Next() {
		// Row blocks inner: consecutive tasks share a column block of weights.
		j.block(s, t%j.nRowB, t/j.nRowB)
	}
	int8ScratchPool.Put(s)
}

// stage fills rows of row block rb of the staged activations.
func (j *int8Job) stage(rb int) {
	k := j.w.K
	var flip int8
	if j.tier.shifted {
		flip = -128 // 0x80
	}
	r0 := rb * int8TaskRows
	r1 := min(r0+int8TaskRows, len(j.buf.sa))
	for r := r0; r < r1; r++ {
		q := j.buf.q[r*k : (r+1)*k]
		switch {
		case r >= j.m: // padding row
			for i := range q {
				q[i] = flip
			}
			j.buf.sa[r] = 0
		case j.a != nil:
			j.buf.sa[r] = j.tier.quantize(q, j.a[r*k:(r+1)*k], flip)
		default:
			src := j.qa[r*k : (r+1)*k]
			for i, v := range src {
				q[i] = v ^ flip
			}
			j.buf.sa[r] = j.sa[r]
		}
		j.buf.rc[r] = 0
		if j.tier.u7 {
			j.buf.rc[r] = 64 * j.tier.sum(q)
			j.buf.sa[r] *= u7Scale
		}
	}
}

// int8Sum is Σ q[i] (|Σ| ≤ 127·Int8MaxK).
func int8Sum(q []int8) int32 {
	var s int32
	for _, v := range q {
		s += int32(v)
	}
	return s
}

// block computes dst rows of row block rb × columns of column block cb.
func (j *int8Job) block(s *int8Scratch, rb, cb int) {
	n, k, t := j.w.N, j.w.K, j.tier
	c0 := cb * j.colBlk
	c1 := min(n, c0+j.colBlk)
	nc := c1 - c0
	ncp := (nc + 3) &^ 3
	s.acc = grow(s.acc, 4*ncp)
	s.wpad = grow(s.wpad, 4*max(k, 1))
	bias, comp, wq := j.bias, j.w.Comp, j.wq
	if bias == nil {
		s.zb = grow(s.zb, n) // never written: zero
		bias = s.zb
	}
	if !t.shifted {
		s.zc = grow(s.zc, n)
		comp = s.zc
	}
	kv := k - k%t.step
	r0 := rb * int8TaskRows
	r1 := min(r0+int8TaskRows, j.m)
	q := j.buf.q
	full := nc / 4   // tiles whose 4 weight rows exist
	pad := nc%4 != 0 // and a last one of 1–3 rows, from a zero-padded copy
	if pad {
		clear(s.wpad)
		copy(s.wpad, wq[(c0+4*full)*k:n*k])
	}
	for i := r0; i < r1; i += 4 {
		if k == 0 {
			clear(s.acc[:4*ncp])
		} else {
			if full > 0 {
				t.tile(kv, &q[i*k], k, &wq[c0*k], k, &s.acc[0], ncp, full)
			}
			if pad {
				t.tile(kv, &q[i*k], k, &s.wpad[0], k, &s.acc[4*full], ncp, 1)
			}
			if kv < k {
				for c := c0; c < c1; c += 4 {
					wp := wq[c*k:]
					if c+4 > n {
						wp = s.wpad
					}
					int8Tail(s.acc[c-c0:], ncp, q[i*k:], wp, k, kv, t)
				}
			}
		}
		for r := i; r < min(i+4, r1); r++ {
			t.dequant(j.dst[r*n+c0:r*n+c1], s.acc[(r-i)*ncp:], comp[c0:c1], j.buf.rc[r], j.buf.sa[r], j.w.Scale[c0:c1], bias[c0:c1])
		}
	}
}

// int8Tail adds the columns [kv,k) of a 4×4 tile to acc (row stride ldc), reading a and w
// as t's tile does.
func int8Tail(acc []int32, ldc int, a []int8, w []int8, k, kv int, t *int8Kernel) {
	for r := range 4 {
		ar := a[r*k+kv : r*k+k]
		for c := range 4 {
			wr := w[c*k+kv : c*k+k]
			var s int32
			for p, av := range ar {
				x, y := int32(av), int32(wr[p])
				if t.shifted {
					x = int32(uint8(av))
				}
				if t.u7 {
					y = int32(uint8(wr[p]))
				}
				s += x * y
			}
			acc[r*ldc+c] += s
		}
	}
}

// int8DequantGeneric: dst[j] = float32(acc[j]-comp[j]-rc)·(sa·sw[j]) + b[j].
func int8DequantGeneric(dst []float32, acc, comp []int32, rc int32, sa float32, sw, b []float32) {
	acc, comp, sw, b = acc[:len(dst)], comp[:len(dst)], sw[:len(dst)], b[:len(dst)]
	for j := range dst {
		dst[j] = dequantRef(acc[j]-comp[j]-rc, sa, sw[j], b[j])
	}
}

func unsafeInt8s(p *int8, n int) []int8    { return unsafe.Slice(p, n) }
func unsafeInt32s(p *int32, n int) []int32 { return unsafe.Slice(p, n) }
