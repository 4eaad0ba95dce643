//go:build !amd64 || !gc || purego

package tensor

// bestTier is the pure-Go kernel: this build has no assembly.
func bestTier() gemmTier { return tierGeneric }

// tiers lists the tiers this build can run.
func tiers() []gemmTier { return []gemmTier{tierGeneric} }

// kernel runs the pure-Go micro-kernel on one tile.
func kernel(t gemmTier, k int, a []float32, lda int, b []float32, c []float32, ldc int, add bool) {
	if t == tierSim512 {
		kernelTileRef(12, 32, k, a, lda, b, c, ldc, add)
		return
	}
	kernelGeneric(k, a, lda, b, c, ldc, add)
}

// packNT packs rows [j, j+cols) × [p0, p0+kc) of b transposed into a kc×nr panel.
func packNT(_ gemmTier, panel []float32, nr int, b []float32, ldb, j, cols, p0, kc int) {
	packNTGeneric(panel, nr, b, ldb, j, cols, p0, kc)
}

// packNN packs kc rows of cols floats of b (row stride ldb) into a kc×nr panel.
func packNN(_ gemmTier, panel []float32, nr int, b []float32, ldb, cols, kc int) {
	packNNGeneric(panel, nr, b, ldb, cols, kc)
}

// edgeRows is the kernel height for the last rows of a product: this build has one kernel.
func edgeRows(_ gemmTier, _, mr int) int { return mr }

// kernelRows is kernel (one kernel height in this build).
func kernelRows(t gemmTier, _, k int, a []float32, lda int, b []float32, c []float32, ldc int, add bool) {
	kernel(t, k, a, lda, b, c, ldc, add)
}
