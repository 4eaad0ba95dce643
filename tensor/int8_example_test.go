package tensor_test

import (
	"fmt"

	"github.com/gorerank/gorerank/tensor"
)

// A linear layer y = x·Wᵀ + b with W (2,4) quantized per row to int8 and x quantized per row
// on the fly. W's rows have max 2 and 0.5: the scales are 2/127 and 0.5/127. Their values
// (±max and 0) stay exact on every tier, the avx2 tier's 7-bit weights included; x's 0.5 and
// 0.25 become 64/127 and 32/127 of its max, which moves y off float32's.
func ExampleMatMulNTInt8() {
	w := []float32{
		2, -2, 0, 2, // row 0
		0.5, 0.5, -0.5, 0, // row 1
	}
	q, s := make([]int8, 8), make([]float32, 2)
	tensor.QuantizeInt8(q, s, w, 2, 4)
	fmt.Println(q)
	x := []float32{1, 0.5, 0.25, -1} // one token
	y := make([]float32, 2)
	tensor.MatMulNTInt8(y, x, tensor.NewInt8Weights(q, s, 2, 4), []float32{10, 20}, 1)
	fmt.Printf("%.3f\n", y) // float32: [9 20.625]
	// Output:
	// [127 -127 0 127 127 127 -127 0]
	// [8.992 20.626]
}
