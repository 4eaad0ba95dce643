package chunk_test

import (
	"fmt"

	"github.com/gorerank/gorerank/internal/chunk"
	"github.com/gorerank/gorerank/tokenizer"
)

func Example() {
	tok, err := tokenizer.Load("../../testdata/tokenizer/tokenizer.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	text := "# Leave\n\nEvery employee has twenty days of paid leave. Unused days carry over. " +
		"At most five days carry over. Leave is booked a week ahead.\n\n" +
		"# Notice\n\n员工离职需要提前三十日以书面形式通知用人单位。试用期内提前三日通知。"
	// At most 24 tokens a chunk (an embedder with a 26-token limit: 24 + <s> and </s>),
	// and up to 8 tokens of the chunk before repeated at the start of the next.
	chunks, err := chunk.Split(tok, text, chunk.Options{MaxTokens: 24, Overlap: 8})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range chunks {
		fmt.Printf("[%d:%d] %d tokens: %q\n", c.Start, c.End, c.Tokens, text[c.Start:c.End])
	}
	// Output:
	// [0:108] 24 tokens: "# Leave\n\nEvery employee has twenty days of paid leave. Unused days carry over. At most five days carry over."
	// [79:138] 15 tokens: "At most five days carry over. Leave is booked a week ahead."
	// [140:219] 17 tokens: "# Notice\n\n员工离职需要提前三十日以书面形式通知用人单位。"
	// [219:252] 10 tokens: "试用期内提前三日通知。"
}
