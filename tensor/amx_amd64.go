//go:build amd64 && gc && !purego

package tensor

// amxConfig is the LDTILECFG block: palette 1, tiles 0-7 each 16 rows × 64 bytes.
var amxConfig = func() (c [64]byte) {
	c[0] = 1
	for t := 0; t < 8; t++ {
		c[16+2*t] = 64
		c[48+t] = 16
	}
	return c
}()

// amxTiles2x2 computes c (32,32) = a (32, 32·kblocks) BF16 rows · b, b holding
// 16·kblocks rows of 32 BF16 pairs, on AMX tiles (TDPBF16PS); strides in bytes, kblocks ≥ 1.
// It is dotTileRef(32, 32) with add false, except that TDPBF16PS treats BF16 subnormal
// inputs as zero and flushes subnormal results.
//
//go:noescape
func amxTiles2x2(cfg *[64]byte, a *uint16, lda int, b *uint32, ldb int, kblocks int, c *float32, ldc int)
