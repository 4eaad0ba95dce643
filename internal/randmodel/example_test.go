package randmodel_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gorerank/gorerank/internal/randmodel"
	"github.com/gorerank/gorerank/weights"
)

func Example() {
	cfg, err := randmodel.ParseConfig([]byte(`{"vocab_size": 100, "hidden_size": 8,
		"num_hidden_layers": 2, "intermediate_size": 16, "max_position_embeddings": 20,
		"type_vocab_size": 1, "id2label": {"0": "LABEL_0"}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	dir, _ := os.MkdirTemp("", "randmodel")
	defer os.RemoveAll(dir)
	f, _ := os.Create(filepath.Join(dir, "model.safetensors"))
	st, err := randmodel.Generate(f, cfg, weights.BF16, 42)
	f.Close()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d tensors, %d parameters, %d bytes of data\n", st.Tensors, st.Params, st.Bytes)

	ck, err := weights.OpenCheckpoint(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ck.Close()
	w, _ := ck.Tensor("roberta.encoder.layer.1.intermediate.dense.weight")
	fmt.Println(w.DType, w.Shape)
	// Output:
	// 41 tensors, 2265 parameters, 4530 bytes of data
	// BF16 [16 8]
}
