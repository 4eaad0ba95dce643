//go:build amd64 && gc && !purego

package tensor

// rowsAVX2 are the AVX2+FMA row kernels of rows_amd64.s. Their GELU evaluates erf as a
// rational approximation u·P(u²)/Q(u²) in float32 (absolute error of erf 3.4e-7 and of GELU
// 1.04e-6 for |z| ≤ 20, against float64), fitted and checked by
// nn/internal/erfgen/rational_erf.py, which also writes the kernel's constants.
var rowsAVX2 = RowKernels{
	Width: 8,
	GELUBias: func(d, x, b []float32) {
		_, _ = d[len(x)-1], b[len(x)-1]
		addBiasGELUAVX2(&d[0], &x[0], &b[0], len(x))
	},
	ExpSubSum: func(x []float32, m float32) float32 { return expSubSumAVX2(&x[0], len(x), m) },
	ScaleMax:  func(x []float32, s float32) float32 { return scaleMaxAVX2(&x[0], len(x), s) },
	Add: func(d, x, y []float32) {
		_, _ = x[len(d)-1], y[len(d)-1]
		addAVX2(&d[0], &x[0], &y[0], len(d))
	},
	SumF64:      func(x []float32) float64 { return sumF64AVX2(&x[0], len(x)) },
	SumSqDevF64: func(x []float32, m float32) float64 { return sumSqDevF64AVX2(&x[0], len(x), m) },
	NormAffine: func(d, x, w, b []float32, m, inv float32) {
		_, _, _ = x[len(d)-1], w[len(d)-1], b[len(d)-1]
		normAffineAVX2(&d[0], &x[0], &w[0], &b[0], len(d), m, inv)
	},
}

//go:noescape
func addBiasGELUAVX2(dst, x, b *float32, n int)

//go:noescape
func expSubSumAVX2(x *float32, n int, m float32) float32

//go:noescape
func scaleMaxAVX2(x *float32, n int, s float32) float32

//go:noescape
func addAVX2(d, x, y *float32, n int)

//go:noescape
func sumF64AVX2(x *float32, n int) float64

//go:noescape
func sumSqDevF64AVX2(x *float32, n int, m float32) float64

//go:noescape
func normAffineAVX2(d, x, w, b *float32, n int, m, inv float32)
