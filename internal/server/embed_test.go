package server

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorerank/gorerank"
	"github.com/gorerank/gorerank/xlmr"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeEmbedder embeds with the fake engine's white-space tokenizer: the dense vector is a
// normalised 4-dimensional hash of the ids, each word's sparse weight is 1 + its position
// mod 3, and each token after <s> gets a ColBERT vector of its id.
type fakeEmbedder struct {
	fakeEngine
	id      string
	outputs xlmr.Outputs
	mu2     sync.Mutex
	order   *[]string // when set, each batch appends the model's id
	gate2   chan struct{}
}

const fakeDim = 4

func (f *fakeEmbedder) Pipeline() *gorerank.Pipeline {
	return gorerank.NewPipeline(&f.fakeEngine, gorerank.Template{Prefix: []int32{fakeBOS}, Middle: []int32{fakeEOS, fakeEOS}, Suffix: []int32{fakeEOS},
		SinglePrefix: []int32{fakeBOS}, SingleSuffix: []int32{fakeEOS}}, 64)
}

func (f *fakeEmbedder) Embed(seqs [][]int32, want xlmr.Outputs, out []xlmr.Embedding) error {
	if f.gate2 != nil {
		<-f.gate2
	}
	if f.order != nil {
		f.mu2.Lock()
		*f.order = append(*f.order, f.id)
		f.mu2.Unlock()
	}
	for i, s := range seqs {
		e := xlmr.Embedding{Outputs: want}
		if want&xlmr.OutputDense != 0 {
			e.Dense = fakeDense(s)
		}
		if want&xlmr.OutputSparse != 0 {
			e.Sparse = map[int32]float32{}
			for k, id := range s[1 : len(s)-1] {
				e.Sparse[id] = max(e.Sparse[id], float32(1+k%3))
			}
		}
		if want&xlmr.OutputColBERT != 0 {
			for _, id := range s[1:] {
				e.ColBERT = append(e.ColBERT, []float32{float32(id), 1})
			}
		}
		out[i] = e
	}
	return nil
}

func fakeDense(s []int32) []float32 {
	v := make([]float32, fakeDim)
	for k, id := range s {
		v[(int(id)+k)%fakeDim] += float32(id%7 + 1)
	}
	n := float32(0)
	for _, x := range v {
		n += x * x
	}
	n = float32(math.Sqrt(float64(n)))
	for k := range v {
		v[k] /= n
	}
	return v
}

func (f *fakeEmbedder) Outputs() xlmr.Outputs {
	if f.outputs == 0 {
		return xlmr.OutputAll
	}
	return f.outputs
}
func (f *fakeEmbedder) Dim() int   { return fakeDim }
func (f *fakeEmbedder) Vocab() int { return 200000 }
func (f *fakeEmbedder) Info() ModelInfo {
	id := f.id
	if id == "" {
		id = "BAAI/bge-m3"
	}
	return ModelInfo{ID: id, Path: "/nowhere", DType: "f32", Type: "fake", MaxTokens: 64}
}

var _ EmbedEngine = (*fakeEmbedder)(nil)

func newEmbedServer(t *testing.T, cfg Config, rerankers []Engine, embedders ...EmbedEngine) *Server {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetModels(rerankers, embedders); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestOpenAIEmbeddings(t *testing.T) {
	s := newEmbedServer(t, Config{}, nil, &fakeEmbedder{})
	h := s.Handler()
	type resp struct {
		Object string `json:"object"`
		Model  string `json:"model"`
		Data   []struct {
			Object    string          `json:"object"`
			Index     int             `json:"index"`
			Embedding json.RawMessage `json:"embedding"`
		} `json:"data"`
		Usage usage `json:"usage"`
	}
	r := do(t, h, "POST", "/v1/embeddings", `{"model": "text-embedding-3-small", "input": ["hello world", "a b c"]}`)
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	got := decode[resp](t, r.body)
	if got.Object != "list" || got.Model != "BAAI/bge-m3" || len(got.Data) != 2 || got.Data[1].Index != 1 || got.Data[0].Object != "embedding" {
		t.Errorf("shape: %s", r.body)
	}
	// <s> hello world </s> and <s> a b c </s>
	if got.Usage.PromptTokens != 9 || got.Usage.TotalTokens != 9 {
		t.Errorf("usage %+v, want 9 tokens", got.Usage)
	}
	var v []float32
	json.Unmarshal(got.Data[0].Embedding, &v)
	want := fakeDense([]int32{fakeBOS, wordID("hello"), wordID("world"), fakeEOS})
	if len(v) != fakeDim || math.Abs(float64(v[0]-want[0])) > 1e-6 {
		t.Errorf("dense %v, want %v", v, want)
	}

	// base64: little-endian float32, what the official SDKs ask for
	r = do(t, h, "POST", "/v1/embeddings", `{"input": "hello world", "encoding_format": "base64"}`)
	got = decode[resp](t, r.body)
	var b64 string
	json.Unmarshal(got.Data[0].Embedding, &b64)
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != 4*fakeDim {
		t.Fatalf("base64 %q: %v", b64, err)
	}
	for k := range want {
		if x := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*k:])); x != want[k] {
			t.Errorf("base64 component %d: %v, want %v", k, x, want[k])
		}
	}

	// Jina's {"text": ...} items: the same vector as the text
	r = do(t, h, "POST", "/v1/embeddings", `{"input": [{"text": "hello world"}], "encoding_type": "float"}`)
	got = decode[resp](t, r.body)
	if r.status != 200 || len(got.Data) != 1 || json.Unmarshal(got.Data[0].Embedding, &v) != nil || v[0] != want[0] {
		t.Errorf(`{"text": ...} input: %d %s`, r.status, r.body)
	}
	// token ids, one list or several: the same vector as the text
	for _, body := range []string{
		`{"input": [` + itoa(wordID("hello")) + `,` + itoa(wordID("world")) + `]}`,
		`{"input": [[` + itoa(wordID("hello")) + `,` + itoa(wordID("world")) + `], [5]]}`,
	} {
		r = do(t, h, "POST", "/v1/embeddings", body)
		if r.status != 200 {
			t.Fatalf("%s: %d %s", body, r.status, r.body)
		}
		got = decode[resp](t, r.body)
		json.Unmarshal(got.Data[0].Embedding, &v)
		if v[0] != want[0] || v[3] != want[3] {
			t.Errorf("%s: %v, want %v", body, v, want)
		}
	}

	for _, c := range []struct{ body, want string }{
		{`{"input": "a", "dimensions": 256}`, `field \"dimensions\": 256`},
		{`{"input": "a", "encoding_format": "int8"}`, `field \"encoding_format\"`},
		{`{"input": []}`, `must not be empty`},
		{`{"input": ""}`, `input[0]: the text is empty`},
		{`{"input": ["a", 3]}`, `input[1] must be a string`},
		{`{"input": [{"image": "x.png"}]}`, `input[0] must be a string or an object with a \"text\" string`},
		{`{"input": [[1, 2], [-1]]}`, `input[1]: token 0 is id -1`},
		{`{"input": [999999]}`, `outside the vocabulary`},
		{`{"model": "m"}`, `field \"input\" is required`},
		{`{"input": {"text": "a"}}`, `must be a string or a list of strings`},
		{`{"input": "\ud800"}`, `lone UTF-16 surrogate`},
	} {
		if r := do(t, h, "POST", "/v1/embeddings", c.body); r.status != 400 || !strings.Contains(string(r.body), c.want) {
			t.Errorf("%s: %d %s, want 400 with %s", c.body, r.status, r.body, c.want)
		}
	}
	long := `{"input": "` + strings.Repeat("w ", 100) + `"}`
	if r := do(t, h, "POST", "/v1/embeddings", long); r.status != 413 {
		t.Errorf("over the model's 64 tokens: %d %s", r.status, r.body)
	}
	if b, tk := s.adm.heldBytes.Load(), s.adm.heldTokens.Load(); b != 0 || tk != 0 {
		t.Errorf("held after the answers: %d bytes, %d tokens", b, tk)
	}
}

func itoa(id int32) string { return strconv.Itoa(int(id)) }

func TestTEIEmbed(t *testing.T) {
	s := newEmbedServer(t, Config{}, nil, &fakeEmbedder{})
	h := s.Handler()
	r := do(t, h, "POST", "/embed", `{"inputs": ["hello world", "b"]}`)
	var dense [][]float32
	if r.status != 200 || json.Unmarshal(r.body, &dense) != nil || len(dense) != 2 || len(dense[0]) != fakeDim {
		t.Fatalf("/embed: %d %s", r.status, r.body)
	}
	r = do(t, h, "POST", "/embed", `{"inputs": "hello world"}`)
	var one [][]float32
	if json.Unmarshal(r.body, &one) != nil || len(one) != 1 || one[0][1] != dense[0][1] {
		t.Errorf("/embed with one string: %s", r.body)
	}
	r = do(t, h, "POST", "/embed_sparse", `{"inputs": ["b a b"]}`)
	var sparse [][]sparseValue
	if r.status != 200 || json.Unmarshal(r.body, &sparse) != nil || len(sparse) != 1 || len(sparse[0]) != 2 {
		t.Fatalf("/embed_sparse: %d %s", r.status, r.body)
	}
	if sparse[0][0].Index > sparse[0][1].Index {
		t.Errorf("sparse ids not ascending: %s", r.body)
	}
	r = do(t, h, "POST", "/embed_colbert", `{"inputs": ["a b"]}`)
	var colbert [][][]float32
	if r.status != 200 || json.Unmarshal(r.body, &colbert) != nil || len(colbert) != 1 || len(colbert[0]) != 3 { // a b </s>
		t.Fatalf("/embed_colbert: %d %s", r.status, r.body)
	}
	// truncation: TEI cuts by default (auto_truncate), and refuses with truncate false
	long := strings.Repeat("w ", 100)
	if r := do(t, h, "POST", "/embed", `{"inputs": "`+long+`"}`); r.status != 200 {
		t.Errorf("long text, default truncation: %d %s", r.status, r.body)
	}
	if r := do(t, h, "POST", "/embed", `{"inputs": "`+long+`", "truncate": false}`); r.status != 413 {
		t.Errorf("long text, truncate false: %d %s", r.status, r.body)
	}
	for _, c := range []struct{ path, body, want string }{
		{"/embed", `{"inputs": "a", "normalize": false}`, `normalize\": false is not supported`},
		{"/embed", `{"inputs": "a", "prompt_name": "query"}`, `no prompts`},
		{"/embed", `{"inputs": "a", "truncation_direction": "Up"}`, `truncation_direction`},
		{"/embed", `{"inputs": [1, 2]}`, `must be a string or a list of strings`},
	} {
		if r := do(t, h, "POST", c.path, c.body); r.status != 400 || !strings.Contains(string(r.body), c.want) {
			t.Errorf("%s %s: %d %s", c.path, c.body, r.status, r.body)
		}
	}
	// a model without a sparse head says so
	s2 := newEmbedServer(t, Config{}, nil, &fakeEmbedder{outputs: xlmr.OutputDense})
	if r := do(t, s2.Handler(), "POST", "/embed_sparse", `{"inputs": "a"}`); r.status != 400 || !strings.Contains(string(r.body), "sparse_linear") {
		t.Errorf("sparse from a dense-only model: %d %s", r.status, r.body)
	}
}

// TestTwoStages: one server, a reranker and two embedders; each route picks its model, a
// name picks among several, and /info lists them.
func TestTwoStages(t *testing.T) {
	s := newEmbedServer(t, Config{NoCache: true}, []Engine{&fakeEngine{}}, // NoCache: the model runs for each request
		&fakeEmbedder{id: "BAAI/bge-m3"}, &fakeEmbedder{id: "./models/other-embedder"})
	h := s.Handler()
	if r := do(t, h, "POST", "/v1/rerank", `{"model": "anything", `+threeDocs+`}`); r.status != 200 {
		t.Errorf("rerank with any model name (one reranker): %d %s", r.status, r.body)
	}
	for name, want := range map[string]string{"BAAI/bge-m3": "BAAI/bge-m3", "bge-m3": "BAAI/bge-m3", "other-embedder": "./models/other-embedder"} {
		r := do(t, h, "POST", "/v1/embeddings", `{"model": "`+name+`", "input": "a"}`)
		if r.status != 200 || !strings.Contains(string(r.body), `"model":"`+want+`"`) {
			t.Errorf("model %q: %d %s", name, r.status, r.body)
		}
	}
	if r := do(t, h, "POST", "/v1/embeddings", `{"input": "a"}`); r.status != 400 || !strings.Contains(string(r.body), `\"model\" is required`) {
		t.Errorf("no model, two embedders: %d %s", r.status, r.body)
	}
	if r := do(t, h, "POST", "/embed", `{"model": "nope", "inputs": "a"}`); r.status != 404 {
		t.Errorf("unknown model: %d %s", r.status, r.body)
	}
	var info struct {
		ModelID string           `json:"model_id"`
		Models  []map[string]any `json:"models"`
	}
	json.Unmarshal(do(t, h, "GET", "/info", "").body, &info)
	if info.ModelID != "fake/reranker" || len(info.Models) != 3 || info.Models[1]["task"] != "embed" || info.Models[1]["dimensions"] != float64(fakeDim) {
		t.Errorf("/info: %+v", info)
	}
	// work is counted per model
	if n := testutil.ToFloat64(s.m.modelSeqs.WithLabelValues("BAAI/bge-m3")); n != 2 { // "a" twice
		t.Errorf("rerank_model_sequences_total{model=BAAI/bge-m3} = %v, want 2", n)
	}
	if n := testutil.ToFloat64(s.m.modelSeqs.WithLabelValues("fake/reranker")); n != 3 {
		t.Errorf("rerank_model_sequences_total{model=fake/reranker} = %v, want 3", n)
	}
	// a reranker-only server has no embeddings
	s2 := newTestServer(t, Config{}, &fakeEngine{})
	if r := do(t, s2.Handler(), "POST", "/v1/embeddings", `{"input": "a"}`); r.status != 404 || !strings.Contains(string(r.body), "no embed model") {
		t.Errorf("embeddings on a reranker-only server: %d %s", r.status, r.body)
	}
}

// TestLanesTakeTurns: while a long embedding job is queued, a rerank request's batch runs
// after at most one embedding batch, not after the whole job.
func TestLanesTakeTurns(t *testing.T) {
	var order []string
	gate := make(chan struct{})
	emb := &fakeEmbedder{id: "emb", order: &order, gate2: gate}
	rr := &orderedReranker{order: &order, mu: &emb.mu2}
	s := newEmbedServer(t, Config{MaxBatchSize: 1, NoCache: true}, []Engine{rr}, emb)
	h := s.Handler()
	inputs := make([]string, 20)
	for i := range inputs {
		inputs[i] = `"text ` + itoa(int32(i)) + `"`
	}
	done := make(chan int, 2)
	go func() {
		done <- do(t, h, "POST", "/embed", `{"inputs": [`+strings.Join(inputs, ",")+`]}`).status
	}()
	b := s.engine.Load().batch
	waitFor(t, func() bool { // the job is queued: one batch taken (held at the gate), 19 waiting
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.pending == 19
	})
	go func() { done <- do(t, h, "POST", "/rerank", `{"query": "q", "texts": ["a"]}`).status }()
	waitFor(t, func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, l := range b.lanes {
			if l.name == "fake/reranker" && len(l.queue) == 1 {
				return true
			}
		}
		return false
	})
	close(gate)
	for range 2 {
		if c := <-done; c != 200 {
			t.Errorf("status %d", c)
		}
	}
	emb.mu2.Lock()
	defer emb.mu2.Unlock()
	at := -1
	for i, o := range order {
		if o == "rerank" {
			at = i
		}
	}
	if at < 0 || at > 2 {
		t.Errorf("the rerank batch ran at position %d of %v, want within the first embedding batches", at, order)
	}
}

// orderedReranker records its batches in a shared order.
type orderedReranker struct {
	fakeEngine
	order *[]string
	mu    *sync.Mutex
}

func (r *orderedReranker) Score(seqs [][]int32, logits []float32) error {
	r.mu.Lock()
	*r.order = append(*r.order, "rerank")
	r.mu.Unlock()
	return r.fakeEngine.Score(seqs, logits)
}

// the context of a request that leaves stops its embedding work like its rerank work
func TestEmbedClientGone(t *testing.T) {
	gate := make(chan struct{})
	emb := &fakeEmbedder{gate2: gate}
	s := newEmbedServer(t, Config{MaxBatchSize: 1}, nil, emb)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() {
		in := &embedInput{field: "inputs", texts: []string{"a", "b", "c"}}
		st := s.engine.Load()
		_, _, err := s.embed(ctx, nil, st.batch, st.models[0], in, gorerank.EmbedOptions{Outputs: xlmr.OutputDense})
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	close(gate)
	if err := <-errc; err == nil {
		t.Error("no error after the client left")
	}
}
