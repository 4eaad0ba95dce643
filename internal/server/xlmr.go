package server

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gorerank/gorerank"
	"github.com/gorerank/gorerank/tokenizer"
	"github.com/gorerank/gorerank/xlmr"
)

// loadedModel is what both adapters below share: a model loaded by gorerank.LoadModel with
// its tokenizer, its description, and scratch buffers pooled (xlmr.ScratchPool), one per
// concurrent forward pass.
type loadedModel struct {
	l       *gorerank.Loaded
	info    ModelInfo
	scratch xlmr.ScratchPool
}

// describe checks that l has its tokenizer and is of kind k, and fills in the empty fields
// of info from the model.
func describe(l *gorerank.Loaded, info ModelInfo, k xlmr.Kind) (ModelInfo, error) {
	if l.Tokenizer == nil || l.Pipeline == nil {
		return info, errors.New("server: the model was loaded without its tokenizer")
	}
	m := l.Model
	if m.Kind != k {
		return info, fmt.Errorf("server: %s is a %s, not a %s: %w", info.ID, m.Kind, k, xlmr.ErrKind)
	}
	if info.Type == "" {
		info.Type = m.Config.ModelType
	}
	if info.DType == "" {
		info.DType = strings.ToLower(m.Report.DType)
	}
	if info.MaxTokens == 0 {
		info.MaxTokens = m.MaxTokens()
	}
	if info.Config == nil {
		info.Config = m.Config
	}
	return info, nil
}

// Pipeline implements [Engine] and [EmbedEngine].
func (e *loadedModel) Pipeline() *gorerank.Pipeline { return e.l.Pipeline }

// Encode implements [Engine] and [EmbedEngine].
func (e *loadedModel) Encode(text string, o tokenizer.Options) (*tokenizer.Encoding, error) {
	return e.l.Tokenizer.Encode(text, o)
}

// Token implements [Engine] and [EmbedEngine].
func (e *loadedModel) Token(id int32) string { return e.l.Tokenizer.Token(id) }

// Info implements [Engine] and [EmbedEngine].
func (e *loadedModel) Info() ModelInfo { return e.info }

// XLMREngine adapts a reranker loaded by gorerank.LoadModel to [Engine].
type XLMREngine struct{ loadedModel }

// NewXLMREngine wraps l (which must have its tokenizer and be a reranker). info.Type, DType,
// MaxTokens and Config are filled in from the model when empty.
func NewXLMREngine(l *gorerank.Loaded, info ModelInfo) (*XLMREngine, error) {
	info, err := describe(l, info, xlmr.Reranker)
	if err != nil {
		return nil, err
	}
	return &XLMREngine{loadedModel{l: l, info: info}}, nil
}

// Score implements [Engine].
func (e *XLMREngine) Score(seqs [][]int32, logits []float32) error {
	s := e.scratch.Get()
	defer e.scratch.Put(s)
	return e.l.Model.Forward(s, seqs, logits, nil)
}

// XLMREmbedder adapts an embedder loaded by gorerank.LoadModel (bge-m3: xlmr.Embedder) to
// [EmbedEngine].
type XLMREmbedder struct{ loadedModel }

// NewXLMREmbedder wraps l (which must have its tokenizer and be an embedder). info.Type,
// DType, MaxTokens and Config are filled in from the model when empty.
func NewXLMREmbedder(l *gorerank.Loaded, info ModelInfo) (*XLMREmbedder, error) {
	info, err := describe(l, info, xlmr.Embedder)
	if err != nil {
		return nil, err
	}
	return &XLMREmbedder{loadedModel{l: l, info: info}}, nil
}

// Embed implements [EmbedEngine].
func (e *XLMREmbedder) Embed(seqs [][]int32, want xlmr.Outputs, out []xlmr.Embedding) error {
	s := e.scratch.Get()
	defer e.scratch.Put(s)
	return e.l.Model.Embed(s, seqs, want, out, nil)
}

// Outputs implements [EmbedEngine].
func (e *XLMREmbedder) Outputs() xlmr.Outputs { return e.l.Model.Heads() }

// Dim implements [EmbedEngine].
func (e *XLMREmbedder) Dim() int { return e.l.Model.Config.HiddenSize }

// Vocab implements [EmbedEngine].
func (e *XLMREmbedder) Vocab() int { return e.l.Model.Config.VocabSize }
