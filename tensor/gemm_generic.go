package tensor

import (
	"math"

	"github.com/x448/float16"
)

// kernelGeneric is the pure-Go micro-kernel of tierGeneric: a 4×4 tile,
//
//	for i < 4, j < 4: c[i*ldc+j] = (add ? c[i*ldc+j] : 0) + Σ_{p<k} a[i*lda+p] * b[p*4+j]
//
// with a read in place (4 rows of stride lda) and b a packed k×4 panel. It runs as two 4×2
// halves so that the accumulators stay in registers (amd64 has 15 for Go floats).
func kernelGeneric(k int, a []float32, lda int, b []float32, c []float32, ldc int, add bool) {
	a0 := a[:k]
	a1 := a[lda : lda+k]
	a2 := a[2*lda : 2*lda+k]
	a3 := a[3*lda : 3*lda+k]
	b = b[:4*k]
	for h := 0; h < 4; h += 2 {
		var c00, c01, c10, c11, c20, c21, c30, c31 float32
		// The loop condition proves every index in bounds: no checks inside the loop.
		for p := 0; p < len(a0) && p < len(a1) && p < len(a2) && p < len(a3) && 4*p+h+1 < len(b); p++ {
			b0, b1 := b[4*p+h], b[4*p+h+1]
			x0, x1, x2, x3 := a0[p], a1[p], a2[p], a3[p]
			c00 += x0 * b0
			c01 += x0 * b1
			c10 += x1 * b0
			c11 += x1 * b1
			c20 += x2 * b0
			c21 += x2 * b1
			c30 += x3 * b0
			c31 += x3 * b1
		}
		tile := [4][2]float32{{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}}
		for i := range tile {
			d := c[i*ldc+h : i*ldc+h+2 : i*ldc+h+2]
			if add {
				d[0] += tile[i][0]
				d[1] += tile[i][1]
			} else {
				d[0], d[1] = tile[i][0], tile[i][1]
			}
		}
	}
}

// packNTGeneric packs rows [j, j+cols) × [p0, p0+kc) of b transposed: panel[p*nr+q] =
// b[(j+q)*ldb+p0+p].
func packNTGeneric(panel []float32, nr int, b []float32, ldb, j, cols, p0, kc int) {
	for q := 0; q < cols; q++ {
		row := b[(j+q)*ldb+p0 : (j+q)*ldb+p0+kc]
		for p, v := range row {
			panel[p*nr+q] = v
		}
	}
}

// kernelTileRef is the reference of every micro-kernel, for an mr×nr tile:
//
//	for i < mr, j < nr: c[i*ldc+j] = (add ? c[i*ldc+j] : 0) + Σ_{p<k} a[i*lda+p] * b[p*nr+j]
//
// Tests run the driver with it (the sim512 test tier) to cover tile shapes this machine has no
// kernel for.
func kernelTileRef(mr, nr, k int, a []float32, lda int, b []float32, c []float32, ldc int, add bool) {
	for i := 0; i < mr; i++ {
		for j := 0; j < nr; j++ {
			var s float32
			for p := 0; p < k; p++ {
				s += a[i*lda+p] * b[p*nr+j]
			}
			if add {
				s += c[i*ldc+j]
			}
			c[i*ldc+j] = s
		}
	}
}

// packNNGeneric packs kc rows of cols floats of b (row stride ldb) into a kc×nr panel:
// panel[p*nr+q] = b[p*ldb+q] for q < cols.
func packNNGeneric(panel []float32, nr int, b []float32, ldb, cols, kc int) {
	for p := 0; p < kc; p++ {
		copy(panel[p*nr:p*nr+cols], b[p*ldb:p*ldb+cols])
	}
}

// widenGeneric is packNTGeneric for F16 or BF16 weight bits, widened exactly.
func widenGeneric(panel []float32, nr int, b []uint16, ldb, j, cols, p0, kc int, wf weightFormat) {
	for q := 0; q < cols; q++ {
		row := b[(j+q)*ldb+p0 : (j+q)*ldb+p0+kc]
		if wf == weightF16 {
			for p, h := range row {
				panel[p*nr+q] = float16.Frombits(h).Float32()
			}
		} else {
			for p, h := range row {
				panel[p*nr+q] = BF16ToFloat32(h)
			}
		}
	}
}

func roundBF16Generic(dst, src []float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = roundBF16(v)
	}
}

// roundBF16 rounds f to the nearest BF16 value (ties to even) and widens it back.
func roundBF16(f float32) float32 { return BF16ToFloat32(Float32ToBF16(f)) }

func toBF16Generic(dst []uint16, src []float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = Float32ToBF16(v)
	}
}

// packPairsGeneric packs rows [j, j+cols) of b × pairs [p0/2, p0/2+kp) into a kp×nr panel:
// panel[p*nr+q] = b[(j+q)*ldb+p0+2p] | b[(j+q)*ldb+p0+2p+1]<<16.
func packPairsGeneric(panel []uint32, nr int, b []uint16, ldb, j, cols, p0, kp int) {
	for q := 0; q < cols; q++ {
		row := b[(j+q)*ldb+p0 : (j+q)*ldb+p0+2*kp]
		for p := 0; p < kp; p++ {
			panel[p*nr+q] = uint32(row[2*p]) | uint32(row[2*p+1])<<16
		}
	}
}

// dotTileRef returns the reference of every BF16 pair kernel for an mr×nr tile, summing
// like VDPBF16PS does, per pair, the odd product and then the even one into the float32
// accumulator:
//
//	c[i*ldc+j] = (add ? c[i*ldc+j] : 0) + Σ_p a[i*lda+2p]·w[j][2p] + a[i*lda+2p+1]·w[j][2p+1]
//
// Test tiers run the driver with it to cover dot kernels this machine has no instructions for.
func dotTileRef(mr, nr int) func(kp int, a []uint16, lda int, b []uint32, c []float32, ldc int, add bool) {
	return func(kp int, a []uint16, lda int, b []uint32, c []float32, ldc int, add bool) {
		for i := 0; i < mr; i++ {
			for j := 0; j < nr; j++ {
				var s float32
				for p := 0; p < kp; p++ {
					w := b[p*nr+j]
					s += BF16ToFloat32(a[i*lda+2*p+1]) * math.Float32frombits(w&0xffff0000)
					s += BF16ToFloat32(a[i*lda+2*p]) * math.Float32frombits(w<<16)
				}
				if add {
					s += c[i*ldc+j]
				}
				c[i*ldc+j] = s
			}
		}
	}
}
