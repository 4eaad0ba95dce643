package server

import (
	"fmt"
	"strings"
	"sync"

	"github.com/gorerank/gorerank/tokenizer"
	"github.com/gorerank/gorerank/xlmr"
)

// XLMREngine adapts a loaded xlmr.Model and its tokenizer to [Engine]. Scratch buffers are
// pooled, one per concurrent Score call.
type XLMREngine struct {
	model    *xlmr.Model
	tok      *tokenizer.Tokenizer
	info     ModelInfo
	bos, eos int32
	scratch  sync.Pool
}

// NewXLMREngine wraps m and tok. info.Type, DType, MaxTokens and Config are filled in from
// the model when empty.
func NewXLMREngine(m *xlmr.Model, tok *tokenizer.Tokenizer, info ModelInfo) (*XLMREngine, error) {
	if tok.VocabSize() > m.Config.VocabSize {
		return nil, fmt.Errorf("server: the tokenizer has %d ids but the model's vocabulary only %d", tok.VocabSize(), m.Config.VocabSize)
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
	e := &XLMREngine{model: m, tok: tok, info: info, bos: int32(m.Config.BosTokenID), eos: int32(m.Config.EosTokenID)}
	e.scratch.New = func() any { return m.NewScratch() }
	return e, nil
}

// Encode implements [Engine].
func (e *XLMREngine) Encode(text string, o tokenizer.Options) (*tokenizer.Encoding, error) {
	return e.tok.Encode(text, o)
}

// EncodePair implements [Engine].
func (e *XLMREngine) EncodePair(q, d string, o tokenizer.Options) (*tokenizer.Encoding, error) {
	return e.tok.EncodePair(q, d, o)
}

// JoinPair implements [Engine] with the XLM-R pair template <s> q </s></s> d </s>.
func (e *XLMREngine) JoinPair(q, d []int32) []int32 {
	out := make([]int32, 0, len(q)+len(d)+4)
	out = append(out, e.bos)
	out = append(out, q...)
	out = append(out, e.eos, e.eos)
	out = append(out, d...)
	return append(out, e.eos)
}

// PairSpecials implements [Engine].
func (e *XLMREngine) PairSpecials() int { return 4 }

// Score implements [Engine].
func (e *XLMREngine) Score(seqs [][]int32, logits []float32) error {
	s := e.scratch.Get().(*xlmr.Scratch)
	defer e.scratch.Put(s)
	return e.model.Forward(s, seqs, logits, nil)
}

// Info implements [Engine].
func (e *XLMREngine) Info() ModelInfo { return e.info }
