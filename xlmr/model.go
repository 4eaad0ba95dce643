package xlmr

import "time"

// Config mirrors an HF XLM-RoBERTa config.json.
type Config struct {
	ModelType             string  `json:"model_type"`
	VocabSize             int     `json:"vocab_size"`
	HiddenSize            int     `json:"hidden_size"`
	NumHiddenLayers       int     `json:"num_hidden_layers"`
	NumAttentionHeads     int     `json:"num_attention_heads"`
	IntermediateSize      int     `json:"intermediate_size"`
	HiddenAct             string  `json:"hidden_act"`
	MaxPositionEmbeddings int     `json:"max_position_embeddings"`
	TypeVocabSize         int     `json:"type_vocab_size"`
	LayerNormEps          float64 `json:"layer_norm_eps"`
	PadTokenID            int     `json:"pad_token_id"`
	BosTokenID            int     `json:"bos_token_id"`
	EosTokenID            int     `json:"eos_token_id"`
	PositionEmbeddingType string  `json:"position_embedding_type"`
	NumLabels             int     `json:"-"` // from id2label
}

// Model is a loaded XLMRobertaForSequenceClassification. Read-only and safe for concurrent use.
type Model struct {
	Config Config
}

// LoadOptions select what Load reads.
type LoadOptions struct {
	WeightsFile string // a specific .safetensors file instead of the folder's default
}

// Load reads dir/config.json and the folder's safetensors weights.
func Load(dir string, o LoadOptions) (*Model, error) { panic("xlmr: not implemented") }

// MaxTokens is the longest sequence (special tokens included) the position table allows.
func (m *Model) MaxTokens() int { return m.Config.MaxPositionEmbeddings - m.Config.PadTokenID - 1 }

// Scratch holds the activations of one in-flight batch; reuse it across calls (one per goroutine).
type Scratch struct {
	Timings *Timings // optional per-stage timing
}

// NewScratch returns an empty scratch that grows to the largest batch it sees.
func (m *Model) NewScratch() *Scratch { return &Scratch{} }

// Forward scores a batch of token-id sequences of any lengths (no padding needed) and
// writes one logit per sequence into logits. hook may be nil.
func (m *Model) Forward(s *Scratch, seqs [][]int32, logits []float32, hook Hook) error {
	panic("xlmr: not implemented")
}

// Hook receives named intermediates of sequence seq: "embeddings" (T,H), "layer.N" (T,H)
// for N = 0..L-1 (HF hidden_states[N+1]), "attention.probs.N" (heads,T,T). data is only
// valid during the call.
type Hook func(seq int, name string, shape []int, data []float32)

// Timings, when set on a Scratch, accumulates wall time per stage across Forward calls
// (for `rerank bench`). Nil costs nothing.
type Timings struct {
	Embeddings, Attention, FFN, Head time.Duration
}
