package weights_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/gorerank/gorerank/weights"
)

func Example() {
	dir, _ := os.MkdirTemp("", "weights-example")
	defer os.RemoveAll(dir)

	// Write a 2×3 F32 matrix and a scalar I64.
	var data []byte
	for _, v := range []float32{1, 2, 3, 4, 5, 6} {
		data = binary.LittleEndian.AppendUint32(data, math.Float32bits(v))
	}
	err := weights.WriteFile(filepath.Join(dir, "model.safetensors"), []weights.Tensor{
		{Name: "layer.weight", DType: weights.F32, Shape: []int{2, 3}, Data: data},
		{Name: "step", DType: weights.I64, Shape: []int{}, Data: binary.LittleEndian.AppendUint64(nil, 42)},
	}, map[string]string{"format": "pt"})
	if err != nil {
		fmt.Println(err)
		return
	}

	// Read it back.
	c, err := weights.OpenCheckpoint(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	fmt.Println(c.Names(), c.Metadata()["format"])
	w, _ := c.Tensor("layer.weight")
	f, _ := w.Float32()
	fmt.Println(w.DType, w.Shape, f)
	step, _ := c.Tensor("step")
	n, _ := step.Int64()
	fmt.Println(n)
	_, err = c.Tensor("layer.bias")
	fmt.Println(err)
	// Output:
	// [layer.weight step] pt
	// F32 [2 3] [1 2 3 4 5 6]
	// [42]
	// weights: tensor not found: "layer.bias"
}

// A PyTorch checkpoint as torch.save wrote it (here bge-m3's sparse head, from a tiny random
// model) opens like a safetensors file.
func ExampleOpen_torch() {
	f, err := weights.Open("testdata/m3-tiny/sparse_linear.pt")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	for _, name := range f.Names() {
		t, _ := f.Tensor(name)
		fmt.Println(name, t.DType, t.Shape)
	}
	// Output:
	// bias F32 [1]
	// weight F32 [1 32]
}
