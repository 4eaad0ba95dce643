package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"
)

// useInt8Kernel makes the tier in use run the int8 kernel k until restore is called.
func useInt8Kernel(k *int8Kernel) (restore func()) {
	t := *active
	t.int8 = k
	return useTier(&t)
}

// withInt8Tiers runs f once per int8 kernel this CPU supports, with that kernel active.
func withInt8Tiers(t *testing.T, f func(t *testing.T, tier *int8Kernel)) {
	for _, tier := range int8Available() {
		restore := useInt8Kernel(tier)
		t.Run(tier.name, func(t *testing.T) { f(t, tier) })
		restore()
	}
}

func TestInt8TiersListed(t *testing.T) {
	ts := int8Available()
	if ts[len(ts)-1] != int8Generic || active.int8 != ts[0] && !active.forced {
		t.Fatalf("tiers must end with generic and the best must be active")
	}
	for _, tier := range ts {
		t.Logf("int8 tier %s", tier.name)
	}
}

// randInt8 fills a slice with values in [-127,127], extremes included often.
func randInt8(r *rand.Rand, n int) []int8 {
	q := make([]int8, n)
	for i := range q {
		switch r.IntN(8) {
		case 0:
			q[i] = 127
		case 1:
			q[i] = -127
		default:
			q[i] = int8(r.IntN(255) - 127)
		}
	}
	return q
}

// randU7 fills a slice with the bytes of 7-bit weights + 64, in [0,128], extremes often.
func randU7(r *rand.Rand, n int) []int8 {
	q := make([]int8, n)
	for i := range q {
		switch r.IntN(8) {
		case 0:
			q[i] = -128 // the byte 128
		case 1:
			q[i] = 0
		default:
			q[i] = int8(uint8(r.IntN(129)))
		}
	}
	return q
}

// TestInt8Tile checks each tier's tile kernel alone: int32 sums bit for bit, one and several
// tiles side by side, strides wider than kv, unaligned rows, and the cells around the 4×(4·nt)
// output untouched. A u7 tier gets weight bytes in [0,128] (its contract), a ±127 at most.
func TestInt8Tile(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	withInt8Tiers(t, func(t *testing.T, tier *int8Kernel) {
		for _, nt := range []int{1, 3} {
			for _, kv := range []int{0, tier.step, 2 * tier.step, 7 * tier.step, 64 * tier.step} {
				for _, off := range []int{0, 1, 13} {
					lda, ldw, ldc := kv+off+3, kv+2*off+5, 4*nt+3
					a := randInt8(r, off+4*lda)[off:]
					w := randInt8(r, off+4*nt*ldw)[off:]
					if tier.u7 {
						w = randU7(r, off+4*nt*ldw)[off:]
					}
					c := make([]int32, 2+4*ldc)
					for i := range c {
						c[i] = -999
					}
					tier.tile(kv, &a[0], lda, &w[0], ldw, &c[1], ldc, nt)
					for i := range c {
						row, col := (i-1)/ldc, (i-1)%ldc
						inTile := i >= 1 && row < 4 && col < 4*nt
						if !inTile {
							if c[i] != -999 {
								t.Fatalf("nt=%d kv=%d: guard cell %d overwritten: %d", nt, kv, i, c[i])
							}
							continue
						}
						var want int32
						for p := range kv {
							x, y := int32(a[row*lda+p]), int32(w[col*ldw+p])
							if tier.shifted {
								x = int32(uint8(a[row*lda+p]))
							}
							if tier.u7 {
								y = int32(uint8(w[col*ldw+p]))
							}
							want += x * y
						}
						if c[i] != want {
							t.Fatalf("nt=%d kv=%d off=%d: c[%d][%d] = %d, want %d", nt, kv, off, row, col, c[i], want)
						}
					}
				}
			}
		}
	})
}

// TestGemmInt8 checks GemmInt8NT and MatMulNTInt8 on every tier against the oracle, bit for
// bit, over sizes with every edge (m, n mod 4; k below, at and above the vector steps, not
// multiples of them), unaligned operands and guard bands around dst.
func TestGemmInt8(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	sizes := [][3]int{{1, 1, 1}, {1, 4, 64}, {4, 4, 64}, {3, 5, 7}, {5, 3, 63}, {7, 9, 65}, {8, 8, 128},
		{2, 6, 33}, {9, 13, 200}, {17, 30, 129}, {1, 37, 1000}, {4, 1, 4096}, {6, 7, 0}, {0, 5, 8}, {70, 41, 96},
		{130, 67, 256}} // the last two split rows into tasks (int8TaskRows) and columns into blocks
	withInt8Tiers(t, func(t *testing.T, tier *int8Kernel) {
		for _, s := range sizes {
			m, n, k := s[0], s[1], s[2]
			t.Run(fmt.Sprintf("%dx%dx%d", m, n, k), func(t *testing.T) {
				const off, guard = 3, 5
				qa := randInt8(r, off+m*k)[off:]
				qw := randInt8(r, off+n*k)[off:]
				sa, sw, bias := make([]float32, m), make([]float32, n), make([]float32, n)
				for i := range sa {
					sa[i] = r.Float32() * 0.05
				}
				for j := range sw {
					sw[j] = r.Float32() * 0.01
					bias[j] = r.Float32() - 0.5
				}
				w := NewInt8Weights(qw, sw, n, k)
				for _, b := range [][]float32{bias, nil} {
					want := make([]float32, m*n)
					GemmInt8NTRef(want, qa, sa, w, b, m)
					buf := make([]float32, m*n+2*guard+1)
					for i := range buf {
						buf[i] = float32(math.Inf(-1))
					}
					dst := buf[guard+1 : guard+1+m*n]
					GemmInt8NT(dst, qa, sa, w, b, m)
					checkGuards(t, buf, guard+1, m*n)
					if i := firstDiff(dst, want); i >= 0 {
						t.Fatalf("bias=%v: dst[%d] = %v, oracle %v", b != nil, i, dst[i], want[i])
					}
				}
				// MatMulNTInt8 = QuantizeInt8 + GemmInt8NT.
				a := make([]float32, m*k)
				for i := range a {
					a[i] = float32(r.NormFloat64())
				}
				q, sc := make([]int8, m*k), make([]float32, m)
				for i := range m { // the portable quantizer is the oracle
					sc[i] = quantizeRowGeneric(q[i*k:(i+1)*k], a[i*k:(i+1)*k], 0)
				}
				want := make([]float32, m*n)
				GemmInt8NTRef(want, q, sc, w, bias, m)
				got := make([]float32, m*n)
				MatMulNTInt8(got, a, w, bias, m)
				if i := firstDiff(got, want); i >= 0 {
					t.Fatalf("MatMulNTInt8: dst[%d] = %v, oracle %v", i, got[i], want[i])
				}
			})
		}
	})
}

func checkGuards(t *testing.T, buf []float32, lo, n int) {
	t.Helper()
	for i, v := range buf {
		if (i < lo || i >= lo+n) && !math.IsInf(float64(v), -1) {
			t.Fatalf("guard element %d overwritten: %v", i, v)
		}
	}
}

// firstDiff is the first index where a and b differ in bits, or -1.
func firstDiff(a, b []float32) int {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}

// TestGemmInt8Extremes: all weights and activations ±127 at the deepest k the tiers accept
// (no int32 overflow, no int16 saturation in the AVX2 tier: its weights become ±64, bytes 0
// and 128, pair sums ±2·127·128).
func TestGemmInt8Extremes(t *testing.T) {
	const m, n, k = 4, 8, Int8MaxK
	qa, qw := make([]int8, m*k), make([]int8, n*k)
	for i := range qa {
		qa[i] = -127
		if i%(2*k) >= k {
			qa[i] = 127
		}
	}
	for i := range qw {
		qw[i] = -127
		if i/k%3 == 0 {
			qw[i] = 127
		}
	}
	sa, sw := []float32{1, 1, 1, 1}, []float32{1, 1, 1, 1, 1, 1, 1, 1}
	w := NewInt8Weights(qw, sw, n, k)
	withInt8Tiers(t, func(t *testing.T, tier *int8Kernel) {
		want := make([]float32, m*n)
		GemmInt8NTRef(want, qa, sa, w, nil, m)
		if wq := float32(127); want[0] != -127*wq*k && !(tier.u7 && want[0] == -127*64*k*(127.0/64)) {
			t.Fatalf("oracle %v", want[0])
		}
		got := make([]float32, m*n)
		GemmInt8NT(got, qa, sa, w, nil, m)
		if i := firstDiff(got, want); i >= 0 {
			t.Fatalf("dst[%d] = %v, want %v", i, got[i], want[i])
		}
	})
}

func TestInt8Allocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	const m, n, k = 64, 96, 256 // large enough to run in parallel
	r := rand.New(rand.NewPCG(5, 6))
	a := make([]float32, m*k)
	for i := range a {
		a[i] = float32(r.NormFloat64())
	}
	w := NewInt8Weights(randInt8(r, n*k), make([]float32, n), n, k)
	dst := make([]float32, m*n)
	withInt8Tiers(t, func(t *testing.T, tier *int8Kernel) {
		MatMulNTInt8(dst, a, w, nil, m)
		if got := testing.AllocsPerRun(20, func() { MatMulNTInt8(dst, a, w, nil, m) }); got != 0 {
			t.Fatalf("MatMulNTInt8: %v allocations per call", got)
		}
	})
}

// TestQuantizeInt8 checks the quantizer's contract on edge rows.
func TestQuantizeInt8(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	rows := [][]float32{
		{0, 0, 0, 0},
		{1, -1, 0.5, -0.5},   // 0.5·127 = 63.5 → 64 (even); -63.5 → -64
		{2, 1.5 / 127, 0, 0}, // 1.5/127·63.5 = 0.75 → 1
		{-3, 3, 1e-30, -1e-30},
		{1, nan, 2, 3},
		{1, 2, -inf, 3},
		{math.MaxFloat32, -math.MaxFloat32, 1, 0},
		{1e-45, -1e-45, 0, 0}, // subnormal maximum
	}
	for _, x := range rows {
		q, s := make([]int8, len(x)), make([]float32, 1)
		QuantizeInt8(q, s, x, 1, len(x))
		amax := float32(0)
		finite := true
		for _, v := range x {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				finite = false
			}
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		switch {
		case !finite:
			if !math.IsNaN(float64(s[0])) || slices.ContainsFunc(q, func(v int8) bool { return v != 0 }) {
				t.Errorf("%v: scale %v q %v, want NaN and zeros", x, s[0], q)
			}
		case amax == 0:
			if s[0] != 0 || slices.ContainsFunc(q, func(v int8) bool { return v != 0 }) {
				t.Errorf("%v: scale %v q %v, want 0 and zeros", x, s[0], q)
			}
		default:
			if s[0] != amax/127 {
				t.Errorf("%v: scale %v, want %v", x, s[0], amax/127)
			}
			inv := 127 / amax
			for i, v := range x {
				want := math.RoundToEven(float64(v * inv))
				if math.IsInf(float64(inv), 1) {
					want = math.RoundToEven(float64(v) * (127 / float64(amax)))
				}
				if float64(q[i]) != want || q[i] < -127 {
					t.Errorf("%v: q[%d] = %d, want %v", x, i, q[i], want)
				}
			}
			if slices.Max(q) != 127 && slices.Min(q) != -127 {
				t.Errorf("%v: q %v does not reach ±127", x, q)
			}
		}
	}
	q := make([]int8, 4)
	s := make([]float32, 1)
	QuantizeInt8(q, s, []float32{1, -1, 0.5, -0.5}, 1, 4)
	if !slices.Equal(q, []int8{127, -127, 64, -64}) {
		t.Errorf("ties: got %v, want [127 -127 64 -64] (ties to even)", q)
	}
}

// TestInt8NaNRow: a non-finite activation row gives NaN outputs for that row only.
func TestInt8NaNRow(t *testing.T) {
	const m, n, k = 3, 5, 70
	a := make([]float32, m*k)
	for i := range a {
		a[i] = float32(i%7) - 3
	}
	a[k+5] = float32(math.NaN())
	r := rand.New(rand.NewPCG(7, 8))
	sw := make([]float32, n)
	for j := range sw {
		sw[j] = 0.01
	}
	w := NewInt8Weights(randInt8(r, n*k), sw, n, k)
	withInt8Tiers(t, func(t *testing.T, tier *int8Kernel) {
		dst := make([]float32, m*n)
		MatMulNTInt8(dst, a, w, make([]float32, n), m)
		for i, v := range dst {
			if isNaN := math.IsNaN(float64(v)); isNaN != (i/n == 1) {
				t.Fatalf("dst[%d] = %v", i, v)
			}
		}
	})
}

// TestInt8RowKernels checks each tier's quantizer and dequantizer against the portable ones,
// bit for bit: lengths around the vector widths, ties, NaN/Inf anywhere (also in the scalar
// tail), subnormal rows, both byte forms.
func TestInt8RowKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	withInt8Tiers(t, func(t *testing.T, tier *int8Kernel) {
		for _, n := range []int{0, 1, 7, 8, 9, 31, 32, 33, 63, 64, 100, 1024, 1031} {
			for trial := range 8 {
				x := make([]float32, n)
				for i := range x {
					x[i] = float32(r.NormFloat64())
					if trial == 1 { // ties: multiples of max/254
						x[i] = float32(r.IntN(255)-127) / 2
					}
					if trial == 2 {
						x[i] *= 1e-40 // subnormal: 127/max overflows float32
					}
				}
				if n > 0 {
					switch trial {
					case 3:
						x[r.IntN(n)] = float32(math.NaN())
					case 4:
						x[n-1] = float32(math.Inf(-1))
					case 5:
						clear(x)
					case 6:
						x[n-1] = float32(math.NaN())
					}
				}
				for _, flip := range []int8{0, -128} {
					got, want := make([]int8, n), make([]int8, n)
					sg, sw := tier.quantize(got, x, flip), quantizeRowGeneric(want, x, flip)
					if math.Float32bits(sg) != math.Float32bits(sw) && !(sg != sg && sw != sw) || !slices.Equal(got, want) {
						t.Fatalf("n=%d trial=%d flip=%d: scale %v q %v, want %v %v", n, trial, flip, sg, got, sw, want)
					}
				}
				if tier.u7 {
					q := make([]int8, n)
					for i := range q {
						q[i] = int8(r.IntN(255) - 127)
						if trial == 1 {
							q[i] = -127
						}
					}
					if got, want := tier.sum(q), int8Sum(q); got != want {
						t.Fatalf("sum n=%d trial=%d: %d, want %d", n, trial, got, want)
					}
				}
				acc, comp := make([]int32, n), make([]int32, n)
				sws, b := make([]float32, n), make([]float32, n)
				for i := range acc {
					acc[i] = r.Int32() >> r.IntN(31)
					comp[i] = r.Int32() >> 8
					sws[i] = r.Float32()
					b[i] = float32(r.NormFloat64())
				}
				got, want := make([]float32, n), make([]float32, n)
				rc := r.Int32() >> 8
				tier.dequant(got, acc, comp, rc, 0.37, sws, b)
				int8DequantGeneric(want, acc, comp, rc, 0.37, sws, b)
				if i := firstDiff(got, want); i >= 0 {
					t.Fatalf("dequant n=%d: [%d] %v, want %v", n, i, got[i], want[i])
				}
			}
		}
	})
}

// TestInt8Concurrent: several goroutines multiply at once (sharing the helper pool and the
// pooled buffers) and each gets the oracle's bits.
func TestInt8Concurrent(t *testing.T) {
	const m, n, k = 40, 72, 320 // parallel-sized: m·n·k ≥ int8ParallelM
	r := rand.New(rand.NewPCG(13, 14))
	w := NewInt8Weights(randInt8(r, n*k), make([]float32, n), n, k)
	for j := range w.Scale {
		w.Scale[j] = 0.01
	}
	const g = 4
	as, wants := make([][]float32, g), make([][]float32, g)
	for i := range as {
		as[i] = make([]float32, m*k)
		for p := range as[i] {
			as[i][p] = float32(r.NormFloat64())
		}
		q, s := make([]int8, m*k), make([]float32, m)
		for row := range m {
			s[row] = quantizeRowGeneric(q[row*k:(row+1)*k], as[i][row*k:(row+1)*k], 0)
		}
		wants[i] = make([]float32, m*n)
		GemmInt8NTRef(wants[i], q, s, w, nil, m)
	}
	errs := make(chan string, g)
	for i := range g {
		go func() {
			dst := make([]float32, m*n)
			for range 20 {
				MatMulNTInt8(dst, as[i], w, nil, m)
				if d := firstDiff(dst, wants[i]); d >= 0 {
					errs <- fmt.Sprintf("goroutine %d: dst[%d] = %v, want %v", i, d, dst[d], wants[i][d])
					return
				}
			}
			errs <- ""
		}()
	}
	for range g {
		if e := <-errs; e != "" {
			t.Error(e)
		}
	}
}

// TestInt8Reduced checks the avx2 tier's 7-bit weights against the naive reduction: every
// value, 64-byte alignment; and that NewInt8Weights makes them when that tier is in use (at
// load, not in the first product).
func TestInt8Reduced(t *testing.T) {
	const n, k = 3, 255
	q := make([]int8, n*k)
	for i := range q {
		q[i] = int8(i%255 - 127)
	}
	sw := []float32{1, 0.01, 3e-38}
	w := NewInt8Weights(q, sw, n, k)
	u := w.reduced()
	q7 := reduce7Ref(w)
	if uintptr(unsafe.Pointer(&u[0]))%64 != 0 || len(u) != n*k {
		t.Errorf("7-bit weights: %d bytes at %p, want %d, 64-byte aligned", len(u), &u[0], n*k)
	}
	for i, v := range u {
		if int(v)-64 != int(q7[i]) || v > 128 {
			t.Fatalf("q %d: 7-bit byte %d, want %d+64", q[i], v, q7[i])
		}
	}
	if u[0] != 0 || u[254] != 128 || u[127] != 64 || u[128] != 65 || u[126] != 63 {
		t.Errorf("-127, 127, 0, ±1 → %d %d %d %d %d, want 0 128 64 65 63", u[0], u[254], u[127], u[128], u[126])
	}
	for _, tier := range int8Available() {
		restore := useInt8Kernel(tier)
		w := NewInt8Weights(q, sw, n, k)
		if made := w.u7 != nil; made != tier.u7 {
			t.Errorf("%s: 7-bit form made at NewInt8Weights: %v", tier.name, made)
		}
		restore()
	}
}
