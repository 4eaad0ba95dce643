package tensor

// MatMulNT computes dst = a·bᵀ: dst (m,n), a (m,k), b (n,k), all row-major and dense.
// This is the shape of a linear layer with PyTorch's [out,in] weights.
func MatMulNT(dst, a, b []float32, m, n, k int) {
	GemmNT(false, dst, n, a, k, b, k, m, n, k)
}

// GemmNT computes dst (m,n) = a (m,k) · b (n,k)ᵀ, or adds it to dst when acc is true.
// ldd, lda, ldb are the row strides (elements) of dst, a, b.
func GemmNT(acc bool, dst []float32, ldd int, a []float32, lda int, b []float32, ldb int, m, n, k int) {
	gemm("GemmNT", true, acc, dst, ldd, a, lda, b, ldb, m, n, k)
}

// GemmNN computes dst (m,n) = a (m,k) · b (k,n), or adds it to dst when acc is true.
// ldd, lda, ldb are the row strides (elements) of dst, a, b.
func GemmNN(acc bool, dst []float32, ldd int, a []float32, lda int, b []float32, ldb int, m, n, k int) {
	gemm("GemmNN", false, acc, dst, ldd, a, lda, b, ldb, m, n, k)
}

// GemmNTRef is the naive oracle for GemmNT: float64 accumulation, no blocking.
func GemmNTRef(acc bool, dst []float32, ldd int, a []float32, lda int, b []float32, ldb int, m, n, k int) {
	checkStrided("GemmNTRef", dst, ldd, m, n, a, lda, m, k, b, ldb, n, k)
	for i := 0; i < m; i++ {
		ai := a[i*lda : i*lda+k]
		for j := 0; j < n; j++ {
			bj := b[j*ldb : j*ldb+k]
			var s float64
			for p, v := range ai {
				s += float64(v) * float64(bj[p])
			}
			if acc {
				s += float64(dst[i*ldd+j])
			}
			dst[i*ldd+j] = float32(s)
		}
	}
}

// GemmNNRef is the naive oracle for GemmNN: float64 accumulation, no blocking.
func GemmNNRef(acc bool, dst []float32, ldd int, a []float32, lda int, b []float32, ldb int, m, n, k int) {
	checkStrided("GemmNNRef", dst, ldd, m, n, a, lda, m, k, b, ldb, k, n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				s += float64(a[i*lda+p]) * float64(b[p*ldb+j])
			}
			if acc {
				s += float64(dst[i*ldd+j])
			}
			dst[i*ldd+j] = float32(s)
		}
	}
}

// checkStrided panics (programmer bug) when a strided operand does not fit its slice.
func checkStrided(op string, dst []float32, ldd, dr, dc int, a []float32, lda, ar, ac int, b []float32, ldb, br, bc int) {
	fits := func(s []float32, ld, r, c int) bool {
		return r == 0 || c == 0 || (ld >= c && len(s) >= (r-1)*ld+c)
	}
	if !fits(dst, ldd, dr, dc) || !fits(a, lda, ar, ac) || !fits(b, ldb, br, bc) {
		panic("tensor: " + op + ": operand does not fit its slice")
	}
}
