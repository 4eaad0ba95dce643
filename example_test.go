package gorerank_test

import (
	"context"
	"fmt"

	"github.com/gorerank/gorerank"
)

func Example() {
	// testdata/tiny is a tiny random-weight model: the scores are meaningless, the API is real.
	r, err := gorerank.Open("testdata/tiny", gorerank.Options{TokenizerPath: "testdata/tokenizer/tokenizer.json"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	results, err := r.Rerank(context.Background(), "中国的首都是哪里?",
		[]string{"北京是中国的首都。", "上海是经济中心。"}, gorerank.ScoreOptions{MaxLength: 512})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, res := range results {
		fmt.Printf("doc %d: logit %.4f score %.4f\n", res.Index, res.Logit, res.Score)
	}
	// Output:
	// doc 1: logit 1.3135 score 0.7881
	// doc 0: logit 1.2739 score 0.7814
}
