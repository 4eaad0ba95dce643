package server

import (
	"github.com/gorerank/gorerank"
	"github.com/gorerank/gorerank/tokenizer"
)

// Engine is what the server needs from a tokenizer + cross-encoder. Implementations must be
// safe for concurrent use: Pipeline and Encode run in many handler goroutines at once, and
// Score runs in each batch worker.
type Engine interface {
	// Pipeline is the library's scoring pipeline for the model: validation, tokenization
	// and truncation. The server has no scoring policy of its own.
	Pipeline() *gorerank.Pipeline
	// Encode tokenizes one text with its tokens and offsets (o.NoSpecial: without <s> </s>),
	// for /tokenize.
	Encode(text string, o tokenizer.Options) (*tokenizer.Encoding, error)
	// Token is the text of a token id (for /tokenize's special tokens).
	Token(id int32) string
	// Score writes one logit per sequence into logits (len(logits) == len(seqs)).
	Score(seqs [][]int32, logits []float32) error
	// Info describes the loaded model for /info and the startup log.
	Info() ModelInfo
}

// ModelInfo describes a loaded model.
type ModelInfo struct {
	ID         string `json:"model_id"`   // what --model said, or --served-model-name
	Path       string `json:"model_path"` // the local folder
	Revision   string `json:"model_sha,omitempty"`
	DType      string `json:"model_dtype"`         // the --dtype that runs: f32, f16, bf16, bf16c, int8
	Storage    string `json:"weights_dtype"`       // element type of the linear weights as loaded
	Compute    string `json:"compute_dtype"`       // element type of the matrix-product inputs
	Checkpoint string `json:"checkpoint_dtype"`    // element type in the checkpoint file (F32, BF16, I8, ...)
	Type       string `json:"model_type"`          // e.g. xlm-roberta
	MaxTokens  int    `json:"max_position_tokens"` // longest sequence the position table allows
	Config     any    `json:"config,omitempty"`    // the model's config.json, decoded
}
