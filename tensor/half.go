package tensor

import "github.com/x448/float16"

// MatMulNTF16 computes dst (m,n) = a (m,k) · bᵀ with b (n,k) stored as IEEE F16 bits:
// half-size weights, float32 math.
func MatMulNTF16(dst, a []float32, b []uint16, m, n, k int) {
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

// MatMulNTBF16 computes dst (m,n) = a (m,k) · bᵀ with b (n,k) stored as BF16 bits:
// half-size weights, float32 math.
func MatMulNTBF16(dst, a []float32, b []uint16, m, n, k int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				s += float64(a[i*k+p]) * float64(BF16ToFloat32(b[j*k+p]))
			}
			dst[i*n+j] = float32(s)
		}
	}
}

// MatMulNTBF16Compute computes dst (m,n) = bf16(a) (m,k) · bᵀ with b (n,k) BF16 bits and
// float32 accumulation: the BF16 compute path (AVX512_BF16 / AMX where available).
func MatMulNTBF16Compute(dst, a []float32, b []uint16, m, n, k int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				av := BF16ToFloat32(Float32ToBF16(a[i*k+p]))
				s += float64(av) * float64(BF16ToFloat32(b[j*k+p]))
			}
			dst[i*n+j] = float32(s)
		}
	}
}
