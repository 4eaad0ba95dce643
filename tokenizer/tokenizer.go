package tokenizer

// Tokenizer is a loaded HF tokenizer.json. Safe for concurrent use.
type Tokenizer struct{}

// Strategy is a pair truncation strategy, named as in HF tokenizers.
type Strategy string

const (
	LongestFirst Strategy = "longest_first"
	OnlyFirst    Strategy = "only_first"
	OnlySecond   Strategy = "only_second"
)

// Options control special tokens and truncation. The zero value adds special tokens and
// does not truncate.
type Options struct {
	MaxLength int      // 0: no truncation; counts special tokens, as HF max_length does
	Strategy  Strategy // default LongestFirst
	Left      bool     // truncate from the left (HF direction "left")
	NoSpecial bool     // do not add <s> </s> (add_special_tokens=False)
}

// Encoding is the result of Encode / EncodePair.
type Encoding struct {
	IDs           []int32
	Tokens        []string
	AttentionMask []int32
	TypeIDs       []int32
	Offsets       [][2]int // [start,end) in Unicode code points of the original text; specials [0,0]
	ByteOffsets   [][2]int // the same in bytes
	SequenceIDs   []int    // 0 query/single, 1 document, -1 special token
	Truncated     bool     // tokens were removed by truncation
}

// Load reads a tokenizer.json file.
func Load(path string) (*Tokenizer, error) { panic("tokenizer: not implemented") }

// Encode tokenizes one text.
func (t *Tokenizer) Encode(text string, o Options) (*Encoding, error) {
	panic("tokenizer: not implemented")
}

// EncodePair tokenizes a (query, document) pair with the pair template.
func (t *Tokenizer) EncodePair(query, doc string, o Options) (*Encoding, error) {
	panic("tokenizer: not implemented")
}

// Decode turns ids back into text.
func (t *Tokenizer) Decode(ids []int32, skipSpecial bool) string { panic("tokenizer: not implemented") }

// VocabSize is the number of ids.
func (t *Tokenizer) VocabSize() int { panic("tokenizer: not implemented") }
