package xlmr

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorerank/gorerank/nn"
	"github.com/gorerank/gorerank/weights"
)

// smallConfig is a valid config of a very small model for synthetic checkpoints.
func smallConfig() map[string]any {
	return map[string]any{
		"architectures": []string{"XLMRobertaForSequenceClassification"}, "model_type": "xlm-roberta",
		"vocab_size": 50, "hidden_size": 8, "num_hidden_layers": 2, "num_attention_heads": 2,
		"intermediate_size": 16, "hidden_act": "gelu", "max_position_embeddings": 20,
		"type_vocab_size": 1, "layer_norm_eps": 1e-5, "pad_token_id": 1, "bos_token_id": 0,
		"eos_token_id": 2, "position_embedding_type": "absolute", "id2label": map[string]string{"0": "LABEL_0"},
	}
}

type rawTensor struct {
	dtype string
	shape []int
	data  []byte
}

// smallTensors returns random F32 tensors with the checkpoint names of smallConfig's model.
func smallTensors(r *rand.Rand) map[string]rawTensor { return randomTensors(r, 50, 8, 16, 20, 2, 0.3) }

// randomTensors returns normal(0, std) F32 tensors with the checkpoint names and shapes of an
// XLM-R cross-encoder: vocabulary V, hidden H, FFN I, P positions, L layers.
func randomTensors(r *rand.Rand, V, H, I, P, L int, std float64) map[string]rawTensor {
	out := map[string]rawTensor{}
	add := func(name string, shape ...int) {
		n := 1
		for _, d := range shape {
			n *= d
		}
		b := make([]byte, 4*n)
		for i := 0; i < n; i++ {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(r.NormFloat64()*std)))
		}
		out[name] = rawTensor{"F32", shape, b}
	}
	add("roberta.embeddings.word_embeddings.weight", V, H)
	add("roberta.embeddings.position_embeddings.weight", P, H)
	add("roberta.embeddings.token_type_embeddings.weight", 1, H)
	add("roberta.embeddings.LayerNorm.weight", H)
	add("roberta.embeddings.LayerNorm.bias", H)
	for l := 0; l < L; l++ {
		p := fmt.Sprintf("roberta.encoder.layer.%d.", l)
		for _, s := range []string{"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"} {
			add(p+s+".weight", H, H)
			add(p+s+".bias", H)
		}
		add(p+"intermediate.dense.weight", I, H)
		add(p+"intermediate.dense.bias", I)
		add(p+"output.dense.weight", H, I)
		add(p+"output.dense.bias", H)
		for _, s := range []string{"attention.output.LayerNorm", "output.LayerNorm"} {
			add(p+s+".weight", H)
			add(p+s+".bias", H)
		}
	}
	add("classifier.dense.weight", H, H)
	add("classifier.dense.bias", H)
	add("classifier.out_proj.weight", 1, H)
	add("classifier.out_proj.bias", 1)
	return out
}

// encodeSafetensors is an independent minimal safetensors writer for building bad inputs.
func encodeSafetensors(ts map[string]rawTensor) []byte {
	names := make([]string, 0, len(ts))
	for n := range ts {
		names = append(names, n)
	}
	sort.Strings(names)
	header := map[string]any{"__metadata__": map[string]string{"format": "pt"}}
	var data []byte
	for _, n := range names {
		t := ts[n]
		header[n] = map[string]any{"dtype": t.dtype, "shape": t.shape, "data_offsets": []int{len(data), len(data) + len(t.data)}}
		data = append(data, t.data...)
	}
	h, _ := json.Marshal(header)
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	return append(append(out, h...), data...)
}

// writeModel writes config.json and model.safetensors into a new temp folder.
func writeModel(t *testing.T, cfg map[string]any, ts map[string]rawTensor) string {
	t.Helper()
	dir := t.TempDir()
	c, _ := json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), c, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "model.safetensors"), encodeSafetensors(ts), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestParseConfig(t *testing.T) {
	good, _ := json.Marshal(smallConfig())
	c, err := ParseConfig(good)
	if err != nil {
		t.Fatal(err)
	}
	if c.NumLabels != 1 || c.LayerNormEps != 1e-5 || c.HiddenSize != 8 || c.PadTokenID != 1 {
		t.Errorf("decoded %+v", c)
	}
	// the real config decodes and validates
	if c, err := LoadConfig("../testdata/bge-reranker-v2-m3.config.json"); err != nil || c.HiddenSize != 1024 || c.NumHiddenLayers != 24 || c.MaxPositionEmbeddings != 8194 {
		t.Errorf("full-size config: %+v, %v", c, err)
	}
	for _, tc := range []struct {
		field string
		value any // nil deletes the field
		want  string
	}{
		{"model_type", "bert", `model_type: "bert" is not supported`},
		{"hidden_act", "gelu_new", `hidden_act: "gelu_new" is not supported (supported: ["gelu"])`},
		{"hidden_act", "relu", `hidden_act`},
		{"position_embedding_type", "relative_key", "position_embedding_type"},
		{"num_attention_heads", 3, "num_attention_heads: 3 does not divide hidden_size 8"},
		{"hidden_size", 0, "hidden_size: must be a positive integer"},
		{"hidden_size", nil, "hidden_size: must be a positive integer"},
		{"num_hidden_layers", -1, "num_hidden_layers"},
		{"intermediate_size", 0, "intermediate_size"},
		{"vocab_size", 0, "vocab_size"},
		{"layer_norm_eps", 0, "layer_norm_eps"},
		{"pad_token_id", 50, "pad_token_id: 50 is outside the vocabulary"},
		{"max_position_embeddings", 2, "max_position_embeddings"},
		{"id2label", map[string]string{"0": "a", "1": "b"}, "2 labels; only single-logit rerankers"},
		{"id2label", map[string]string{"1": "a"}, `id2label: keys must be "0"..`},
		{"id2label", nil, "2 labels"},
		{"architectures", []string{"XLMRobertaForMaskedLM"}, "neither a *ForSequenceClassification reranker nor an XLMRobertaModel embedder"},
		{"hidden_size", "8", "invalid JSON"},
	} {
		cfg := smallConfig()
		if tc.value == nil {
			delete(cfg, tc.field)
		} else {
			cfg[tc.field] = tc.value
		}
		data, _ := json.Marshal(cfg)
		_, err := ParseConfig(data)
		var ce *ConfigError
		if err == nil || !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%v: error %v, want a ConfigError containing %q", tc.field, tc.value, err, tc.want)
		}
	}
	if _, err := ParseConfig([]byte("{")); err == nil {
		t.Error("truncated JSON accepted")
	}
}

func TestLoadSynthetic(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	ts := smallTensors(r)
	ts["roberta.pooler.dense.weight"] = rawTensor{"F32", []int{1}, make([]byte, 4)}
	ts["roberta.embeddings.position_ids"] = rawTensor{"I64", []int{1, 20}, make([]byte, 160)}
	dir := writeModel(t, smallConfig(), ts)
	var logBuf bytes.Buffer
	m, err := Load(dir, LoadOptions{Logger: slog.New(slog.NewTextHandler(&logBuf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if got := strings.Join(m.Report.Unused, ","); got != "roberta.embeddings.position_ids,roberta.pooler.dense.weight" {
		t.Errorf("unused = %q", got)
	}
	if !strings.Contains(logBuf.String(), "roberta.pooler.dense.weight") {
		t.Errorf("logger did not get the unused tensors: %q", logBuf.String())
	}
	if m.MaxTokens() != 18 {
		t.Errorf("MaxTokens = %d, want 20-1-1", m.MaxTokens())
	}
	logits := make([]float32, 2)
	if err := m.Forward(m.NewScratch(), [][]int32{{0, 5, 2}, {0, 7, 8, 9, 2}}, logits, nil); err != nil {
		t.Fatal(err)
	}
	for _, v := range logits {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("logits %v", logits)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	mutate := func(f func(cfg map[string]any, ts map[string]rawTensor)) string {
		cfg, ts := smallConfig(), smallTensors(r)
		f(cfg, ts)
		return writeModel(t, cfg, ts)
	}
	cases := []struct {
		name string
		dir  string
		o    LoadOptions
		want []string
	}{
		{"no folder", filepath.Join(t.TempDir(), "absent"), LoadOptions{}, []string{"config.json"}},
		{"missing tensor", mutate(func(_ map[string]any, ts map[string]rawTensor) {
			delete(ts, "roberta.encoder.layer.1.output.dense.bias")
		}), LoadOptions{}, []string{`"roberta.encoder.layer.1.output.dense.bias" is missing`}},
		{"wrong shape", mutate(func(_ map[string]any, ts map[string]rawTensor) {
			t := ts["roberta.encoder.layer.0.attention.self.key.weight"]
			t.shape = []int{4, 16}
			ts["roberta.encoder.layer.0.attention.self.key.weight"] = t
		}), LoadOptions{}, []string{`"roberta.encoder.layer.0.attention.self.key.weight" has shape [4 16], config.json implies [8 8]`}},
		{"vocab disagrees", mutate(func(cfg map[string]any, _ map[string]rawTensor) {
			cfg["vocab_size"] = 49
		}), LoadOptions{}, []string{`"roberta.embeddings.word_embeddings.weight" has shape [50 8], config.json implies [49 8]`}},
		{"layers disagree", mutate(func(cfg map[string]any, _ map[string]rawTensor) {
			cfg["num_hidden_layers"] = 3
		}), LoadOptions{}, []string{`"roberta.encoder.layer.2.attention.self.query.weight" is missing`}},
		{"wrong dtype", mutate(func(_ map[string]any, ts map[string]rawTensor) {
			ts["classifier.out_proj.bias"] = rawTensor{"I32", []int{1}, make([]byte, 4)}
		}), LoadOptions{}, []string{`"classifier.out_proj.bias" has dtype I32`}},
		{"bad config", mutate(func(cfg map[string]any, _ map[string]rawTensor) {
			cfg["hidden_act"] = "silu"
		}), LoadOptions{}, []string{"config.json", "hidden_act"}},
		{"missing weights file", writeModel(t, smallConfig(), smallTensors(r)), LoadOptions{WeightsFile: "nope.safetensors"}, []string{"nope.safetensors"}},
	}
	for _, c := range cases {
		m, err := Load(c.dir, c.o)
		if err == nil {
			m.Close()
			t.Errorf("%s: Load succeeded", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", c.name, err, w)
			}
		}
	}
}

func TestLoadCorruptSafetensors(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	good := encodeSafetensors(smallTensors(r))
	cfg, _ := json.Marshal(smallConfig())
	for name, data := range map[string][]byte{
		"empty":            {},
		"short header len": good[:5],
		"truncated header": good[:40],
		"truncated data":   good[:len(good)-100],
		"header too long":  append(binary.LittleEndian.AppendUint64(nil, 1<<40), good[8:]...),
		"garbage header":   append(binary.LittleEndian.AppendUint64(nil, 16), []byte("{not json at all")...),
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644)
		os.WriteFile(filepath.Join(dir, "model.safetensors"), data, 0o644)
		m, err := Load(dir, LoadOptions{})
		if err == nil {
			m.Close()
			t.Errorf("%s: Load succeeded", name)
			continue
		}
		if !strings.Contains(err.Error(), "weights") {
			t.Errorf("%s: error %q does not say it is about the weights", name, err)
		}
	}
}

func TestShardedIndex(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	ts := smallTensors(r)
	dir := writeModel(t, smallConfig(), ts)
	whole, err := Load(dir, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer whole.Close()
	// split into two shards plus an index; the index is preferred over model.safetensors
	a, b := map[string]rawTensor{}, map[string]rawTensor{}
	wm := map[string]string{}
	for n, x := range ts {
		if strings.Contains(n, "layer.1") || strings.HasPrefix(n, "classifier") {
			b[n], wm[n] = x, "model-00002-of-00002.safetensors"
		} else {
			a[n], wm[n] = x, "model-00001-of-00002.safetensors"
		}
	}
	sdir := writeModel(t, smallConfig(), nil)
	write := func(name string, data []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(sdir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Remove(filepath.Join(sdir, "model.safetensors")); err != nil {
		t.Fatal(err)
	}
	write("model-00001-of-00002.safetensors", encodeSafetensors(a))
	write("model-00002-of-00002.safetensors", encodeSafetensors(b))
	idx, err := json.Marshal(map[string]any{"metadata": map[string]any{}, "weight_map": wm})
	if err != nil {
		t.Fatal(err)
	}
	write("model.safetensors.index.json", idx)
	sharded, err := Load(sdir, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sharded.Close()
	if len(sharded.Report.Files) != 2 {
		t.Errorf("files %v", sharded.Report.Files)
	}
	seqs := [][]int32{{0, 4, 5, 2, 2, 6, 2}}
	l1, l2 := make([]float32, 1), make([]float32, 1)
	if err := whole.Forward(whole.NewScratch(), seqs, l1, nil); err != nil {
		t.Fatal(err)
	}
	if err := sharded.Forward(sharded.NewScratch(), seqs, l2, nil); err != nil {
		t.Fatal(err)
	}
	if l1[0] != l2[0] {
		t.Errorf("sharded logit %v, single file %v", l2[0], l1[0])
	}
	loadErr := func(file string, wm map[string]string) error {
		t.Helper()
		data, err := json.Marshal(map[string]any{"weight_map": wm})
		if err != nil {
			t.Fatal(err)
		}
		write(file, data)
		m, err := Load(sdir, LoadOptions{WeightsFile: file})
		if err == nil {
			m.Close()
		}
		return err
	}
	// an index naming a shard outside its folder is refused
	if err := loadErr("bad.index.json", map[string]string{"x": "../evil.safetensors"}); err == nil || !strings.Contains(err.Error(), "plain file name") {
		t.Errorf("index with ../ shard: %v", err)
	}
	// an index whose weight_map disagrees with its shards is refused (as weights.OpenCheckpoint does)
	moved := maps.Clone(wm)
	for n := range moved {
		if strings.HasPrefix(n, "classifier") {
			moved[n] = "model-00001-of-00002.safetensors"
		}
	}
	var fe *weights.FormatError
	if err := loadErr("moved.index.json", moved); !errors.As(err, &fe) || !strings.Contains(err.Error(), "does not hold it") {
		t.Errorf("index whose weight_map disagrees with the shards: %v", err)
	}
	// a relative WeightsFile is taken relative to the model folder, whatever the working directory
	if err := loadErr("copy.index.json", wm); err != nil {
		t.Errorf("relative shard index: %v", err)
	}
}

func TestForwardInputErrors(t *testing.T) {
	m := loadTiny(t, LoadOptions{})
	s := m.NewScratch()
	long := make([]int32, m.MaxTokens()+1)
	logits := make([]float32, 2)
	for _, c := range []struct {
		name string
		seqs [][]int32
		want error
	}{
		{"empty batch", nil, ErrEmptyBatch},
		{"empty sequence", [][]int32{{0, 2}, {}}, ErrEmptySequence},
		{"too long", [][]int32{long}, ErrTooLong},
		{"negative id", [][]int32{{0, -1, 2}}, ErrBadTokenID},
		{"id past vocab", [][]int32{{0, 250002, 2}}, ErrBadTokenID},
	} {
		if err := m.Forward(s, c.seqs, logits, nil); !errors.Is(err, c.want) {
			t.Errorf("%s: error %v, want %v", c.name, err, c.want)
		}
	}
	if err := m.Forward(s, [][]int32{{0, 2}, {0, 2}, {0, 2}}, logits, nil); err == nil {
		t.Error("short logits slice accepted")
	}
	// exactly MaxTokens is fine
	if err := m.Forward(s, [][]int32{long[:m.MaxTokens()]}, logits, nil); err != nil {
		t.Errorf("MaxTokens tokens: %v", err)
	}
}

func TestForwardZeroAllocs(t *testing.T) {
	m := loadTiny(t, LoadOptions{})
	g := loadGoldens(t)
	seqs := g.inputs(t)[:10]
	logits := make([]float32, len(seqs))
	s := m.NewScratch()
	s.Timings = &Timings{}
	if err := m.Forward(s, seqs, logits, nil); err != nil { // warm-up grows the scratch
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(5, func() {
		if err := m.Forward(s, seqs, logits, nil); err != nil {
			t.Fatal(err)
		}
		if err := m.Forward(s, seqs[3:5], logits, nil); err != nil { // a smaller batch reuses the buffers
			t.Fatal(err)
		}
	})
	if !raceEnabled && allocs != 0 {
		t.Errorf("Forward allocates %v times per call in steady state", allocs)
	}
	tm := s.Timings
	if tm.Embeddings <= 0 || tm.Attention <= 0 || tm.FFN <= 0 || tm.Head <= 0 || tm.Attention+tm.FFN < time.Microsecond {
		t.Errorf("timings not accumulated: %+v", *tm)
	}
	if tm.QKV+tm.Attend+tm.AttnOut+tm.AttnNorm != tm.Attention || tm.FFNUp+tm.FFNDown+tm.FFNNorm != tm.FFN ||
		tm.QKV <= 0 || tm.Attend <= 0 || tm.AttnOut <= 0 || tm.AttnNorm <= 0 || tm.FFNUp <= 0 || tm.FFNDown <= 0 || tm.FFNNorm <= 0 {
		t.Errorf("operation timings do not split their stages: %+v", *tm)
	}
}

func TestForwardConcurrent(t *testing.T) {
	m := loadTiny(t, LoadOptions{})
	g := loadGoldens(t)
	seqs := g.inputs(t)
	want := make([]float32, len(seqs))
	if err := m.Forward(m.NewScratch(), seqs, want, nil); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, r := m.NewScratch(), rand.New(rand.NewPCG(uint64(w), 9))
			for it := 0; it < 5; it++ {
				// a random subset in a random order, packed differently each time
				idx := r.Perm(len(seqs))[:1+r.IntN(8)]
				batch := make([][]int32, len(idx))
				for i, j := range idx {
					batch[i] = seqs[j]
				}
				got := make([]float32, len(batch))
				if err := m.Forward(s, batch, got, nil); err != nil {
					errs <- err
					return
				}
				for i, j := range idx {
					if d := math.Abs(float64(got[i] - want[j])); d > 1e-6 {
						errs <- fmt.Errorf("worker %d: pair %d logit %v, alone-in-batch %v", w, j, got[i], want[j])
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestHookAttentionProbs(t *testing.T) {
	m := loadTiny(t, LoadOptions{})
	seq := []int32{0, 6, 7, 8, 2, 2, 9, 10, 2}
	heads, T := m.Config.NumAttentionHeads, len(seq)
	names := map[string]bool{}
	hook := func(i int, name string, shape []int, data []float32) {
		names[name] = true
		if strings.HasPrefix(name, "attention.probs.") {
			if len(shape) != 3 || shape[0] != heads || shape[1] != T || shape[2] != T || len(data) != heads*T*T {
				t.Errorf("%s: shape %v len %d", name, shape, len(data))
			}
			for r := 0; r < heads*T; r++ {
				var s float64
				for _, p := range data[r*T : (r+1)*T] {
					s += float64(p)
				}
				if math.Abs(s-1) > 1e-5 {
					t.Errorf("%s: row %d sums to %v", name, r, s)
				}
			}
		}
	}
	withHook, without := make([]float32, 1), make([]float32, 1)
	if err := m.Forward(m.NewScratch(), [][]int32{seq}, withHook, hook); err != nil {
		t.Fatal(err)
	}
	m.Forward(m.NewScratch(), [][]int32{seq}, without, nil)
	if withHook[0] != without[0] {
		t.Errorf("hook changed the logit: %v vs %v", withHook[0], without[0])
	}
	for _, n := range []string{"embeddings", "layer.0", "layer.2", "attention.probs.0", "attention.probs.2", "logits"} {
		if !names[n] {
			t.Errorf("hook never saw %q (saw %v)", n, names)
		}
	}
}

func TestSigmoid(t *testing.T) {
	g := loadGoldens(t)
	for _, p := range g.pairs[:5] {
		l, _ := g.f64(t, p.Name+".logits_f64")
		s, _ := g.f64(t, p.Name+".sigmoid_f64")
		if d := math.Abs(float64(Sigmoid(float32(l[0]))) - s[0]); d > 1e-7 {
			t.Errorf("%s: sigmoid off by %g", p.Name, d)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	good, _ := json.Marshal(smallConfig())
	f.Add(good)
	if real, err := os.ReadFile("../testdata/bge-reranker-v2-m3.config.json"); err == nil {
		f.Add(real)
	}
	f.Add([]byte(`{"id2label": {"0": "a"}, "num_labels": 1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("ParseConfig accepted a config Validate rejects: %v", err)
		}
		if c.HiddenSize%c.NumAttentionHeads != 0 || (c.Kind() == Reranker && c.NumLabels != 1) || c.MaxPositionEmbeddings <= c.PadTokenID+1 {
			t.Fatalf("invalid config accepted: %+v", c)
		}
	})
}

// TestLastLayerFirstTokens: without a hook the last layer runs for token 0 only; the logits
// must be those of the full last layer (which a hook forces), for a packed batch of every
// golden input.
func TestLastLayerFirstTokens(t *testing.T) {
	m := loadTiny(t, LoadOptions{})
	seqs := loadGoldens(t).inputs(t)
	pruned, full := make([]float32, len(seqs)), make([]float32, len(seqs))
	if err := m.Forward(m.NewScratch(), seqs, pruned, nil); err != nil {
		t.Fatal(err)
	}
	if err := m.Forward(m.NewScratch(), seqs, full, func(int, string, []int, []float32) {}); err != nil {
		t.Fatal(err)
	}
	for i := range seqs {
		if d := math.Abs(float64(pruned[i] - full[i])); d > 1e-6 {
			t.Errorf("pair %d: first-token last layer %v, full last layer %v", i, pruned[i], full[i])
		}
	}
}

// TestFeedForwardChunks: the feed-forward sub-layer runs ffnRows tokens at a time; every
// layer's hidden states and the logits must not depend, bit for bit, on where the chunks fall
// (here 7 rows, which splits sequences, against one chunk), for float32 and int8 weights.
func TestFeedForwardChunks(t *testing.T) {
	seqs := loadGoldens(t).inputs(t)
	for _, prec := range []nn.Precision{nn.F32, nn.Int8} {
		m := loadTiny(t, LoadOptions{Precision: prec})
		run := func(rows int) (map[string][]float32, []float32) {
			defer func(old int) { ffnRows = old }(ffnRows)
			ffnRows = rows
			states := map[string][]float32{}
			logits := make([]float32, len(seqs))
			s := m.NewScratch()
			err := m.Forward(s, seqs, logits, func(seq int, name string, _ []int, data []float32) {
				states[fmt.Sprint(seq, name)] = append([]float32(nil), data...)
			})
			if err != nil {
				t.Fatal(err)
			}
			if I := m.Config.IntermediateSize; cap(s.h) > rows*I {
				t.Fatalf("%v: feed-forward scratch holds %d rows, chunks are %d", prec, cap(s.h)/I, rows)
			}
			return states, logits
		}
		chunked, chunkedLogits := run(7)
		whole, wholeLogits := run(1 << 20)
		if len(whole) == 0 || len(chunked) != len(whole) {
			t.Fatalf("%v: %d hooked tensors chunked, %d whole", prec, len(chunked), len(whole))
		}
		for k, w := range whole {
			for i, v := range chunked[k] {
				if v != w[i] {
					t.Fatalf("%v %s[%d]: chunked %v, whole %v", prec, k, i, v, w[i])
				}
			}
		}
		for i := range wholeLogits {
			if chunkedLogits[i] != wholeLogits[i] {
				t.Errorf("%v pair %d: chunked %v, whole %v", prec, i, chunkedLogits[i], wholeLogits[i])
			}
		}
	}
}

// TestScratchPool: a returned scratch is reused, even across garbage collections (what a
// sync.Pool would not do: it let a server allocate a second long-batch scratch), and callers
// holding scratches at once get distinct ones.
func TestScratchPool(t *testing.T) {
	var p ScratchPool
	a, b := p.Get(), p.Get()
	if a == b {
		t.Fatal("two callers got the same scratch")
	}
	p.Put(a)
	runtime.GC()
	runtime.GC()
	if c := p.Get(); c != a {
		t.Error("the pool dropped a returned scratch across garbage collections")
	}
	p.Put(b)
}
