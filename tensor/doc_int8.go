// # Int8 (QuantizeInt8, GemmInt8NT, MatMulNTInt8)
//
// Integer kernels for a linear layer y (m,n) = x (m,k) · Wᵀ + b whose weight W (n,k) = [out,in]
// is quantized per output row: W[j,:] ≈ sw[j]·Q[j,:] with Q int8 (Int8Weights, read in place,
// e.g. from the memory map of an int8 safetensors checkpoint; no repacking).
//
//   - Quantization (QuantizeInt8, one function for weights at load and activations per call):
//     symmetric per row, s = max|x|/127, q = x·(127/max) rounded to nearest, ties to even,
//     q ∈ [-127,127] (never -128). All-zero rows: s = 0. Rows with NaN/±Inf: s = NaN, q = 0,
//     so that row's outputs are NaN. Activations are symmetric rather than asymmetric
//     (zero point, u8): every tier then computes the same integers with no saturation (u8·s8
//     pairs overflow VPMADDUBSW's int16) and no per-row zero-point term. Measured by fake
//     quantization on the tiny model (2026-11-30), asymmetric activations lower the mean
//     |Δlogit| against float32 by about 20% (0.0055 → 0.0045 on 300 random pairs, 0.0083 →
//     0.0075 against float64 on the goldens) and change nothing with outlier channels (both
//     ~0.27): not enough to give up bit-identical tiers; to be re-measured on the real model.
//   - Product: exact int32 dot products (k ≤ Int8MaxK = 65536 keeps them in range), then
//     y[i,j] = float32(acc)·(sa[i]·sw[j]) + b[j], each operation rounded to float32 in that
//     order (no FMA). So every tier gives the same bits, except avx2 (7-bit weights, below),
//     and tests compare each tier bit for bit with GemmInt8NTRef (int64 sums of the integers
//     the tier in use multiplies, same dequantization).
//
// CPU kernels (int8Available, best first; each CPU tier carries the best its instructions
// allow, and Tier().Int8 names the one in use). Each is a 4×4 tile of
// dot products over 4 activation rows and 4 weight rows in their row-major layout, with the
// lanes reduced once at the end of k:
//
//   - avx512vnni: VPDPBUSD on zmm, 64 bytes of k per step (8 loads for 16 multiply-adds).
//   - avxvnni: VEX VPDPBUSD on ymm (Alder Lake+, Zen 5), 32 bytes per step, 4×2 twice.
//   - avx2 (CPUs without VNNI: AMD Zen 1–3, Intel Haswell to Comet Lake, Skylake-SP):
//     VPMADDUBSW + VPMADDWD (by ones) + VPADDD on ymm, three instructions per 32
//     multiply-adds, on 7-bit weights (below).
//   - generic: pure Go (other GOARCHes, purego).
//
// VPDPBUSD multiplies unsigned by signed bytes: the VNNI tiers stage the activations as
// a+128 (byte XOR 0x80) and subtract Int8Weights.Comp[j] = 128·Σ_p Q[j,p] from each sum.
//
// The avx2 kernel. VPMADDUBSW multiplies unsigned by signed bytes too, but sums each pair of
// products into int16 with saturation, so both operands cannot keep 8 bits: with a+128 (up
// to 255) and |w| ≤ 127 a pair reaches 64770 > 2¹⁵. The previous kernel kept 8 bits on both
// sides and paid two more instructions per 32 multiply-adds (VPSIGNB moved a's sign onto w
// for each row and column, to multiply |a|). This one gives up a bit of the weights: at load
// (NewInt8Weights, or the first product on this tier: Int8Weights.reduced) Q is requantized
// to Q7 = round(Q·64/127) ∈ [-64,64], stored as unsigned bytes u = Q7+64 ∈ [0,128]; the
// scales stay, and the factor 127/64 joins each activation row's scale (sa·(127/64)), so
// that changing Scale after load still counts. The activations stay every tier's int8. A
// pair is then at most 2·128·127 = 32512 < 2¹⁵, and Σ_p a·u = Σ_p a·Q7 + 64·Σ_p a: the
// dequantization subtracts 64·Σ_p a[i,p], summed once per activation row as it is staged.
// The sums are exact (GemmInt8NTRef on this tier multiplies the same 7-bit weights) and
// equal on every AVX2 CPU, but differ from the VNNI tiers'. The price is a second copy of
// each int8 weight (N·K bytes; Q is no longer read: from an int8 checkpoint its pages stay
// in the page cache only). On a Zen 5 (GORERANK_TIER=avx2, 2026-12-06) the product runs
// 1.23–1.27× the previous kernel at the reranker's layer shapes, the tile alone 1.35×.
// Against float32 on the full-size random bge-reranker-v2-m3 (rerank fidelity --sets 100
// --docs 20, 2000 random pairs), it moves the logits by 0.055 on average (int8 on the other
// tiers: 0.015; at most 0.088 against 0.041) with rankings nearly as int8's: Spearman 0.936
// against 0.940, top-5 overlap 4.27 against 4.28, top-1 0.74 against 0.75.
//
// Why the weights: the other ways are 7-bit activations a+64 with a per-column compensation
// 64·Σ_p Q[j,p] (FBGEMM's reduce_range; no weight copy) or both sides at 7.5 bits (|w| ≤ 91,
// |a| ≤ 90). Simulated exactly on the full-size random bge-reranker-v2-m3 (rerank fidelity,
// rag + 20 random sets of 20 documents, against float32), 7-bit weights keep the rankings
// near int8's (random sets: Spearman 0.934 against 0.941, top-5 overlap 4.00 of 5 against
// 4.50), 7-bit activations lose them (0.868, 3.75) and the split falls between (0.903,
// 3.80): activation errors differ from one document to the next and reorder them, while a
// weight error perturbs the model alike for every document and mostly shifts a set's logits
// together (mean |Δlogit| 0.055 against int8's 0.015). With four ×20 outlier channels
// (--outliers 4) int8's own activation error dominates and the three are alike (Spearman
// 0.835, 0.851, 0.831 against 0.863; 20 sets cannot order them). Rounding each weight row
// so that its sum is kept cut that shift by a fifth only (0.044): not worth its code. On the
// tiny models (hidden size 32: dot products of 32–64 terms, whose errors do not average out)
// 7-bit weights cost more: mean |Δlogit| against float64 on the 43 goldens 0.017 against
// int8's 0.0082, the m3-tiny sparse output's largest error 0.19 against 0.11.
//
// The assembly is generated by _gen (go run ./_gen, with the GEMM kernels); the VEX bytes
// of AVX-VNNI are checked by TestInt8VEXEncodings. All tiers run bit-exactly against the
// oracle in one go test on a CPU that has them (validated on an Intel Xeon with AVX512_VNNI
// and AVX-VNNI, 2026-11-30; the 7-bit avx2 kernel on an AMD Zen 5, 2026-12-06).
// GORERANK_TIER=avx2 runs it on any AVX2 CPU (see doc.go).
//
// Driver: the activations are quantized (MatMulNTInt8) or copied (GemmInt8NT) into a pooled
// buffer in the tier's form, rows padded to a multiple of 4; tasks own a block of ≤64 rows ×
// a column block of weights of about 256 KiB, taken by the caller and idle helpers of the
// module's pool (internal/workers). For each group of 4 rows one kernel call sweeps the column
// block's 4×4 tiles. The last 1–3 weight rows go through a zero-padded copy, k beyond the
// tier's step through a scalar tail. Nothing allocates in steady state. Weight rows should
// start 64-byte aligned (split cache-line loads cost ~20% end to end); xlmr sees to it.
package tensor
