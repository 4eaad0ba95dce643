package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// guard is the value written around every operand; a kernel that writes outside dst changes it.
const guard = 1234.5

// strided is a matrix (rows, cols) of row stride ld at offset off inside buf; everything in
// buf that is not an element of the matrix holds guard.
type strided struct {
	buf           []float32
	off, ld, r, c int
}

func newStrided(rng *rand.Rand, r, c, ldPad, off int) strided {
	ld := c + ldPad
	n := off + 16 // trailing guard band
	if r > 0 {
		n += (r-1)*ld + c
	}
	s := strided{buf: make([]float32, n), off: off, ld: ld, r: r, c: c}
	for i := range s.buf {
		s.buf[i] = guard
	}
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			s.buf[off+i*ld+j] = float32(rng.NormFloat64())
		}
	}
	return s
}

func (s strided) data() []float32 { return s.buf[s.off:] }

// checkGuards fails if anything outside the matrix elements differs from guard.
func (s strided) checkGuards(t *testing.T, what string) {
	t.Helper()
	for x, v := range s.buf {
		p := x - s.off
		inside := p >= 0 && p/s.ld < s.r && p%s.ld < s.c
		if !inside && v != guard {
			t.Fatalf("%s: wrote outside the matrix at buf[%d] (row %d col %d): %v", what, x, p/s.ld, p%s.ld, v)
		}
	}
}

func absCopy(s strided) strided {
	c := s
	c.buf = make([]float32, len(s.buf))
	for i, v := range s.buf {
		c.buf[i] = float32(math.Abs(float64(v)))
	}
	return c
}

type gemmFunc func(acc bool, dst []float32, ldd int, a []float32, lda int, b []float32, ldb int, m, n, k int)

// gemmCase checks one product on the current tier against the float64 oracle: every element
// within a rounding bound of the oracle, nothing written outside dst.
func gemmCase(t *testing.T, rng *rand.Rand, nt, acc bool, m, n, k, pad, off int) {
	t.Helper()
	fast, ref := gemmFunc(GemmNN), gemmFunc(GemmNNRef)
	br, bc := k, n
	if nt {
		fast, ref = GemmNT, GemmNTRef
		br, bc = n, k
	}
	a := newStrided(rng, m, k, pad, off)
	b := newStrided(rng, br, bc, 2*pad, 2*off+1)
	d := newStrided(rng, m, n, pad+1, off+3)
	want := newStrided(rng, m, n, pad+1, off+3)
	copy(want.buf, d.buf)
	if !acc {
		// Without acc, dst is write-only: NaN there must not leak into the result.
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				d.buf[d.off+i*d.ld+j] = float32(math.NaN())
			}
		}
	}
	fast(acc, d.data(), d.ld, a.data(), a.ld, b.data(), b.ld, m, n, k)
	ref(acc, want.data(), want.ld, a.data(), a.ld, b.data(), b.ld, m, n, k)
	// bound[i,j] = Σ|a||b| (+|c|): the float32 error is at most about k·eps32 times it.
	bound := newStrided(rng, m, n, pad+1, off+3)
	absW := absCopy(want)
	if acc {
		copy(bound.buf, absCopy(d).buf) // overwritten below; keeps guards
	}
	aa, ab := absCopy(a), absCopy(b)
	ref(false, bound.data(), bound.ld, aa.data(), aa.ld, ab.data(), ab.ld, m, n, k)
	what := fmt.Sprintf("tier=%s nt=%v acc=%v m=%d n=%d k=%d pad=%d off=%d", active.name, nt, acc, m, n, k, pad, off)
	d.checkGuards(t, what)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			x := d.off + i*d.ld + j
			tol := 2e-7*float64(k+4)*(float64(bound.buf[x])+float64(absW.buf[x])) + 1e-30
			if diff := math.Abs(float64(d.buf[x] - want.buf[x])); !(diff <= tol) {
				t.Fatalf("%s: dst[%d,%d] = %v, want %v (diff %.3g > tol %.3g)", what, i, j, d.buf[x], want.buf[x], diff, tol)
			}
		}
	}
}

// TestGemmTiers checks every tier this machine can run against the oracle across sizes around
// every tile and block boundary, strides, offsets, guard bands and acc.
func TestGemmTiers(t *testing.T) {
	dims := [][3]int{
		{0, 0, 0}, {0, 5, 3}, {5, 0, 3}, {5, 3, 0}, {1, 1, 1}, {1, 1, 7}, {1, 17, 5}, {7, 1, 9},
		{2, 3, 4}, {4, 4, 4}, {5, 15, 33}, {6, 16, 8}, {7, 17, 3}, {11, 31, 64}, {12, 32, 16},
		{13, 33, 17}, {23, 47, 255}, {24, 48, 256}, {25, 49, 257}, {6, 200, 513}, {37, 385, 40},
		{50, 70, 300}, {97, 130, 129}, {130, 97, 300}, {64, 64, 64}, {128, 64, 128},
	}
	forEachTier(t, func(t *testing.T, tr *cpuTier) {
		{
			rng := rand.New(rand.NewPCG(1, uint64(len(tr.name))))
			for _, d := range dims {
				for _, nt := range []bool{true, false} {
					for _, acc := range []bool{false, true} {
						gemmCase(t, rng, nt, acc, d[0], d[1], d[2], 0, 0)
						gemmCase(t, rng, nt, acc, d[0], d[1], d[2], 3, 5)
					}
				}
			}
		}
	})
}

// TestGemmTiersLarge covers products big enough to run in parallel, with many tasks and k
// slices, on every tier.
func TestGemmTiersLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("large products: skipped with -short")
	}
	forEachTier(t, func(t *testing.T, tr *cpuTier) {
		{
			rng := rand.New(rand.NewPCG(2, uint64(len(tr.name))))
			for _, d := range [][3]int{{200, 300, 70}, {129, 1000, 520}, {611, 67, 301}} {
				for _, nt := range []bool{true, false} {
					gemmCase(t, rng, nt, nt, d[0], d[1], d[2], 1, 3)
				}
			}
		}
	})
}

// TestGemmAttentionShapes checks the per-head products of attention with their real strides:
// scores (T,T) = Q·Kᵀ with Q, K (T,64) of row stride 1024, and out (T,64) = P·V with V of
// stride 1024 written into a (T,1024) buffer.
func TestGemmAttentionShapes(t *testing.T) {
	const hidden, dh = 1024, 64
	forEachTier(t, func(t *testing.T, tr *cpuTier) {
		{
			rng := rand.New(rand.NewPCG(3, uint64(len(tr.name))))
			for _, T := range []int{1, 7, 45, 128} {
				q := newStrided(rng, T, hidden, 0, 0)
				k := newStrided(rng, T, hidden, 0, 0)
				s := make([]float32, T*T)
				want := make([]float32, T*T)
				h := 5 // head 5: columns [320,384)
				GemmNT(false, s, T, q.data()[h*dh:], hidden, k.data()[h*dh:], hidden, T, T, dh)
				GemmNTRef(false, want, T, q.data()[h*dh:], hidden, k.data()[h*dh:], hidden, T, T, dh)
				maxDiff(t, fmt.Sprintf("%s Q·Kᵀ T=%d", tr.name, T), s, want, 1e-4)
				out := make([]float32, T*hidden)
				wantOut := make([]float32, T*hidden)
				GemmNN(false, out[h*dh:], hidden, s, T, k.data()[h*dh:], hidden, T, dh, T)
				GemmNNRef(false, wantOut[h*dh:], hidden, s, T, k.data()[h*dh:], hidden, T, dh, T)
				maxDiff(t, fmt.Sprintf("%s P·V T=%d", tr.name, T), out, wantOut, 1e-3)
			}
		}
	})
}

func maxDiff(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	var m float64
	for i := range got {
		m = max(m, math.Abs(float64(got[i]-want[i])))
	}
	if !(m <= tol) {
		t.Fatalf("%s: maxabs=%.3g > %.3g", what, m, tol)
	}
}

// TestGemmGonum uses gonum's blas32 Sgemm as a second, independent reference.
func TestGemmGonum(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	m, n, k := 70, 90, 200
	a := newStrided(rng, m, k, 3, 0)
	b := newStrided(rng, n, k, 1, 0)
	got := make([]float32, m*n)
	want := make([]float32, m*n)
	GemmNT(false, got, n, a.data(), a.ld, b.data(), b.ld, m, n, k)
	blas32.Gemm(blas.NoTrans, blas.Trans, 1, General(a.data(), m, k, a.ld), General(b.data(), n, k, b.ld), 0, General(want, m, n, n))
	maxDiff(t, "GemmNT vs gonum", got, want, 1e-4)
	bn := newStrided(rng, k, n, 2, 0)
	GemmNN(false, got, n, a.data(), a.ld, bn.data(), bn.ld, m, n, k)
	blas32.Gemm(blas.NoTrans, blas.NoTrans, 1, General(a.data(), m, k, a.ld), General(bn.data(), k, n, bn.ld), 0, General(want, m, n, n))
	maxDiff(t, "GemmNN vs gonum", got, want, 1e-4)
	MatMulNT(got, a.data(), b.data(), m, n, 1) // dense form: k=1 over the first column
	blas32.Gemm(blas.NoTrans, blas.Trans, 1, General(a.data(), m, 1, 1), General(b.data(), n, 1, 1), 0, General(want, m, n, n))
	maxDiff(t, "MatMulNT vs gonum", got, want, 1e-5)
}

// TestGemmConcurrent runs GEMMs from several goroutines at once (a server running several
// forwards), checks every result, and checks that no helpers beyond GOMAXPROCS−1 appeared.
func TestGemmConcurrent(t *testing.T) {
	const m, n, k = 96, 160, 192 // 5.9 MFLOP: parallel
	goroutines := runtime.NumGoroutine()
	rng := rand.New(rand.NewPCG(5, 5))
	a := newStrided(rng, m, k, 0, 0).data()
	b := newStrided(rng, n, k, 0, 0).data()
	want := make([]float32, m*n)
	GemmNTRef(false, want, n, a, k, b, k, m, n, k)
	var wg sync.WaitGroup
	errs := make([]float64, 6)
	for g := range errs {
		wg.Go(func() {
			d := make([]float32, m*n)
			for range 20 {
				GemmNT(false, d, n, a, k, b, k, m, n, k)
				for i := range d {
					errs[g] = max(errs[g], math.Abs(float64(d[i]-want[i])))
				}
			}
		})
	}
	wg.Wait()
	if extra := runtime.NumGoroutine() - goroutines; extra > runtime.GOMAXPROCS(0)-1 {
		t.Errorf("%d goroutines left after the calls, want at most GOMAXPROCS-1 = %d helpers", extra, runtime.GOMAXPROCS(0)-1)
	}
	for g, e := range errs {
		if !(e <= 1e-4) {
			t.Errorf("goroutine %d: maxabs=%.3g", g, e)
		}
	}
}

// TestGemmAllocs asserts zero allocations per call in steady state, serial and parallel.
func TestGemmAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop buffers: allocation counts are meaningless")
	}
	for _, d := range [][3]int{{5, 7, 9}, {128, 128, 64}, {256, 512, 256}} {
		m, n, k := d[0], d[1], d[2]
		a, b, c := make([]float32, m*k), make([]float32, n*k), make([]float32, m*n)
		GemmNT(false, c, n, a, k, b, k, m, n, k)
		if got := testing.AllocsPerRun(20, func() { GemmNT(false, c, n, a, k, b, k, m, n, k) }); got != 0 {
			t.Errorf("GemmNT %v: %v allocs per call, want 0", d, got)
		}
		if got := testing.AllocsPerRun(20, func() { GemmNN(true, c, n, a, k, b, n, m, n, k) }); got != 0 {
			t.Errorf("GemmNN %v: %v allocs per call, want 0", d, got)
		}
	}
}

// TestGemmPanics checks that operands that do not fit are reported as programmer bugs.
func TestGemmPanics(t *testing.T) {
	for _, f := range []func(){
		func() { GemmNT(false, make([]float32, 3), 2, make([]float32, 4), 2, make([]float32, 4), 2, 2, 2, 2) },
		func() { GemmNN(false, make([]float32, 4), 2, make([]float32, 4), 1, make([]float32, 4), 2, 2, 2, 2) },
		func() { GemmNT(false, nil, 1, nil, 1, nil, 1, -1, 1, 1) },
		func() { MatMulNT(make([]float32, 4), make([]float32, 4), make([]float32, 3), 2, 2, 2) },
	} {
		func() {
			defer func() {
				r := recover()
				if s, ok := r.(string); !ok || !strings.HasPrefix(s, "tensor: ") {
					t.Errorf("panic = %v, want a tensor: message", r)
				}
			}()
			f()
		}()
	}
}

// TestGemmRandom checks random small shapes, strides, offsets and acc on every tier.
func TestGemmRandom(t *testing.T) {
	forEachTier(t, func(t *testing.T, tr *cpuTier) {
		{
			rng := rand.New(rand.NewPCG(6, uint64(len(tr.name))))
			for range 150 {
				m, n, k := rng.IntN(40), rng.IntN(80), rng.IntN(300)
				gemmCase(t, rng, rng.IntN(2) == 0, rng.IntN(2) == 0, m, n, k, rng.IntN(5), rng.IntN(9))
			}
		}
	})
}
