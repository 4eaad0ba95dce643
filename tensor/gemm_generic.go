package tensor

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
// Tests run the driver with it (tierSim512) to cover tile shapes this machine has no kernel for.
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
