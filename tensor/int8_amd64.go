//go:build amd64 && gc && !purego

package tensor

import "math"

// The int8 kernels of amd64 (tier_amd64.go gives each tier the best its CPU runs), each a
// 4×4 tile of int32 dot products over weight rows read in place (int8_amd64.s; the avx2 one
// over the weights' 7-bit copy). The VNNI ones have run bit-exactly against the oracle on an
// Intel Xeon with AVX512_VNNI and AVX-VNNI, all of them on an AMD Zen 5.
var (
	int8AVX512VNNI = &int8Kernel{name: "avx512vnni", shifted: true, step: 64, tile: int8TileVNNI512,
		quantize: quantizeRowAVX2, dequant: int8DequantVec}
	int8AVXVNNI = &int8Kernel{name: "avxvnni", shifted: true, step: 32, tile: int8TileAVXVNNI,
		quantize: quantizeRowAVX2, dequant: int8DequantVec}
	int8AVX2 = &int8Kernel{name: "avx2", u7: true, step: 32, tile: int8TileAVX2,
		quantize: quantizeRowAVX2, dequant: int8DequantVec, sum: int8SumVec}
)

// quantizeRowAVX2 is quantizeRowGeneric with both passes in AVX2 (max|x|, then scale, round,
// pack) over the first multiple of 32 values; the rest, and rows that are not finite or
// whose 127/max overflows, go the portable way.
func quantizeRowAVX2(q []int8, x []float32, flip int8) float32 {
	q = q[:len(x)]
	n8 := len(x) &^ 7
	var amax float32
	if n8 > 0 {
		amax = int8AbsMaxAVX2(&x[0], n8)
	}
	if amax == amax { // not NaN: the tail may still hold one
		amax = max(amax, rowAbsMax(x[n8:]))
	}
	n32 := len(x) &^ 31
	if inv := 127 / amax; n32 == 0 || !(amax <= math.MaxFloat32) || amax == 0 || math.IsInf(float64(inv), 1) {
		return quantizeWith(q, x, amax, flip, 0)
	} else {
		int8QuantAVX2(&q[0], &x[0], n32, inv, uint32(uint8(flip))*0x01010101)
	}
	return quantizeWith(q, x, amax, flip, n32)
}

// int8SumVec is Σ q[i], 32 bytes at a time.
func int8SumVec(q []int8) int32 {
	n := len(q) &^ 31
	var s int32
	if n > 0 {
		s = int8SumAVX2(&q[0], n)
	}
	return s + int8Sum(q[n:])
}

// int8DequantVec: dst[j] = float32(acc[j]-comp[j]-rc)·(sa·sw[j]) + b[j], 8 at a time.
func int8DequantVec(dst []float32, acc, comp []int32, rc int32, sa float32, sw, b []float32) {
	n := len(dst)
	acc, comp, sw, b = acc[:n], comp[:n], sw[:n], b[:n]
	n8 := n &^ 7
	if n8 > 0 {
		int8DequantAVX2(&dst[0], &acc[0], &comp[0], rc, sa, &sw[0], &b[0], n8)
	}
	int8DequantGeneric(dst[n8:], acc[n8:], comp[n8:], rc, sa, sw[n8:], b[n8:])
}

// int8AbsMaxAVX2 returns max|x[i]| over n (a multiple of 8) values, NaN if one is NaN.
//
//go:noescape
func int8AbsMaxAVX2(x *float32, n int) float32

// int8QuantAVX2 quantizes n (a multiple of 32) values:
//
//	q[i] = int8(math.RoundToEven(float64(x[i]*inv))) ^ int8(flip)   (flip: the byte 4 times)
//
//go:noescape
func int8QuantAVX2(q *int8, x *float32, n int, inv float32, flip uint32)

// int8SumAVX2 returns Σ q[i] over n (a multiple of 32) bytes (|Σ| < 2³¹).
//
//go:noescape
func int8SumAVX2(q *int8, n int) int32

// int8DequantAVX2 dequantizes n (a multiple of 8) sums as int8DequantGeneric does.
//
//go:noescape
func int8DequantAVX2(dst *float32, acc, comp *int32, rc int32, sa float32, sw, b *float32, n int)

// int8TileVNNI512 computes nt ≥ 1 int8 4×4 tiles side by side with AVX512_VNNI VPDPBUSD on zmm
// (64 bytes of k per step; a unsigned, i.e. shifted by +128):
//
//	for r < 4, col < 4·nt: c[r*ldc+col] = Σ_{p<kv} uint8(a[r*lda+p]) · w[col*ldw+p]
//
//go:noescape
func int8TileVNNI512(kv int, a *int8, lda int, w *int8, ldw int, c *int32, ldc int, nt int)

// int8TileAVXVNNI is the same tile with VEX AVX-VNNI VPDPBUSD on ymm (32 bytes of k per step).
//
//go:noescape
func int8TileAVXVNNI(kv int, a *int8, lda int, w *int8, ldw int, c *int32, ldc int, nt int)

// int8TileAVX2 is the tile for signed a and unsigned w ≤ 128 (the weights' 7-bit form + 64)
// with VPMADDUBSW/VPMADDWD/VPADDD (32 bytes of k per step):
//
//	for r < 4, col < 4·nt: c[r*ldc+col] = Σ_{p<kv} a[r*lda+p] · uint8(w[col*ldw+p])
//
//go:noescape
func int8TileAVX2(kv int, a *int8, lda int, w *int8, ldw int, c *int32, ldc int, nt int)
