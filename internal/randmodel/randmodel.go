package randmodel

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gorerank/gorerank/tensor"
	"github.com/gorerank/gorerank/weights"
	"github.com/x448/float16"
)

// Config is the part of an HF XLM-RoBERTa config.json that decides the checkpoint's keys,
// shapes and value scale.
type Config struct {
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

// Validate checks that every size is positive (type_vocab_size may be absent: 1).
func (c *Config) Validate() error {
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
}

// Tensors lists every key of XLMRobertaForSequenceClassification for c, sorted by name,
// with its shape and the given dtype.
func Tensors(c *Config, dt weights.DType) []Tensor {
	H, I := c.HiddenSize, c.IntermediateSize
	types := c.TypeVocabSize
	if types == 0 {
		types = 1
	}
	var ts []Tensor
	add := func(name string, k kind, shape ...int) {
		ts = append(ts, Tensor{weights.TensorInfo{Name: name, DType: dt, Shape: shape}, k})
	}
	linear := func(prefix string, out, in int) {
		add(prefix+".weight", normal, out, in)
		add(prefix+".bias", normal, out)
	}
	layerNorm := func(prefix string) {
		add(prefix+".weight", lnScale, H)
		add(prefix+".bias", normal, H)
	}
	linear("classifier.dense", H, H)
	linear("classifier.out_proj", c.NumLabels(), H)
	layerNorm("roberta.embeddings.LayerNorm")
	add("roberta.embeddings.position_embeddings.weight", normal, c.MaxPositionEmbeddings, H)
	add("roberta.embeddings.token_type_embeddings.weight", normal, types, H)
	add("roberta.embeddings.word_embeddings.weight", normal, c.VocabSize, H)
	for l := range c.NumHiddenLayers {
		p := "roberta.encoder.layer." + strconv.Itoa(l) + "."
		linear(p+"attention.output.dense", H, H)
		layerNorm(p + "attention.output.LayerNorm")
		linear(p+"attention.self.key", H, H)
		linear(p+"attention.self.query", H, H)
		linear(p+"attention.self.value", H, H)
		linear(p+"intermediate.dense", I, H)
		linear(p+"output.dense", H, I)
		layerNorm(p + "output.LayerNorm")
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

// Generate writes a random checkpoint for c in dtype dt (F32, F16 or BF16) to w, using
// GOMAXPROCS goroutines to draw the values and a few MB of memory whatever the model size.
func Generate(w io.Writer, c *Config, dt weights.DType, seed uint64) (Stats, error) {
	if err := c.Validate(); err != nil {
		return Stats{}, err
	}
	if dt != weights.F32 && dt != weights.F16 && dt != weights.BF16 {
		return Stats{}, fmt.Errorf("randmodel: dtype %q: %w (want F32, F16 or BF16)", dt, weights.ErrDType)
	}
	ts := Tensors(c, dt)
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
	rng := rand.New(rand.NewChaCha8(chunkSeed(seed, j.t.Name, j.index)))
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
