// # Reduced precision (MatMulNTF16, MatMulNTBF16, MatMulNTBF16Compute)
//
// Kernels for a linear layer whose weight b (n,k) = [out,in] is kept as 16-bit bits
// ([]uint16, IEEE binary16 "F16" or bfloat16 "BF16"), e.g. straight from a safetensors
// checkpoint or an mmap of it. All three compute dst (m,n) = a (m,k) · bᵀ with a and dst
// float32, row-major and dense, and never allocate in steady state.
//
//   - MatMulNTF16, MatMulNTBF16: half the weight memory, float32 math. Every weight is
//     widened exactly while it is packed (F16 via VCVTPH2PS or the portable decoder, BF16
//     by a 16-bit shift); products and sums are float32, so the only difference from float32
//     weights is the weight quantisation itself.
//   - MatMulNTBF16Compute: also rounds every activation to BF16, round to nearest, ties to
//     even (Float32ToBF16; NaN stays NaN, overflow goes to ±Inf), then multiplies BF16×BF16
//     (exact in float32) and accumulates in float32: the contract of hardware BF16 dot
//     products. On a tier with a dot kernel (BF16Arithmetic: VDPBF16PS, AMX) the activations
//     are rounded once per call and the weights packed as BF16 pairs; elsewhere the float32
//     kernel runs on rounded activations: the same numbers up to summation order, no speed-up.
//
// Each kernel has a naive oracle beside it (MatMulNTF16Ref, MatMulNTBF16Ref,
// MatMulNTBF16ComputeRef: exact widening, float64 accumulation). The fast kernels sum in
// float32 and stay within (k+2)·2⁻²⁴·Σ|aᵢ·bᵢ| of their oracle; on integer-valued data they
// agree bit for bit.
//
// Hardware notes. VDPBF16PS and TDPBF16PS treat BF16 subnormal inputs as zero and flush
// subnormal results; the float32 path does not, which matters only below 2⁻¹²⁶. The AMX
// kernel configures its tiles, computes a 32×32 block and releases the tiles within one
// assembly call, so the per-thread tile state never crosses a goroutine switch; tile data
// needs the per-process Linux permission arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA),
// asked once. Go's assembler (Go 1.26) knows neither AMX nor VDPBF16PS: both are BYTE
// sequences, checked by TestAMXEncodings and TestBF16DotEncoding. Which tier ran on which
// hardware is recorded in docs/PERFORMANCE.md.
package tensor
