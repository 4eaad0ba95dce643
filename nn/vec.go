package nn

import (
	"math"

	"github.com/gorerank/gorerank/tensor"
)

var negInf = float32(math.Inf(-1))

// Row kernels of the activation, softmax and LayerNorm paths. Each has a portable form
// (here, the ...Go functions) and, where the CPU tier has them, a vector form
// (tensor.Rows) for the multiple-of-Width body of a row; the tail stays portable. Tests
// set portableOnly to check both against the float64 references.

// portableOnly, set by tests, runs the portable forms whatever the tier has.
var portableOnly bool

// vec returns the tier's vector row kernels and the length of x's vector body, or nil.
func vec(n int) (*tensor.RowKernels, int) {
	r := tensor.Rows()
	if portableOnly || r.Width == 0 || n < r.Width {
		return nil, 0
	}
	return r, n - n%r.Width
}

// geluBiasRow sets d[i] = GELU(x[i] + b[i]) for i < len(x) (b nil: no bias).
func geluBiasRow(d, x, b []float32) {
	r, n := vec(len(x))
	if r == nil || b == nil {
		geluBiasRowGo(d, x, b)
		return
	}
	r.GELUBias(d[:n], x[:n], b[:n])
	geluBiasRowGo(d[n:], x[n:], b[n:])
}

// expSubSum sets x[i] = e^(x[i]-m) and returns their sum.
func expSubSum(x []float32, m float32) float32 {
	r, n := vec(len(x))
	if r == nil {
		return expSubSumGo(x, m)
	}
	return r.ExpSubSum(x[:n], m) + expSubSumGo(x[n:], m)
}

// scaleMax sets x[i] *= s and returns the largest.
func scaleMax(x []float32, s float32) float32 {
	r, n := vec(len(x))
	if r == nil {
		return scaleMaxGo(x, s)
	}
	return max(r.ScaleMax(x[:n], s), scaleMaxGo(x[n:], s))
}

// add sets d[i] = x[i] + y[i] for i < len(d).
func add(d, x, y []float32) {
	r, n := vec(len(d))
	if r == nil {
		addGo(d, x, y)
		return
	}
	r.Add(d[:n], x[:n], y[:n])
	addGo(d[n:], x[n:], y[n:])
}

// sumF64 is Σ x[i], added in float64.
func sumF64(x []float32) float64 {
	r, n := vec(len(x))
	if r == nil {
		return sumF64Go(x)
	}
	return r.SumF64(x[:n]) + sumF64Go(x[n:])
}

// sumSqDevF64 is Σ (x[i]-m)², each square in float32, the sum in float64.
func sumSqDevF64(x []float32, m float32) float64 {
	r, n := vec(len(x))
	if r == nil {
		return sumSqDevF64Go(x, m)
	}
	return r.SumSqDevF64(x[:n], m) + sumSqDevF64Go(x[n:], m)
}

// normAffine sets d[i] = (x[i]-m)·inv·w[i] + b[i] for i < len(d).
func normAffine(d, x, w, b []float32, m, inv float32) {
	r, n := vec(len(d))
	if r == nil {
		normAffineGo(d, x, w, b, m, inv)
		return
	}
	r.NormAffine(d[:n], x[:n], w[:n], b[:n], m, inv)
	normAffineGo(d[n:], x[n:], w[n:], b[n:], m, inv)
}

// geluBiasRowGo sets d[i] = gelu(x[i] + b[i]) (b nil: no bias).
func geluBiasRowGo(d, x, b []float32) {
	if b == nil {
		for i, v := range x {
			d[i] = gelu(v)
		}
		return
	}
	b = b[:len(x)]
	for i, v := range x {
		d[i] = gelu(v + b[i])
	}
}

// expSubSumGo sets x[i] = expf(x[i] - m) and returns their sum.
func expSubSumGo(x []float32, m float32) float32 {
	var sum float32
	for i, v := range x {
		e := expf(v - m)
		x[i] = e
		sum += e
	}
	return sum
}

// scaleMaxGo sets x[i] *= s and returns the largest (-Inf for an empty x).
func scaleMaxGo(x []float32, s float32) float32 {
	mx := negInf
	for i := range x {
		x[i] *= s
		mx = max(mx, x[i])
	}
	return mx
}

// addGo sets d[i] = x[i] + y[i] for i < len(d).
func addGo(d, x, y []float32) {
	x, y = x[:len(d)], y[:len(d)]
	for i := range d {
		d[i] = x[i] + y[i]
	}
}

// sumF64Go is Σ x[i], added in float64.
func sumF64Go(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v)
	}
	return s
}

// sumSqDevF64Go is Σ (x[i]-m)², each square in float32, the sum in float64.
func sumSqDevF64Go(x []float32, m float32) float64 {
	var s float64
	for _, v := range x {
		c := v - m
		s += float64(c * c)
	}
	return s
}

// normAffineGo sets d[i] = (x[i]-m)·inv·w[i] + b[i] for i < len(d).
func normAffineGo(d, x, w, b []float32, m, inv float32) {
	x, w, b = x[:len(d)], w[:len(d)], b[:len(d)]
	for i, v := range x {
		d[i] = (v-m)*inv*w[i] + b[i]
	}
}

// scaleRow sets x[i] *= s.
func scaleRow(x []float32, s float32) { _ = scaleMax(x, s) }
