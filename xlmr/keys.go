package xlmr

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// This file is the checkpoint key table: the one place that names every tensor of both model
// kinds with its shape. Loading (model.go), int8 quantization (quantize.go) and random
// checkpoints (internal/randmodel) all read it; nothing else spells a key.

// Kind is what a checkpoint holds. It picks the key table and the head.
type Kind int

const (
	// KindUnknown is a config.json that names no architecture: Load decides from the keys
	// (classifier.out_proj.weight present: Reranker, else Embedder).
	KindUnknown Kind = iota
	// Reranker is XLMRobertaForSequenceClassification with one label (BAAI/bge-reranker-v2-m3):
	// the roberta.* encoder and classifier.{dense,out_proj}. Forward gives one logit per sequence.
	Reranker
	// Embedder is XLMRobertaModel (BAAI/bge-m3): the encoder without a task head (pooler.dense,
	// when present, is not used), plus bge-m3's optional side files sparse_linear and
	// colbert_linear. Embed gives the dense, sparse and ColBERT outputs.
	Embedder
)

func (k Kind) String() string {
	switch k {
	case Reranker:
		return "reranker"
	case Embedder:
		return "embedder"
	}
	return "unknown"
}

// kindOf maps one config.json architecture to a kind: *ForSequenceClassification is a
// reranker, the bare XLMRobertaModel / RobertaModel an embedder; anything else (…ForMaskedLM,
// …ForTokenClassification) is KindUnknown.
func kindOf(arch string) Kind {
	switch {
	case strings.HasSuffix(arch, "ForSequenceClassification"):
		return Reranker
	case arch == "XLMRobertaModel" || arch == "RobertaModel":
		return Embedder
	}
	return KindUnknown
}

// ModuleType says which tensors a module has.
type ModuleType int

const (
	ModuleEmbedding ModuleType = iota // Key.weight (Out rows, In = H)
	ModuleLinear                      // Key.weight (Out, In), Key.bias (Out): y = x·Wᵀ + b
	ModuleLayerNorm                   // Key.weight (Out), Key.bias (Out)
)

// Module is one entry of the key table: a checkpoint module and the shape config.json implies.
type Module struct {
	// Key is the checkpoint key before ".weight" / ".bias", as in the file:
	// "roberta.encoder.layer.3.attention.self.query". A side file's module has Key "": its
	// tensors are plain "weight" and "bias" (a torch.save of the nn.Linear's state_dict).
	Key     string
	Type    ModuleType
	Out, In int // see ModuleType; In is 0 for a LayerNorm
	// File is the side file holding the module, by base name ("sparse_linear": the
	// sparse_linear.safetensors or sparse_linear.pt beside the model), "" for the main
	// checkpoint.
	File string
	// Int8 marks the linears precision nn.Int8 keeps in int8: the encoder's. Embeddings,
	// LayerNorms and heads stay in floating point (one token per sequence, or a tiny matrix).
	Int8 bool
	// Unused marks a module the published checkpoint has and the forward pass does not read
	// (bge-m3's pooler.dense): Load neither reads nor reports it as unknown.
	Unused bool
}

// Weight is the key of the module's weight tensor within its file.
func (m Module) Weight() string { return join(m.Key, "weight") }

// Bias is the key of the module's bias tensor within its file ("" for an embedding table).
func (m Module) Bias() string {
	if m.Type == ModuleEmbedding {
		return ""
	}
	return join(m.Key, "bias")
}

// WeightShape is the weight's shape: (Out, In), or (Out) for a LayerNorm.
func (m Module) WeightShape() []int {
	if m.Type == ModuleLayerNorm {
		return []int{m.Out}
	}
	return []int{m.Out, m.In}
}

func join(key, name string) string {
	if key == "" {
		return name
	}
	return key + "." + name
}

// The side files of bge-m3 (FlagEmbedding's BGEM3FlagModel), by base name, and the extensions
// tried for each, in order (a safetensors conversion first, like weights.OpenCheckpoint).
const (
	SparseFile  = "sparse_linear"  // weight (1,H), bias (1): the sparse (lexical) weight of each token
	ColBERTFile = "colbert_linear" // weight (H,H), bias (H): the ColBERT vector of each token
)

var sideFileExts = []string{".safetensors", ".pt"}

// LayerKeys is the key table of one encoder layer, field for field like Layer.
type LayerKeys struct {
	Query, Key, Value Module // attention.self.{query,key,value}   (H,H)
	AttentionOutput   Module // attention.output.dense              (H,H)
	AttentionNorm     Module // attention.output.LayerNorm          (H)
	Intermediate      Module // intermediate.dense                  (I,H)
	Output            Module // output.dense                        (H,I)
	OutputNorm        Module // output.LayerNorm                    (H)
}

// Keys is the checkpoint key table of one model: every module of its kind with the shape
// config.json implies, shaped like Model. Modules lists them all.
type Keys struct {
	Kind Kind
	// Prefix is what the encoder's keys start with: "roberta." for a reranker (HF's
	// base_model_prefix, always present in a task model) and for a base model saved from one;
	// "" for a base model saved on its own, as BAAI/bge-m3's pytorch_model.bin is.
	Prefix     string
	Embeddings struct {
		Word, Position, TokenType Module // embeddings.{word,position,token_type}_embeddings (V,H) (P,H) (Y,H)
		LayerNorm                 Module // embeddings.LayerNorm (H)
	}
	Layers []LayerKeys // encoder.layer.N

	// Reranker only.
	Classifier struct {
		Dense   Module // classifier.dense     (H,H)
		OutProj Module // classifier.out_proj  (labels,H)
	}

	// Embedder only.
	Pooler  Module // pooler.dense (H,H): Unused
	Sparse  Module // sparse_linear file: weight (1,H), bias (1)
	ColBERT Module // colbert_linear file: weight (H,H), bias (H)

	modules []Module
}

// NewKeys writes the key table of a model of kind k (Reranker or Embedder) for cfg's sizes,
// with the encoder's keys under prefix. Only the sizes of cfg are read (vocab, hidden,
// intermediate, layers, positions, token types, and num_labels for a reranker).
func NewKeys(cfg Config, k Kind, prefix string) *Keys {
	V, H, I := cfg.VocabSize, cfg.HiddenSize, cfg.IntermediateSize
	t := &Keys{Kind: k, Prefix: prefix}
	add := func(m Module) Module { t.modules = append(t.modules, m); return m }
	table := func(key string, rows int) Module {
		return add(Module{Key: key, Type: ModuleEmbedding, Out: rows, In: H})
	}
	linear := func(key string, out, in int) Module {
		return add(Module{Key: key, Type: ModuleLinear, Out: out, In: in})
	}
	int8Linear := func(key string, out, in int) Module {
		return add(Module{Key: key, Type: ModuleLinear, Out: out, In: in, Int8: true})
	}
	norm := func(key string) Module { return add(Module{Key: key, Type: ModuleLayerNorm, Out: H}) }

	e, p := &t.Embeddings, prefix+"embeddings."
	e.Word = table(p+"word_embeddings", V)
	e.Position = table(p+"position_embeddings", cfg.MaxPositionEmbeddings)
	e.TokenType = table(p+"token_type_embeddings", cfg.TypeVocabSize)
	e.LayerNorm = norm(p + "LayerNorm")

	t.Layers = make([]LayerKeys, cfg.NumHiddenLayers)
	for i := range t.Layers {
		p, y := prefix+"encoder.layer."+strconv.Itoa(i)+".", &t.Layers[i]
		y.Query = int8Linear(p+"attention.self.query", H, H)
		y.Key = int8Linear(p+"attention.self.key", H, H)
		y.Value = int8Linear(p+"attention.self.value", H, H)
		y.AttentionOutput = int8Linear(p+"attention.output.dense", H, H)
		y.AttentionNorm = norm(p + "attention.output.LayerNorm")
		y.Intermediate = int8Linear(p+"intermediate.dense", I, H)
		y.Output = int8Linear(p+"output.dense", H, I)
		y.OutputNorm = norm(p + "output.LayerNorm")
	}

	switch k {
	case Reranker:
		t.Classifier.Dense = linear("classifier.dense", H, H)
		t.Classifier.OutProj = linear("classifier.out_proj", cfg.NumLabels, H)
	case Embedder:
		t.Pooler = add(Module{Key: prefix + "pooler.dense", Type: ModuleLinear, Out: H, In: H, Unused: true})
		t.Sparse = add(Module{Type: ModuleLinear, Out: 1, In: H, File: SparseFile})
		t.ColBERT = add(Module{Type: ModuleLinear, Out: H, In: H, File: ColBERTFile})
	}
	return t
}

// Modules is every module of the table in model order: embeddings, layers, head.
func (t *Keys) Modules() []Module { return slices.Clone(t.modules) }

// Files is the side files of the table's kind, by base name (none for a reranker).
func (t *Keys) Files() []string {
	var fs []string
	for _, m := range t.modules {
		if m.File != "" && !slices.Contains(fs, m.File) {
			fs = append(fs, m.File)
		}
	}
	return fs
}

// keysFor is the key table of the checkpoint whose main file holds names: the kind from
// config.json (or, when it names no architecture, classifier.out_proj.weight present or not),
// the prefix from the names (see Keys.Prefix). A reranker must then have num_labels 1.
func keysFor(cfg Config, names []string) (*Keys, error) {
	k := cfg.Kind()
	if k == KindUnknown {
		k = Embedder
		if slices.Contains(names, "classifier.out_proj.weight") {
			k = Reranker
		}
	}
	if err := cfg.checkLabels(k); err != nil {
		return nil, err
	}
	prefix := "roberta."
	if k == Embedder && !slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, prefix) }) {
		prefix = ""
	}
	return NewKeys(cfg, k, prefix), nil
}

// Kind is the model kind config.json's architectures name (KindUnknown when it names none).
func (c *Config) Kind() Kind {
	for _, a := range c.Architectures {
		if k := kindOf(a); k != KindUnknown {
			return k
		}
	}
	return KindUnknown
}

// checkLabels rejects a reranker that does not have exactly one label.
func (c *Config) checkLabels(k Kind) error {
	if k == Reranker && c.NumLabels != 1 {
		return &ConfigError{Field: "id2label", Reason: fmt.Sprintf("the model has %d labels; only single-logit rerankers (num_labels 1) are supported", c.NumLabels)}
	}
	return nil
}
