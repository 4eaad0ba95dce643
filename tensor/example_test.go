package tensor_test

import (
	"fmt"

	"github.com/gorerank/gorerank/tensor"
)

// A linear layer y = x·Wᵀ with PyTorch's [out,in] weight, then a second product added into a
// column block of a wider buffer through strides.
func ExampleGemmNT() {
	x := []float32{ // (2 tokens, 3 in)
		1, 2, 3,
		4, 5, 6,
	}
	w := []float32{ // (2 out, 3 in)
		1, 0, 0,
		0, 1, 1,
	}
	y := make([]float32, 2*2) // (2 tokens, 2 out)
	tensor.MatMulNT(y, x, w, 2, 2, 3)
	fmt.Println(y)

	// wide (2,4): write x·Wᵀ into columns 1..2 (ld 4), then add it once more.
	wide := make([]float32, 2*4)
	tensor.GemmNT(false, wide[1:], 4, x, 3, w, 3, 2, 2, 3)
	tensor.GemmNT(true, wide[1:], 4, x, 3, w, 3, 2, 2, 3)
	fmt.Println(wide)
	// Output:
	// [1 5 4 11]
	// [0 2 10 0 0 8 22 0]
}
