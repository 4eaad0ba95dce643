//go:build amd64 && gc && !purego

package tensor

import "golang.org/x/sys/cpu"

// avx2Tier uses AVX2 + FMA for the float32 math and F16C (VCVTPH2PS) to widen F16.
var avx2Tier = &lowpTier{
	name:      "avx2",
	pack:      packAVX2,
	roundBF16: roundBF16Vec,
	kernel:    kernel6x16AVX2,
}

// lowpTiers lists the tiers this CPU can run, best first; the generic tier always.
func lowpTiers() []*lowpTier {
	if cpu.X86.HasAVX && cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C {
		return []*lowpTier{avx2Tier, genericTier}
	}
	return []*lowpTier{genericTier}
}

// packAVX2 widens and transposes 8 rows × 8 columns at a time; the edges go the
// portable way.
func packAVX2(dst []float32, src []uint16, ldb, rows, kc int, wf weightFormat) {
	k8 := kc &^ 7
	done := 0 // rows [0,done) are packed for columns [0,k8)
	for ; done+8 <= rows && k8 > 0; done += 8 {
		_, _ = src[(done+7)*ldb+k8-1], dst[(k8-1)*lowpNR+done+7]
		if wf == weightF16 {
			packF16x8(&dst[done], &src[done*ldb], ldb, k8)
		} else {
			packBF16x8(&dst[done], &src[done*ldb], ldb, k8)
		}
	}
	packRange(dst, src, ldb, 0, done, k8, kc, wf)
	packRange(dst, src, ldb, done, rows, 0, kc, wf)
	for c := rows; c < lowpNR; c++ {
		for p := 0; p < kc; p++ {
			dst[p*lowpNR+c] = 0
		}
	}
}

func roundBF16Vec(dst, src []float32) {
	n := len(src) &^ 7
	if n > 0 {
		_ = dst[len(src)-1]
		roundBF16AVX2(&dst[0], &src[0], n)
	}
	roundBF16Generic(dst[n:], src[n:])
}

func kernel6x16AVX2(kc int, a []float32, lda int, b, c []float32, ldc int, acc bool) {
	_, _, _ = a[(lowpMR-1)*lda+kc-1], b[kc*lowpNR-1], c[(lowpMR-1)*ldc+lowpNR-1]
	kernel6x16FMA(kc, &a[0], lda, &b[0], &c[0], ldc, acc)
}

// packF16x8 widens 8 rows (stride ldb) × kc (a multiple of 8) F16 values into the
// first 8 columns of the sliver dst [kc][16]:
//
//	for r := range 8 { for p := range kc { dst[p*16+r] = float16.Frombits(src[r*ldb+p]).Float32() } }
//
//go:noescape
func packF16x8(dst *float32, src *uint16, ldb, kc int)

// packBF16x8 is packF16x8 for BF16 weights:
//
//	for r := range 8 { for p := range kc { dst[p*16+r] = math.Float32frombits(uint32(src[r*ldb+p]) << 16) } }
//
//go:noescape
func packBF16x8(dst *float32, src *uint16, ldb, kc int)

// roundBF16AVX2 rounds n (a multiple of 8) values to BF16, nearest even, NaN quieted:
//
//	for i := range n { dst[i] = BF16ToFloat32(Float32ToBF16(src[i])) }
//
//go:noescape
func roundBF16AVX2(dst, src *float32, n int)

// kernel6x16FMA computes c (6,16) = a·b over kc ≥ 1, or adds it to c when acc; a holds
// 6 rows of stride lda, b is packed [kc][16]:
//
//	for r := range 6 { for j := range 16 {
//		s := 0; for p := range kc { s += a[r*lda+p] * b[p*16+j] }
//		c[r*ldc+j] = s (or += s) } }
//
//go:noescape
func kernel6x16FMA(kc int, a *float32, lda int, b, c *float32, ldc int, acc bool)
