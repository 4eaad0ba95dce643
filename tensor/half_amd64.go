//go:build amd64 && gc && !purego

package tensor

import "golang.org/x/sys/cpu"

// avx2Tier uses AVX2 + FMA for the float32 math and F16C (VCVTPH2PS) to widen F16.
var avx2Tier = &lowpTier{
	name:      "avx2",
	widenF16:  widenF16AVX2,
	widenBF16: widenBF16AVX2,
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

func widenF16AVX2(dst []float32, src []uint16) {
	n := len(src) &^ 7
	if n > 0 {
		_ = dst[len(src)-1]
		widenF16F16C(&dst[0], &src[0], n)
	}
	widenF16Generic(dst[n:], src[n:])
}

func widenBF16AVX2(dst []float32, src []uint16) {
	n := len(src) &^ 7
	if n > 0 {
		_ = dst[len(src)-1]
		widenBF16Shift(&dst[0], &src[0], n)
	}
	widenBF16Generic(dst[n:], src[n:])
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

// widenF16F16C converts n (a multiple of 8) F16 values at src to float32 at dst:
//
//	for i := range n { dst[i] = float16.Frombits(src[i]).Float32() }
//
//go:noescape
func widenF16F16C(dst *float32, src *uint16, n int)

// widenBF16Shift converts n (a multiple of 8) BF16 values at src to float32 at dst:
//
//	for i := range n { dst[i] = math.Float32frombits(uint32(src[i]) << 16) }
//
//go:noescape
func widenBF16Shift(dst *float32, src *uint16, n int)

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
