package nn

import "math"

// AddBiasGELU computes dst (rows,n) = GELU(x + b) with b (n) broadcast over rows, using the
// exact erf form GELU(z) = z/2 · (1 + erf(z/√2)) (PyTorch's default, HF hidden_act "gelu").
// dst may alias x. b may be nil (no bias).
func AddBiasGELU(dst, x, b []float32, rows, n int) {
	checkLen("AddBiasGELU", rows*n, dst, x)
	if b != nil {
		checkLen("AddBiasGELU", n, b)
	}
	if !parallelRows(rowJob{kind: rowGELU, dst: dst, x: x, b: b, rows: rows, n: n}) {
		addBiasGELU(dst, x, b, rows, n)
	}
}

func addBiasGELU(dst, x, b []float32, rows, n int) {
	for r := 0; r < rows; r++ {
		geluBiasRow(dst[r*n:(r+1)*n], x[r*n:(r+1)*n], b)
	}
}

// AddBiasGELURef is the float64 reference for AddBiasGELU.
func AddBiasGELURef(dst, x, b []float32, rows, n int) {
	checkLen("AddBiasGELURef", rows*n, dst, x)
	for r := 0; r < rows; r++ {
		for i := 0; i < n; i++ {
			z := float64(x[r*n+i])
			if b != nil {
				z += float64(b[i])
			}
			dst[r*n+i] = float32(0.5 * z * (1 + math.Erf(z/math.Sqrt2)))
		}
	}
}

// Tanh computes dst (n) = tanh(x) elementwise, n = len(dst). dst may alias x.
func Tanh(dst, x []float32) {
	checkLen("Tanh", len(dst), x)
	for i := range dst {
		dst[i] = float32(math.Tanh(float64(x[i])))
	}
}

// TanhRef is the float64 reference for Tanh.
func TanhRef(dst, x []float32) {
	for i := range dst {
		dst[i] = float32(math.Tanh(float64(x[i])))
	}
}
