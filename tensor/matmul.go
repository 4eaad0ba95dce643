package tensor

// MatMulNT computes dst = a·bᵀ: dst (m,n), a (m,k), b (n,k), all row-major and dense.
// This is the shape of a linear layer with PyTorch's [out,in] weights.
func MatMulNT(dst, a, b []float32, m, n, k int) {
	checkLen("MatMulNT", dst, m*n, a, m*k, b, n*k)
	MatMulNTRef(dst, a, b, m, n, k)
}

// MatMulNTRef is the naive oracle for MatMulNT: float64 accumulation, no blocking.
func MatMulNTRef(dst, a, b []float32, m, n, k int) {
	checkLen("MatMulNTRef", dst, m*n, a, m*k, b, n*k)
	for i := 0; i < m; i++ {
		ai := a[i*k : i*k+k]
		for j := 0; j < n; j++ {
			bj := b[j*k : j*k+k]
			var s float64
			for p, v := range ai {
				s += float64(v) * float64(bj[p])
			}
			dst[i*n+j] = float32(s)
		}
	}
}

func checkLen(op string, dst []float32, nd int, a []float32, na int, b []float32, nb int) {
	if len(dst) < nd || len(a) < na || len(b) < nb {
		panic("tensor: " + op + ": slice shorter than its shape")
	}
}
