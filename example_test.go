package gorerank_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

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

// Errors are typed: a blank query is a client error whatever the door; an empty document is
// a valid input.
func Example_errors() {
	r, err := gorerank.Open("testdata/tiny", gorerank.Options{TokenizerPath: "testdata/tokenizer/tokenizer.json"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	ctx := context.Background()
	_, err = r.Rerank(ctx, "   ", []string{"a"}, gorerank.ScoreOptions{})
	fmt.Println(errors.Is(err, gorerank.ErrEmptyQuery))
	res, err := r.Rerank(ctx, "query", []string{""}, gorerank.ScoreOptions{})
	fmt.Println(len(res), err)
	_, err = r.Rerank(ctx, strings.Repeat("long query ", 40), []string{"a"},
		gorerank.ScoreOptions{MaxLength: 32, Truncation: gorerank.TruncateOnlySecond})
	fmt.Println(errors.Is(err, gorerank.ErrTooLong))
	// Output:
	// true
	// 1 <nil>
	// true
}

// DType names are the CLI's: storage and compute are told apart. (bf16 computes in BF16 or
// float32 depending on the CPU tier: see DType.Compute.)
func ExampleParseDType() {
	for _, s := range []string{"f32", "bf16c", "int8"} {
		d, _ := gorerank.ParseDType(s)
		fmt.Println(d, d.Storage(), d.Compute())
	}
	// Output:
	// f32 f32 f32
	// bf16c bf16 bf16
	// int8 int8 int8
}
