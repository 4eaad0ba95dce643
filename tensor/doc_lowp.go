// # Reduced precision (MatMulNTF16, MatMulNTBF16, MatMulNTBF16Compute)
//
// Opt-in kernels for a linear layer whose weight b (n,k) = [out,in] is kept as 16-bit
// bits ([]uint16, IEEE binary16 "F16" or bfloat16 "BF16"), e.g. straight from a
// safetensors checkpoint or an mmap of it. All three compute dst (m,n) = a (m,k) · bᵀ
// with a and dst float32, row-major and dense, and never allocate in steady state.
//
//   - MatMulNTF16, MatMulNTBF16: half the weight memory, float32 math. Every weight is
//     widened exactly (F16 via VCVTPH2PS or the portable decoder, BF16 by a 16-bit
//     shift); products and sums are float32, so the only difference from float32
//     weights is the weight quantisation itself.
//   - MatMulNTBF16Compute: also rounds every activation to BF16, round to nearest,
//     ties to even (Float32ToBF16; NaN stays NaN, overflow goes to ±Inf), then
//     multiplies BF16×BF16 (exact in float32) and accumulates in float32. This is the
//     contract of hardware BF16 dot products (VDPBF16PS, AMX TDPBF16PS); on CPUs
//     without them it runs the same float32 FMA kernel on rounded activations, so it
//     gives the same numbers but no speed-up.
//
// Each kernel has a naive oracle beside it (MatMulNTF16Ref, MatMulNTBF16Ref,
// MatMulNTBF16ComputeRef: exact widening, float64 accumulation). The fast kernels
// sum in float32 in blocks of 256 along k and stay within (k+2)·2⁻²⁴·Σ|aᵢ·bᵢ| of their
// oracle; on integer-valued data they agree bit for bit.
//
// Implementation. One blocked driver (half_gemm.go) serves all three; a CPU tier,
// chosen once at start-up, supplies three building blocks: weight packing (widen and
// transpose 16 weight rows into a [256][16] float32 sliver), activation rounding, and
// a 6×16 float32 micro-kernel. Tiers: "avx2" (amd64 with AVX2+FMA+F16C, assembly in
// half_amd64.s) and "generic" (pure Go; arm64, purego builds, older CPUs). Weights
// are not repacked ahead of time: each call widens each weight element once into a
// per-worker scratch of at most 1 MiB (weights 1024 columns × 256 deep) plus 72 KiB
// of staged activations, taken from a sync.Pool. The output columns are split over
// GOMAXPROCS worker goroutines (started on first use) for calls with m·n·k ≥ 2²⁰.
//
// No AVX-512 or AMX tier is implemented: Go's assembler (Go 1.26) knows neither
// VDPBF16PS nor any AMX instruction, and the development machine (AMD EPYC, Zen 3)
// has neither extension, so such kernels could not be verified here.
package tensor
