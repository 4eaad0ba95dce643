package gorerank

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/gorerank/gorerank/internal/hub"
	"github.com/gorerank/gorerank/tokenizer"
	"github.com/gorerank/gorerank/xlmr"
)

// Options configure Open and LoadModel.
type Options struct {
	// TokenizerPath is the tokenizer.json to use; default: the model folder's tokenizer.json.
	TokenizerPath string
	// WeightsFile picks the weights instead of the folder's default (model.safetensors, or
	// the shards of model.safetensors.index.json, else pytorch_model.bin): a .safetensors
	// file, a PyTorch .bin, or a shard index (*.json). A relative path is relative to the
	// model folder, whoever passes it (the CLI's --weights included).
	WeightsFile string
	DType       DType        // how linear weights are kept; default F32
	BatchTokens int          // token budget per forward pass; default DefaultBatchTokens
	Logger      *slog.Logger // load diagnostics; nil: none

	// Revision is the hub revision (branch, tag or commit) when the model is a hub id;
	// default "main".
	Revision string
	// HubProgress, when not nil, receives download progress for a hub id.
	HubProgress io.Writer
	// NoTokenizer loads the model alone (LoadModel only; Loaded.Tokenizer and Pipeline
	// are nil): for callers that bring token ids.
	NoTokenizer bool
}

// Loaded is a resolved and loaded model folder: what Open wraps, and what the CLI's
// subcommands and the server use.
type Loaded struct {
	Dir       string // the local model folder
	Revision  string // the hub commit, when known
	Tokenizer *tokenizer.Tokenizer
	Model     *xlmr.Model
	Pipeline  *Pipeline
}

// Close releases the model's memory map.
func (l *Loaded) Close() error { return l.Model.Close() }

// resolveModel turns a model reference into a local folder (see LoadModel).
func resolveModel(ctx context.Context, model string, o Options) (dir, revision string, err error) {
	dir, revision, err = hub.Resolve(ctx, model, hub.Options{Revision: o.Revision, Progress: o.HubProgress, Logger: o.Logger})
	if err != nil {
		return "", "", fmt.Errorf("gorerank: %w", err)
	}
	return dir, revision, nil
}

// LoadModel resolves model into a local folder and loads its config, weights and tokenizer,
// checking that they fit together: every tokenizer id inside the model's vocabulary, a pair
// template of the shape prefix query middle document suffix and a single one prefix text
// suffix. It loads either kind (xlmr.Load: a reranker, or an embedder such as BAAI/bge-m3 from
// safetensors or pytorch_model.bin with its sparse_linear and colbert_linear side files; the
// tokenizer's <unk> id goes to xlmr.LoadOptions.UnkTokenID). It is the one way every door
// (library, CLI subcommands, server) opens a model; Open and OpenEmbedder then check the kind.
//
// model is a folder with config.json, a folder in the Hugging Face cache layout
// (models--org--name), or a hub id such as BAAI/bge-reranker-v2-m3, found in the HF cache or
// downloaded into it (HF_HOME, HF_HUB_CACHE, HF_HUB_OFFLINE, HF_ENDPOINT and HF_TOKEN are
// honoured). A reference that looks like a path (it starts with ".", "/" or "~", or its
// first element exists, like testdata/tiny) is never looked up on the hub: a missing or
// incomplete folder is an error saying what is missing ("no model folder at PATH: ...").
func LoadModel(ctx context.Context, model string, o Options) (*Loaded, error) {
	prec, err := o.DType.Precision()
	if err != nil {
		return nil, err
	}
	dir, rev, err := resolveModel(ctx, model, o)
	if err != nil {
		return nil, err
	}
	var tok *tokenizer.Tokenizer
	var tmpl Template
	tokPath := o.TokenizerPath
	if tokPath == "" {
		tokPath = filepath.Join(dir, "tokenizer.json")
	}
	if !o.NoTokenizer {
		if tok, err = tokenizer.Load(tokPath); err != nil {
			return nil, fmt.Errorf("gorerank: %w", err)
		}
		if tmpl, err = templateOf(tok); err != nil {
			return nil, fmt.Errorf("%w (%s)", err, tokPath)
		}
	}
	lo := xlmr.LoadOptions{WeightsFile: o.WeightsFile, Precision: prec, Logger: o.Logger}
	if tok != nil {
		if unk, ok := tok.UnkID(); ok {
			lo.UnkTokenID = unk // the sparse head drops it with the config's special ids
		}
	}
	m, err := xlmr.Load(dir, lo)
	if err != nil {
		return nil, fmt.Errorf("gorerank: %w", err)
	}
	if tok == nil {
		return &Loaded{Dir: dir, Revision: rev, Model: m}, nil
	}
	if tv := tok.VocabSize(); tv > m.Config.VocabSize {
		m.Close()
		return nil, fmt.Errorf("gorerank: tokenizer %s has %d ids, the model's vocab_size is %d", tokPath, tv, m.Config.VocabSize)
	}
	return &Loaded{Dir: dir, Revision: rev, Tokenizer: tok, Model: m, Pipeline: NewPipeline(tok, tmpl, m.MaxTokens())}, nil
}
