package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gorerank/gorerank/tensor"
)

// forEachVecTier runs f with the vector row kernels on (where this build has them) and off.
func forEachVecTier(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	tiers := []bool{false}
	if tensor.Rows().Width > 0 {
		tiers = append(tiers, true)
	}
	defer func() { portableOnly = false }()
	for _, v := range tiers {
		portableOnly = !v
		name := "go"
		if v {
			name = "vec"
		}
		t.Run(name, f)
	}
}

// TestRowKernels checks geluBiasRow, expSubSum and scaleMax of every tier against float64
// on every length 0..70 (vector body and tail), at offsets that misalign the rows.
func TestRowKernels(t *testing.T) {
	forEachVecTier(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		buf := make([]float32, 80)
		bias := make([]float32, 80)
		dst := make([]float32, 80)
		for n := 0; n <= 70; n++ {
			off := n % 3
			x, b, d := buf[off:off+n], bias[off:off+n], dst[:n]
			for i := range x {
				x[i] = float32(rng.NormFloat64() * 4)
				b[i] = float32(rng.NormFloat64())
			}
			geluBiasRow(d, x, b)
			for i := range x {
				z := float64(x[i]) + float64(b[i])
				want := 0.5 * z * (1 + math.Erf(z/math.Sqrt2))
				if e := math.Abs(float64(d[i]) - want); e > 1.2e-6*max(1, math.Abs(z)/4) {
					t.Fatalf("gelu(%g) n=%d i=%d: got %g want %g (err %.3g)", z, n, i, d[i], want, e)
				}
			}
			geluBiasRow(d, x, nil)
			for i := range x {
				z := float64(x[i])
				want := 0.5 * z * (1 + math.Erf(z/math.Sqrt2))
				if e := math.Abs(float64(d[i]) - want); e > 1.2e-6*max(1, math.Abs(z)/4) {
					t.Fatalf("gelu(%g) without bias: got %g want %g", z, d[i], want)
				}
			}

			add(d, x, b)
			for i := range d {
				if d[i] != x[i]+b[i] {
					t.Fatalf("add n=%d i=%d: %g, want %g", n, i, d[i], x[i]+b[i])
				}
			}
			var s, ss float64
			for _, v := range x {
				s += float64(v)
			}
			if got := sumF64(x); math.Abs(got-s) > 1e-12*max(1, math.Abs(s)) {
				t.Fatalf("sumF64 n=%d: %g, want %g", n, got, s)
			}
			m := float32(0.3)
			for _, v := range x {
				ss += float64((v - m) * (v - m))
			}
			if got := sumSqDevF64(x, m); math.Abs(got-ss) > 1e-12*max(1, ss) {
				t.Fatalf("sumSqDevF64 n=%d: %g, want %g", n, got, ss)
			}
			normAffine(d, x, b, x, m, 1.5)
			for i := range d {
				if want := (x[i]-m)*1.5*b[i] + x[i]; d[i] != want {
					t.Fatalf("normAffine n=%d i=%d: %g, want %g", n, i, d[i], want)
				}
			}

			orig := append([]float32(nil), x...)
			mx := scaleMax(x, 0.125)
			wantMax := math.Inf(-1)
			for i := range x {
				if x[i] != orig[i]*0.125 {
					t.Fatalf("scaleMax n=%d i=%d: %g, want %g", n, i, x[i], orig[i]*0.125)
				}
				wantMax = max(wantMax, float64(x[i]))
			}
			if float64(mx) != wantMax {
				t.Fatalf("scaleMax n=%d: max %g, want %g", n, mx, wantMax)
			}

			if n == 0 {
				continue
			}
			copy(orig, x)
			sum := expSubSum(x, mx)
			var wantSum float64
			for i := range x {
				want := math.Exp(float64(orig[i]) - float64(mx))
				wantSum += want
				if e := math.Abs(float64(x[i])-want) / want; e > 4e-7 {
					t.Fatalf("expSubSum n=%d i=%d: e^%g = %g, want %g (rel err %.3g)", n, i, orig[i]-mx, x[i], want, e)
				}
			}
			if e := math.Abs(float64(sum)-wantSum) / wantSum; e > 1e-6 {
				t.Fatalf("expSubSum n=%d: sum %g, want %g", n, sum, wantSum)
			}
		}
	})
}

// TestRowKernelsEdges: extreme and special inputs give the values of the math, and NaN
// stays NaN (a broken activation must not turn into a plausible score).
func TestRowKernelsEdges(t *testing.T) {
	forEachVecTier(t, func(t *testing.T) {
		in := []float32{0, -0.0, 1e-30, -1e-30, 30, -30, 1e6, -1e6, float32(math.Inf(1)), 5, -5, 3, -3, 0.5, -0.5, 2}
		zero := make([]float32, len(in))
		d := make([]float32, len(in))
		geluBiasRow(d, in, zero)
		for i, z := range in {
			want := float32(0.5 * float64(z) * (1 + math.Erf(float64(z)/math.Sqrt2)))
			if math.Abs(float64(d[i]-want)) > 1.2e-6*max(1, math.Abs(float64(z))/4) {
				t.Errorf("gelu(%g) = %g, want %g", z, d[i], want)
			}
		}
		nan := float32(math.NaN())
		x := []float32{0, -1, -100, -200, nan, -3, -4, -5, -6}
		expSubSum(x, 0)
		for i, want := range []float64{1, math.Exp(-1), math.Exp(-100), 0} {
			if math.Abs(float64(x[i])-want) > 1.2e-38+4e-7*want {
				t.Errorf("e^%v = %g, want %g", []float64{0, -1, -100, -200}[i], x[i], want)
			}
		}
		if x[4] == x[4] {
			t.Errorf("e^NaN = %g, want NaN", x[4])
		}
		g := make([]float32, 8)
		geluBiasRow(g, []float32{nan, 1, 2, 3, 4, 5, 6, 7}, make([]float32, 8))
		if g[0] == g[0] {
			t.Errorf("gelu(NaN) = %g, want NaN", g[0])
		}
	})
}

func BenchmarkRowKernels(b *testing.B) {
	x := make([]float32, 4096)
	bias := make([]float32, 4096)
	d := make([]float32, 4096)
	for i := range x {
		x[i] = float32(i%97)/20 - 2
	}
	for _, v := range []bool{false, true} {
		if v && tensor.Rows().Width == 0 {
			continue
		}
		portableOnly = !v
		name := map[bool]string{false: "go", true: "vec"}[v]
		b.Run("gelu/"+name, func(b *testing.B) {
			b.SetBytes(4 * 4096)
			for range b.N {
				geluBiasRow(d, x, bias)
			}
		})
		b.Run("layernorm/"+name, func(b *testing.B) {
			w := make([]float32, 1024)
			for i := range w {
				w[i] = 1
			}
			b.SetBytes(4 * 4096)
			for range b.N {
				addLayerNorm(d, x, bias, w, w, 4, 1024, 1e-5)
			}
		})
		b.Run("exp/"+name, func(b *testing.B) {
			b.SetBytes(4 * 64)
			for range b.N {
				copy(d[:64], x[:64])
				expSubSum(d[:64], 2)
			}
		})
		portableOnly = false
	}
}
