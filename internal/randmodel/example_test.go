package randmodel_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gorerank/gorerank/internal/randmodel"
	"github.com/gorerank/gorerank/weights"
	"github.com/gorerank/gorerank/xlmr"
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

// A random bge-m3-shaped embedder folder, loaded and run by package xlmr.
func ExampleWriteDir() {
	dir, _ := os.MkdirTemp("", "randmodel")
	defer os.RemoveAll(dir)
	st, err := randmodel.WriteDir(dir, []byte(`{"architectures": ["XLMRobertaModel"],
		"model_type": "xlm-roberta", "vocab_size": 100, "hidden_size": 8, "num_hidden_layers": 1,
		"num_attention_heads": 2, "intermediate_size": 16, "max_position_embeddings": 20,
		"type_vocab_size": 1, "layer_norm_eps": 1e-5, "pad_token_id": 1}`), weights.F32, 42)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d tensors in model.safetensors, sparse_linear.safetensors, colbert_linear.safetensors\n", st.Tensors)

	m, err := xlmr.Load(dir, xlmr.LoadOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	out := make([]xlmr.Embedding, 1)
	if err := m.Embed(m.NewScratch(), [][]int32{{0, 10, 11, 2}}, xlmr.OutputAll, out, nil); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Kind, m.Heads(), len(out[0].Dense), "dims,", len(out[0].ColBERT), "ColBERT vectors")
	// Output:
	// 27 tensors in model.safetensors, sparse_linear.safetensors, colbert_linear.safetensors
	// embedder dense+sparse+colbert 8 dims, 3 ColBERT vectors
}
