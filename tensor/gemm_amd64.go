//go:build amd64 && gc && !purego

package tensor

import "golang.org/x/sys/cpu"

// bestTier picks the widest kernel the CPU and OS support (AVX-512 only when opted in, see
// avx512OptIn).
func bestTier() gemmTier {
	switch {
	case avx512OptIn && cpu.X86.HasAVX512F:
		return tierAVX512
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		return tierAVX2
	default:
		return tierGeneric
	}
}

// tiers lists the tiers this machine can run, best first.
func tiers() []gemmTier {
	var ts []gemmTier
	if avx512OptIn && cpu.X86.HasAVX512F {
		ts = append(ts, tierAVX512)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ts = append(ts, tierAVX2)
	}
	return append(ts, tierGeneric)
}

// kernel runs t's micro-kernel on one mr×nr tile (see gemmKernelAVX2 for the contract).
func kernel(t gemmTier, k int, a []float32, lda int, b []float32, c []float32, ldc int, add bool) {
	ad := 0
	if add {
		ad = 1
	}
	switch t {
	case tierAVX512:
		// The assembly does no bounds checks: a driver bug must panic here, not corrupt memory.
		_, _, _ = a[11*lda+k-1], b[32*k-1], c[11*ldc+31]
		gemmKernelAVX512(k, &a[0], lda, &b[0], &c[0], ldc, ad)
	case tierAVX2:
		_, _, _ = a[5*lda+k-1], b[16*k-1], c[5*ldc+15]
		gemmKernelAVX2(k, &a[0], lda, &b[0], &c[0], ldc, ad)
	case tierSim512:
		kernelTileRef(12, 32, k, a, lda, b, c, ldc, add)
	default:
		kernelGeneric(k, a, lda, b, c, ldc, add)
	}
}

// edgeRows is the height of the smallest kernel of tier t that covers the last rows (< mr)
// of a product: the AVX2 tier has 4- and 2-row kernels, so fewer padding rows are computed.
func edgeRows(t gemmTier, rows, mr int) int {
	if t == tierAVX2 {
		switch {
		case rows <= 2:
			return 2
		case rows <= 4:
			return 4
		}
	}
	return mr
}

// kernelRows is kernel for a tile of emr rows, emr from edgeRows.
func kernelRows(t gemmTier, emr, k int, a []float32, lda int, b []float32, c []float32, ldc int, add bool) {
	if t == tierAVX2 && emr < 6 {
		ad := 0
		if add {
			ad = 1
		}
		_, _, _ = a[(emr-1)*lda+k-1], b[16*k-1], c[(emr-1)*ldc+15]
		if emr == 4 {
			gemmKernelAVX2x4(k, &a[0], lda, &b[0], &c[0], ldc, ad)
		} else {
			gemmKernelAVX2x2(k, &a[0], lda, &b[0], &c[0], ldc, ad)
		}
		return
	}
	kernel(t, k, a, lda, b, c, ldc, add)
}

// gemmKernelAVX2x4 is gemmKernelAVX2 for a 4×16 tile (i < 4).
//
//go:noescape
func gemmKernelAVX2x4(k int, a *float32, lda int, b *float32, c *float32, ldc int, add int)

// gemmKernelAVX2x2 is gemmKernelAVX2 for a 2×16 tile (i < 2).
//
//go:noescape
func gemmKernelAVX2x2(k int, a *float32, lda int, b *float32, c *float32, ldc int, add int)

// gemmKernelAVX2 computes one 6×16 tile of C (AVX2+FMA):
//
//	for i < 6, j < 16: c[i*ldc+j] = (add != 0 ? c[i*ldc+j] : 0) + Σ_{p<k} a[i*lda+p] * b[p*16+j]
//
// a is read in place (6 rows of stride lda), b is a packed k×16 panel. k ≥ 0.
//
//go:noescape
func gemmKernelAVX2(k int, a *float32, lda int, b *float32, c *float32, ldc int, add int)

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

// packNT packs rows [j, j+cols) × [p0, p0+kc) of b transposed into a kc×nr panel (see
// gemmOps.packB), 8 rows and 8 k at a time with packNT8AVX where the tier has AVX.
func packNT(t gemmTier, panel []float32, nr int, b []float32, ldb, j, cols, p0, kc int) {
	q := 0
	if t != tierGeneric && cpu.X86.HasAVX {
		k8 := kc / 8
		for ; q+8 <= cols && k8 > 0; q += 8 {
			_, _ = b[(j+q+7)*ldb+p0+8*k8-1], panel[(8*k8-1)*nr+q+7] // last read, last write
			packNT8AVX(k8, &b[(j+q)*ldb+p0], ldb, &panel[q], nr)
			for r := q; r < q+8; r++ { // k tail
				row := b[(j+r)*ldb+p0 : (j+r)*ldb+p0+kc]
				for p := 8 * k8; p < kc; p++ {
					panel[p*nr+r] = row[p]
				}
			}
		}
	}
	packNTGeneric(panel[q:], nr, b, ldb, j+q, cols-q, p0, kc)
}

// packNN16AVX copies k rows of 16 floats: dst[p*16+j] = b[p*ldb+j] for p < k, j < 16.
//
//go:noescape
func packNN16AVX(k int, b *float32, ldb int, dst *float32)

// packNN32AVX copies k rows of 32 floats: dst[p*32+j] = b[p*ldb+j] for p < k, j < 32.
//
//go:noescape
func packNN32AVX(k int, b *float32, ldb int, dst *float32)

// packNN packs kc rows of cols floats of b (row stride ldb) into a kc×nr panel, with vector
// moves where the panel is full and the tier has AVX.
func packNN(t gemmTier, panel []float32, nr int, b []float32, ldb, cols, kc int) {
	if t != tierGeneric && cpu.X86.HasAVX && cols == nr && kc > 0 {
		_ = b[(kc-1)*ldb+cols-1] // the last element read
		_ = panel[kc*nr-1]
		switch nr {
		case 16:
			packNN16AVX(kc, &b[0], ldb, &panel[0])
			return
		case 32:
			packNN32AVX(kc, &b[0], ldb, &panel[0])
			return
		}
	}
	packNNGeneric(panel, nr, b, ldb, cols, kc)
}
