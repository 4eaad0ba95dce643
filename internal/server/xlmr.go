package server

import (
	"errors"
	"strings"

	"github.com/gorerank/gorerank"
	"github.com/gorerank/gorerank/tokenizer"
	"github.com/gorerank/gorerank/xlmr"
)

// XLMREngine adapts a model loaded by gorerank.LoadModel to [Engine]. Scratch buffers are
// pooled (xlmr.ScratchPool), one per concurrent Score call.
type XLMREngine struct {
	l       *gorerank.Loaded
	info    ModelInfo
	scratch xlmr.ScratchPool
}

// NewXLMREngine wraps l (which must have its tokenizer). info.Type, DType, MaxTokens and
// Config are filled in from the model when empty.
func NewXLMREngine(l *gorerank.Loaded, info ModelInfo) (*XLMREngine, error) {
	if l.Tokenizer == nil || l.Pipeline == nil {
		return nil, errors.New("server: the model was loaded without its tokenizer")
	}
	m := l.Model
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
	e := &XLMREngine{l: l, info: info}
	return e, nil
}

// Pipeline implements [Engine].
func (e *XLMREngine) Pipeline() *gorerank.Pipeline { return e.l.Pipeline }

// Encode implements [Engine].
func (e *XLMREngine) Encode(text string, o tokenizer.Options) (*tokenizer.Encoding, error) {
	return e.l.Tokenizer.Encode(text, o)
}

// Token implements [Engine].
func (e *XLMREngine) Token(id int32) string { return e.l.Tokenizer.Token(id) }

// Score implements [Engine].
func (e *XLMREngine) Score(seqs [][]int32, logits []float32) error {
	s := e.scratch.Get()
	defer e.scratch.Put(s)
	return e.l.Model.Forward(s, seqs, logits, nil)
}

// Info implements [Engine].
func (e *XLMREngine) Info() ModelInfo { return e.info }
