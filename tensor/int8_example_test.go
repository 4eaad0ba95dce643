package tensor_test

import (
	"fmt"

	"github.com/gorerank/gorerank/tensor"
)

// A linear layer y = x·Wᵀ + b with W (2,4) quantized per row to int8 and x quantized per row
// on the fly. W's rows have max 2 and 0.5: the scales are 2/127 and 0.5/127.
func ExampleMatMulNTInt8() {
	w := []float32{
		1, -2, 0.5, 0, // row 0
		0.25, 0.5, -0.5, 0.125, // row 1
	}
	q, s := make([]int8, 8), make([]float32, 2)
	tensor.QuantizeInt8(q, s, w, 2, 4)
	fmt.Println(q)
	x := []float32{1, 1, 1, 1} // one token
	y := make([]float32, 2)
	tensor.MatMulNTInt8(y, x, tensor.NewInt8Weights(q, s, 2, 4), []float32{10, 20}, 1)
	fmt.Printf("%.3f\n", y) // float32: [9.5 20.375]
	// Output:
	// [64 -127 32 0 64 127 -127 32]
	// [9.512 20.378]
}
