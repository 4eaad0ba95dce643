package nn

import "github.com/gorerank/gorerank/tensor"

// Precision says how a Linear stores its weight and computes.
type Precision int

const (
	F32         Precision = iota // float32 weight, float32 math
	F16                          // F16 weight bits (half memory), float32 math
	BF16                         // BF16 weight bits (half memory); BF16 math where the CPU multiplies BF16 (tensor.BF16Arithmetic), float32 math elsewhere
	BF16Compute                  // BF16 weight bits, activations rounded to BF16, float32 accumulation
	Int8                         // int8 weight + per-row scale, activations quantized per row, int32 accumulation
)

// Linear is y = x·Wᵀ + b with PyTorch's weight layout (Out,In). The model builds one per
// checkpoint linear and only calls Forward; how the weight is stored is the kernel's business.
type Linear struct {
	W       []float32           // (Out, In), Precision F32
	P       *tensor.PackedNT    // W packed for the CPU tier (see Pack), or nil: packed per call
	W16     []uint16            // (Out, In) F16 or BF16 bits, precisions F16, BF16, BF16Compute
	W8      *tensor.Int8Weights // (Out, In) int8 + (Out) scales, precision Int8
	B       []float32           // (Out), may be nil
	Out, In int
	Prec    Precision
}

// NewLinear wraps a float32 (Out,In) weight and (Out) bias (bias may be nil).
func NewLinear(w, b []float32, out, in int) *Linear {
	if len(w) != out*in || (b != nil && len(b) != out) {
		panic("nn: NewLinear: weight/bias length does not match shape")
	}
	return &Linear{W: w, B: b, Out: out, In: in, Prec: F32}
}

// Pack packs W once into the layout of the CPU tier's GEMM (tensor.PackNT: as much memory
// again), which saves repacking it on every Forward: a third of the time for a short input.
// Forward then no longer reads W, so a loader may let the OS drop W's pages (an mmap). Only
// for Precision F32; not safe to call concurrently with Forward.
func (l *Linear) Pack() {
	if l.Prec == F32 {
		l.P = tensor.PackNT(l.W, l.Out, l.In)
	}
}

// NewLinearHalf wraps a half-precision (Out,In) weight given as raw F16 or BF16 bits.
func NewLinearHalf(w16 []uint16, b []float32, out, in int, p Precision) *Linear {
	if len(w16) != out*in || (b != nil && len(b) != out) || p == F32 {
		panic("nn: NewLinearHalf: weight/bias length or precision does not match")
	}
	return &Linear{W16: w16, B: b, Out: out, In: in, Prec: p}
}

// NewLinearInt8 wraps an int8 (Out,In) weight q with one scale per output row
// (W ≈ scale[j]·q[j,:], q in [-127,127]; see tensor.QuantizeInt8) and an (Out) bias (may be nil).
func NewLinearInt8(q []int8, scale, b []float32, out, in int) *Linear {
	if len(q) != out*in || len(scale) != out || (b != nil && len(b) != out) {
		panic("nn: NewLinearInt8: weight/scale/bias length does not match shape")
	}
	return &Linear{W8: tensor.NewInt8Weights(q, scale, out, in), B: b, Out: out, In: in, Prec: Int8}
}

// Forward computes dst (rows,Out) = x (rows,In)·Wᵀ + b. No allocation. At precision Int8 each
// row of x is quantized to int8 (symmetric, per row) and the bias is added in the
// dequantization (tensor.MatMulNTInt8).
func (l *Linear) Forward(dst, x []float32, rows int) {
	l.product(dst, x, l.B, rows)
	if l.Prec != Int8 && l.B != nil {
		for r := 0; r < rows; r++ {
			row := dst[r*l.Out : (r+1)*l.Out]
			add(row, row, l.B)
		}
	}
}

// ForwardGELU computes dst (rows,Out) = GELU(x (rows,In)·Wᵀ + b), erf form: the product, then
// the bias and GELU in one fused pass over dst (AddBiasGELU). No allocation.
func (l *Linear) ForwardGELU(dst, x []float32, rows int) {
	l.product(dst, x, nil, rows)
	d := dst[:rows*l.Out]
	AddBiasGELU(d, d, l.B, rows, l.Out)
}

// product computes dst (rows,Out) = x·Wᵀ, plus bias only at precision Int8 (fused in the
// dequantization; bias may be nil).
func (l *Linear) product(dst, x []float32, bias []float32, rows int) {
	d, xs := dst[:rows*l.Out], x[:rows*l.In]
	switch l.Prec {
	case Int8:
		tensor.MatMulNTInt8(d, xs, l.W8, bias, rows)
	case F32:
		if l.P != nil {
			tensor.MatMulPackedNT(d, xs, l.P, rows)
		} else {
			tensor.MatMulNT(d, xs, l.W, rows, l.Out, l.In)
		}
	case F16:
		tensor.MatMulNTF16(d, xs, l.W16, rows, l.Out, l.In)
	case BF16:
		// The CPU tier decides: with BF16 dot products (AVX512_BF16, AMX) the activations are
		// rounded to BF16 and multiplied at twice the float32 rate; elsewhere the weights are
		// widened, which costs the same and keeps float32 activations.
		if tensor.BF16Arithmetic() {
			tensor.MatMulNTBF16Compute(d, xs, l.W16, rows, l.Out, l.In)
		} else {
			tensor.MatMulNTBF16(d, xs, l.W16, rows, l.Out, l.In)
		}
	case BF16Compute:
		tensor.MatMulNTBF16Compute(d, xs, l.W16, rows, l.Out, l.In)
	}
}
