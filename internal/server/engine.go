package server

import (
	"github.com/gorerank/gorerank/tokenizer"
)

// Engine is what the server needs from a tokenizer + cross-encoder. Implementations must be
// safe for concurrent use: Encode/EncodePair run in many handler goroutines at once, and
// Score runs in each batch worker.
type Engine interface {
	// Encode tokenizes one text (o.NoSpecial: without <s> </s>).
	Encode(text string, o tokenizer.Options) (*tokenizer.Encoding, error)
	// EncodePair tokenizes a (query, document) pair with the model's pair template and the
	// truncation in o (o.MaxLength counts the special tokens; 0 means no truncation).
	EncodePair(query, doc string, o tokenizer.Options) (*tokenizer.Encoding, error)
	// JoinPair builds the model input from the bare ids (no special tokens) of a query and a
	// document, adding the pair template's special tokens.
	JoinPair(query, doc []int32) []int32
	// PairSpecials is the number of special tokens JoinPair adds (4 for XLM-R: <s> q </s></s> d </s>).
	PairSpecials() int
	// Score writes one logit per sequence into logits (len(logits) == len(seqs)).
	Score(seqs [][]int32, logits []float32) error
	// Info describes the loaded model for /info and the startup log.
	Info() ModelInfo
}

// ModelInfo describes a loaded model.
type ModelInfo struct {
	ID        string `json:"model_id"`   // what --model said, or --served-model-name
	Path      string `json:"model_path"` // the local folder
	Revision  string `json:"model_sha,omitempty"`
	DType     string `json:"model_dtype"`         // float32, float16, bfloat16
	Type      string `json:"model_type"`          // e.g. xlm-roberta
	MaxTokens int    `json:"max_position_tokens"` // longest sequence the position table allows
	Config    any    `json:"config,omitempty"`    // the model's config.json, decoded
}
