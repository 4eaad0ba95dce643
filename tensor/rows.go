package tensor

// RowKernels are a CPU tier's vector forms of the element-wise row kernels that package nn
// builds its layers from (GELU, softmax, residual adds, LayerNorm). Each runs over slices
// whose length is a positive multiple of Width; nn computes the rest of a row, and the
// whole row on tiers without them (Width 0, nil functions), with its portable forms, which
// are also the test oracles.
type RowKernels struct {
	Width int // elements per vector step; 0: the tier has no row kernels

	GELUBias    func(d, x, b []float32)                    // d[i] = GELU(x[i]+b[i]), erf form
	ExpSubSum   func(x []float32, m float32) float32       // x[i] = e^(x[i]-m); returns Σ x[i]
	ScaleMax    func(x []float32, s float32) float32       // x[i] *= s; returns max x[i]
	Add         func(d, x, y []float32)                    // d[i] = x[i]+y[i]
	SumF64      func(x []float32) float64                  // Σ x[i] in float64
	SumSqDevF64 func(x []float32, m float32) float64       // Σ (x[i]-m)², squares in float32, sum in float64
	NormAffine  func(d, x, w, b []float32, m, inv float32) // d[i] = (x[i]-m)·inv·w[i] + b[i]
}

// Rows returns the row kernels of the tier in use (see Tier).
func Rows() *RowKernels { return &active.rows }

// rowsGeneric: the generic tier has no vector row kernels.
var rowsGeneric = RowKernels{}
