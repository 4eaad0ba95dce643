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
