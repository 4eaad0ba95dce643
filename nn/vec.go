package nn

import "math"

var negInf = float32(math.Inf(-1))

// Row kernels of the activation and softmax paths. Each has a portable form (here) and, on
// amd64 with AVX2+FMA, a vector form (vec_amd64.s) for the multiple-of-8 body of a row; the
// tail stays portable. useVec says whether the vector forms run; tests flip it to check both
// against the float64 references.

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
