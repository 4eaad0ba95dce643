package tensor

import "gonum.org/v1/gonum/blas/blas32"

// General views data as a gonum blas32.General (rows, cols, row stride): no copy, the view
// shares data. It lets gonum routines (blas32.Gemm, mat32-style code) run on tensor's row-major
// buffers, and tests use gonum's Sgemm as a second reference.
func General(data []float32, rows, cols, stride int) blas32.General {
	if rows < 0 || cols < 0 || stride < max(1, cols) || (rows > 0 && cols > 0 && len(data) < (rows-1)*stride+cols) {
		panic("tensor: General: shape does not fit data")
	}
	return blas32.General{Rows: rows, Cols: cols, Stride: stride, Data: data}
}
