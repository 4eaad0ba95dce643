//go:build amd64 && gc && !purego

package tensor

import "golang.org/x/sys/cpu"

// bestTier picks the widest kernel the CPU and OS support.
func bestTier() gemmTier {
	switch {
	case cpu.X86.HasAVX512F:
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
	if cpu.X86.HasAVX512F {
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
		gemmKernelAVX512(k, &a[0], lda, &b[0], &c[0], ldc, ad)
	case tierAVX2:
		gemmKernelAVX2(k, &a[0], lda, &b[0], &c[0], ldc, ad)
	default:
		kernelGeneric(k, a, lda, b, c, ldc, add)
	}
}

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
