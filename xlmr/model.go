package xlmr

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"slices"

	"github.com/gorerank/gorerank/nn"
	"github.com/gorerank/gorerank/tensor"
	"github.com/gorerank/gorerank/weights"
	"github.com/x448/float16"
)

// Model is a loaded XLMRobertaForSequenceClassification. Its weight fields mirror the
// checkpoint keys (H hidden_size, I intermediate_size, V vocab_size, P max_position_embeddings,
// Y type_vocab_size). It is read-only after Load and safe for concurrent use; each goroutine
// brings its own Scratch.
type Model struct {
	Config     Config
	Embeddings Embeddings // roberta.embeddings
	Layers     []Layer    // roberta.encoder.layer.N
	Classifier Classifier // classifier
	Report     LoadReport

	ckpt *weights.Checkpoint // keeps the memory map alive
}

// Embeddings is roberta.embeddings.
type Embeddings struct {
	WordEmbeddings []float32 // word_embeddings.weight        (V,H), F32 checkpoints
	// WordEmbeddings16 is word_embeddings.weight (V,H) as the F16 or BF16 bits of a
	// half-precision checkpoint, used in place (WordEmbeddings is then nil): the table is
	// the largest tensor (1 GB widened) and each forward reads only its ids' rows, widened
	// exactly as they are gathered.
	WordEmbeddings16       []uint16
	WordEmbeddings16Format nn.Precision // nn.F16 or nn.BF16
	PositionEmbeddings     []float32    // position_embeddings.weight    (P,H)
	TokenTypeEmbeddings    []float32    // token_type_embeddings.weight  (Y,H)
	LayerNorm              Norm         // LayerNorm                     (H)
}

// Norm is a LayerNorm's affine parameters.
type Norm struct {
	Weight []float32 // .weight (H)
	Bias   []float32 // .bias   (H)
}

// Layer is roberta.encoder.layer.N.
type Layer struct {
	Attention struct {
		Self struct {
			Query *nn.Linear // attention.self.query    W (H,H), b (H)
			Key   *nn.Linear // attention.self.key      W (H,H), b (H)
			Value *nn.Linear // attention.self.value    W (H,H), b (H)
		}
		Output struct {
			Dense     *nn.Linear // attention.output.dense  W (H,H), b (H)
			LayerNorm Norm       // attention.output.LayerNorm (H)
		}
	}
	Intermediate struct {
		Dense *nn.Linear // intermediate.dense  W (I,H), b (I); run by ForwardGELU
	}
	Output struct {
		Dense     *nn.Linear // output.dense  W (H,I), b (H)
		LayerNorm Norm       // output.LayerNorm (H)
	}
}

// Classifier is the RobertaClassificationHead: dense → tanh → out_proj on token 0.
type Classifier struct {
	Dense   *nn.Linear // classifier.dense      W (H,H), b (H)
	OutProj *nn.Linear // classifier.out_proj   W (1,H), b (1)
}

// LoadOptions select what Load reads and how it stores the weights.
type LoadOptions struct {
	// WeightsFile picks the weights instead of the folder's default (model.safetensors or the
	// shards of model.safetensors.index.json): a .safetensors file or a *.index.json shard
	// index. A relative path is taken relative to the model folder.
	WeightsFile string

	// Precision is how the linear-layer weights are kept (everything else is float32):
	//   nn.F32 (default): every weight is float32. F32 checkpoints are used in place from the
	//     memory map; F16/BF16 checkpoints are widened exactly at load (2× their file size).
	//   nn.F16, nn.BF16, nn.BF16Compute: linear weights stay 16-bit (half the memory). A
	//     checkpoint already in that format is used in place; otherwise each value is rounded
	//     to nearest even at load. Embeddings, biases and LayerNorms are float32 either way.
	//   nn.Int8: the encoder's linear layers (attention query/key/value/output, intermediate,
	//     output) hold int8 weights with one float32 scale per output row and multiply int8
	//     activations quantized per token row (tensor.MatMulNTInt8). An int8 checkpoint (see
	//     QuantizeCheckpoint: <linear>.weight I8 and <linear>.weight_scale F32) is used in place;
	//     F32/F16/BF16 weights are quantized at load (tensor.QuantizeInt8, the same bits as
	//     QuantizeCheckpoint writes). Embeddings, LayerNorms, attention and the classifier
	//     stay float32.
	Precision nn.Precision

	// Logger, when set, receives load diagnostics (unused tensors, dtype conversions).
	Logger *slog.Logger
}

// LoadReport says what Load found besides the model.
type LoadReport struct {
	Files     []string // the safetensors files read
	DType     string   // dtype of the checkpoint's linear weights ("F32", "F16", "BF16", "I8", or "mixed")
	Unused    []string // tensors present in the checkpoint that the model does not use, sorted
	Converted int      // tensors converted (widened or rounded) at load rather than used in place
}

// Load reads dir/config.json and the folder's safetensors weights. Every tensor the model
// needs is checked for presence, dtype and shape against the config; the first problems are
// returned as one error naming the keys. Close the model to release the memory map.
func Load(dir string, o LoadOptions) (*Model, error) {
	cfg, err := LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	ck, files, err := openWeights(dir, o.WeightsFile)
	if err != nil {
		return nil, err
	}
	m, err := fromCheckpoint(cfg, ck, o)
	if err != nil {
		ck.Close()
		return nil, err
	}
	m.Report.Files = files
	if o.Logger != nil {
		if len(m.Report.Unused) > 0 {
			o.Logger.Warn("xlmr: checkpoint tensors not used by the model", "count", len(m.Report.Unused), "names", m.Report.Unused)
		}
		o.Logger.Debug("xlmr: model loaded", "files", files, "dtype", m.Report.DType, "converted", m.Report.Converted, "precision", o.Precision)
	}
	return m, nil
}

// FromCheckpoint builds a model from an already open checkpoint and a validated config. The
// model uses the checkpoint's memory; closing the model closes the checkpoint.
func FromCheckpoint(cfg Config, ck *weights.Checkpoint, o LoadOptions) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return fromCheckpoint(cfg, ck, o)
}

// Close releases the checkpoint's memory map. The model must not be used afterwards.
func (m *Model) Close() error {
	if m.ckpt == nil {
		return nil
	}
	err := m.ckpt.Close()
	m.ckpt = nil
	return err
}

// MaxTokens is the longest sequence (special tokens included) the position table allows:
// positions start at pad_token_id+1.
func (m *Model) MaxTokens() int { return m.Config.MaxPositionEmbeddings - m.Config.PadTokenID - 1 }

// openWeights opens the checkpoint Load reads: the folder default, or the file o names.
func openWeights(dir, file string) (*weights.Checkpoint, []string, error) {
	var ck *weights.Checkpoint
	var err error
	if file == "" {
		ck, err = weights.OpenCheckpoint(dir)
	} else {
		if !filepath.IsAbs(file) {
			file = filepath.Join(dir, file)
		}
		ck, err = weights.OpenPath(file)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("xlmr: opening weights: %w", err)
	}
	var paths []string
	for _, f := range ck.Files() {
		paths = append(paths, f.Path())
	}
	return ck, paths, nil
}

// loader reads tensors by explicit key, checking dtype and shape, and remembers which keys
// it used and the first problems it met.
type loader struct {
	ck        *weights.Checkpoint
	prec      nn.Precision
	used      map[string]bool
	errs      []error
	dtypes    map[weights.DType]bool
	converted int
}

const maxLoadErrors = 8

func (l *loader) fail(err error) {
	if len(l.errs) < maxLoadErrors {
		l.errs = append(l.errs, err)
	}
}

// tensor returns the named tensor after checking its shape; nil after recording an error.
func (l *loader) tensor(key string, shape ...int) *weights.Tensor {
	l.used[key] = true
	t, err := l.ck.Tensor(key)
	if err != nil {
		if errors.Is(err, weights.ErrNotFound) {
			l.fail(fmt.Errorf("xlmr: tensor %q is missing from the checkpoint: %w", key, weights.ErrNotFound))
		} else {
			l.fail(fmt.Errorf("xlmr: tensor %q: %w", key, err))
		}
		return nil
	}
	if !slices.Equal(t.Shape, shape) {
		l.fail(fmt.Errorf("xlmr: tensor %q has shape %v, config.json implies %v", key, t.Shape, shape))
		return nil
	}
	switch t.DType {
	case weights.F32, weights.F16, weights.BF16:
	case weights.I8:
		l.fail(fmt.Errorf("xlmr: tensor %q has dtype I8: an int8 checkpoint loads only with precision Int8 (--dtype int8), and only for the encoder's linear weights", key))
		return nil
	default:
		l.fail(fmt.Errorf("xlmr: tensor %q has dtype %s; only F32, F16 and BF16 are supported", key, t.DType))
		return nil
	}
	return t
}

// ScaleSuffix names the per-row scales of an int8 weight: <linear>.weight (out,in) I8 comes
// with <linear>.weight_scale (out) F32, W[j,:] ≈ weight_scale[j]·weight[j,:].
const ScaleSuffix = "_scale"

// int8Weight returns prefix.weight as int8 rows and their scales: in place from an I8 tensor
// and its F32 prefix.weight_scale, or quantized from F32/F16/BF16 (quantizeRows).
func (l *loader) int8Weight(prefix string, out, in int) ([]int8, []float32) {
	key := prefix + ".weight"
	t, err := l.ck.Tensor(key)
	if err != nil || t.DType != weights.I8 {
		t = l.tensor(key, out, in)
		if t == nil {
			return nil, nil
		}
		l.dtypes[t.DType] = true
		q, s, err := quantizeRows(t, out, in)
		if err != nil {
			l.fail(fmt.Errorf("xlmr: tensor %q: %w", key, err))
			return nil, nil
		}
		l.converted++
		l.ck.Release(t) // the int8 copy replaces the source: its mapped pages can go
		return q, s
	}
	l.used[key] = true
	l.dtypes[weights.I8] = true
	if !slices.Equal(t.Shape, []int{out, in}) {
		l.fail(fmt.Errorf("xlmr: tensor %q has shape %v, config.json implies %v", key, t.Shape, []int{out, in}))
		return nil, nil
	}
	q, err := t.Int8()
	if err != nil {
		l.fail(fmt.Errorf("xlmr: tensor %q: %w", key, err))
		return nil, nil
	}
	if slices.Contains(q, -128) {
		l.fail(fmt.Errorf("xlmr: tensor %q holds -128: int8 weights must lie in [-127,127]", key))
		return nil, nil
	}
	if !t.Aligned() {
		// A file that does not align its tensors (weights.Write does) would make every 64-byte
		// load of the int8 kernels straddle two cache lines (~20% slower end to end): use an
		// aligned copy (large Go allocations are page-aligned) and give the mapped pages back.
		q = slices.Clone(q)
		l.ck.Release(t)
	}
	skey := key + ScaleSuffix
	st := l.tensor(skey, out)
	if st == nil {
		return nil, nil
	}
	if st.DType != weights.F32 {
		l.fail(fmt.Errorf("xlmr: tensor %q has dtype %s, want F32", skey, st.DType))
		return nil, nil
	}
	s, err := st.Float32()
	if err != nil {
		l.fail(fmt.Errorf("xlmr: tensor %q: %w", skey, err))
		return nil, nil
	}
	for j, v := range s {
		if !(v >= 0 && v <= math.MaxFloat32) {
			l.fail(fmt.Errorf("xlmr: tensor %q: scale %d is %v, want finite and non-negative", skey, j, v))
			return nil, nil
		}
	}
	return q, s
}

// quantizeRows quantizes an F32/F16/BF16 weight (out,in) per row with tensor.QuantizeInt8,
// widening one row at a time. A row holding NaN or ±Inf is an error.
func quantizeRows(t *weights.Tensor, out, in int) ([]int8, []float32, error) {
	q, s := make([]int8, out*in), make([]float32, out)
	if t.DType == weights.F32 {
		f, err := t.Float32()
		if err != nil {
			return nil, nil, err
		}
		tensor.QuantizeInt8(q, s, f, out, in)
	} else {
		if len(t.Data) != 2*out*in {
			return nil, nil, fmt.Errorf("%d bytes for shape [%d %d] of %s", len(t.Data), out, in, t.DType)
		}
		for j := range out {
			rt := weights.Tensor{Name: t.Name, DType: t.DType, Shape: []int{in}, Data: t.Data[j*in*2 : (j+1)*in*2]}
			row, err := rt.Float32()
			if err != nil {
				return nil, nil, err
			}
			tensor.QuantizeInt8(q[j*in:(j+1)*in], s[j:j+1], row, 1, in)
		}
	}
	for j, v := range s {
		if v != v {
			return nil, nil, fmt.Errorf("row %d holds NaN or Inf: cannot quantize", j)
		}
	}
	return q, s, nil
}

// f32 returns the named tensor as float32 (aliasing the memory map for F32 data).
func (l *loader) f32(key string, shape ...int) []float32 {
	t := l.tensor(key, shape...)
	if t == nil {
		return nil
	}
	v, err := t.Float32()
	if err != nil {
		l.fail(fmt.Errorf("xlmr: tensor %q: %w", key, err))
		return nil
	}
	if t.DType != weights.F32 {
		l.converted++
		l.ck.Release(t) // widened into v: the mapped 16-bit source can go
	}
	return v
}

// linear builds prefix.weight (out,in) and prefix.bias (out) into an nn.Linear of the
// requested precision.
func (l *loader) linear(prefix string, out, in int) *nn.Linear {
	b := l.f32(prefix+".bias", out)
	key := prefix + ".weight"
	if l.prec == nn.Int8 {
		q, s := l.int8Weight(prefix, out, in)
		if q == nil || b == nil {
			return nil
		}
		return nn.NewLinearInt8(q, s, b, out, in)
	}
	if t, _ := l.ck.Tensor(key); t != nil && t.DType == weights.I8 {
		l.tensor(key, out, in) // reports the dtype
		return nil
	}
	if l.prec == nn.F32 {
		w := l.f32(key, out, in)
		t, _ := l.ck.Tensor(key)
		if t != nil {
			l.dtypes[t.DType] = true
		}
		if w == nil || b == nil {
			return nil
		}
		lin := nn.NewLinear(w, b, out, in)
		if t.DType == weights.F32 {
			// Weights used in place from the map are packed for the CPU's GEMM once, here,
			// and their mapped pages given back: the packed copy replaces them in memory.
			// (Weights widened from F16/BF16 are not: that would hold both copies.)
			lin.Pack()
			l.ck.Release(t)
		}
		return lin
	}
	t := l.tensor(key, out, in)
	if t == nil || b == nil {
		return nil
	}
	l.dtypes[t.DType] = true
	w16, err := l.half(t)
	if err != nil {
		l.fail(fmt.Errorf("xlmr: tensor %q: %w", key, err))
		return nil
	}
	return nn.NewLinearHalf(w16, b, out, in, l.prec)
}

// half returns t's values as the 16-bit format of l.prec: the mapped bits themselves when
// the checkpoint already stores that format, otherwise rounded from float32.
func (l *loader) half(t *weights.Tensor) ([]uint16, error) {
	want := weights.BF16
	if l.prec == nn.F16 {
		want = weights.F16
	}
	if t.DType == want {
		return t.Uint16() // the mapped bits, no copy
	}
	f, err := t.Float32()
	if err != nil {
		return nil, err
	}
	l.converted++
	out := make([]uint16, len(f))
	for i, v := range f {
		if want == weights.F16 {
			out[i] = float16.Fromfloat32(v).Bits()
		} else {
			out[i] = tensor.Float32ToBF16(v)
		}
	}
	l.ck.Release(t) // rounded into out: the mapped source can go
	return out, nil
}

// wordEmbeddings loads roberta.embeddings.word_embeddings.weight: F16/BF16 bits in place,
// anything else as float32.
func (l *loader) wordEmbeddings(e *Embeddings, vocab, h int) {
	const key = "roberta.embeddings.word_embeddings.weight"
	if t, _ := l.ck.Tensor(key); t != nil && (t.DType == weights.F16 || t.DType == weights.BF16) {
		if t = l.tensor(key, vocab, h); t == nil {
			return
		}
		bits, err := t.Uint16()
		if err != nil {
			l.fail(fmt.Errorf("xlmr: tensor %q: %w", key, err))
			return
		}
		e.WordEmbeddings16, e.WordEmbeddings16Format = bits, nn.BF16
		if t.DType == weights.F16 {
			e.WordEmbeddings16Format = nn.F16
		}
		return
	}
	e.WordEmbeddings = l.f32(key, vocab, h)
}

func fromCheckpoint(cfg Config, ck *weights.Checkpoint, o LoadOptions) (*Model, error) {
	switch o.Precision {
	case nn.F32, nn.F16, nn.BF16, nn.BF16Compute, nn.Int8:
	default:
		return nil, fmt.Errorf("xlmr: unknown precision %d", o.Precision)
	}
	l := &loader{ck: ck, prec: o.Precision, used: map[string]bool{}, dtypes: map[weights.DType]bool{}}
	H, I := cfg.HiddenSize, cfg.IntermediateSize
	m := &Model{Config: cfg, ckpt: ck}

	e := &m.Embeddings
	l.wordEmbeddings(e, cfg.VocabSize, H)
	e.PositionEmbeddings = l.f32("roberta.embeddings.position_embeddings.weight", cfg.MaxPositionEmbeddings, H)
	e.TokenTypeEmbeddings = l.f32("roberta.embeddings.token_type_embeddings.weight", cfg.TypeVocabSize, H)
	e.LayerNorm = l.norm("roberta.embeddings.LayerNorm", H)

	m.Layers = make([]Layer, cfg.NumHiddenLayers)
	for i := range m.Layers {
		p := fmt.Sprintf("roberta.encoder.layer.%d.", i)
		y := &m.Layers[i]
		y.Attention.Self.Query = l.linear(p+"attention.self.query", H, H)
		y.Attention.Self.Key = l.linear(p+"attention.self.key", H, H)
		y.Attention.Self.Value = l.linear(p+"attention.self.value", H, H)
		y.Attention.Output.Dense = l.linear(p+"attention.output.dense", H, H)
		y.Attention.Output.LayerNorm = l.norm(p+"attention.output.LayerNorm", H)
		y.Intermediate.Dense = l.linear(p+"intermediate.dense", I, H)
		y.Output.Dense = l.linear(p+"output.dense", H, I)
		y.Output.LayerNorm = l.norm(p+"output.LayerNorm", H)
	}

	encoderDTypes := l.dtypes
	if l.prec == nn.Int8 { // the classifier head stays float32 (one token per pair: no gain)
		l.prec = nn.F32
		l.dtypes = map[weights.DType]bool{}
	}
	m.Classifier.Dense = l.linear("classifier.dense", H, H)
	m.Classifier.OutProj = l.linear("classifier.out_proj", cfg.NumLabels, H)

	if len(l.errs) > 0 {
		return nil, errors.Join(l.errs...)
	}
	for _, name := range ck.Names() {
		if !l.used[name] {
			m.Report.Unused = append(m.Report.Unused, name)
		}
	}
	m.Report.Converted = l.converted
	m.Report.DType = "mixed"
	if len(encoderDTypes) == 1 {
		for d := range encoderDTypes {
			m.Report.DType = string(d)
		}
	}
	return m, nil
}

// norm reads prefix.weight and prefix.bias (n).
func (l *loader) norm(prefix string, n int) Norm {
	return Norm{Weight: l.f32(prefix+".weight", n), Bias: l.f32(prefix+".bias", n)}
}
