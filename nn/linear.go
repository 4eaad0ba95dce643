package nn

import "github.com/gorerank/gorerank/tensor"

// Linear is y = x·Wᵀ + b with PyTorch's weight layout W (Out,In). The model builds one per
// checkpoint linear with NewLinear and only calls Forward; how the weight is stored
// (packed, half precision) is the kernel's business.
type Linear struct {
	W       []float32 // (Out, In)
	B       []float32 // (Out), may be nil
	Out, In int
}

// NewLinear wraps a (Out,In) weight and (Out) bias (bias may be nil).
func NewLinear(w, b []float32, out, in int) *Linear {
	if len(w) != out*in || (b != nil && len(b) != out) {
		panic("nn: NewLinear: weight/bias length does not match shape")
	}
	return &Linear{W: w, B: b, Out: out, In: in}
}

// Forward computes dst (rows,Out) = x (rows,In)·Wᵀ + b. No allocation.
func (l *Linear) Forward(dst, x []float32, rows int) {
	tensor.MatMulNT(dst[:rows*l.Out], x[:rows*l.In], l.W, rows, l.Out, l.In)
	if l.B != nil {
		for r := 0; r < rows; r++ {
			row := dst[r*l.Out : (r+1)*l.Out]
			for j, b := range l.B {
				row[j] += b
			}
		}
	}
}
