package tensor

import "github.com/x448/float16"

// MatMulNTF16 computes dst (m,n) = a (m,k) · bᵀ with b (n,k) stored as IEEE F16 bits:
// half-size weights, float32 math. Weights are widened exactly (F16C VCVTPH2PS on amd64)
// while packing; products and sums are float32 FMAs. No allocation in steady state.
func MatMulNTF16(dst, a []float32, b []uint16, m, n, k int) {
	gemmHalf("MatMulNTF16", dst, a, b, m, n, k, weightF16, false)
}

// MatMulNTF16Ref is the naive oracle for MatMulNTF16: exact widening, float64 accumulation.
func MatMulNTF16Ref(dst, a []float32, b []uint16, m, n, k int) {
	checkLowp("MatMulNTF16Ref", dst, a, b, m, n, k)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				s += float64(a[i*k+p]) * float64(float16.Frombits(b[j*k+p]).Float32())
			}
			dst[i*n+j] = float32(s)
		}
	}
}

// checkLowp panics (programmer bug) when an operand is shorter than its shape.
func checkLowp(op string, dst, a []float32, b []uint16, m, n, k int) {
	if m < 0 || n < 0 || k < 0 || len(dst) < m*n || len(a) < m*k || len(b) < n*k {
		panic("tensor: " + op + ": operand does not fit its slice")
	}
}
