package gorerank_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gorerank/gorerank"
	"github.com/gorerank/gorerank/xlmr"
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

// Many groups in one call: the forward passes are shared, and a bad group has its own error.
func ExampleReranker_RerankEach() {
	r, err := gorerank.Open("testdata/tiny", gorerank.Options{TokenizerPath: "testdata/tokenizer/tokenizer.json"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	res, errs, err := r.RerankEach(context.Background(), []gorerank.Group{
		{Query: "中国的首都是哪里?", Documents: []string{"北京是中国的首都。", "上海是经济中心。"}},
		{Query: "   ", Documents: []string{"a"}},
	}, gorerank.ScoreOptions{MaxLength: 512})
	if err != nil {
		fmt.Println(err)
		return
	}
	for g := range res {
		if errs[g] != nil {
			fmt.Printf("group %d: %v\n", g, errs[g])
			continue
		}
		for _, x := range res[g] {
			fmt.Printf("group %d: doc %d: logit %.4f\n", g, x.Index, x.Logit)
		}
	}
	// Output:
	// group 0: doc 1: logit 1.3135
	// group 0: doc 0: logit 1.2739
	// group 1: gorerank: the query is empty or blank
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

// An Embedder computes bge-m3's three outputs; xlmr.Score compares them as FlagEmbedding's
// compute_score does. ../shared/golden/m3-tiny is the project's tiny random bge-m3 (published
// layout: pytorch_model.bin, sparse_linear.pt, colbert_linear.pt): its numbers are
// meaningless, the API is real. (Its random sparse head drops most tokens.)
func ExampleEmbedder() {
	e, err := gorerank.OpenEmbedder("../shared/golden/m3-tiny", gorerank.Options{TokenizerPath: "testdata/tokenizer/tokenizer.json"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer e.Close()
	res, err := e.Embed(context.Background(),
		[]string{"What is the capital of France?", "Paris is the capital and most populous city of France."},
		gorerank.EmbedOptions{Outputs: xlmr.OutputAll}) // zero value: dense only, up to 8192 tokens, no truncation
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, r := range res {
		ids, _ := r.SparseSorted()
		fmt.Printf("text %d: %d tokens, dense %d dims, sparse ids %v, %d ColBERT vectors\n", i, r.Tokens, len(r.Dense), ids, len(r.ColBERT))
	}
	sc := xlmr.Score(&res[0].Embedding, &res[1].Embedding, xlmr.DefaultWeights())
	fmt.Printf("dense %.4f sparse %.4f colbert %.4f combined %.4f\n", sc.Dense, sc.Sparse, sc.ColBERT, sc.Combined)
	_, err = e.Embed(context.Background(), []string{"ok", ""}, gorerank.EmbedOptions{})
	fmt.Println(err, errors.Is(err, gorerank.ErrEmptyText))
	// Output:
	// text 0: 9 tokens, dense 32 dims, sparse ids [], 8 ColBERT vectors
	// text 1: 14 tokens, dense 32 dims, sparse ids [], 13 ColBERT vectors
	// dense 0.7856 sparse 0.0000 colbert 0.8859 combined 0.6686
	// gorerank: text 1: the text is empty true
}
