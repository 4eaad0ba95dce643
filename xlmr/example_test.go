package xlmr_test

import (
	"fmt"

	"github.com/gorerank/gorerank/xlmr"
)

func Example() {
	m, err := xlmr.Load("../testdata/tiny", xlmr.LoadOptions{}) // tiny random-weight model
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	// token ids as the tokenizer gives them, <s> q </s></s> d </s>, no padding needed:
	// 中国的首都是哪里? with 北京是中国的首都。 and with 上海是经济中心。
	seqs := [][]int32{
		{0, 6, 44031, 6342, 3352, 79942, 32, 2, 2, 6, 8732, 90021, 43, 84206, 30, 2},
		{0, 6, 44031, 6342, 3352, 79942, 32, 2, 2, 6, 11145, 354, 5411, 4114, 30, 2},
	}
	logits := make([]float32, len(seqs))
	s := m.NewScratch() // reuse across calls from this goroutine
	if err := m.Forward(s, seqs, logits, nil); err != nil {
		fmt.Println(err)
		return
	}
	for i, l := range logits {
		fmt.Printf("pair %d: logit %.4f score %.4f\n", i, l, xlmr.Sigmoid(l))
	}
	// Output:
	// pair 0: logit 1.2739 score 0.7814
	// pair 1: logit 1.3135 score 0.7881
}

// A tiny random bge-m3 (the project's m3-tiny golden kit: config.json XLMRobertaModel,
// pytorch_model.bin, sparse_linear.pt, colbert_linear.pt) embeds a query and a passage and
// scores them as FlagEmbedding's compute_score does. (Its random sparse head gives most tokens a
// weight ≤ 0, which is dropped: this query keeps none.)
func ExampleModel_Embed() {
	m, err := xlmr.Load("../../shared/golden/m3-tiny", xlmr.LoadOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	seqs := [][]int32{
		{0, 4865, 83, 70, 10323, 111, 9942, 32, 2},                               // What is the capital of France?
		{0, 7270, 83, 70, 10323, 136, 2684, 132573, 223, 26349, 111, 9942, 5, 2}, // Paris is the capital and most populous city of France.
	}
	out := make([]xlmr.Embedding, len(seqs)) // pass the same slice again to reuse its memory
	if err := m.Embed(m.NewScratch(), seqs, xlmr.OutputAll, out, nil); err != nil {
		fmt.Println(err)
		return
	}
	q, p := &out[0], &out[1]
	fmt.Printf("%v: dense %d dims, %d lexical weights, %d ColBERT vectors\n", m.Heads(), len(q.Dense), len(q.Sparse), len(q.ColBERT))
	sc := xlmr.Score(q, p, xlmr.DefaultWeights())
	fmt.Printf("dense %.4f sparse %.4f colbert %.4f combined %.4f\n", sc.Dense, sc.Sparse, sc.ColBERT, sc.Combined)
	// Output:
	// dense+sparse+colbert: dense 32 dims, 0 lexical weights, 8 ColBERT vectors
	// dense 0.7856 sparse 0.0000 colbert 0.8859 combined 0.6686
}
