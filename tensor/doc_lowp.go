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
// per-worker scratch of 512 KiB (weights 512 columns × 256 deep) plus 72 KiB
// of staged activations, taken from a sync.Pool. Calls with m·n·k ≥ 2²⁰ cut the
// output columns into tasks (256 columns or wider); the caller and whichever of the
// GOMAXPROCS−1 helper goroutines (started on first use) are idle take tasks from a
// shared counter, so concurrent callers never queue behind each other.
//
// AMX tile path (MatMulNTBF16Compute only, n and k multiples of 32; bf16_tiles.go,
// amx_*.go). Per call the activations are rounded to BF16 into a row-major copy
// (2·m·k bytes, rows padded to a multiple of 32) and the weights regrouped into BF16
// pairs along k, [k/2][n] (2·n·k bytes: one transient half-size copy of the layer's
// weight, not of the model); both buffers are pooled and shared by the workers. The
// assembly kernel (amxTiles2x2) configures the tiles, computes a 32×32 float32 block
// over the full depth with TDPBF16PS and releases the tiles within one call, so the
// per-thread tile state never crosses a goroutine switch. Go's assembler (Go 1.26)
// knows no AMX (nor VDPBF16PS) mnemonic: the instructions are BYTE sequences, checked
// by TestAMXEncodings against the Intel SDM forms. Tile data needs the per-process
// Linux permission arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA), asked once;
// if the CPU lacks AMX-TILE/AMX-BF16 or the kernel refuses, the tier is not listed.
// TDPBF16PS treats BF16 subnormal inputs as zero and flushes subnormal results; the
// float32 path does not, which matters only for values below 2⁻¹²⁶.
//
// Status: the AMX tier has never run on AMX hardware (the development machine is an
// AMD EPYC Zen 3: AVX2, FMA and F16C; no AVX-512, no AVX512_BF16, no AMX). Its driver
// is tested everywhere with a Go reference tile kernel ("tiles-emulated" tier), its
// bytes by TestAMXEncodings and objdump, and TestAMXTilesKernel plus every tier test
// run the real kernel wherever AMX is usable. It is used for computing only when
// built with -tags lowp_amx. No AVX512_BF16 (VDPBF16PS) tier exists yet.
package tensor
