package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gorerank/gorerank/tensor"
)

func randSlice(r *rand.Rand, n int, scale float32) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64()) * scale
	}
	return s
}

func maxAbsDiff(a, b []float32) float64 {
	var m float64
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i])-float64(b[i])))
	}
	return m
}

func TestLayerNorm(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 7, 32, 1024} {
		for _, rows := range []int{1, 3} {
			x := randSlice(r, rows*n, 2)
			for i := range x {
				x[i] += 50 // a large mean must not hurt the float32 variance
			}
			res := randSlice(r, rows*n, 1)
			w, b := randSlice(r, n, 1), randSlice(r, n, 1)
			got, want := make([]float32, rows*n), make([]float32, rows*n)
			LayerNorm(got, x, w, b, rows, n, 1e-5)
			LayerNormRef(want, x, w, b, rows, n, 1e-5)
			if d := maxAbsDiff(got, want); d > 2e-5 {
				t.Errorf("LayerNorm rows=%d n=%d: maxabs=%.3g", rows, n, d)
			}
			AddLayerNorm(got, x, res, w, b, rows, n, 1e-5)
			AddLayerNormRef(want, x, res, w, b, rows, n, 1e-5)
			if d := maxAbsDiff(got, want); d > 2e-5 {
				t.Errorf("AddLayerNorm rows=%d n=%d: maxabs=%.3g", rows, n, d)
			}
			// in place: dst aliases x
			inPlace := append([]float32(nil), x...)
			AddLayerNorm(inPlace, inPlace, res, w, b, rows, n, 1e-5)
			if d := maxAbsDiff(inPlace, want); d > 2e-5 {
				t.Errorf("AddLayerNorm in place rows=%d n=%d: maxabs=%.3g", rows, n, d)
			}
		}
	}
}

func TestAddBiasGELUAndTanh(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	rows, n := 5, 37
	x, b := randSlice(r, rows*n, 4), randSlice(r, n, 1)
	x = append(x, -12, 12, 0, -0.5, float32(math.Inf(1)), float32(math.Inf(-1)))
	b = append(b, 0)
	rows, n = 1, len(x) // one long row with the special values
	b = randSlice(r, n, 1)
	got, want := make([]float32, rows*n), make([]float32, rows*n)
	AddBiasGELU(got, x, b, rows, n)
	AddBiasGELURef(want, x, b, rows, n)
	for i := range got {
		if got[i] != want[i] && math.Abs(float64(got[i]-want[i])) > 1e-6*math.Max(1, math.Abs(float64(want[i]))) {
			t.Fatalf("AddBiasGELU[%d](%g): got %g want %g", i, x[i]+b[i], got[i], want[i])
		}
	}
	AddBiasGELU(got, x, nil, rows, n)
	AddBiasGELURef(want, x, nil, rows, n)
	if d := maxAbsDiff(got[:n-2], want[:n-2]); d > 1e-6 {
		t.Errorf("AddBiasGELU without bias: maxabs=%.3g", d)
	}
	// GELU(0)=0, GELU(large)=x, GELU(-large)=0
	if g := gelu(0); g != 0 {
		t.Errorf("gelu(0) = %g", g)
	}
	if g := gelu(10); g != 10 {
		t.Errorf("gelu(10) = %g", g)
	}
	Tanh(got, x)
	TanhRef(want, x)
	if d := maxAbsDiff(got, want); d > 1e-6 {
		t.Errorf("Tanh: maxabs=%.3g", d)
	}
}

func TestGatherAdd(t *testing.T) {
	table := []float32{0, 1, 10, 11, 20, 21}
	dst := make([]float32, 6)
	Gather(dst, table, []int32{2, 0, 2}, 2)
	Add(dst, []float32{1, 1, 1, 1, 1, 1})
	AddRow(dst, []float32{100, 200}, 3, 2)
	want := []float32{121, 222, 101, 202, 121, 222}
	for i := range want {
		if dst[i] != want[i] {
			t.Fatalf("got %v want %v", dst, want)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Gather with an id outside the table did not panic")
		}
	}()
	Gather(dst, table, []int32{3}, 2)
}

func TestAttention(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	work := make([]float32, AttentionWorkSize())
	for _, c := range []struct{ t, heads, hd int }{
		{1, 1, 1}, {2, 1, 4}, {5, 3, 8}, {63, 2, 16}, {64, 2, 16}, {65, 2, 16}, {127, 2, 8}, {128, 2, 8}, {129, 2, 8}, {130, 4, 8}, {200, 1, 64}, {300, 2, 64},
	} {
		h := c.heads * c.hd
		ld, ldd := h+3, h+5 // strided, with padding columns that must stay untouched
		q, k, v := randSlice(r, c.t*ld, 2), randSlice(r, c.t*ld, 2), randSlice(r, c.t*ld, 1)
		// make the running maximum grow and shrink across key tiles
		for j := 0; j < c.t; j++ {
			k[j*ld] += float32(j%150) * 0.3
		}
		got := make([]float32, c.t*ldd)
		for i := range got {
			got[i] = 777
		}
		want := append([]float32(nil), got...)
		scale := float32(1 / math.Sqrt(float64(c.hd)))
		Attention(got, ldd, q, k, v, ld, c.t, c.heads, c.hd, scale, work)
		AttentionRef(want, ldd, q, k, v, ld, c.t, c.heads, c.hd, scale)
		if d := maxAbsDiff(got, want); d > 2e-5 {
			t.Errorf("Attention %+v: maxabs=%.3g", c, d)
		}
		// the probabilities of the explicit path times v give the same output
		probs := make([]float32, c.heads*c.t*c.t)
		AttentionProbs(probs, q, k, ld, c.t, c.heads, c.hd, scale)
		viaProbs := make([]float32, c.t*ldd)
		for hh := 0; hh < c.heads; hh++ {
			tensor.GemmNNRef(false, viaProbs[hh*c.hd:], ldd, probs[hh*c.t*c.t:], c.t, v[hh*c.hd:], ld, c.t, c.hd, c.t)
		}
		for i := 0; i < c.t; i++ {
			for j := 0; j < h; j++ {
				if d := math.Abs(float64(viaProbs[i*ldd+j] - want[i*ldd+j])); d > 2e-5 {
					t.Fatalf("AttentionProbs %+v: row %d col %d off by %.3g", c, i, j, d)
				}
			}
		}
	}
}

func TestSoftmax(t *testing.T) {
	x := []float32{1, 2, 3, 1000, 1000, -1000}
	Softmax(x, 2, 3)
	want := []float64{0.09003057, 0.24472847, 0.66524096, 0.5, 0.5, 0}
	for i := range x {
		if math.Abs(float64(x[i])-want[i]) > 1e-6 {
			t.Fatalf("Softmax = %v, want %v", x, want)
		}
	}
}

func TestLinear(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	rows, out, in := 3, 5, 7
	w, b, x := randSlice(r, out*in, 1), randSlice(r, out, 1), randSlice(r, rows*in, 1)
	got := make([]float32, rows*out)
	NewLinear(w, b, out, in).Forward(got, x, rows)
	for i := 0; i < rows; i++ {
		for j := 0; j < out; j++ {
			s := float64(b[j])
			for p := 0; p < in; p++ {
				s += float64(x[i*in+p]) * float64(w[j*in+p])
			}
			if math.Abs(s-float64(got[i*out+j])) > 1e-5 {
				t.Fatalf("Linear (%d,%d) = %g, want %g", i, j, got[i*out+j], s)
			}
		}
	}
}

// TestLinearForwardGELU: ForwardGELU is GELU(Forward) for every precision: the product without
// bias, then bias and GELU in one pass (AddBiasGELU), within float32 rounding of the two steps.
func TestLinearForwardGELU(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	rows, out, in := 6, 40, 33
	w, b, x := randSlice(r, out*in, 1), randSlice(r, out, 1), randSlice(r, rows*in, 1)
	q, s := make([]int8, out*in), make([]float32, out)
	tensor.QuantizeInt8(q, s, w, out, in)
	w16 := make([]uint16, len(w))
	for i, v := range w {
		w16[i] = uint16(math.Float32bits(v) >> 16) // BF16 by truncation: any BF16 weight will do
	}
	for _, l := range []*Linear{NewLinear(w, b, out, in), NewLinearInt8(q, s, b, out, in),
		NewLinearHalf(w16, b, out, in, BF16), NewLinearHalf(w16, b, out, in, BF16Compute)} {
		lin, want, got := make([]float32, rows*out), make([]float32, rows*out), make([]float32, rows*out)
		l.Forward(lin, x, rows)
		AddBiasGELURef(want, lin, nil, rows, out)
		l.ForwardGELU(got, x, rows)
		for i := range got {
			if d := math.Abs(float64(got[i] - want[i])); d > 1e-5*(1+math.Abs(float64(want[i]))) {
				t.Fatalf("precision %d [%d]: ForwardGELU %v, GELU(Forward) %v", l.Prec, i, got[i], want[i])
			}
		}
	}
}

func TestKernelsDoNotAllocate(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	n, rows := 32, 4
	x, w, b := randSlice(r, rows*n, 1), randSlice(r, n, 1), randSlice(r, n, 1)
	dst := make([]float32, rows*n)
	work := make([]float32, AttentionWorkSize())
	allocs := testing.AllocsPerRun(10, func() {
		LayerNorm(dst, x, w, b, rows, n, 1e-5)
		AddLayerNorm(dst, x, dst, w, b, rows, n, 1e-5)
		AddBiasGELU(dst, x, b, rows, n)
		Tanh(dst, x)
		Attention(dst, n, x, x, x, n, rows, 4, 8, 0.3, work)
	})
	if !raceEnabled && allocs != 0 {
		t.Errorf("kernels allocate %v times per run", allocs)
	}
}

func ExampleAddLayerNorm() {
	x := []float32{1, 2, 3, 4}   // (2,2): a sub-layer's output
	res := []float32{1, 0, 0, 0} // (2,2): the residual stream
	w := []float32{1, 1}
	b := []float32{0, 0}
	AddLayerNorm(x, x, res, w, b, 2, 2, 1e-5) // in place: x = LayerNorm(x + res)
	fmt.Printf("%.3f\n", x)
	// Output: [0.000 0.000 -1.000 1.000]
}

func TestAttentionPacked(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	heads, hd := 4, 16
	h := heads * hd
	offs := []int{0, 1, 70, 75, 205, 300}
	n := offs[len(offs)-1]
	q, k, v := randSlice(r, n*h, 2), randSlice(r, n*h, 2), randSlice(r, n*h, 1)
	got, want := make([]float32, n*h), make([]float32, n*h)
	scale := float32(0.25)
	AttentionPacked(got, h, q, k, v, h, offs, heads, hd, scale, make([]float32, AttentionWorkSize()))
	for i := 0; i+1 < len(offs); i++ {
		r0, tt := offs[i], offs[i+1]-offs[i]
		AttentionRef(want[r0*h:], h, q[r0*h:], k[r0*h:], v[r0*h:], h, tt, heads, hd, scale)
	}
	if d := maxAbsDiff(got, want); d > 2e-5 {
		t.Errorf("AttentionPacked: maxabs=%.3g", d)
	}
}

// TestAttentionPackedFirst: the first-token-only attention gives row 0 of each sequence's
// full attention, bit for bit the same as AttentionPacked computes it.
func TestAttentionPackedFirst(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	heads, hd := 4, 16
	h := heads * hd
	offs := []int{0, 1, 70, 75, 205, 300}
	n, b := offs[len(offs)-1], len(offs)-1
	q, k, v := randSlice(r, n*h, 2), randSlice(r, n*h, 2), randSlice(r, n*h, 1)
	full, want := make([]float32, n*h), make([]float32, n*h)
	AttentionPacked(full, h, q, k, v, h, offs, heads, hd, 0.25, make([]float32, AttentionWorkSize()))
	// first rows of q, gathered with a wider stride; output with a wider stride too
	ldq, ldd := h+3, h+5
	qf, got := make([]float32, b*ldq), make([]float32, b*ldd)
	for i := range b {
		copy(qf[i*ldq:i*ldq+h], q[offs[i]*h:])
	}
	AttentionPackedFirst(got, ldd, qf, ldq, k, v, h, offs, heads, hd, 0.25, make([]float32, AttentionWorkSize()))
	for i := range b {
		r0, tt := offs[i], offs[i+1]-offs[i]
		AttentionRef(want[r0*h:], h, q[r0*h:], k[r0*h:], v[r0*h:], h, tt, heads, hd, 0.25)
		for c := range h {
			g, f, w := got[i*ldd+c], full[r0*h+c], want[r0*h+c]
			if g != f || math.Abs(float64(g-w)) > 2e-5 {
				t.Fatalf("sequence %d column %d: first-token %g, full %g, reference %g", i, c, g, f, w)
			}
		}
		for c := h; c < ldd && i*ldd+c < len(got); c++ {
			if got[i*ldd+c] != 0 {
				t.Fatalf("sequence %d: wrote outside its row (column %d)", i, c)
			}
		}
	}
}

// TestRowKernelsParallel checks that the parallel split of the row kernels gives exactly the
// serial result (same per-row code) on a size that is split.
func TestRowKernelsParallel(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	rows, n := 97, 1024
	x, res := randSlice(r, rows*n, 2), randSlice(r, rows*n, 1)
	w, b := randSlice(r, n, 1), randSlice(r, n, 1)
	got, want := make([]float32, rows*n), make([]float32, rows*n)
	AddBiasGELU(got, x, b, rows, n)
	addBiasGELU(want, x, b, rows, n)
	if d := maxAbsDiff(got, want); d != 0 {
		t.Errorf("AddBiasGELU parallel vs serial: %g", d)
	}
	LayerNorm(got, x, w, b, rows, n, 1e-5)
	layerNorm(want, x, w, b, rows, n, 1e-5)
	if d := maxAbsDiff(got, want); d != 0 {
		t.Errorf("LayerNorm parallel vs serial: %g", d)
	}
	AddLayerNorm(got, x, res, w, b, rows, n, 1e-5)
	addLayerNorm(want, x, res, w, b, rows, n, 1e-5)
	if d := maxAbsDiff(got, want); d != 0 {
		t.Errorf("AddLayerNorm parallel vs serial: %g", d)
	}
	if a := testing.AllocsPerRun(20, func() { AddBiasGELU(got, x, b, rows, n) }); a != 0 && !raceEnabled {
		t.Errorf("parallel AddBiasGELU allocates %v", a)
	}
}

func TestFastMath(t *testing.T) {
	if len(erfPoly) != 4*erfIntervalsPerUnit || len(erfPoly)&(len(erfPoly)-1) != 0 || len(erfPoly[0]) != 6 {
		t.Fatalf("erf table shape %d×%d does not match erf()", len(erfPoly), len(erfPoly[0]))
	}
	var worstErf, worstGELU, worstExp float64
	for x := -12.0; x <= 12; x += 1.0 / 4096 {
		worstErf = max(worstErf, math.Abs(erf(x)-math.Erf(x)))
		g, want := float64(gelu(float32(x))), 0.5*x*(1+math.Erf(x/math.Sqrt2))
		worstGELU = max(worstGELU, math.Abs(g-want)/max(1, math.Abs(want)))
	}
	for x := -100.0; x <= 88.5; x += 1.0 / 1024 {
		e, want := float64(expf(float32(x))), math.Exp(float64(float32(x)))
		if want < 0x1p-126 { // float32 denormals: only the absolute rounding matters
			if math.Abs(e-want) > 0x1p-149 {
				t.Errorf("expf(%v) = %v, want %v", x, e, want)
			}
			continue
		}
		worstExp = max(worstExp, math.Abs(e-want)/want)
	}
	t.Logf("erf abs err %.3g, gelu err %.3g, expf rel err %.3g", worstErf, worstGELU, worstExp)
	if worstErf > 2e-8 || worstGELU > 2e-7 || worstExp > 4e-7 {
		t.Errorf("fast math too inaccurate: erf %.3g, gelu %.3g, expf %.3g", worstErf, worstGELU, worstExp)
	}
	for _, c := range []struct{ got, want float32 }{
		{expf(0), 1}, {expf(float32(math.Inf(-1))), 0}, {expf(-200), 0}, {expf(float32(math.Inf(1))), float32(math.Inf(1))},
		{gelu(0), 0}, {gelu(10), 10}, {gelu(-10), 0}, {gelu(float32(math.Inf(1))), float32(math.Inf(1))},
	} {
		if c.got != c.want {
			t.Errorf("got %v want %v", c.got, c.want)
		}
	}
	if e := expf(float32(math.NaN())); e == e {
		t.Error("expf(NaN) is not NaN")
	}
}

func BenchmarkGELU(b *testing.B) {
	x := randSlice(rand.New(rand.NewPCG(1, 1)), 4096, 2)
	d := make([]float32, len(x))
	b.Run("fast", func(b *testing.B) {
		for range b.N {
			addBiasGELU(d, x, nil, 1, len(x))
		}
	})
	b.Run("mathErf", func(b *testing.B) {
		for range b.N {
			for i, v := range x {
				d[i] = float32(0.5 * float64(v) * (1 + math.Erf(float64(v)/math.Sqrt2)))
			}
		}
	})
}

// BenchmarkAttentionPacked: the fused attention of one full-size layer (16 heads of 64) over
// packed sequences of the given length; GFLOP/s counts QKᵀ and P·V.
func BenchmarkAttentionPacked(b *testing.B) {
	for _, tt := range []int{128, 256, 512} {
		b.Run(fmt.Sprint(tt), func(b *testing.B) {
			heads, hd, seqs := 16, 64, 4
			h := heads * hd
			offs := make([]int, seqs+1)
			for i := range seqs {
				offs[i+1] = offs[i] + tt
			}
			n := offs[seqs]
			r := rand.New(rand.NewPCG(1, 2))
			q, k, v := randSlice(r, n*h, 1), randSlice(r, n*h, 1), randSlice(r, n*h, 1)
			dst, work := make([]float32, n*h), make([]float32, AttentionWorkSize())
			b.ResetTimer()
			for range b.N {
				AttentionPacked(dst, h, q, k, v, h, offs, heads, hd, 0.125, work)
			}
			flops := 4 * float64(seqs*tt*tt*h)
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

func TestGatherHalf(t *testing.T) {
	// values exact in both formats, so the widened table is the same for F16 and BF16
	vals := []float32{0, 1, -2, 0.5, 3.75, -0.125, 96, 1024}
	f16 := []uint16{0x0000, 0x3c00, 0xc000, 0x3800, 0x4380, 0xb000, 0x5600, 0x6400}
	bf16 := make([]uint16, len(vals))
	for i, v := range vals {
		bf16[i] = tensor.Float32ToBF16(v)
	}
	ids := []int32{3, 0, 3, 1}
	want := make([]float32, len(ids)*2)
	Gather(want, vals, ids, 2)
	for _, c := range []struct {
		p     Precision
		table []uint16
	}{{F16, f16}, {BF16, bf16}, {BF16Compute, bf16}} {
		got := make([]float32, len(want))
		GatherHalf(got, c.table, ids, 2, c.p)
		if maxAbsDiff(got, want) != 0 {
			t.Errorf("GatherHalf precision %d: %v, want %v", c.p, got, want)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("GatherHalf with an id outside the table did not panic")
		}
	}()
	GatherHalf(make([]float32, 2), f16, []int32{4}, 2, F16)
}

// An Int8 Linear is the tensor int8 product with the bias fused: the same bits as quantizing
// the weight and the input and running the oracle, and close to the float32 layer.
func TestLinearInt8(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	rows, out, in := 5, 9, 70
	w, b, x := randSlice(r, out*in, 1), randSlice(r, out, 1), randSlice(r, rows*in, 1)
	q, s := make([]int8, out*in), make([]float32, out)
	tensor.QuantizeInt8(q, s, w, out, in)
	l := NewLinearInt8(q, s, b, out, in)
	got := make([]float32, rows*out)
	l.Forward(got, x, rows)
	qa, sa := make([]int8, rows*in), make([]float32, rows)
	tensor.QuantizeInt8(qa, sa, x, rows, in)
	want := make([]float32, rows*out)
	tensor.GemmInt8NTRef(want, qa, sa, l.W8, b, rows)
	ref := make([]float32, rows*out)
	NewLinear(w, b, out, in).Forward(ref, x, rows)
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("Int8 Linear [%d] = %v, oracle %v", i, got[i], want[i])
		}
		// Rounding moves each input by at most half a step (max|row|/254): bound the error by
		// (max|x_i|·Σ|w_j| + max|w_j|·Σ|x_i|)/254 plus the product of the two steps.
		ri, j := i/out, i%out
		var mx, mw, sx, sw float64
		for p := range in {
			ax, aw := math.Abs(float64(x[ri*in+p])), math.Abs(float64(w[j*in+p]))
			mx, mw, sx, sw = max(mx, ax), max(mw, aw), sx+ax, sw+aw
		}
		bound := (mx*sw+mw*sx)/254 + float64(in)*mx*mw/254/254 + 1e-5
		if d := math.Abs(float64(got[i] - ref[i])); d > bound {
			t.Errorf("Int8 Linear [%d] = %v, float32 %v: error %.3g > bound %.3g", i, got[i], ref[i], d, bound)
		}
	}
}
