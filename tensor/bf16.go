package tensor

import "math"

// BF16ToFloat32 widens bfloat16 bits exactly.
func BF16ToFloat32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// Float32ToBF16 rounds to nearest even (NaN stays NaN).
func Float32ToBF16(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 {
		return uint16(u>>16) | 0x40
	}
	u += 0x7fff + (u>>16)&1
	return uint16(u >> 16)
}

// MatMulNTBF16 computes dst (m,n) = a (m,k) · bᵀ with b (n,k) stored as BF16 bits:
// half-size weights, float32 math. Weights are widened exactly (a 16-bit shift) while
// packing; products and sums are float32 FMAs. No allocation in steady state.
func MatMulNTBF16(dst, a []float32, b []uint16, m, n, k int) {
	gemmHalf("MatMulNTBF16", dst, a, b, m, n, k, weightBF16, false)
}

// MatMulNTBF16Ref is the naive oracle for MatMulNTBF16: exact widening, float64 accumulation.
func MatMulNTBF16Ref(dst, a []float32, b []uint16, m, n, k int) {
	checkLowp("MatMulNTBF16Ref", dst, a, b, m, n, k)
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
// float32 accumulation: the BF16 compute path. Each activation is rounded to BF16 (round
// to nearest even, as Float32ToBF16) before it is multiplied; a BF16×BF16 product is exact
// in float32, so only the float32 summation order differs from the oracle.
func MatMulNTBF16Compute(dst, a []float32, b []uint16, m, n, k int) {
	gemmHalf("MatMulNTBF16Compute", dst, a, b, m, n, k, weightBF16, true)
}

// MatMulNTBF16ComputeRef is the naive oracle for MatMulNTBF16Compute: activations rounded
// to BF16 (nearest even), float64 accumulation.
func MatMulNTBF16ComputeRef(dst, a []float32, b []uint16, m, n, k int) {
	checkLowp("MatMulNTBF16ComputeRef", dst, a, b, m, n, k)
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
