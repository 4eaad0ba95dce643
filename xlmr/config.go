package xlmr

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
)

// Config mirrors an HF XLM-RoBERTa config.json, field for field. Fields that only matter for
// training (dropout, initializer_range) or for other tasks are decoded so that the struct is a
// faithful copy of the file, but the forward pass reads only the ones it documents.
type Config struct {
	Architectures         []string          `json:"architectures"`
	ModelType             string            `json:"model_type"`
	VocabSize             int               `json:"vocab_size"`
	HiddenSize            int               `json:"hidden_size"`
	NumHiddenLayers       int               `json:"num_hidden_layers"`
	NumAttentionHeads     int               `json:"num_attention_heads"`
	IntermediateSize      int               `json:"intermediate_size"`
	HiddenAct             string            `json:"hidden_act"`
	MaxPositionEmbeddings int               `json:"max_position_embeddings"`
	TypeVocabSize         int               `json:"type_vocab_size"`
	LayerNormEps          float64           `json:"layer_norm_eps"`
	PadTokenID            int               `json:"pad_token_id"`
	BosTokenID            int               `json:"bos_token_id"`
	EosTokenID            int               `json:"eos_token_id"`
	PositionEmbeddingType string            `json:"position_embedding_type"`
	ID2Label              map[string]string `json:"id2label"`
	Label2ID              map[string]int    `json:"label2id"`
	ProblemType           string            `json:"problem_type"`
	TorchDType            string            `json:"torch_dtype"`
	TransformersVersion   string            `json:"transformers_version"`
	HiddenDropoutProb     float64           `json:"hidden_dropout_prob"`          // unused: inference only
	AttentionDropoutProb  float64           `json:"attention_probs_dropout_prob"` // unused: inference only
	ClassifierDropout     *float64          `json:"classifier_dropout"`           // unused: inference only
	InitializerRange      float64           `json:"initializer_range"`            // unused: inference only
	UseCache              bool              `json:"use_cache"`                    // unused: encoder only

	// NumLabels is the number of classifier outputs: the size of id2label, or the
	// "num_labels" field when the file has one (2 without either, as HF assumes). Only 1 (a
	// reranker's single logit) is supported; see Validate. An embedder has no classifier and
	// ignores it.
	NumLabels int `json:"-"`
}

// Supported values of the enumerated config fields.
var (
	supportedModelTypes    = []string{"xlm-roberta", "roberta"}
	supportedActivations   = []string{"gelu"} // the exact erf GELU; "gelu_new"/"gelu_fast" are tanh approximations
	supportedPositionTypes = []string{"absolute"}
)

// ConfigError is a config.json that cannot be decoded or describes a model this package
// cannot run. Field is the JSON field at fault ("" when the file as a whole is).
type ConfigError struct {
	Path   string // the file, when known
	Field  string
	Reason string
}

func (e *ConfigError) Error() string {
	where := "config"
	if e.Path != "" {
		where = e.Path
	}
	if e.Field == "" {
		return "xlmr: " + where + ": " + e.Reason
	}
	return "xlmr: " + where + ": " + e.Field + ": " + e.Reason
}

// defaultConfig holds what HF's XLMRobertaConfig assumes for fields a config.json omits.
// Sizes have no default here: a missing size is an error, not a guess.
func defaultConfig() Config {
	return Config{
		HiddenAct:             "gelu",
		LayerNormEps:          1e-12,
		PadTokenID:            1,
		BosTokenID:            0,
		EosTokenID:            2,
		PositionEmbeddingType: "absolute",
		TypeVocabSize:         2,
	}
}

// ParseConfig decodes and validates a config.json.
func ParseConfig(data []byte) (Config, error) {
	c := defaultConfig()
	if err := json.Unmarshal(data, &c); err != nil {
		return Config{}, &ConfigError{Reason: "invalid JSON: " + err.Error()}
	}
	var extra struct {
		NumLabels *int `json:"num_labels"`
	}
	_ = json.Unmarshal(data, &extra) // same bytes decoded above; cannot fail differently
	switch {
	case c.ID2Label != nil:
		c.NumLabels = len(c.ID2Label)
		for i := 0; i < c.NumLabels; i++ {
			if _, ok := c.ID2Label[strconv.Itoa(i)]; !ok {
				return Config{}, &ConfigError{Field: "id2label", Reason: fmt.Sprintf("keys must be \"0\"..\"%d\"; %q is missing", c.NumLabels-1, strconv.Itoa(i))}
			}
		}
		if extra.NumLabels != nil && *extra.NumLabels != c.NumLabels {
			return Config{}, &ConfigError{Field: "num_labels", Reason: fmt.Sprintf("%d disagrees with id2label (%d labels)", *extra.NumLabels, c.NumLabels)}
		}
	case extra.NumLabels != nil:
		c.NumLabels = *extra.NumLabels
	default:
		c.NumLabels = 2 // what HF assumes without id2label; Validate rejects it with a clear message
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// LoadConfig reads and validates the config.json at path.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("xlmr: reading config: %w", err)
	}
	c, err := ParseConfig(data)
	if ce, ok := err.(*ConfigError); ok {
		ce.Path = path
	}
	return c, err
}

// Validate reports the first reason the config does not describe a model this package runs:
// an unsupported model_type, hidden_act or position_embedding_type, a non-positive size,
// heads that do not divide hidden_size, a pad id outside the tables, architectures that name
// neither kind (see Kind), or a reranker with num_labels != 1. A config that names no
// architecture has its labels checked at load, once the keys tell the kind.
func (c *Config) Validate() error {
	bad := func(field, format string, a ...any) error {
		return &ConfigError{Field: field, Reason: fmt.Sprintf(format, a...)}
	}
	oneOf := func(field, v string, ok []string) error {
		if slices.Contains(ok, v) {
			return nil
		}
		return bad(field, "%q is not supported (supported: %q)", v, ok)
	}
	if err := oneOf("model_type", c.ModelType, supportedModelTypes); err != nil {
		return err
	}
	if err := oneOf("hidden_act", c.HiddenAct, supportedActivations); err != nil {
		return err
	}
	if err := oneOf("position_embedding_type", c.PositionEmbeddingType, supportedPositionTypes); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    int
	}{
		{"vocab_size", c.VocabSize}, {"hidden_size", c.HiddenSize}, {"num_hidden_layers", c.NumHiddenLayers},
		{"num_attention_heads", c.NumAttentionHeads}, {"intermediate_size", c.IntermediateSize},
		{"max_position_embeddings", c.MaxPositionEmbeddings}, {"type_vocab_size", c.TypeVocabSize},
	} {
		if f.v <= 0 {
			return bad(f.name, "must be a positive integer (got %d; missing fields read as 0)", f.v)
		}
	}
	if c.HiddenSize%c.NumAttentionHeads != 0 {
		return bad("num_attention_heads", "%d does not divide hidden_size %d", c.NumAttentionHeads, c.HiddenSize)
	}
	if !(c.LayerNormEps > 0) {
		return bad("layer_norm_eps", "must be positive (got %g)", c.LayerNormEps)
	}
	if c.PadTokenID < 0 || c.PadTokenID >= c.VocabSize {
		return bad("pad_token_id", "%d is outside the vocabulary (vocab_size %d)", c.PadTokenID, c.VocabSize)
	}
	if c.PadTokenID+1 >= c.MaxPositionEmbeddings {
		return bad("max_position_embeddings", "%d leaves no position for a token (positions start at pad_token_id+1 = %d)", c.MaxPositionEmbeddings, c.PadTokenID+1)
	}
	if len(c.Architectures) > 0 && c.Kind() == KindUnknown {
		return bad("architectures", "%q is neither a *ForSequenceClassification reranker nor an XLMRobertaModel embedder", c.Architectures)
	}
	return c.checkLabels(c.Kind())
}
