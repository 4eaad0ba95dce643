//go:build amd64 && gc && !purego

package tensor

import "golang.org/x/sys/cpu"

// The int8 tiers of amd64, each a 4×4 tile of int32 dot products over weight rows read in
// place (int8_amd64.s). All three have run bit-exactly against the oracle on an Intel Xeon
// with AVX512_VNNI and AVX-VNNI.
var (
	int8AVX512VNNI = &int8Tier{name: "avx512vnni", shifted: true, step: 64, tile: int8TileVNNI512}
	int8AVXVNNI    = &int8Tier{name: "avxvnni", shifted: true, step: 32, tile: int8TileAVXVNNI}
	int8AVX2       = &int8Tier{name: "avx2", step: 32, tile: int8TileAVX2}
)

// int8Kernels lists the int8 tiers this CPU can run, best first; the generic tier always.
// It is the one place that reads the CPU flags for int8.
func int8Kernels() []*int8Tier {
	var ts []*int8Tier
	x := cpu.X86
	if x.HasAVX512F && x.HasAVX512BW && x.HasAVX512VL && x.HasAVX512VNNI {
		ts = append(ts, int8AVX512VNNI)
	}
	if x.HasAVX2 && x.HasAVXVNNI {
		ts = append(ts, int8AVXVNNI)
	}
	if x.HasAVX2 {
		ts = append(ts, int8AVX2)
	}
	return append(ts, int8Generic)
}

// int8Dequant: dst[j] = float32(acc[j]-comp[j])·(sa·sw[j]) + b[j].
func int8Dequant(dst []float32, acc, comp []int32, sa float32, sw, b []float32) {
	int8DequantGeneric(dst, acc, comp, sa, sw, b)
}

// int8TileVNNI512 is a 4×4 int8 tile with AVX512_VNNI VPDPBUSD on zmm (64 bytes of k per
// step; a unsigned, i.e. shifted by +128):
//
//	for r, col < 4: c[r*ldc+col] = Σ_{p<kv} uint8(a[r*lda+p]) · w[col*ldw+p]
//
//go:noescape
func int8TileVNNI512(kv int, a *int8, lda int, w *int8, ldw int, c *int32, ldc int)

// int8TileAVXVNNI is the same tile with VEX AVX-VNNI VPDPBUSD on ymm (32 bytes of k per step).
//
//go:noescape
func int8TileAVXVNNI(kv int, a *int8, lda int, w *int8, ldw int, c *int32, ldc int)

// int8TileAVX2 is the tile for signed a with VPSIGNB/VPMADDUBSW/VPMADDWD (32 bytes of k):
//
//	for r, col < 4: c[r*ldc+col] = Σ_{p<kv} a[r*lda+p] · w[col*ldw+p]
//
//go:noescape
func int8TileAVX2(kv int, a *int8, lda int, w *int8, ldw int, c *int32, ldc int)
