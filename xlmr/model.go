package xlmr

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gorerank/gorerank/nn"
	"github.com/gorerank/gorerank/tensor"
	"github.com/gorerank/gorerank/weights"
	"github.com/x448/float16"
)

// Model is a loaded XLM-RoBERTa of either kind: a reranker (XLMRobertaForSequenceClassification,
// Forward) or an embedder (XLMRobertaModel with bge-m3's heads, Embed). Its weight fields
// mirror the checkpoint keys of Keys (H hidden_size, I intermediate_size, V vocab_size,
// P max_position_embeddings, Y type_vocab_size). It is read-only after Load and safe for
// concurrent use; each goroutine brings its own Scratch.
type Model struct {
	Config     Config
	Kind       Kind       // Reranker or Embedder
	Keys       *Keys      // the key table the model was loaded by
	Embeddings Embeddings // [roberta.]embeddings
	Layers     []Layer    // [roberta.]encoder.layer.N
	Classifier Classifier // classifier: Reranker only
	Sparse     *nn.Linear // sparse_linear   W (1,H), b (1): Embedder with that side file, else nil
	ColBERT    *nn.Linear // colbert_linear  W (H,H), b (H): Embedder with that side file, else nil
	Report     LoadReport

	ckpt     *weights.Checkpoint   // keeps the memory map alive
	side     []*weights.Checkpoint // the side files' maps
	specials [4]int32              // ids the sparse head drops: bos, eos, pad, unk
}

// Embeddings is [roberta.]embeddings.
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

// Layer is [roberta.]encoder.layer.N.
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
	//   nn.F16, nn.BF16, nn.BF16Compute: linear weights (heads included) stay 16-bit (half
	//     the memory). A checkpoint already in that format is used in place; otherwise each
	//     value is rounded to nearest even at load. Embeddings, biases and LayerNorms are
	//     float32 either way.
	//   nn.Int8: the encoder's linear layers (attention query/key/value/output, intermediate,
	//     output) hold int8 weights with one float32 scale per output row and multiply int8
	//     activations quantized per token row (tensor.MatMulNTInt8). An int8 checkpoint (see
	//     QuantizeCheckpoint: <linear>.weight I8 and <linear>.weight_scale F32) is used in place;
	//     F32/F16/BF16 weights are quantized at load (tensor.QuantizeInt8, the same bits as
	//     QuantizeCheckpoint writes). Embeddings, LayerNorms, attention and the heads (the
	//     classifier, sparse_linear, colbert_linear) stay float32: the key table's Int8 mark.
	Precision nn.Precision

	// Logger, when set, receives load diagnostics (unused tensors, dtype conversions).
	Logger *slog.Logger

	// UnkTokenID is the tokenizer's <unk> id, which an embedder's sparse head drops together
	// with config.json's bos, eos and pad ids (config.json does not state it). 0 selects 3,
	// XLM-R's (where 0 is <s>, never <unk>).
	UnkTokenID int32
}

// LoadReport says what Load found besides the model.
type LoadReport struct {
	Files     []string // the checkpoint files read (side files included)
	DType     string   // dtype of the checkpoint's linear weights ("F32", "F16", "BF16", "I8", or "mixed")
	Unused    []string // tensors present in the checkpoint that the key table does not know, sorted ("file:key" in a side file)
	Skipped   []string // tensors the key table knows and the model does not need (bge-m3's pooler), sorted
	Converted int      // tensors converted (widened or rounded) at load rather than used in place
}

// Load reads dir/config.json and the folder's weights (weights.OpenCheckpoint: safetensors,
// else pytorch_model.bin). The kind comes from config.json (Config.Kind) or the keys, the key
// table from the kind and the keys' prefix (Keys). An embedder also reads the side files
// sparse_linear and colbert_linear (.safetensors, else .pt) when they are in dir; without them
// it is a plain CLS-pooling embedder (dense output only). Every tensor the model needs is
// checked for presence, dtype and shape against the config; the first problems are returned
// as one error naming the keys. Close the model to release the memory maps.
func Load(dir string, o LoadOptions) (*Model, error) {
	cfg, err := LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	ck, files, err := openWeights(dir, o.WeightsFile)
	if err != nil {
		return nil, err
	}
	m, err := fromCheckpoint(cfg, ck, dir, o)
	if err != nil {
		ck.Close()
		return nil, err
	}
	m.Report.Files = append(files, m.Report.Files...)
	if o.Logger != nil {
		if len(m.Report.Unused) > 0 {
			o.Logger.Warn("xlmr: checkpoint tensors not used by the model", "count", len(m.Report.Unused), "names", m.Report.Unused)
		}
		if len(m.Report.Skipped) > 0 {
			o.Logger.Debug("xlmr: checkpoint tensors known and not needed", "names", m.Report.Skipped)
		}
		o.Logger.Debug("xlmr: model loaded", "kind", m.Kind, "files", m.Report.Files, "dtype", m.Report.DType, "converted", m.Report.Converted, "precision", o.Precision)
	}
	return m, nil
}

// FromCheckpoint builds a model from an already open checkpoint and a validated config. The
// model uses the checkpoint's memory; closing the model closes the checkpoint. An embedder
// built this way has no side files: dense output only.
func FromCheckpoint(cfg Config, ck *weights.Checkpoint, o LoadOptions) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return fromCheckpoint(cfg, ck, "", o)
}

// Close releases the checkpoints' memory maps. The model must not be used afterwards.
func (m *Model) Close() error {
	var errs []error
	for _, ck := range append(m.side, m.ckpt) {
		if ck != nil {
			errs = append(errs, ck.Close())
		}
	}
	m.ckpt, m.side = nil, nil
	return errors.Join(errs...)
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
	where     string // "" for the main checkpoint, "FILE:" for a side file (in error messages)
	prec      nn.Precision
	used      map[string]bool
	errs      []error
	dtypes    map[weights.DType]bool
	converted int
	int8Said  bool // the I8-without-Int8 error was recorded
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
			l.fail(fmt.Errorf("xlmr: tensor %q is missing from the checkpoint: %w", l.where+key, weights.ErrNotFound))
		} else {
			l.fail(fmt.Errorf("xlmr: tensor %q: %w", l.where+key, err))
		}
		return nil
	}
	if !slices.Equal(t.Shape, shape) {
		l.fail(fmt.Errorf("xlmr: tensor %q has shape %v, config.json implies %v", l.where+key, t.Shape, shape))
		return nil
	}
	switch t.DType {
	case weights.F32, weights.F16, weights.BF16:
	case weights.I8:
		if !l.int8Said { // one error for the whole checkpoint, not one per tensor
			l.int8Said = true
			l.fail(fmt.Errorf("xlmr: tensor %q has dtype I8: an int8 checkpoint (rerank quantize) loads only with precision Int8 (--dtype int8), and only for the encoder's linear weights", l.where+key))
		}
		return nil
	default:
		l.fail(fmt.Errorf("xlmr: tensor %q has dtype %s; only F32, F16 and BF16 are supported", l.where+key, t.DType))
		return nil
	}
	return t
}

// ScaleSuffix names the per-row scales of an int8 weight: <linear>.weight (out,in) I8 comes
// with <linear>.weight_scale (out) F32, W[j,:] ≈ weight_scale[j]·weight[j,:].
const ScaleSuffix = "_scale"

// int8Weight returns the weight key as int8 rows and their scales: in place from an I8 tensor
// and its F32 key+ScaleSuffix, or quantized from F32/F16/BF16 (quantizeRows).
func (l *loader) int8Weight(key string, out, in int) ([]int8, []float32) {
	t, err := l.ck.Tensor(key)
	if err != nil || t.DType != weights.I8 {
		t = l.tensor(key, out, in)
		if t == nil {
			return nil, nil
		}
		l.dtypes[t.DType] = true
		q, s, err := quantizeRows(t, out, in)
		if err != nil {
			l.fail(fmt.Errorf("xlmr: tensor %q: %w", l.where+key, err))
			return nil, nil
		}
		l.converted++
		l.ck.Release(t) // the int8 copy replaces the source: its mapped pages can go
		return q, s
	}
	l.used[key] = true
	l.dtypes[weights.I8] = true
	if !slices.Equal(t.Shape, []int{out, in}) {
		l.fail(fmt.Errorf("xlmr: tensor %q has shape %v, config.json implies %v", l.where+key, t.Shape, []int{out, in}))
		return nil, nil
	}
	q, err := t.Int8()
	if err != nil {
		l.fail(fmt.Errorf("xlmr: tensor %q: %w", l.where+key, err))
		return nil, nil
	}
	if slices.Contains(q, -128) {
		l.fail(fmt.Errorf("xlmr: tensor %q holds -128: int8 weights must lie in [-127,127]", l.where+key))
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
		l.fail(fmt.Errorf("xlmr: tensor %q has dtype %s, want F32", l.where+skey, st.DType))
		return nil, nil
	}
	s, err := st.Float32()
	if err != nil {
		l.fail(fmt.Errorf("xlmr: tensor %q: %w", l.where+skey, err))
		return nil, nil
	}
	for j, v := range s {
		if !(v >= 0 && v <= math.MaxFloat32) {
			l.fail(fmt.Errorf("xlmr: tensor %q: scale %d is %v, want finite and non-negative", l.where+skey, j, v))
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
		l.fail(fmt.Errorf("xlmr: tensor %q: %w", l.where+key, err))
		return nil
	}
	if t.DType != weights.F32 {
		l.converted++
		l.ck.Release(t) // widened into v: the mapped 16-bit source can go
	}
	return v
}

// linear builds module m's weight (out,in) and bias (out) into an nn.Linear of the requested
// precision. This is where the table's Int8 mark takes effect: at precision nn.Int8 only the
// marked linears (the encoder's) are int8, the others (heads) stay float32, and only the
// marked ones count towards Report.DType.
func (l *loader) linear(m Module) *nn.Linear {
	prec := l.prec
	if !m.Int8 {
		defer func(d map[weights.DType]bool) { l.dtypes = d }(l.dtypes)
		l.dtypes = map[weights.DType]bool{}
		if prec == nn.Int8 {
			prec = nn.F32
		}
	}
	key, out, in := m.Weight(), m.Out, m.In
	b := l.f32(m.Bias(), out)
	if prec == nn.Int8 {
		q, s := l.int8Weight(key, out, in)
		if q == nil || b == nil {
			return nil
		}
		return nn.NewLinearInt8(q, s, b, out, in)
	}
	if t, _ := l.ck.Tensor(key); t != nil && t.DType == weights.I8 {
		l.tensor(key, out, in) // reports the dtype
		return nil
	}
	if prec == nn.F32 {
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
	w16, err := l.half(t, prec)
	if err != nil {
		l.fail(fmt.Errorf("xlmr: tensor %q: %w", l.where+key, err))
		return nil
	}
	return nn.NewLinearHalf(w16, b, out, in, prec)
}

// half returns t's values as the 16-bit format of precision prec: the mapped bits themselves
// when the checkpoint already stores that format, otherwise rounded from float32.
func (l *loader) half(t *weights.Tensor, prec nn.Precision) ([]uint16, error) {
	want := weights.BF16
	if prec == nn.F16 {
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

// wordEmbeddings loads the word-embedding table m: F16/BF16 bits in place, anything else as
// float32.
func (l *loader) wordEmbeddings(e *Embeddings, m Module) {
	key := m.Weight()
	if t, _ := l.ck.Tensor(key); t != nil && (t.DType == weights.F16 || t.DType == weights.BF16) {
		if t = l.tensor(key, m.Out, m.In); t == nil {
			return
		}
		bits, err := t.Uint16()
		if err != nil {
			l.fail(fmt.Errorf("xlmr: tensor %q: %w", l.where+key, err))
			return
		}
		e.WordEmbeddings16, e.WordEmbeddings16Format = bits, nn.BF16
		if t.DType == weights.F16 {
			e.WordEmbeddings16Format = nn.F16
		}
		return
	}
	e.WordEmbeddings = l.f32(key, m.Out, m.In)
}

// table reads an embedding table (m.Out, m.In) as float32.
func (l *loader) table(m Module) []float32 { return l.f32(m.Weight(), m.Out, m.In) }

// norm reads a LayerNorm's weight and bias (m.Out).
func (l *loader) norm(m Module) Norm {
	return Norm{Weight: l.f32(m.Weight(), m.Out), Bias: l.f32(m.Bias(), m.Out)}
}

// newLoader returns a loader of ck at precision prec; where labels a side file's keys.
func newLoader(ck *weights.Checkpoint, where string, prec nn.Precision) *loader {
	return &loader{ck: ck, where: where, prec: prec, used: map[string]bool{}, dtypes: map[weights.DType]bool{}}
}

// unused lists ck's tensors the loader did not read, minus those the table knows as unused.
func (l *loader) unused(known map[string]bool) (unused, skipped []string) {
	for _, name := range l.ck.Names() {
		switch {
		case known[name]:
			skipped = append(skipped, l.where+name)
		case !l.used[name]:
			unused = append(unused, l.where+name)
		}
	}
	return unused, skipped
}

// fromCheckpoint builds the model of cfg from the main checkpoint ck, and, for an embedder
// loaded from a folder (dir != ""), from the side files there.
func fromCheckpoint(cfg Config, ck *weights.Checkpoint, dir string, o LoadOptions) (*Model, error) {
	switch o.Precision {
	case nn.F32, nn.F16, nn.BF16, nn.BF16Compute, nn.Int8:
	default:
		return nil, fmt.Errorf("xlmr: unknown precision %d", o.Precision)
	}
	keys, err := keysFor(cfg, ck.Names())
	if err != nil {
		return nil, err
	}
	l := newLoader(ck, "", o.Precision)
	m := &Model{Config: cfg, Kind: keys.Kind, Keys: keys, ckpt: ck}
	unk := o.UnkTokenID
	if unk == 0 {
		unk = 3
	}
	m.specials = [4]int32{int32(cfg.BosTokenID), int32(cfg.EosTokenID), int32(cfg.PadTokenID), unk}

	e, k := &m.Embeddings, &keys.Embeddings
	l.wordEmbeddings(e, k.Word)
	e.PositionEmbeddings = l.table(k.Position)
	e.TokenTypeEmbeddings = l.table(k.TokenType)
	e.LayerNorm = l.norm(k.LayerNorm)

	m.Layers = make([]Layer, len(keys.Layers))
	for i, k := range keys.Layers {
		y := &m.Layers[i]
		y.Attention.Self.Query = l.linear(k.Query)
		y.Attention.Self.Key = l.linear(k.Key)
		y.Attention.Self.Value = l.linear(k.Value)
		y.Attention.Output.Dense = l.linear(k.AttentionOutput)
		y.Attention.Output.LayerNorm = l.norm(k.AttentionNorm)
		y.Intermediate.Dense = l.linear(k.Intermediate)
		y.Output.Dense = l.linear(k.Output)
		y.Output.LayerNorm = l.norm(k.OutputNorm)
	}
	encoderDTypes := l.dtypes

	if keys.Kind == Reranker {
		m.Classifier.Dense = l.linear(keys.Classifier.Dense)
		m.Classifier.OutProj = l.linear(keys.Classifier.OutProj)
	}
	errs := l.errs
	known := map[string]bool{}
	for _, mod := range keys.Modules() {
		if mod.Unused {
			known[mod.Weight()], known[mod.Bias()] = true, true
		}
	}
	m.Report.Unused, m.Report.Skipped = l.unused(known)
	m.Report.Converted = l.converted

	if keys.Kind == Embedder && dir != "" {
		if err := checkPooling(dir); err != nil {
			errs = append(errs, err)
		}
		for _, h := range []struct {
			mod Module
			dst **nn.Linear
		}{{keys.Sparse, &m.Sparse}, {keys.ColBERT, &m.ColBERT}} {
			*h.dst, err = m.loadSide(dir, h.mod, o.Precision)
			if err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		m.ckpt = nil // the caller closes ck
		m.Close()
		return nil, errors.Join(errs...)
	}
	slices.Sort(m.Report.Unused)
	slices.Sort(m.Report.Skipped)
	m.Report.DType = "mixed"
	if len(encoderDTypes) == 1 {
		for d := range encoderDTypes {
			m.Report.DType = string(d)
		}
	}
	return m, nil
}

// sidePath is the side file base in dir: base.safetensors, else base.pt; "" when neither is
// there.
func sidePath(dir, base string) string {
	for _, ext := range sideFileExts {
		p := filepath.Join(dir, base+ext)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// loadSide loads the linear of side-file module mod from dir: nil, nil when the file is not
// there. The file is kept open by m (its F32 weights are used in place).
func (m *Model) loadSide(dir string, mod Module, prec nn.Precision) (*nn.Linear, error) {
	path := sidePath(dir, mod.File)
	if path == "" {
		return nil, nil
	}
	ck, err := weights.OpenFiles(path)
	if err != nil {
		return nil, fmt.Errorf("xlmr: opening %s: %w", path, err)
	}
	m.side = append(m.side, ck)
	l := newLoader(ck, filepath.Base(path)+":", prec)
	lin := l.linear(mod)
	if len(l.errs) > 0 {
		return nil, errors.Join(l.errs...)
	}
	unused, _ := l.unused(nil)
	m.Report.Unused = append(m.Report.Unused, unused...)
	m.Report.Converted += l.converted
	m.Report.Files = append(m.Report.Files, path)
	return lin, nil
}

// checkPooling refuses an embedder whose sentence-transformers pooling config
// (dir/1_Pooling/config.json, when present) asks for anything but the first token: the dense
// head is CLS pooling, as bge-m3's.
func checkPooling(dir string) error {
	path := filepath.Join(dir, "1_Pooling", "config.json")
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("xlmr: %w", err)
	}
	var p map[string]any
	if err := json.Unmarshal(raw, &p); err != nil {
		return &ConfigError{Path: path, Reason: "invalid JSON: " + err.Error()}
	}
	for k, v := range p {
		on, _ := v.(bool)
		if strings.HasPrefix(k, "pooling_mode_") && on && k != "pooling_mode_cls_token" {
			return &ConfigError{Path: path, Field: k, Reason: "only CLS pooling (pooling_mode_cls_token) is supported"}
		}
	}
	if on, _ := p["pooling_mode_cls_token"].(bool); !on {
		return &ConfigError{Path: path, Field: "pooling_mode_cls_token", Reason: "must be true: the dense output is the first token's state (CLS pooling)"}
	}
	return nil
}
