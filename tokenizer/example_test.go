package tokenizer_test

import (
	"fmt"

	"github.com/gorerank/gorerank/tokenizer"
)

func Example() {
	tk, err := tokenizer.Load("../testdata/tokenizer/tokenizer.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	enc, err := tk.EncodePair("what is panda?", "The giant panda is a bear.", tokenizer.Options{MaxLength: 512})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(enc.IDs)
	fmt.Println(enc.Tokens[1:6], enc.Offsets[1:6])
	fmt.Println(tk.Decode(enc.IDs, true))
	// Output:
	// [0 2367 83 6 85407 32 2 2 581 6051 18 6 85407 83 10 81148 5 2]
	// [▁what ▁is ▁ panda ?] [[0 4] [4 7] [7 8] [8 13] [13 14]]
	// what is panda? The giant panda is a bear.
}
