package randmodel

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gorerank/gorerank/tensor"
	"github.com/gorerank/gorerank/weights"
	"github.com/gorerank/gorerank/xlmr"
	"github.com/x448/float16"
)

// Config is the part of an HF XLM-RoBERTa config.json that decides the checkpoint's keys,
// shapes and value scale.
type Config struct {
	Architectures         []string          `json:"architectures"`
	VocabSize             int               `json:"vocab_size"`
	HiddenSize            int               `json:"hidden_size"`
	NumHiddenLayers       int               `json:"num_hidden_layers"`
	IntermediateSize      int               `json:"intermediate_size"`
	MaxPositionEmbeddings int               `json:"max_position_embeddings"`
	TypeVocabSize         int               `json:"type_vocab_size"`
	InitializerRange      float64           `json:"initializer_range"`
	ID2Label              map[string]string `json:"id2label"`
	NumLabelsField        int               `json:"num_labels"`
}

// ParseConfig decodes and validates a config.json.
func ParseConfig(data []byte) (*Config, error) {
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("randmodel: config.json: %w", err)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// NumLabels is len(id2label), else num_labels, else 2 (the Hugging Face default).
func (c *Config) NumLabels() int {
	switch {
	case len(c.ID2Label) > 0:
		return len(c.ID2Label)
	case c.NumLabelsField > 0:
		return c.NumLabelsField
	}
	return 2
}

// Std is the standard deviation of the random values: initializer_range, or 0.02.
func (c *Config) Std() float64 {
	if c.InitializerRange > 0 {
		return c.InitializerRange
	}
	return 0.02
}

// Kind is the model kind config.json's architectures name (xlmr.Config.Kind); a config that
// names none is a reranker.
func (c *Config) Kind() xlmr.Kind {
	x := c.xlmr()
	if k := x.Kind(); k != xlmr.KindUnknown {
		return k
	}
	return xlmr.Reranker
}

// Keys is the xlmr key table of the checkpoint Generate writes: the reranker's keys carry the
// roberta. prefix; the embedder's do not, as in BAAI/bge-m3's pytorch_model.bin.
func (c *Config) Keys() *xlmr.Keys {
	prefix := "roberta."
	if c.Kind() == xlmr.Embedder {
		prefix = ""
	}
	return xlmr.NewKeys(c.xlmr(), c.Kind(), prefix)
}

// xlmr is the sizes of c as an xlmr.Config (what xlmr.NewKeys reads).
func (c *Config) xlmr() xlmr.Config {
	types := c.TypeVocabSize
	if types == 0 {
		types = 1
	}
	return xlmr.Config{
		Architectures: c.Architectures, VocabSize: c.VocabSize, HiddenSize: c.HiddenSize,
		NumHiddenLayers: c.NumHiddenLayers, IntermediateSize: c.IntermediateSize,
		MaxPositionEmbeddings: c.MaxPositionEmbeddings, TypeVocabSize: types, NumLabels: c.NumLabels(),
	}
}

// Validate checks that every size is positive (type_vocab_size may be absent: 1) and that
// architectures, when given, name a kind package xlmr runs.
func (c *Config) Validate() error {
	if x := c.xlmr(); len(c.Architectures) > 0 && x.Kind() == xlmr.KindUnknown {
		return fmt.Errorf("randmodel: config.json: architectures %q: neither a *ForSequenceClassification reranker nor an XLMRobertaModel embedder", c.Architectures)
	}
	var bad []string
	for _, f := range []struct {
		name string
		v    int
	}{
		{"vocab_size", c.VocabSize}, {"hidden_size", c.HiddenSize},
		{"num_hidden_layers", c.NumHiddenLayers}, {"intermediate_size", c.IntermediateSize},
		{"max_position_embeddings", c.MaxPositionEmbeddings},
	} {
		if f.v <= 0 {
			bad = append(bad, f.name+" = "+strconv.Itoa(f.v))
		}
	}
	if c.TypeVocabSize < 0 {
		bad = append(bad, "type_vocab_size = "+strconv.Itoa(c.TypeVocabSize))
	}
	if c.InitializerRange < 0 || math.IsNaN(c.InitializerRange) || c.InitializerRange > 10 {
		bad = append(bad, "initializer_range = "+strconv.FormatFloat(c.InitializerRange, 'g', -1, 64))
	}
	if len(bad) > 0 {
		return fmt.Errorf("randmodel: config.json: must be positive: %s", strings.Join(bad, ", "))
	}
	return nil
}

// kind says how a tensor's values are drawn.
type kind int

const (
	normal  kind = iota // N(0, std²)
	lnScale             // 1 + N(0, std²)
)

// Tensor is one checkpoint entry to generate.
type Tensor struct {
	weights.TensorInfo
	kind kind
	seed string // what its random streams are seeded with: the name, "FILE:name" in a side file
}

// Tensors lists every tensor of c's main checkpoint (model.safetensors) with its shape and the
// given dtype, sorted by name: the entries of xlmr's key table for c's kind (Config.Keys)
// outside the side files. For an embedder that includes the pooler bge-m3 publishes and does
// not use.
func Tensors(c *Config, dt weights.DType) []Tensor { return tensors(c, "", dt) }

// Heads lists the side files of c's kind by base name (xlmr.SparseFile, xlmr.ColBERTFile for
// an embedder; none for a reranker).
func Heads(c *Config) []string { return c.Keys().Files() }

// HeadTensors lists the tensors of side file head ("weight" and "bias"), like Tensors.
func HeadTensors(c *Config, head string, dt weights.DType) []Tensor { return tensors(c, head, dt) }

// tensors lists the table's tensors in file ("" for the main checkpoint), sorted by name.
func tensors(c *Config, file string, dt weights.DType) []Tensor {
	var ts []Tensor
	add := func(name string, k kind, shape []int) {
		seed := name
		if file != "" {
			seed = file + ":" + name
		}
		ts = append(ts, Tensor{weights.TensorInfo{Name: name, DType: dt, Shape: shape}, k, seed})
	}
	for _, m := range c.Keys().Modules() {
		if m.File != file {
			continue
		}
		w := normal
		if m.Type == xlmr.ModuleLayerNorm {
			w = lnScale
		}
		add(m.Weight(), w, m.WeightShape())
		if b := m.Bias(); b != "" {
			add(b, normal, []int{m.Out})
		}
	}
	// Sorted by name like a torch-saved checkpoint ("10" sorts before "2").
	slices.SortFunc(ts, func(a, b Tensor) int { return strings.Compare(a.Name, b.Name) })
	return ts
}

// Stats summarises a generated checkpoint.
type Stats struct {
	Tensors int
	Params  int64
	Bytes   int64 // data bytes (the file adds the header)
}

// chunk is how many values one job generates; every chunk of every tensor has its own
// random stream, so chunks are generated in parallel and the file does not depend on the
// number of threads.
const chunk = 1 << 16

// job is one chunk of one tensor.
type job struct {
	t     *Tensor
	index int // chunk number within the tensor
	n     int // values
	out   []byte
	vals  []float32
}

// Generate writes c's random main checkpoint (Tensors) in dtype dt (F32, F16 or BF16) to w,
// using GOMAXPROCS goroutines to draw the values and a few MB of memory whatever the model
// size.
func Generate(w io.Writer, c *Config, dt weights.DType, seed uint64) (Stats, error) {
	return generateFile(w, c, "", dt, seed)
}

// GenerateHead writes side file head of an embedder (HeadTensors) as safetensors, like
// Generate. The values of a seed do not depend on the dtype or on the other files.
func GenerateHead(w io.Writer, c *Config, head string, dt weights.DType, seed uint64) (Stats, error) {
	if !slices.Contains(Heads(c), head) {
		return Stats{}, fmt.Errorf("randmodel: a %s has no side file %q (it has %q)", c.Kind(), head, Heads(c))
	}
	return generateFile(w, c, head, dt, seed)
}

// WriteDir writes a whole random model folder for the config.json bytes raw, in the layout
// xlmr.Load reads: dir/config.json (raw, unchanged), dir/model.safetensors (Generate) and, for
// an embedder, dir/sparse_linear.safetensors and dir/colbert_linear.safetensors
// (GenerateHead). BAAI/bge-m3 publishes those two as torch.save files (.pt), which package
// weights reads but does not write; xlmr.Load takes either. dir is created if missing; every
// file is written under a temporary name and renamed into place. The stats add up all files.
func WriteDir(dir string, raw []byte, dt weights.DType, seed uint64) (Stats, error) {
	c, err := ParseConfig(raw)
	if err != nil {
		return Stats{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Stats{}, fmt.Errorf("randmodel: %w", err)
	}
	var total Stats
	write := func(name string, gen func(w io.Writer) (Stats, error)) error {
		return weights.CreateFile(filepath.Join(dir, name), func(w io.Writer) error {
			st, err := gen(w)
			total.Tensors, total.Params, total.Bytes = total.Tensors+st.Tensors, total.Params+st.Params, total.Bytes+st.Bytes
			return err
		})
	}
	if err := write(weights.SingleFile, func(w io.Writer) (Stats, error) { return Generate(w, c, dt, seed) }); err != nil {
		return total, err
	}
	for _, h := range Heads(c) {
		if err := write(h+".safetensors", func(w io.Writer) (Stats, error) { return GenerateHead(w, c, h, dt, seed) }); err != nil {
			return total, err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), raw, 0o644); err != nil {
		return total, fmt.Errorf("randmodel: %w", err)
	}
	return total, nil
}

// generateFile writes the tensors of c's file ("" for the main checkpoint).
func generateFile(w io.Writer, c *Config, file string, dt weights.DType, seed uint64) (Stats, error) {
	if err := c.Validate(); err != nil {
		return Stats{}, err
	}
	if dt != weights.F32 && dt != weights.F16 && dt != weights.BF16 {
		return Stats{}, fmt.Errorf("randmodel: dtype %q: %w (want F32, F16 or BF16)", dt, weights.ErrDType)
	}
	ts := tensors(c, file, dt)
	infos := make([]weights.TensorInfo, len(ts))
	for i, t := range ts {
		infos[i] = t.TensorInfo
	}
	sw, err := weights.NewWriter(w, infos, map[string]string{"format": "pt"})
	if err != nil {
		return Stats{}, fmt.Errorf("randmodel: %w", err)
	}
	st := Stats{Tensors: len(ts), Bytes: sw.Remaining()}
	std := c.Std()

	// Jobs run in batches: the workers fill every buffer of a batch, then the batch is
	// written in order while nothing else runs (simple, and writing is the cheap part).
	workers := runtime.GOMAXPROCS(0)
	batch := make([]job, 4*workers)
	for i := range batch {
		batch[i].vals = make([]float32, chunk)
		batch[i].out = make([]byte, 0, 4*chunk)
	}
	nb := 0
	flush := func() error {
		var wg sync.WaitGroup
		var next atomic.Int64
		for range min(workers, nb) {
			wg.Go(func() {
				for i := int(next.Add(1) - 1); i < nb; i = int(next.Add(1) - 1) {
					batch[i].fill(seed, std, dt)
				}
			})
		}
		wg.Wait()
		for i := range nb {
			if _, err := sw.Write(batch[i].out); err != nil {
				return fmt.Errorf("randmodel: %s: %w", batch[i].t.Name, err)
			}
		}
		nb = 0
		return nil
	}
	for ti := range ts {
		t := &ts[ti]
		n := 1
		for _, d := range t.Shape {
			n *= d
		}
		st.Params += int64(n)
		for ci := 0; ci*chunk < n; ci++ {
			j := &batch[nb]
			j.t, j.index, j.n = t, ci, min(chunk, n-ci*chunk)
			if nb++; nb == len(batch) {
				if err := flush(); err != nil {
					return st, err
				}
			}
		}
	}
	if err := flush(); err != nil {
		return st, err
	}
	if err := sw.Close(); err != nil {
		return st, fmt.Errorf("randmodel: %w", err)
	}
	return st, nil
}

// fill draws the job's values from its own stream and encodes them into out.
func (j *job) fill(seed uint64, std float64, dt weights.DType) {
	rng := rand.New(rand.NewChaCha8(chunkSeed(seed, j.t.seed, j.index)))
	v := j.vals[:j.n]
	for i := range v {
		v[i] = float32(rng.NormFloat64() * std)
	}
	if j.t.kind == lnScale {
		for i := range v {
			v[i] += 1
		}
	}
	j.out = encode(j.out[:0], v, dt)
}

// chunkSeed derives a ChaCha8 seed from the user seed, the tensor name and the chunk number.
func chunkSeed(seed uint64, name string, index int) [32]byte {
	h := fnv.New64a()
	h.Write([]byte(name))
	var s [32]byte
	binary.LittleEndian.PutUint64(s[0:], seed)
	binary.LittleEndian.PutUint64(s[8:], h.Sum64())
	binary.LittleEndian.PutUint64(s[16:], uint64(index))
	copy(s[24:], "gorerank")
	return s
}

// encode appends v in dtype dt, little-endian.
func encode(dst []byte, v []float32, dt weights.DType) []byte {
	switch dt {
	case weights.F16:
		for _, x := range v {
			dst = binary.LittleEndian.AppendUint16(dst, float16.Fromfloat32(x).Bits())
		}
	case weights.BF16:
		for _, x := range v {
			dst = binary.LittleEndian.AppendUint16(dst, tensor.Float32ToBF16(x))
		}
	default:
		for _, x := range v {
			dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(x))
		}
	}
	return dst
}
