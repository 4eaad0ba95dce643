package nn

import "math"

// LayerNorm computes dst (rows,n) = (x - mean) / sqrt(var + eps) · w + b per row, with w, b (n).
// dst may alias x. The variance is the biased one (divide by n), as in PyTorch.
func LayerNorm(dst, x, w, b []float32, rows, n int, eps float32) {
	checkLen("LayerNorm", rows*n, dst, x)
	checkLen("LayerNorm", n, w, b)
	if !parallelRows(rowJob{kind: rowLayerNorm, dst: dst, x: x, w: w, b: b, rows: rows, n: n, eps: eps}) {
		layerNorm(dst, x, w, b, rows, n, eps)
	}
}

func layerNorm(dst, x, w, b []float32, rows, n int, eps float32) {
	for r := 0; r < rows; r++ {
		layerNormRow(dst[r*n:(r+1)*n], x[r*n:(r+1)*n], w[:n], b[:n], eps)
	}
}

// AddLayerNorm computes dst (rows,n) = LayerNorm(x + res) with w, b (n): the residual add
// and the normalisation of a transformer sub-layer in one pass. dst may alias x or res.
func AddLayerNorm(dst, x, res, w, b []float32, rows, n int, eps float32) {
	checkLen("AddLayerNorm", rows*n, dst, x, res)
	checkLen("AddLayerNorm", n, w, b)
	if !parallelRows(rowJob{kind: rowAddLayerNorm, dst: dst, x: x, res: res, w: w, b: b, rows: rows, n: n, eps: eps}) {
		addLayerNorm(dst, x, res, w, b, rows, n, eps)
	}
}

func addLayerNorm(dst, x, res, w, b []float32, rows, n int, eps float32) {
	for r := 0; r < rows; r++ {
		d := dst[r*n : (r+1)*n]
		add(d, x[r*n:(r+1)*n], res[r*n:(r+1)*n])
		layerNormRow(d, d, w[:n], b[:n], eps)
	}
}

// layerNormRow normalises one row in two passes (mean, then centred variance). The sums
// are float64: a float32 running sum over 1024 values with a large mean loses ~1e-5.
func layerNormRow(d, x, w, b []float32, eps float32) {
	x = x[:len(d)]
	mean := float32(sumF64(x) / float64(len(x)))
	inv := float32(1 / math.Sqrt(sumSqDevF64(x, mean)/float64(len(x))+float64(eps)))
	normAffine(d, x, w[:len(d)], b[:len(d)], mean, inv)
}

// LayerNormRef is the float64 reference for LayerNorm.
func LayerNormRef(dst, x, w, b []float32, rows, n int, eps float32) {
	checkLen("LayerNormRef", rows*n, dst, x)
	checkLen("LayerNormRef", n, w, b)
	for r := 0; r < rows; r++ {
		xr, d := x[r*n:(r+1)*n], dst[r*n:(r+1)*n]
		var mean float64
		for _, v := range xr {
			mean += float64(v)
		}
		mean /= float64(n)
		var vr float64
		for _, v := range xr {
			vr += (float64(v) - mean) * (float64(v) - mean)
		}
		vr /= float64(n)
		inv := 1 / math.Sqrt(vr+float64(eps))
		for i, v := range xr {
			d[i] = float32((float64(v)-mean)*inv*float64(w[i]) + float64(b[i]))
		}
	}
}

// AddLayerNormRef is the float64 reference for AddLayerNorm.
func AddLayerNormRef(dst, x, res, w, b []float32, rows, n int, eps float32) {
	checkLen("AddLayerNormRef", rows*n, dst, x, res)
	sum := make([]float32, rows*n) // reference code may allocate
	for i := range sum {
		sum[i] = x[i] + res[i]
	}
	LayerNormRef(dst, sum, w, b, rows, n, eps)
}

// checkLen panics unless every slice holds at least n elements.
func checkLen(op string, n int, s ...[]float32) {
	for _, v := range s {
		if len(v) < n {
			panic("nn: " + op + ": slice shorter than its shape")
		}
	}
}
