//go:build amd64 && gc && !purego

package tensor

import "golang.org/x/sys/cpu"

// amxTier is the avx2 tier plus AMX BF16 tiles for MatMulNTBF16Compute. Only built
// into the tier list with the lowp_amx build tag (amx_optin.go): it has not been run
// on AMX hardware yet. See amx_linux_amd64.go for the kernel permission.
var amxTier = &lowpTier{
	name:      "amx",
	pack:      packAVX2,
	roundBF16: roundBF16Vec,
	kernel:    kernel6x16AVX2,
	tiles:     tilesAMX,
}

// amxConfig is the LDTILECFG block: palette 1, tiles 0-7 each 16 rows × 64 bytes.
var amxConfig = func() (c [64]byte) {
	c[0] = 1
	for t := 0; t < 8; t++ {
		c[16+2*t] = 64
		c[48+t] = 16
	}
	return c
}()

// amxAvailable says whether the CPU has AMX-TILE and AMX-BF16 and the kernel lets
// this process use the tile data (requested once, see amxRequest).
func amxAvailable() bool {
	return cpu.X86.HasAMXTile && cpu.X86.HasAMXBF16 && amxRequest() == nil
}

func tilesAMX(a []uint16, lda int, b []uint32, ldb int, kblocks int, c []float32, ldc int) {
	_, _, _ = a[31*lda+32*kblocks-1], b[(16*kblocks-1)*ldb+31], c[31*ldc+31]
	amxTiles2x2(&amxConfig, &a[0], 2*lda, &b[0], 4*ldb, kblocks, &c[0], 4*ldc)
}

// amxTiles2x2 is tilesGo on AMX tiles (strides in bytes, kblocks ≥ 1).
//
//go:noescape
func amxTiles2x2(cfg *[64]byte, a *uint16, lda int, b *uint32, ldb int, kblocks int, c *float32, ldc int)
