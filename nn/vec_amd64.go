//go:build amd64 && gc && !purego

package nn

import "golang.org/x/sys/cpu"

// useVec: the AVX2+FMA row kernels of vec_amd64.s are used (tests may clear it).
var useVec = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func addBiasGELUAVX2(dst, x, b *float32, n int)

//go:noescape
func expSubSumAVX2(x *float32, n int, m float32) float32

//go:noescape
func scaleMaxAVX2(x *float32, n int, s float32) float32

// geluBiasRow sets d[i] = GELU(x[i] + b[i]) for i < len(x) (b nil: no bias). The vector form
// evaluates erf as a rational approximation u·P(u²)/Q(u²) in float32 (absolute error of erf
// 3.4e-7 and of GELU 1.04e-6 for |z| ≤ 20, against float64), fitted and checked by
// internal/erfgen/rational_erf.py, which also writes the kernel's constants.
func geluBiasRow(d, x, b []float32) {
	n := len(x) &^ 7
	if !useVec || n == 0 || b == nil {
		geluBiasRowGo(d, x, b)
		return
	}
	_, _ = d[len(x)-1], b[len(x)-1]
	addBiasGELUAVX2(&d[0], &x[0], &b[0], n)
	geluBiasRowGo(d[n:], x[n:], b[n:])
}

// expSubSum sets x[i] = e^(x[i]-m) and returns their sum.
func expSubSum(x []float32, m float32) float32 {
	n := len(x) &^ 7
	if !useVec || n == 0 {
		return expSubSumGo(x, m)
	}
	return expSubSumAVX2(&x[0], n, m) + expSubSumGo(x[n:], m)
}

// scaleMax sets x[i] *= s and returns the largest.
func scaleMax(x []float32, s float32) float32 {
	n := len(x) &^ 7
	if !useVec || n == 0 {
		return scaleMaxGo(x, s)
	}
	return max(scaleMaxAVX2(&x[0], n, s), scaleMaxGo(x[n:], s))
}

//go:noescape
func addAVX2(d, x, y *float32, n int)

//go:noescape
func sumF64AVX2(x *float32, n int) float64

//go:noescape
func sumSqDevF64AVX2(x *float32, n int, m float32) float64

//go:noescape
func normAffineAVX2(d, x, w, b *float32, n int, m, inv float32)

// add sets d[i] = x[i] + y[i] for i < len(d).
func add(d, x, y []float32) {
	n := len(d) &^ 7
	if !useVec || n == 0 {
		addGo(d, x, y)
		return
	}
	_, _ = x[len(d)-1], y[len(d)-1]
	addAVX2(&d[0], &x[0], &y[0], n)
	addGo(d[n:], x[n:], y[n:])
}

// sumF64 is Σ x[i], added in float64 (in 8 partial sums on the vector path).
func sumF64(x []float32) float64 {
	n := len(x) &^ 7
	if !useVec || n == 0 {
		return sumF64Go(x)
	}
	return sumF64AVX2(&x[0], n) + sumF64Go(x[n:])
}

// sumSqDevF64 is Σ (x[i]-m)², each square in float32, the sum in float64.
func sumSqDevF64(x []float32, m float32) float64 {
	n := len(x) &^ 7
	if !useVec || n == 0 {
		return sumSqDevF64Go(x, m)
	}
	return sumSqDevF64AVX2(&x[0], n, m) + sumSqDevF64Go(x[n:], m)
}

// normAffine sets d[i] = (x[i]-m)·inv·w[i] + b[i] for i < len(d).
func normAffine(d, x, w, b []float32, m, inv float32) {
	n := len(d) &^ 7
	if !useVec || n == 0 {
		normAffineGo(d, x, w, b, m, inv)
		return
	}
	_, _, _ = x[len(d)-1], w[len(d)-1], b[len(d)-1]
	normAffineAVX2(&d[0], &x[0], &w[0], &b[0], n, m, inv)
	normAffineGo(d[n:], x[n:], w[n:], b[n:], m, inv)
}
