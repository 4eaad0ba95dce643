package tensor

// kernelGeneric is the pure-Go micro-kernel of tierGeneric: a 4×4 tile,
//
//	for i < 4, j < 4: c[i*ldc+j] = (add ? c[i*ldc+j] : 0) + Σ_{p<k} a[i*lda+p] * b[p*4+j]
//
// with a read in place (4 rows of stride lda) and b a packed k×4 panel.
func kernelGeneric(k int, a []float32, lda int, b []float32, c []float32, ldc int, add bool) {
	a0 := a[:k]
	a1 := a[lda : lda+k]
	a2 := a[2*lda : 2*lda+k]
	a3 := a[3*lda : 3*lda+k]
	b = b[:4*k]
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	var c20, c21, c22, c23, c30, c31, c32, c33 float32
	for p := range a0 {
		bp := b[4*p : 4*p+4 : 4*p+4]
		b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
		x := a0[p]
		c00 += x * b0
		c01 += x * b1
		c02 += x * b2
		c03 += x * b3
		x = a1[p]
		c10 += x * b0
		c11 += x * b1
		c12 += x * b2
		c13 += x * b3
		x = a2[p]
		c20 += x * b0
		c21 += x * b1
		c22 += x * b2
		c23 += x * b3
		x = a3[p]
		c30 += x * b0
		c31 += x * b1
		c32 += x * b2
		c33 += x * b3
	}
	rows := [4][4]float32{{c00, c01, c02, c03}, {c10, c11, c12, c13}, {c20, c21, c22, c23}, {c30, c31, c32, c33}}
	for i := range rows {
		d := c[i*ldc : i*ldc+4 : i*ldc+4]
		if add {
			d[0] += rows[i][0]
			d[1] += rows[i][1]
			d[2] += rows[i][2]
			d[3] += rows[i][3]
		} else {
			d[0], d[1], d[2], d[3] = rows[i][0], rows[i][1], rows[i][2], rows[i][3]
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
