package xlmr

import (
	"fmt"
	"math"
	"slices"

	"github.com/gorerank/gorerank/nn"
)

// This file holds the heads: what each model kind computes from the encoder's last hidden
// states h (T,H) of a sequence. The reranker's classifier reads h[0]; bge-m3's three heads
// (FlagEmbedding's BGEM3FlagModel) read h[0] (dense) or every token (sparse, ColBERT).

// classify computes logits (B,labels) = out_proj(tanh(dense(cls))) from cls (B,H), the
// last layer's output at token 0 of each sequence.
func (m *Model) classify(s *Scratch, logits []float32, b int) {
	H, c := m.Config.HiddenSize, &m.Classifier
	c.Dense.Forward(s.cls2, s.cls, b)    // cls2 = cls·Wdᵀ + bd   (B,H)
	nn.Tanh(s.cls2[:b*H], s.cls2)        // cls2 = tanh(cls2)     (B,H)
	c.OutProj.Forward(logits, s.cls2, b) // logits = cls2·Wpᵀ + bp (B,labels)
}

// Sigmoid is the logistic function 1/(1+e^-x): the CrossEncoder score of a single logit.
func Sigmoid(x float32) float32 { return float32(1 / (1 + math.Exp(-float64(x)))) }

// Outputs selects what Embed computes (a bit set).
type Outputs uint8

const (
	// OutputDense is h[0]/‖h[0]‖: the last hidden state of the first token (<s>), L2-normalised
	// (CLS pooling).
	OutputDense Outputs = 1 << iota
	// OutputSparse is the lexical weights: w = relu(h·Wsᵀ + bs) per token, then for each token
	// id the largest w over its occurrences; the special ids (config.json's bos, eos, pad and
	// LoadOptions.UnkTokenID) and weights ≤ 0 are dropped. Needs sparse_linear.
	OutputSparse
	// OutputColBERT is the multi-vector output: c = h[1:]·Wcᵀ + bc, every token after <s>
	// (</s> included), each row L2-normalised: T-1 vectors. Needs colbert_linear.
	OutputColBERT

	OutputAll = OutputDense | OutputSparse | OutputColBERT
)

func (o Outputs) String() string {
	var s []byte
	for _, x := range []struct {
		bit  Outputs
		name string
	}{{OutputDense, "dense"}, {OutputSparse, "sparse"}, {OutputColBERT, "colbert"}} {
		if o&x.bit != 0 {
			if len(s) > 0 {
				s = append(s, '+')
			}
			s = append(s, x.name...)
		}
	}
	if len(s) == 0 {
		return "none"
	}
	return string(s)
}

// Embedding is one sequence's bge-m3 outputs. Embed fills the outputs asked for and empties
// the others, reusing the memory already there: passing the same Embeddings to the next call
// allocates nothing new once they are large enough.
type Embedding struct {
	Outputs Outputs           // which outputs this Embedding holds
	Dense   []float32         // (H), unit length
	Sparse  map[int32]float32 // token id → weight > 0
	ColBERT [][]float32       // T-1 rows of (H), unit length each (one backing array)

	colbert []float32 // ColBERT's backing array ((T-1)·H)
}

// Embed computes the outputs want of a batch of token-id sequences (<s> … </s> as the
// tokenizer gives them, any lengths, no padding) into out[i] for seqs[i]
// (len(out) >= len(seqs)). It runs the same encoder as Forward; asking for the dense output
// alone runs the last layer for token 0 only. Only an Embedder has these heads, and sparse
// and ColBERT need their side files (ErrKind otherwise). hook may be nil (see Hook).
func (m *Model) Embed(s *Scratch, seqs [][]int32, want Outputs, out []Embedding, hook Hook) error {
	if err := m.canEmbed(want); err != nil {
		return err
	}
	B := len(seqs)
	if B > 0 && len(out) < B {
		return fmt.Errorf("xlmr: out holds %d embeddings, the batch needs %d", len(out), B)
	}
	n, err := m.check(seqs)
	if err != nil {
		return err
	}
	perToken := want&(OutputSparse|OutputColBERT) != 0
	t0 := m.encode(s, seqs, n, !perToken && hook == nil, hook)
	H := m.Config.HiddenSize
	for i := range B {
		e := &out[i]
		e.Outputs, e.Dense, e.ColBERT = want, e.Dense[:0], e.ColBERT[:0]
		clear(e.Sparse)
	}

	if want&OutputDense != 0 {
		for i := range B {
			d := grow(out[i].Dense, H)
			l2Normalize(d, s.cls[i*H:(i+1)*H]) // dense = h[0] / ‖h[0]‖   (H)
			out[i].Dense = d
			if hook != nil {
				hook(i, "dense", []int{H}, d)
			}
		}
	}
	if want&OutputSparse != 0 {
		w := s.k[:n]                // k is free after the encoder
		m.Sparse.Forward(w, s.x, n) // w = h·Wsᵀ + bs   (N,1)
		relu(w)                     // w = relu(w)      (N)
		for i, seq := range seqs {
			wi := w[s.offs[i]:s.offs[i+1]]
			out[i].Sparse = m.lexicalWeights(out[i].Sparse, seq, wi)
			if hook != nil {
				hook(i, "sparse", []int{len(seq)}, wi)
			}
		}
	}
	if want&OutputColBERT != 0 {
		c := s.q[:n*H]               // q is free after the encoder
		m.ColBERT.Forward(c, s.x, n) // c = h·Wcᵀ + bc   (N,H); token 0's row is dropped below
		for i := range B {
			e, r0, t := &out[i], s.offs[i]+1, s.offs[i+1]-s.offs[i]-1
			e.colbert = grow(e.colbert, t*H)
			e.ColBERT = grow(e.ColBERT, t)
			for r := range t {
				v := e.colbert[r*H : (r+1)*H : (r+1)*H]
				l2Normalize(v, c[(r0+r)*H:(r0+r+1)*H]) // colbert[r] = c[r+1] / ‖c[r+1]‖   (H)
				e.ColBERT[r] = v
			}
			if hook != nil {
				hook(i, "colbert", []int{t, H}, e.colbert[:t*H])
			}
		}
	}
	s.lap(t0, stageHead)
	return nil
}

// canEmbed says whether the model has the heads of want.
func (m *Model) canEmbed(want Outputs) error {
	switch {
	case m.Kind != Embedder:
		return fmt.Errorf("%w: Embed needs an embedder; this model is a %s (Forward)", ErrKind, m.Kind)
	case want == 0 || want&^OutputAll != 0:
		return fmt.Errorf("xlmr: Embed: outputs %#x: ask for one or more of OutputDense, OutputSparse, OutputColBERT", uint8(want))
	case want&OutputSparse != 0 && m.Sparse == nil:
		return fmt.Errorf("%w: the sparse output needs %s.safetensors or %s.pt beside the model", ErrKind, SparseFile, SparseFile)
	case want&OutputColBERT != 0 && m.ColBERT == nil:
		return fmt.Errorf("%w: the ColBERT output needs %s.safetensors or %s.pt beside the model", ErrKind, ColBERTFile, ColBERTFile)
	}
	return nil
}

// Heads reports the outputs the model can compute: none for a reranker, OutputDense plus
// those whose side files an embedder was loaded with.
func (m *Model) Heads() Outputs {
	if m.Kind != Embedder {
		return 0
	}
	o := OutputDense
	if m.Sparse != nil {
		o |= OutputSparse
	}
	if m.ColBERT != nil {
		o |= OutputColBERT
	}
	return o
}

// lexicalWeights fills dst (cleared, or made when nil) with the largest weight w[j] of each
// token id of seq, leaving out the special ids and weights ≤ 0 (FlagEmbedding's
// _process_token_weights).
func (m *Model) lexicalWeights(dst map[int32]float32, seq []int32, w []float32) map[int32]float32 {
	if dst == nil {
		dst = map[int32]float32{}
	}
	for j, id := range seq {
		if v := w[j]; v > 0 && v > dst[id] && !slices.Contains(m.specials[:], id) {
			dst[id] = v
		}
	}
	return dst
}

// l2Normalize computes dst (n) = x / max(‖x‖, 1e-12) (torch.nn.functional.normalize), the
// norm accumulated in float64. dst may be x.
func l2Normalize(dst, x []float32) {
	if len(dst) != len(x) {
		panic("xlmr: l2Normalize: dst and x differ in length")
	}
	var ss float64
	for _, v := range x {
		ss += float64(v) * float64(v)
	}
	inv := 1 / max(math.Sqrt(ss), 1e-12)
	for i, v := range x {
		dst[i] = float32(float64(v) * inv)
	}
}

// relu computes x = max(x, 0) in place.
func relu(x []float32) {
	for i, v := range x {
		x[i] = max(v, 0)
	}
}

// dot is Σ q[i]·p[i] accumulated in float64 (len(p) >= len(q)).
func dot(q, p []float32) float64 {
	p = p[:len(q)]
	var s float64
	for i, v := range q {
		s += float64(v) * float64(p[i])
	}
	return s
}

// DenseScore is q·p, the cosine of two dense outputs (both unit length).
func DenseScore(q, p []float32) float32 {
	if len(q) != len(p) {
		panic("xlmr: DenseScore: vectors differ in length")
	}
	return float32(dot(q, p))
}

// LexicalScore is Σ over the token ids in both of q[id]·p[id] (FlagEmbedding's
// compute_lexical_matching_score).
func LexicalScore(q, p map[int32]float32) float32 {
	if len(p) < len(q) {
		q, p = p, q
	}
	var s float64
	for id, w := range q {
		if v, ok := p[id]; ok {
			s += float64(w) * float64(v)
		}
	}
	return float32(s)
}

// ColBERTScore is MaxSim: for each of q's vectors the largest dot product with any of p's,
// averaged over q's vectors (FlagEmbedding's colbert_score). 0 when either has no vectors.
func ColBERTScore(q, p [][]float32) float32 {
	if len(q) == 0 || len(p) == 0 {
		return 0
	}
	var sum float64
	for _, u := range q {
		best := math.Inf(-1)
		for _, v := range p {
			if len(v) != len(u) {
				panic("xlmr: ColBERTScore: vectors differ in length")
			}
			best = max(best, dot(u, v))
		}
		sum += best
	}
	return float32(sum / float64(len(q)))
}

// Weights weigh the three scores in Score's combined score.
type Weights struct{ Dense, Sparse, ColBERT float32 }

// DefaultWeights are the weights_for_different_modes that bge-m3's model card and FlagEmbedding's
// examples pass to compute_score: 0.4 dense, 0.2 sparse, 0.4 ColBERT. (compute_score itself
// weighs the three equally when given none.)
func DefaultWeights() Weights { return Weights{Dense: 0.4, Sparse: 0.2, ColBERT: 0.4} }

// Scores are a query's scores against one passage.
type Scores struct {
	Dense, Sparse, ColBERT float32 // DenseScore, LexicalScore, ColBERTScore
	// Combined is (w.Dense·Dense + w.Sparse·Sparse + w.ColBERT·ColBERT) / (w.Dense + w.Sparse
	// + w.ColBERT) over the outputs both embeddings hold: with all three it is compute_score's
	// "colbert+sparse+dense", with dense and sparse its "sparse+dense". 0 when they share none.
	Combined float32
	Outputs  Outputs // the outputs both held: which scores were computed
}

// Score scores query q against passage p with every output both hold, and combines them
// with weights w.
func Score(q, p *Embedding, w Weights) Scores {
	var sc Scores
	sc.Outputs = q.Outputs & p.Outputs
	var num, den float64
	if sc.Outputs&OutputDense != 0 {
		sc.Dense = DenseScore(q.Dense, p.Dense)
		num, den = num+float64(w.Dense)*float64(sc.Dense), den+float64(w.Dense)
	}
	if sc.Outputs&OutputSparse != 0 {
		sc.Sparse = LexicalScore(q.Sparse, p.Sparse)
		num, den = num+float64(w.Sparse)*float64(sc.Sparse), den+float64(w.Sparse)
	}
	if sc.Outputs&OutputColBERT != 0 {
		sc.ColBERT = ColBERTScore(q.ColBERT, p.ColBERT)
		num, den = num+float64(w.ColBERT)*float64(sc.ColBERT), den+float64(w.ColBERT)
	}
	if den != 0 {
		sc.Combined = float32(num / den)
	}
	return sc
}
