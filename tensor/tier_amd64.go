//go:build amd64 && gc && !purego

package tensor

import "golang.org/x/sys/cpu"

// The amd64 tiers, best first. Each was validated on the hardware listed in
// docs/PERFORMANCE.md ("Tiers and where they ran") before joining the default dispatch:
//
//	amx          AVX-512 float32 GEMM + AMX BF16 tiles (TDPBF16PS). Only with -tags
//	             untested_tiers: it has not run on an AMX CPU yet.
//	avx512-bf16  AVX-512 float32 GEMM + VDPBF16PS (AVX512_BF16) for BF16 arithmetic, on
//	             CPUs where VDPBF16PS outruns float32 FMAs (see bf16DotFast)
//	avx512       AVX-512F float32 GEMM (12×32 tiles)
//	avx2         AVX2+FMA float32 GEMM (6×16 tiles, 4×16 and 2×16 for the last rows)
//	generic      pure Go
//
// All but generic use the AVX2 row kernels (rows_amd64.s) and the AVX weight packers. Each
// tier also carries the best int8 kernel of the CPU (AVX512_VNNI, AVX-VNNI, AVX2; the
// AVX-512 one on AVX-512 tiers only).
func tierTable() []*cpuTier {
	ts := amd64Tiers()
	// Each tier gets the best int8 kernel whose instructions it may use (int8Available is
	// best first; the AVX-512 kernel needs an AVX-512 tier).
	for i, t := range ts[:len(ts)-1] {
		c := *t
		for _, k := range int8Available() {
			if k != int8AVX512VNNI || c.f32.isa == "avx512" {
				c.int8 = k
				break
			}
		}
		ts[i] = &c
	}
	return ts
}

// int8Available lists the int8 kernels this CPU can run, best first; the portable one always.
func int8Available() []*int8Kernel {
	x := &cpu.X86
	var ks []*int8Kernel
	if x.HasAVX512F && x.HasAVX512BW && x.HasAVX512VL && x.HasAVX512VNNI {
		ks = append(ks, int8AVX512VNNI)
	}
	if x.HasAVX2 && x.HasAVXVNNI {
		ks = append(ks, int8AVXVNNI)
	}
	if x.HasAVX2 {
		ks = append(ks, int8AVX2)
	}
	return append(ks, int8Generic)
}

// amd64Tiers lists the float32 and BF16 tiers this CPU can run, best first.
func amd64Tiers() []*cpuTier {
	x := &cpu.X86
	var ts []*cpuTier
	if x.HasAVX512F && x.HasAVX2 && x.HasFMA && x.HasF16C {
		if untestedTiers && x.HasAMXTile && x.HasAMXBF16 && amxRequest() == nil {
			ts = append(ts, amxTier)
		}
		if x.HasAVX512BF16 && bf16DotFast() {
			ts = append(ts, avx512BF16Tier)
		}
		ts = append(ts, avx512Tier)
	}
	if x.HasAVX2 && x.HasFMA && x.HasF16C {
		ts = append(ts, avx2Tier)
	}
	return append(ts, genericTier)
}

// bf16DotFast says whether VDPBF16PS does more work per cycle than float32 FMAs on this CPU,
// which its flags do not tell. AMD Zen 4 and Zen 5 issue it at the FMA rate, 32 multiply-adds
// per instruction against 16: twice the float32 peak. Intel cores split it into two µops on
// one port: measured on an Intel Xeon (Sapphire Rapids, AVX512_BF16 without AMX), 24
// independent VDPBF16PS take 4× as long as 24 FMAs, so BF16 arithmetic runs at half the
// float32 rate there, and BF16 weights are better widened (Intel's BF16 engine is AMX).
func bf16DotFast() bool {
	b, d, c := cpuVendor()
	return b == 0x68747541 && d == 0x69746e65 && c == 0x444d4163 // "Auth" "enti" "cAMD"
}

var (
	avx2Tier = &cpuTier{
		name: "avx2",
		f32: f32Kernel{
			isa: "avx2",
			// Picked on Zen 3 (512 KB L2) by alternating runs against OpenBLAS on the layer
			// shapes: kc 512 / nc 256 beat 256/128, 384/256 and 512/128.
			gemmShape: gemmShape{mr: 6, nr: 16, kc: 512, nc: 256},
			tile:      kernelAVX2,
			short:     shortAVX2,
		},
		packNT:    packNTAVX,
		packNN:    packNNAVX,
		widen:     widenAVX,
		roundBF16: roundBF16Vec,
		int8:      int8AVX2, // tierTable gives it AVX-VNNI where the CPU has it
		rows:      rowsAVX2,
	}
	avx512Tier = &cpuTier{
		name: "avx512",
		f32: f32Kernel{
			isa: "avx512",
			// Picked on an Intel Xeon (Sapphire Rapids: 48 KB L1d, 2 MB L2) by alternating
			// runs on the layer shapes (GFLOP per CPU-second): kc 512 beat 384, 256 and 128
			// by 2-7%; nc 512 was no better than 256. A 512×256 block is 512 KB of L2.
			gemmShape: gemmShape{mr: 12, nr: 32, kc: 512, nc: 256},
			tile:      kernelAVX512,
			short:     shortAVX512,
		},
		packNT:    packNTAVX,
		packNN:    packNNAVX,
		widen:     widenAVX,
		roundBF16: roundBF16Vec,
		int8:      int8AVX2, // tierTable gives it AVX512_VNNI or AVX-VNNI where the CPU has them
		rows:      rowsAVX2,
	}
	avx512BF16Tier = withDot("avx512-bf16", avx512Tier, &dotKernel{
		name:      "vdpbf16ps",
		gemmShape: gemmShape{mr: 12, nr: 32, kc: 512, nc: 256},
		kstep:     1,
		tile:      kernelBF16AVX512,
		toBF16:    toBF16AVX512Vec,
		packPairs: packPairsAVX,
	})
	amxTier = withDot("amx", avx512Tier, &dotKernel{
		name:      "amx",
		gemmShape: gemmShape{mr: 32, nr: 32, kc: 512, nc: 256},
		kstep:     16,
		tile:      tileAMX,
		toBF16:    toBF16AVX512Vec,
		packPairs: packPairsAVX,
	})
)

func addFlag(add bool) int {
	if add {
		return 1
	}
	return 0
}

// tileFn is the Go form of a float32 micro-kernel (f32Kernel.tile).
type tileFn = func(k int, a []float32, lda int, b, c []float32, ldc int, add bool)

// checked wraps an mr×nr assembly kernel. The wrapper checks the last element each operand
// reaches: the assembly does no bounds checks, so a driver bug must panic here, not corrupt
// memory.
func checked(mr, nr int, f func(k int, a *float32, lda int, b *float32, c *float32, ldc int, add int)) tileFn {
	return func(k int, a []float32, lda int, b, c []float32, ldc int, add bool) {
		_, _, _ = a[(mr-1)*lda+k-1], b[nr*k-1], c[(mr-1)*ldc+nr-1]
		f(k, &a[0], lda, &b[0], &c[0], ldc, addFlag(add))
	}
}

var (
	kernelAVX2     = checked(6, 16, gemmKernelAVX2)
	kernelAVX2x4   = checked(4, 16, gemmKernelAVX2x4)
	kernelAVX2x2   = checked(2, 16, gemmKernelAVX2x2)
	kernelAVX512   = checked(12, 32, gemmKernelAVX512)
	kernelAVX512x8 = checked(8, 32, gemmKernelAVX512x8)
	kernelAVX512x4 = checked(4, 32, gemmKernelAVX512x4)
)

// shortAVX2 gives the 4- or 2-row kernel for the last rows of a product: fewer padding rows.
func shortAVX2(rows int) (int, tileFn) {
	switch {
	case rows <= 2:
		return 2, kernelAVX2x2
	case rows <= 4:
		return 4, kernelAVX2x4
	}
	return 6, kernelAVX2
}

// shortAVX512 gives the 8- or 4-row kernel for the last rows of a product (a single pair of
// 64 tokens ends in 4 rows: a full 12-row tile would compute 8 rows for nothing).
func shortAVX512(rows int) (int, tileFn) {
	switch {
	case rows <= 4:
		return 4, kernelAVX512x4
	case rows <= 8:
		return 8, kernelAVX512x8
	}
	return 12, kernelAVX512
}

// kernelBF16AVX512 is the 12×32 VDPBF16PS kernel (dotKernel.tile contract; lda even).
func kernelBF16AVX512(kp int, a []uint16, lda int, b []uint32, c []float32, ldc int, add bool) {
	_, _, _ = a[11*lda+2*kp-1], b[32*kp-1], c[11*ldc+31]
	gemmKernelBF16AVX512(kp, &a[0], lda/2, &b[0], &c[0], ldc, addFlag(add))
}

// tileAMX is the 32×32 AMX kernel (dotKernel.tile contract; kp a multiple of 16).
func tileAMX(kp int, a []uint16, lda int, b []uint32, c []float32, ldc int, add bool) {
	_, _, _ = a[31*lda+2*kp-1], b[32*kp-1], c[31*ldc+31]
	if !add {
		amxTiles2x2(&amxConfig, &a[0], 2*lda, &b[0], 4*32, kp/16, &c[0], 4*ldc)
		return
	}
	var t [32 * 32]float32
	amxTiles2x2(&amxConfig, &a[0], 2*lda, &b[0], 4*32, kp/16, &t[0], 4*32)
	for i := 0; i < 32; i++ {
		row := c[i*ldc : i*ldc+32]
		for j, v := range t[i*32 : i*32+32] {
			row[j] += v
		}
	}
}

// packNTAVX packs rows [j, j+cols) × [p0, p0+kc) of b transposed into a kc×nr panel, 8 rows
// and 8 k at a time with packNT8AVX; the edges go the portable way.
func packNTAVX(panel []float32, nr int, b []float32, ldb, j, cols, p0, kc int) {
	q, k8 := 0, kc/8
	for ; q+8 <= cols && k8 > 0; q += 8 {
		_, _ = b[(j+q+7)*ldb+p0+8*k8-1], panel[(8*k8-1)*nr+q+7] // last read, last write
		packNT8AVX(k8, &b[(j+q)*ldb+p0], ldb, &panel[q], nr)
		if kc > 8*k8 { // k tail
			packNTGeneric(panel[8*k8*nr+q:], nr, b, ldb, j+q, 8, p0+8*k8, kc-8*k8)
		}
	}
	packNTGeneric(panel[q:], nr, b, ldb, j+q, cols-q, p0, kc)
}

// widenAVX is packNTAVX for F16 (VCVTPH2PS) or BF16 (a 16-bit shift) weight bits.
func widenAVX(panel []float32, nr int, b []uint16, ldb, j, cols, p0, kc int, wf weightFormat) {
	q, k8 := 0, kc/8
	for ; q+8 <= cols && k8 > 0; q += 8 {
		_, _ = b[(j+q+7)*ldb+p0+8*k8-1], panel[(8*k8-1)*nr+q+7]
		if wf == weightF16 {
			packF16x8AVX(k8, &b[(j+q)*ldb+p0], ldb, &panel[q], nr)
		} else {
			packBF16x8AVX(k8, &b[(j+q)*ldb+p0], ldb, &panel[q], nr)
		}
		if kc > 8*k8 {
			widenGeneric(panel[8*k8*nr+q:], nr, b, ldb, j+q, 8, p0+8*k8, kc-8*k8, wf)
		}
	}
	widenGeneric(panel[q:], nr, b, ldb, j+q, cols-q, p0, kc, wf)
}

// packPairsAVX is packPairsGeneric, 8 rows and 8 pairs at a time with packPairs8AVX.
func packPairsAVX(panel []uint32, nr int, b []uint16, ldb, j, cols, p0, kp int) {
	q, k8 := 0, kp/8
	for ; q+8 <= cols && k8 > 0; q += 8 {
		_, _ = b[(j+q+7)*ldb+p0+16*k8-1], panel[(8*k8-1)*nr+q+7]
		packPairs8AVX(k8, &b[(j+q)*ldb+p0], ldb, &panel[q], nr)
		if kp > 8*k8 {
			packPairsGeneric(panel[8*k8*nr+q:], nr, b, ldb, j+q, 8, p0+16*k8, kp-8*k8)
		}
	}
	packPairsGeneric(panel[q:], nr, b, ldb, j+q, cols-q, p0, kp)
}

// packNNAVX packs kc rows of cols floats of b (row stride ldb) into a kc×nr panel, with
// vector moves where the panel is full.
func packNNAVX(panel []float32, nr int, b []float32, ldb, cols, kc int) {
	if cols == nr && kc > 0 && (nr == 16 || nr == 32) {
		_, _ = b[(kc-1)*ldb+cols-1], panel[kc*nr-1]
		if nr == 16 {
			packNN16AVX(kc, &b[0], ldb, &panel[0])
		} else {
			packNN32AVX(kc, &b[0], ldb, &panel[0])
		}
		return
	}
	packNNGeneric(panel, nr, b, ldb, cols, kc)
}

func roundBF16Vec(dst, src []float32) {
	n := len(src) &^ 7
	if n > 0 {
		_ = dst[len(src)-1]
		roundBF16AVX2(&dst[0], &src[0], n)
	}
	roundBF16Generic(dst[n:], src[n:])
}

func toBF16AVX512Vec(dst []uint16, src []float32) {
	n := len(src) &^ 15
	if n > 0 {
		_ = dst[len(src)-1]
		toBF16AVX512(&dst[0], &src[0], n)
	}
	toBF16Generic(dst[n:], src[n:])
}

// The assembly, generated by _gen into gemm_amd64.s. Each stub's comment is its reference loop.

// gemmKernelAVX2 computes one 6×16 tile of C (AVX2+FMA):
//
//	for i < 6, j < 16: c[i*ldc+j] = (add != 0 ? c[i*ldc+j] : 0) + Σ_{p<k} a[i*lda+p] * b[p*16+j]
//
// a is read in place (6 rows of stride lda), b is a packed k×16 panel. k ≥ 0.
//
//go:noescape
func gemmKernelAVX2(k int, a *float32, lda int, b *float32, c *float32, ldc int, add int)

// gemmKernelAVX2x4 is gemmKernelAVX2 for a 4×16 tile (i < 4).
//
//go:noescape
func gemmKernelAVX2x4(k int, a *float32, lda int, b *float32, c *float32, ldc int, add int)

// gemmKernelAVX2x2 is gemmKernelAVX2 for a 2×16 tile (i < 2).
//
//go:noescape
func gemmKernelAVX2x2(k int, a *float32, lda int, b *float32, c *float32, ldc int, add int)

// gemmKernelAVX512x8 is gemmKernelAVX512 for an 8×32 tile (i < 8).
//
//go:noescape
func gemmKernelAVX512x8(k int, a *float32, lda int, b *float32, c *float32, ldc int, add int)

// gemmKernelAVX512x4 is gemmKernelAVX512 for a 4×32 tile (i < 4).
//
//go:noescape
func gemmKernelAVX512x4(k int, a *float32, lda int, b *float32, c *float32, ldc int, add int)

// gemmKernelBF16AVX512 computes one 12×32 tile of C from BF16 pairs (AVX512_BF16 VDPBF16PS):
//
//	for i < 12, j < 32: c[i*ldc+j] = (add != 0 ? c[i*ldc+j] : 0) +
//		Σ_{p<k} a[i*2*lda+2p+1]·hi(b[p*32+j]) + a[i*2*lda+2p]·lo(b[p*32+j])
//
// over k pairs, with a BF16 rows of lda pairs (2·lda uint16), b a packed k×32 panel of
// BF16 pairs (lo = the even element, hi = the odd one).
//
//go:noescape
func gemmKernelBF16AVX512(k int, a *uint16, lda int, b *uint32, c *float32, ldc int, add int)

// gemmKernelAVX512 computes one 12×32 tile of C (AVX-512F):
//
//	for i < 12, j < 32: c[i*ldc+j] = (add != 0 ? c[i*ldc+j] : 0) + Σ_{p<k} a[i*lda+p] * b[p*32+j]
//
// a is read in place (12 rows of stride lda), b is a packed k×32 panel. k ≥ 0.
//
//go:noescape
func gemmKernelAVX512(k int, a *float32, lda int, b *float32, c *float32, ldc int, add int)

// packNT8AVX transposes 8 rows of b into 8 columns of dst, 8 k at a time (AVX):
//
//	for r < 8, p < 8*k8: dst[p*ldd+r] = b[r*ldb+p]
//
//go:noescape
func packNT8AVX(k8 int, b *float32, ldb int, dst *float32, ldd int)

// packF16x8AVX is packNT8AVX for F16 weights, widened (F16C):
//
//	for r < 8, p < 8*k8: dst[p*ldd+r] = float16.Frombits(b[r*ldb+p]).Float32()
//
//go:noescape
func packF16x8AVX(k8 int, b *uint16, ldb int, dst *float32, ldd int)

// packBF16x8AVX is packNT8AVX for BF16 weights, widened:
//
//	for r < 8, p < 8*k8: dst[p*ldd+r] = math.Float32frombits(uint32(b[r*ldb+p]) << 16)
//
//go:noescape
func packBF16x8AVX(k8 int, b *uint16, ldb int, dst *float32, ldd int)

// packPairs8AVX is packNT8AVX over BF16 pairs:
//
//	for r < 8, p < 8*k8: dst[p*ldd+r] = uint32(b[r*ldb+2p]) | uint32(b[r*ldb+2p+1])<<16
//
//go:noescape
func packPairs8AVX(k8 int, b *uint16, ldb int, dst *uint32, ldd int)

// packNN16AVX copies k rows of 16 floats: dst[p*16+j] = b[p*ldb+j] for p < k, j < 16.
//
//go:noescape
func packNN16AVX(k int, b *float32, ldb int, dst *float32)

// packNN32AVX copies k rows of 32 floats: dst[p*32+j] = b[p*ldb+j] for p < k, j < 32.
//
//go:noescape
func packNN32AVX(k int, b *float32, ldb int, dst *float32)

// roundBF16AVX2 rounds n (a multiple of 8) values to BF16, nearest even, NaN quieted:
//
//	for i := range n { dst[i] = BF16ToFloat32(Float32ToBF16(src[i])) }
//
//go:noescape
func roundBF16AVX2(dst, src *float32, n int)

// toBF16AVX512 rounds n (a multiple of 16) values to BF16 bits (AVX-512F):
//
//	for i := range n { dst[i] = Float32ToBF16(src[i]) }
//
//go:noescape
func toBF16AVX512(dst *uint16, src *float32, n int)

// cpuVendor returns the vendor string of CPUID leaf 0 in its three registers.
//
//go:noescape
func cpuVendor() (ebx, edx, ecx uint32)
