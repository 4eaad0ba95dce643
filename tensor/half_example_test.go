package tensor_test

import (
	"fmt"

	"github.com/gorerank/gorerank/tensor"
)

// A linear layer with a BF16 weight (out=2, in=3): half the memory, float32 math.
func ExampleMatMulNTBF16() {
	w := []float32{1, 2, 3, -1, 0.5, 0.25} // (out=2, in=3), as in a checkpoint
	w16 := make([]uint16, len(w))
	for i, v := range w {
		w16[i] = tensor.Float32ToBF16(v)
	}
	x := []float32{1, 1, 1, 2, 0, -4} // (tokens=2, in=3)
	y := make([]float32, 2*2)
	tensor.MatMulNTBF16(y, x, w16, 2, 2, 3)
	fmt.Println(y)
	// Output: [6 -0.25 -10 -3]
}
