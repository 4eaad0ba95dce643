package xlmr

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/gorerank/gorerank/nn"
)

// Errors Forward returns for input it cannot score (wrapped with details).
var (
	ErrEmptyBatch    = errors.New("xlmr: empty batch")
	ErrEmptySequence = errors.New("xlmr: empty sequence")
	ErrTooLong       = errors.New("xlmr: sequence longer than the model allows")
	ErrBadTokenID    = errors.New("xlmr: token id outside the vocabulary")
	// ErrKind is a call the model's kind has no head for: Forward on an embedder, Embed on a
	// reranker, or an Embed output whose side file the model was loaded without.
	ErrKind = errors.New("xlmr: the model has no such head")
)

// Hook receives named intermediates of sequence seq (its index in the batch):
//
//	"embeddings"          (T,H)        embedding output after LayerNorm (HF hidden_states[0])
//	"layer.N"             (T,H)        output of encoder layer N = 0..L-1 (HF hidden_states[N+1])
//	"attention.probs.N"   (heads,T,T)  attention probabilities of layer N (HF attentions[N])
//	"logits"              (labels)     the classifier output (Forward)
//	"dense"               (H)          the dense embedding (Embed)
//	"sparse"              (T)          relu(sparse_linear(h)) of every token (Embed)
//	"colbert"             (T-1,H)      the normalised ColBERT vectors (Embed)
//
// data is only valid during the call. A nil hook costs nothing; with a hook set the attention
// probabilities are computed by an extra explicit (T² memory) pass.
type Hook func(seq int, name string, shape []int, data []float32)

// Timings, when set on a Scratch, accumulates wall time per stage and per operation across
// Forward calls (for `rerank bench`). Nil costs nothing. Attention covers the q/k/v
// projections, the attention itself, the output projection and its residual LayerNorm; FFN
// the rest of a layer. The operation fields split them (summed over all layers):
//
//	Attention = QKV + Attend + AttnOut + AttnNorm
//	FFN       = FFNUp + FFNDown + FFNNorm
//
// QKV, AttnOut, FFNUp and FFNDown are the linear layers (with their bias; FFNUp with the
// GELU; at precision Int8 with the quantization of their input), Attend is
// softmax(q·kᵀ/√d)·v, the Norm fields the residual adds with their LayerNorm.
type Timings struct {
	Embeddings, Attention, FFN, Head time.Duration

	QKV, Attend, AttnOut, AttnNorm, FFNUp, FFNDown, FFNNorm time.Duration
}

// Scratch holds the activations of one in-flight batch. Reuse it across calls from one
// goroutine at a time; it grows to the largest batch it has seen and never shrinks.
type Scratch struct {
	Timings *Timings // optional per-stage timing

	// activations, rows = all tokens of all sequences (N), packed without padding
	x         []float32 // (N,H) the residual stream
	q, k, v   []float32 // (N,H)
	ctx       []float32 // (N,H) attention output before the output projection
	tmp       []float32 // (C,H) feed-forward outputs, C = min(N, ffnRows)
	h         []float32 // (C,I) feed-forward activations
	pos       []int32   // (N) position ids
	offs      []int     // (B+1) first row of each sequence
	work      []float32 // fused-attention tile
	cls, cls2 []float32 // (B,H) token 0 of each sequence through the classifier
	probs     []float32 // (heads,T,T) only when a hook asks for attention probabilities
}

// ffnRows bounds the rows of one feed-forward pass. Its (rows, I) intermediate would be the
// largest activation of a long batch (16 KiB a token, 40% of the total), so the FFN runs over
// chunks of this many tokens: each row's result is the same, and the GEMMs prepare their
// activations in chunks of 2048 rows anyway. A variable for tests.
var ffnRows = 2048

// NewScratch returns an empty scratch that grows to the largest batch it sees.
func (m *Model) NewScratch() *Scratch { return &Scratch{} }

// ScratchPool keeps scratches for reuse by concurrent callers (the zero value is ready). Unlike
// a sync.Pool, the garbage collector does not empty it: a long batch's activations (hundreds
// of MB) stay allocated between calls instead of being dropped and allocated again while the
// old pages are still held, which raised a server's peak RSS by a scratch's size. It holds at
// most as many scratches as calls ever ran at once.
type ScratchPool struct {
	mu   sync.Mutex
	free []*Scratch
}

// Get returns a free scratch, or a new one.
func (p *ScratchPool) Get() *Scratch {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		s := p.free[n-1]
		p.free = p.free[:n-1]
		return s
	}
	return &Scratch{}
}

// Put returns s to the pool; s must not be used afterwards.
func (p *ScratchPool) Put(s *Scratch) {
	p.mu.Lock()
	p.free = append(p.free, s)
	p.mu.Unlock()
}

// grow returns buf resliced to n elements, reallocating only when its capacity is short.
func grow[T any](buf []T, n int) []T {
	if cap(buf) < n {
		return make([]T, n)
	}
	return buf[:n]
}

// Forward scores a batch of token-id sequences of any lengths (no padding needed) and
// writes one logit per sequence into logits (len(logits) >= len(seqs)). Every token is
// attended to; ids are as the tokenizer produced them (<s> … </s></s> … </s>), token type 0.
// hook may be nil. After the first call with a batch of a given size, Forward does not
// allocate unless a hook is set. Only a Reranker has the classifier (ErrKind otherwise).
func (m *Model) Forward(s *Scratch, seqs [][]int32, logits []float32, hook Hook) error {
	if m.Kind != Reranker {
		return fmt.Errorf("%w: Forward needs a reranker's classifier; this model is an %s (Embed)", ErrKind, m.Kind)
	}
	L, B := m.Config.NumLabels, len(seqs)
	if B > 0 && len(logits) < B*L {
		return fmt.Errorf("xlmr: logits holds %d values, the batch needs %d", len(logits), B*L)
	}
	n, err := m.check(seqs)
	if err != nil {
		return err
	}
	// Without a hook the classifier reads nothing but token 0 of the last layer's output.
	t0 := m.encode(s, seqs, n, hook == nil, hook)
	m.classify(s, logits[:B*L], B)
	s.lap(t0, stageHead)
	if hook != nil {
		for i := range B {
			hook(i, "logits", []int{L}, logits[i*L:(i+1)*L])
		}
	}
	return nil
}

// encode runs the encoder over the packed batch: embeddings, then every layer. Afterwards
// cls (B,H) holds each sequence's last hidden state at token 0, and, unless firstOnly, x
// (N,H) holds every token's; q, k, v and ctx are free for the head. With firstOnly the last
// layer computes keys and values for every token and the rest for token 0 only (each row's
// result is the same either way). It returns the start time of the head for Timings.
func (m *Model) encode(s *Scratch, seqs [][]int32, n int, firstOnly bool, hook Hook) time.Time {
	cfg := &m.Config
	H, I, B := cfg.HiddenSize, cfg.IntermediateSize, len(seqs)
	s.x, s.q, s.k, s.v = grow(s.x, n*H), grow(s.q, n*H), grow(s.k, n*H), grow(s.v, n*H)
	c := min(n, ffnRows)
	s.ctx, s.tmp, s.h = grow(s.ctx, n*H), grow(s.tmp, c*H), grow(s.h, c*I)
	s.pos, s.offs = grow(s.pos, n), grow(s.offs, B+1)
	s.work = grow(s.work, nn.AttentionWorkSize())
	s.cls, s.cls2 = grow(s.cls, B*H), grow(s.cls2, B*H)
	s.offs[0] = 0
	for i, seq := range seqs {
		s.offs[i+1] = s.offs[i] + len(seq)
	}

	t0 := s.start()
	m.embed(s, seqs, n)
	s.hookRows(hook, "embeddings", H)
	t0 = s.lap(t0, stageEmbeddings)

	full := len(m.Layers)
	if firstOnly {
		full--
	}
	for li := range full {
		t0 = m.encoderLayer(s, &m.Layers[li], li, n, hook, t0)
		if hook != nil {
			s.hookRows(hook, fmt.Sprintf("layer.%d", li), H)
		}
	}
	for i := range B {
		copy(s.cls[i*H:(i+1)*H], s.x[s.offs[i]*H:]) // cls[i] = x[first token of i]   (B,H)
	}
	if full < len(m.Layers) {
		t0 = m.lastLayerFirstTokens(s, &m.Layers[full], n, B, t0)
	}
	return t0
}

// check validates a batch before any work: non-empty, no sequence longer than MaxTokens,
// every id inside the vocabulary. It returns the total token count.
func (m *Model) check(seqs [][]int32) (int, error) {
	if len(seqs) == 0 {
		return 0, ErrEmptyBatch
	}
	n, maxT, vocab := 0, m.MaxTokens(), int32(m.Config.VocabSize)
	for i, seq := range seqs {
		if len(seq) == 0 {
			return 0, fmt.Errorf("%w: sequence %d has no tokens", ErrEmptySequence, i)
		}
		if len(seq) > maxT {
			return 0, fmt.Errorf("%w: sequence %d has %d tokens, the limit is %d (max_position_embeddings %d - pad_token_id %d - 1)",
				ErrTooLong, i, len(seq), maxT, m.Config.MaxPositionEmbeddings, m.Config.PadTokenID)
		}
		for j, id := range seq {
			if id < 0 || id >= vocab {
				return 0, fmt.Errorf("%w: sequence %d token %d is %d (vocab_size %d)", ErrBadTokenID, i, j, id, vocab)
			}
		}
		n += len(seq)
	}
	return n, nil
}

// embed computes x (N,H) = LayerNorm(word[ids] + position[pos] + token_type[0]).
// Positions follow HF create_position_ids_from_input_ids: a token that is not the pad id gets
// pad_token_id + (its rank among the sequence's non-pad tokens); the pad id itself gets
// pad_token_id. Without padding that is pad_token_id+1, +2, … for ordinary sequences.
func (m *Model) embed(s *Scratch, seqs [][]int32, n int) {
	cfg, e := &m.Config, &m.Embeddings
	H, pad := cfg.HiddenSize, int32(cfg.PadTokenID)
	for i, seq := range seqs {
		pos, rank := s.pos[s.offs[i]:s.offs[i+1]], pad
		for j, id := range seq {
			if id == pad {
				pos[j] = pad
				continue
			}
			rank++
			pos[j] = rank
		}
		if e.WordEmbeddings != nil {
			nn.Gather(s.x[s.offs[i]*H:], e.WordEmbeddings, seq, H) // x = word[ids]   (T,H)
		} else {
			nn.GatherHalf(s.x[s.offs[i]*H:], e.WordEmbeddings16, seq, H, e.WordEmbeddings16Format)
		}
	}
	x, eps, p := s.x[:n*H], float32(cfg.LayerNormEps), s.q[:n*H]        // q is free until the first layer
	nn.Gather(p, e.PositionEmbeddings, s.pos[:n], H)                    // p = position[pos]     (N,H)
	nn.Add(x, p)                                                        // x += p                (N,H)
	nn.AddRow(x, e.TokenTypeEmbeddings[:H], n, H)                       // x += token_type[0]    (N,H)
	nn.LayerNorm(x, x, e.LayerNorm.Weight, e.LayerNorm.Bias, n, H, eps) // x = LN(x)             (N,H)
}

// encoderLayer is one post-LayerNorm transformer layer over all N packed tokens:
//
//	x = LN(x + Attention(x)·Woᵀ + bo);  x = LN(x + GELU(x·W1ᵀ + b1)·W2ᵀ + b2)
func (m *Model) encoderLayer(s *Scratch, y *Layer, li, n int, hook Hook, t0 time.Time) time.Time {
	H := m.Config.HiddenSize
	x, ctx, sa := s.x[:n*H], s.ctx[:n*H], &y.Attention.Self

	sa.Query.Forward(s.q, x, n) // q = x·Wqᵀ + bq                 (N,H)
	sa.Key.Forward(s.k, x, n)   // k = x·Wkᵀ + bk                 (N,H)
	sa.Value.Forward(s.v, x, n) // v = x·Wvᵀ + bv                 (N,H)
	t0 = s.lap(t0, opQKV)
	m.attention(s, ctx, li, hook) // ctx = softmax(q·kᵀ/√d)·v       (N,H) per sequence, head
	t0 = s.lap(t0, opAttend)
	t0 = m.attentionOutput(s, y, x, ctx, n, t0) // x = LN(x + ctx·Woᵀ + bo)   (N,H)
	return m.feedForward(s, y, x, n, t0)        // x = LN(x + GELU(x·W1ᵀ + b1)·W2ᵀ + b2)
}

// lastLayerFirstTokens is encoderLayer for the output rows the classifier reads: cls (B,H)
// holds token 0 of every sequence and is overwritten with its layer output. Keys and values
// still come from all N tokens.
//
//	q = cls·Wqᵀ + bq;  ctx = softmax(q·kᵀ/√d)·v;  cls = LN(cls + ctx·Woᵀ + bo)
//	cls = LN(cls + GELU(cls·W1ᵀ + b1)·W2ᵀ + b2)
func (m *Model) lastLayerFirstTokens(s *Scratch, y *Layer, n, b int, t0 time.Time) time.Time {
	H := m.Config.HiddenSize
	heads, hd, scale := m.heads()
	x, cls, ctx, sa := s.x[:n*H], s.cls[:b*H], s.ctx[:b*H], &y.Attention.Self

	sa.Key.Forward(s.k, x, n)     // k = x·Wkᵀ + bk     (N,H)
	sa.Value.Forward(s.v, x, n)   // v = x·Wvᵀ + bv     (N,H)
	sa.Query.Forward(s.q, cls, b) // q = cls·Wqᵀ + bq   (B,H)
	t0 = s.lap(t0, opQKV)
	nn.AttentionPackedFirst(ctx, H, s.q, H, s.k, s.v, H, s.offs, heads, hd, scale, s.work) // ctx = attention   (B,H)
	t0 = s.lap(t0, opAttend)
	t0 = m.attentionOutput(s, y, cls, ctx, b, t0) // cls = LN(cls + ctx·Woᵀ + bo)
	return m.feedForward(s, y, cls, b, t0)        // cls = LN(cls + GELU(cls·W1ᵀ + b1)·W2ᵀ + b2)
}

// attentionOutput computes x (rows,H) = LN(x + ctx·Woᵀ + bo), the attention sub-layer's
// projection and residual LayerNorm. The projection lands in q, whose rows the attention has
// consumed. t0 and the result are Timings' lap marks.
func (m *Model) attentionOutput(s *Scratch, y *Layer, x, ctx []float32, rows int, t0 time.Time) time.Time {
	H, eps := m.Config.HiddenSize, float32(m.Config.LayerNormEps)
	ao, p := &y.Attention.Output, s.q[:rows*H]
	ao.Dense.Forward(p, ctx, rows) // p = ctx·Woᵀ + bo   (rows,H)
	t0 = s.lap(t0, opAttnOut)
	nn.AddLayerNorm(x, p, x, ao.LayerNorm.Weight, ao.LayerNorm.Bias, rows, H, eps) // x = LN(p + x)      (rows,H)
	return s.lap(t0, opAttnNorm)
}

// feedForward computes x (rows,H) = LN(x + GELU(x·W1ᵀ + b1)·W2ᵀ + b2), ffnRows rows at a time.
// t0 and the result are Timings' lap marks.
func (m *Model) feedForward(s *Scratch, y *Layer, x []float32, rows int, t0 time.Time) time.Time {
	H, I, eps := m.Config.HiddenSize, m.Config.IntermediateSize, float32(m.Config.LayerNormEps)
	ff := &y.Output
	for r0 := 0; r0 < rows; r0 += ffnRows {
		c := min(ffnRows, rows-r0)
		xc, h, tmp := x[r0*H:(r0+c)*H], s.h[:c*I], s.tmp[:c*H]
		y.Intermediate.Dense.ForwardGELU(h, xc, c) // h = GELU(x·W1ᵀ + b1) (c,I)
		t0 = s.lap(t0, opFFNUp)
		ff.Dense.Forward(tmp, h, c) // tmp = h·W2ᵀ + b2     (c,H)
		t0 = s.lap(t0, opFFNDown)
		nn.AddLayerNorm(xc, tmp, xc, ff.LayerNorm.Weight, ff.LayerNorm.Bias, c, H, eps) // x = LN(tmp + x)      (c,H)
		t0 = s.lap(t0, opFFNNorm)
	}
	return t0
}

// heads returns the head count, the head size and the attention scale 1/√(head size).
func (m *Model) heads() (heads, hd int, scale float32) {
	heads = m.Config.NumAttentionHeads
	hd = m.Config.HiddenSize / heads
	return heads, hd, float32(1 / math.Sqrt(float64(hd)))
}

// attention computes ctx = softmax(q·kᵀ·scale)·v for each sequence and head with the fused
// (tiled, online-softmax) kernel. With a hook it also computes and reports the probabilities.
func (m *Model) attention(s *Scratch, ctx []float32, li int, hook Hook) {
	H := m.Config.HiddenSize
	heads, hd, scale := m.heads()
	nn.AttentionPacked(ctx, H, s.q, s.k, s.v, H, s.offs, heads, hd, scale, s.work) // (N,H)
	if hook == nil {
		return
	}
	for i := 0; i+1 < len(s.offs); i++ {
		r0, t := s.offs[i], s.offs[i+1]-s.offs[i]
		s.probs = grow(s.probs, heads*t*t)
		nn.AttentionProbs(s.probs, s.q[r0*H:], s.k[r0*H:], H, t, heads, hd, scale) // (heads,T,T)
		hook(i, fmt.Sprintf("attention.probs.%d", li), []int{heads, t, t}, s.probs)
	}
}

// hookRows hands every sequence's rows of x to the hook under name.
func (s *Scratch) hookRows(hook Hook, name string, H int) {
	if hook == nil {
		return
	}
	for i := 0; i+1 < len(s.offs); i++ {
		t := s.offs[i+1] - s.offs[i]
		hook(i, name, []int{t, H}, s.x[s.offs[i]*H:s.offs[i+1]*H])
	}
}

// stage is a Timings bucket: a stage outside the layers, or an operation of a layer.
type stage int

const (
	stageEmbeddings stage = iota
	opQKV
	opAttend
	opAttnOut
	opAttnNorm
	opFFNUp
	opFFNDown
	opFFNNorm
	stageHead
)

// start returns the current time when timings are on, the zero time otherwise.
func (s *Scratch) start() time.Time {
	if s.Timings == nil {
		return time.Time{}
	}
	return time.Now()
}

// lap adds the time since t0 to stage st and returns the new start.
func (s *Scratch) lap(t0 time.Time, st stage) time.Time {
	if s.Timings == nil {
		return t0
	}
	now := time.Now()
	d, t := now.Sub(t0), s.Timings
	switch st {
	case stageEmbeddings:
		t.Embeddings += d
	case stageHead:
		t.Head += d
	case opQKV:
		t.QKV += d
	case opAttend:
		t.Attend += d
	case opAttnOut:
		t.AttnOut += d
	case opAttnNorm:
		t.AttnNorm += d
	case opFFNUp:
		t.FFNUp += d
	case opFFNDown:
		t.FFNDown += d
	case opFFNNorm:
		t.FFNNorm += d
	}
	switch {
	case st >= opQKV && st <= opAttnNorm:
		t.Attention += d
	case st >= opFFNUp && st <= opFFNNorm:
		t.FFN += d
	}
	return now
}
