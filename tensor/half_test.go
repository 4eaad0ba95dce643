package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/x448/float16"
)

// lowpCase names one public half-precision kernel and its oracle.
type lowpCase struct {
	name string
	fast func(dst, a []float32, b []uint16, m, n, k int)
	ref  func(dst, a []float32, b []uint16, m, n, k int)
	bits func(float32) uint16 // float32 -> weight bits
}

var lowpCases = []lowpCase{
	{"F16", MatMulNTF16, MatMulNTF16Ref, func(f float32) uint16 { return float16.Fromfloat32(f).Bits() }},
	{"BF16", MatMulNTBF16, MatMulNTBF16Ref, Float32ToBF16},
	{"BF16Compute", MatMulNTBF16Compute, MatMulNTBF16ComputeRef, Float32ToBF16},
}

// withTier runs f once per test tier (every tier this CPU runs, then the emulated ones),
// with that tier active.
func withTier(t *testing.T, f func(t *testing.T)) {
	forEachTier(t, func(t *testing.T, _ *cpuTier) { f(t) })
}

func randLowp(r *rand.Rand, m, n, k int, bits func(float32) uint16) ([]float32, []uint16) {
	a := make([]float32, m*k)
	b := make([]uint16, n*k)
	for i := range a {
		a[i] = float32(r.NormFloat64())
	}
	for i := range b {
		b[i] = bits(float32(r.NormFloat64() * 0.05))
	}
	return a, b
}

// lowpShapes cover tile multiples, odd edges on every axis, several depth blocks,
// and sizes large enough to be split over the workers.
var lowpShapes = [][3]int{
	{1, 1, 1}, {1, 16, 8}, {6, 16, 1}, {5, 17, 3}, {7, 15, 9}, {13, 33, 256}, {12, 32, 257},
	{73, 130, 513}, {72, 1024, 64}, {2, 1040, 31}, {150, 200, 300}, {64, 1037, 40},
	{1, 32, 32}, {33, 64, 96}, {70, 96, 320}, {64, 512, 64}, // tile path: n, k multiples of 32
}

func TestLowpMatchesOracle(t *testing.T) {
	withTier(t, func(t *testing.T) {
		for _, c := range lowpCases {
			for _, s := range lowpShapes {
				m, n, k := s[0], s[1], s[2]
				t.Run(fmt.Sprintf("%s/%dx%dx%d", c.name, m, n, k), func(t *testing.T) {
					r := rand.New(rand.NewPCG(uint64(m), uint64(n*k)))
					a, b := randLowp(r, m, n, k, c.bits)
					const guard = 37
					got := make([]float32, m*n+2*guard)
					for i := range got {
						got[i] = -7777
					}
					want := make([]float32, m*n)
					c.fast(got[guard:guard+m*n], a, b, m, n, k)
					c.ref(want, a, b, m, n, k)
					for i := 0; i < guard; i++ {
						if got[i] != -7777 || got[guard+m*n+i] != -7777 {
							t.Fatalf("guard band overwritten at %d", i)
						}
					}
					// Float32 accumulation bound: |err| ≤ (k+2)·2⁻²⁴·Σ|a·b|.
					var maxErr float64
					for i := 0; i < m; i++ {
						for j := 0; j < n; j++ {
							var abs float64
							for p := 0; p < k; p++ {
								av := float64(a[i*k+p])
								if c.name == "BF16Compute" {
									av = float64(roundBF16(a[i*k+p]))
								}
								abs += math.Abs(av * float64(widenForTest(c.name, b[j*k+p])))
							}
							e := math.Abs(float64(got[guard+i*n+j]) - float64(want[i*n+j]))
							maxErr = max(maxErr, e)
							if e > float64(k+2)*0x1p-24*abs+1e-30 {
								t.Fatalf("dst[%d,%d] = %g, oracle %g (err %.3g, bound %.3g)",
									i, j, got[guard+i*n+j], want[i*n+j], e, float64(k+2)*0x1p-24*abs)
							}
						}
					}
				})
			}
		}
	})
}

func widenForTest(name string, h uint16) float32 {
	if name == "F16" {
		return float16.Frombits(h).Float32()
	}
	return BF16ToFloat32(h)
}

// Small integers are exact in F16, BF16 and float32, and so are their sums here:
// every path must then agree with the oracle bit for bit.
func TestLowpExactOnIntegers(t *testing.T) {
	withTier(t, func(t *testing.T) {
		const m, n, k = 29, 45, 300
		r := rand.New(rand.NewPCG(1, 2))
		for _, c := range lowpCases {
			a := make([]float32, m*k)
			b := make([]uint16, n*k)
			for i := range a {
				a[i] = float32(r.IntN(9) - 4)
			}
			for i := range b {
				b[i] = c.bits(float32(r.IntN(9) - 4))
			}
			got, want := make([]float32, m*n), make([]float32, m*n)
			c.fast(got, a, b, m, n, k)
			c.ref(want, a, b, m, n, k)
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("%s: dst[%d] = %g, want %g", c.name, i, got[i], want[i])
				}
			}
		}
	})
}

// The compute path must round activations to BF16 (nearest even) and nothing else.
func TestBF16ComputeRoundsActivations(t *testing.T) {
	withTier(t, func(t *testing.T) {
		one := Float32ToBF16(1)
		// 1 + 2⁻⁸ is a tie between 1 and 1+2⁻⁷: rounds to even, i.e. 1.
		// 1 + 3·2⁻⁸ is a tie between 1+2⁻⁷ and 1+2⁻⁶: rounds to 1+2⁻⁶.
		// 1 + 2⁻⁸ + 2⁻²⁰ is above the tie: rounds up to 1+2⁻⁷.
		for _, tc := range []struct{ in, want float32 }{
			{1 + 0x1p-8, 1}, {1 + 3*0x1p-8, 1 + 0x1p-6}, {1 + 0x1p-8 + 0x1p-20, 1 + 0x1p-7}, {-1 - 0x1p-9, -1},
		} {
			dst := make([]float32, 1)
			MatMulNTBF16Compute(dst, []float32{tc.in}, []uint16{one}, 1, 1, 1)
			if dst[0] != tc.want {
				t.Errorf("bf16(%v)·1 = %v, want %v", tc.in, dst[0], tc.want)
			}
			MatMulNTBF16(dst, []float32{tc.in}, []uint16{one}, 1, 1, 1)
			if dst[0] != tc.in {
				t.Errorf("BF16 weights must not round activations: %v·1 = %v", tc.in, dst[0])
			}
		}
	})
}

func TestLowpSpecialValues(t *testing.T) {
	withTier(t, func(t *testing.T) {
		inf := Float32ToBF16(float32(math.Inf(1)))
		a := []float32{1, 2, 3}
		dst := make([]float32, 2)
		MatMulNTBF16(dst, a, []uint16{Float32ToBF16(1), inf, 0, 0, 0, 0x7fc0}, 1, 2, 3)
		if !math.IsInf(float64(dst[0]), 1) || !math.IsNaN(float64(dst[1])) {
			t.Fatalf("got %v, want [+Inf NaN]", dst)
		}
		f16inf := float16.Inf(1).Bits()
		MatMulNTF16(dst, a, []uint16{0, f16inf, 0, 0, 0, 0}, 1, 2, 3)
		if !math.IsInf(float64(dst[0]), 1) || dst[1] != 0 {
			t.Fatalf("got %v, want [+Inf 0]", dst)
		}
	})
}

func TestLowpEmptyAndZeroDepth(t *testing.T) {
	for _, c := range lowpCases {
		c.fast(nil, nil, nil, 0, 0, 0)
		c.fast(nil, nil, make([]uint16, 15), 0, 5, 3)
		dst := []float32{1, 2, 3, 4, 5, 6}
		c.fast(dst, nil, nil, 2, 3, 0)
		for _, v := range dst {
			if v != 0 {
				t.Fatalf("%s with k=0: dst = %v, want zeros", c.name, dst)
			}
		}
	}
}

func TestLowpPanicsOnShortSlices(t *testing.T) {
	for _, c := range lowpCases {
		for _, f := range []func(){
			func() { c.fast(make([]float32, 5), make([]float32, 6), make([]uint16, 6), 2, 3, 2) },
			func() { c.fast(make([]float32, 6), make([]float32, 3), make([]uint16, 6), 2, 3, 2) },
			func() { c.fast(make([]float32, 6), make([]float32, 6), make([]uint16, 5), 2, 3, 2) },
			func() { c.fast(nil, nil, nil, -1, 3, 2) },
		} {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("%s: short operand did not panic", c.name)
					}
				}()
				f()
			}()
		}
	}
}

func TestLowpNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	const m, n, k = 64, 256, 256 // large enough to use the workers
	r := rand.New(rand.NewPCG(3, 4))
	for _, tier := range []*cpuTier{active, dotEmulated} {
		restore := useTier(tier)
		for _, c := range lowpCases {
			a, b := randLowp(r, m, n, k, c.bits)
			dst := make([]float32, m*n)
			c.fast(dst, a, b, m, n, k)
			// Finish any garbage collection now: a cycle starting during the runs
			// would empty the sync.Pools and count their refills.
			runtime.GC()
			if allocs := testing.AllocsPerRun(5, func() { c.fast(dst, a, b, m, n, k) }); allocs != 0 {
				t.Errorf("%s/%s: %v allocations per call, want 0", tier.name, c.name, allocs)
			}
		}
		restore()
	}
}

func TestFloat32ToBF16(t *testing.T) {
	for _, tc := range []struct {
		in   uint32
		want uint16
	}{
		{0x3f800000, 0x3f80}, // 1
		{0x3f808000, 0x3f80}, // tie, even below
		{0x3f818000, 0x3f82}, // tie, even above
		{0x3f808001, 0x3f81}, // above tie
		{0x7f7fffff, 0x7f80}, // max float32 rounds to +Inf
		{0xff800000, 0xff80}, // -Inf
		{0x80000000, 0x8000}, // -0
		{0x00000001, 0x0000}, // smallest subnormal rounds to 0
		{0x7f800001, 0x7fc0}, // signalling NaN stays NaN (quieted)
		{0xffc00000, 0xffc0}, // quiet NaN
	} {
		if got := Float32ToBF16(math.Float32frombits(tc.in)); got != tc.want {
			t.Errorf("Float32ToBF16(%#08x) = %#04x, want %#04x", tc.in, got, tc.want)
		}
	}
	for h := 0; h < 1<<16; h++ {
		f := BF16ToFloat32(uint16(h))
		if f != f {
			continue
		}
		if got := Float32ToBF16(f); got != uint16(h) {
			t.Fatalf("round trip of %#04x gave %#04x", h, got)
		}
	}
}

func TestLowpRoundBF16Tiers(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	src := []float32{1 + 0x1p-8, 1 + 3*0x1p-8, -(1 + 0x1p-8 + 0x1p-20), 0, float32(math.Copysign(0, -1)),
		float32(math.Inf(1)), float32(math.Inf(-1)), math.Float32frombits(0x7f800001), math.Float32frombits(0xffc00001),
		math.Float32frombits(0x7f7fffff), math.Float32frombits(0x00000001), math.Float32frombits(0x807fffff)}
	for len(src) < 1003 {
		src = append(src, math.Float32frombits(r.Uint32()))
	}
	for _, tier := range testTiers() {
		for _, off := range []int{0, 1, 7} {
			s := src[off:]
			dst := make([]float32, len(s)+1)
			dst[len(s)] = 42
			tier.roundBF16(dst[:len(s)], s)
			for i, v := range s {
				if want := math.Float32bits(roundBF16(v)); math.Float32bits(dst[i]) != want {
					t.Fatalf("%s: round(%#08x) = %#08x, want %#08x", tier.name, math.Float32bits(v), math.Float32bits(dst[i]), want)
				}
			}
			if dst[len(s)] != 42 {
				t.Fatalf("%s: wrote past the end", tier.name)
			}
			if tier.dot == nil {
				continue
			}
			bits := make([]uint16, len(s)+1)
			bits[len(s)] = 42
			tier.dot.toBF16(bits[:len(s)], s)
			for i, v := range s {
				if want := Float32ToBF16(v); bits[i] != want {
					t.Fatalf("%s: toBF16(%#08x) = %#04x, want %#04x", tier.name, math.Float32bits(v), bits[i], want)
				}
			}
			if bits[len(s)] != 42 {
				t.Fatalf("%s: toBF16 wrote past the end", tier.name)
			}
		}
	}
}

// Every tier's weight packers must equal the portable ones bit for bit, edges included.
func TestLowpPackTiers(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const ldb, rows = 300, 40
	src := make([]uint16, rows*ldb)
	for i := range src {
		src[i] = uint16(r.Uint32())
	}
	for _, tier := range testTiers() {
		for _, nr := range []int{16, 32} {
			for _, cols := range []int{1, 7, 8, 9, 15, 16, nr} {
				for _, kc := range []int{1, 7, 8, 9, 64, 255, 256} {
					j, p0 := cols%5, kc%3
					for _, wf := range []weightFormat{weightF16, weightBF16} {
						want := make([]float32, kc*nr)
						got := make([]float32, kc*nr+1)
						got[kc*nr] = -1
						widenGeneric(want, nr, src, ldb, j, cols, p0, kc, wf)
						tier.widen(got[:kc*nr], nr, src, ldb, j, cols, p0, kc, wf)
						for i, w := range want {
							if math.Float32bits(got[i]) != math.Float32bits(w) {
								t.Fatalf("%s widen wf=%d nr=%d cols=%d kc=%d: dst[%d] = %v, want %v", tier.name, wf, nr, cols, kc, i, got[i], w)
							}
						}
						if got[kc*nr] != -1 {
							t.Fatalf("%s: widen wrote past the panel", tier.name)
						}
					}
					if tier.dot == nil {
						continue
					}
					kp := kc / 2
					want := make([]uint32, kp*nr)
					got := make([]uint32, kp*nr+1)
					got[kp*nr] = 77
					packPairsGeneric(want, nr, src, ldb, j, cols, 2*p0, kp)
					tier.dot.packPairs(got[:kp*nr], nr, src, ldb, j, cols, 2*p0, kp)
					if !slices.Equal(got[:kp*nr], want) || got[kp*nr] != 77 {
						t.Fatalf("%s packPairs nr=%d cols=%d kp=%d: differs from the portable packer", tier.name, nr, cols, kp)
					}
				}
			}
		}
	}
}

// TestLowpFidelity reports, on random layer-like data (a ~ N(0,1), w ~ N(0,0.05²)),
// the max abs error of each path against its own float64 oracle (kernel error) and
// against float64 math on the unrounded float32 weights (kernel + quantisation).
// Run with -v to read the numbers.
func TestLowpFidelity(t *testing.T) {
	const m, n, k = 48, 256, 1024
	r := rand.New(rand.NewPCG(9, 10))
	a := make([]float32, m*k)
	w := make([]float32, n*k)
	for i := range a {
		a[i] = float32(r.NormFloat64())
	}
	for i := range w {
		w[i] = float32(r.NormFloat64() * 0.05)
	}
	exact := make([]float32, m*n)
	GemmNTRef(false, exact, n, a, k, w, k, m, n, k)
	maxAbs := func(x, y []float32) (e float64) {
		for i := range x {
			e = max(e, math.Abs(float64(x[i])-float64(y[i])))
		}
		return e
	}
	var scale float64 // typical |dst|
	for _, v := range exact {
		scale = max(scale, math.Abs(float64(v)))
	}
	withTier(t, func(t *testing.T) {
		for _, c := range lowpCases {
			b := make([]uint16, n*k)
			for i, v := range w {
				b[i] = c.bits(v)
			}
			got, ref := make([]float32, m*n), make([]float32, m*n)
			c.fast(got, a, b, m, n, k)
			c.ref(ref, a, b, m, n, k)
			kern, total := maxAbs(got, ref), maxAbs(got, exact)
			t.Logf("%-12s max|dst|=%.3g  vs own oracle %.3g  vs fp32 weights %.3g", c.name, scale, kern, total)
			// Quantisation bound, generously: relative step 2⁻⁸ (BF16) per term, random signs.
			if total > 0.05*scale {
				t.Errorf("%s: error %.3g vs float32 weights is too large for |dst| ≤ %.3g", c.name, total, scale)
			}
		}
	})
}

// Several goroutines calling at once share the helpers and still get their own results.
func TestLowpConcurrentCallers(t *testing.T) {
	const m, n, k = 40, 300, 200
	r := rand.New(rand.NewPCG(11, 12))
	a, b := randLowp(r, m, n, k, Float32ToBF16)
	want := make([]float32, m*n)
	MatMulNTBF16Ref(want, a, b, m, n, k)
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func() {
			dst := make([]float32, m*n)
			for it := 0; it < 5; it++ {
				MatMulNTBF16(dst, a, b, m, n, k)
				for i := range dst {
					if math.Abs(float64(dst[i]-want[i])) > 1e-4 {
						errs <- fmt.Errorf("dst[%d] = %v, want %v", i, dst[i], want[i])
						return
					}
				}
			}
			errs <- nil
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// The dot kernel must really run for MatMulNTBF16Compute on a tier that has one, and only
// there.
func TestDotPathTaken(t *testing.T) {
	calls := 0
	counting := *dotEmulated.dot
	counting.tile = func(kp int, a []uint16, lda int, b []uint32, c []float32, ldc int, add bool) {
		calls++
		dotEmulated.dot.tile(kp, a, lda, b, c, ldc, add)
	}
	defer useTier(withDot("counting", genericTier, &counting))()
	r := rand.New(rand.NewPCG(15, 16))
	a, b := randLowp(r, 40, 64, 64, Float32ToBF16)
	dst := make([]float32, 40*64)
	MatMulNTBF16(dst, a, b, 40, 64, 64)
	if calls != 0 {
		t.Fatalf("MatMulNTBF16 ran the dot kernel %d times: it widens weights to float32", calls)
	}
	MatMulNTBF16Compute(dst, a, b, 40, 64, 64)
	if calls != 4*2 { // 4 row blocks of 12 × 2 column panels of 32
		t.Fatalf("MatMulNTBF16Compute ran the dot kernel %d times, want 8", calls)
	}
}
