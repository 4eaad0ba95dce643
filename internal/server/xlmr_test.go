package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorerank/gorerank"
	"github.com/gorerank/gorerank/internal/m3kit"
	"github.com/gorerank/gorerank/tokenizer"
	"github.com/gorerank/gorerank/xlmr"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func loadTiny(t testing.TB) *XLMREngine {
	t.Helper()
	l, err := gorerank.LoadModel(context.Background(), "../../testdata/tiny", gorerank.Options{TokenizerPath: "../../testdata/tokenizer/tokenizer.json"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	e, err := NewXLMREngine(l, ModelInfo{ID: "tiny"})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// The pipeline (each text tokenized alone, joined with the template read from the
// tokenizer) gives exactly the tokenizer's pair encoding.
func TestXLMRPipelineMatchesTokenizer(t *testing.T) {
	e := loadTiny(t)
	f, err := os.Open("../../testdata/tokenizer/tokenizer_corpus.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var corpus struct {
		Pairs [][2]string `json:"pairs"`
	}
	if err := json.NewDecoder(bufio.NewReader(f)).Decode(&corpus); err != nil {
		t.Fatal(err)
	}
	if len(corpus.Pairs) < 100 {
		t.Fatalf("only %d pairs", len(corpus.Pairs))
	}
	n := 0
	for _, p := range corpus.Pairs {
		if strings.TrimSpace(p[0]) == "" {
			continue
		}
		want, err := e.l.Tokenizer.EncodePair(p[0], p[1], tokenizer.Options{MaxLength: 512})
		if err != nil {
			t.Fatal(err)
		}
		in, err := modelInputs(e.Pipeline(), p[0], []string{p[1]}, gorerank.ScoreOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n++
		if got := in[0].Seqs[0]; !slices.Equal(got, want.IDs) {
			t.Errorf("pair %q / %q:\n got %v\nwant %v", p[0], p[1], got, want.IDs)
		}
	}
	if n < 100 {
		t.Errorf("only %d pairs compared", n)
	}
}

// The server's scores over the real model equal a direct Forward of the tokenizer's pairs.
func TestXLMREngineThroughServer(t *testing.T) {
	e := loadTiny(t)
	s := newTestServer(t, Config{}, e)
	docs := []string{"Beijing is the capital of China.", "Shanghai is a financial centre.", strings.Repeat("long text ", 300)}
	body, _ := json.Marshal(map[string]any{"query": "what is the capital of China?", "texts": docs, "raw_scores": true})
	r := do(t, s.Handler(), "POST", "/rerank", string(body))
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	got := decode[[]teiResult](t, r.body)
	for _, res := range got {
		enc, err := e.l.Tokenizer.EncodePair("what is the capital of China?", docs[res.Index], tokenizer.Options{MaxLength: 512})
		if err != nil {
			t.Fatal(err)
		}
		logit := make([]float32, 1)
		if err := e.Score([][]int32{enc.IDs}, logit); err != nil {
			t.Fatal(err)
		}
		if math.Abs(float64(logit[0])-res.Score) > 1e-5 {
			t.Errorf("doc %d: server %v, direct %v", res.Index, res.Score, logit[0])
		}
		if res.Truncated != (res.Index == 2) {
			t.Errorf("doc %d: truncated %v", res.Index, res.Truncated)
		}
	}
}

// windows mode over the real model: the score is the best of the windows, each scored as
// <s> q </s></s> window </s>.
func TestXLMRWindows(t *testing.T) {
	e := loadTiny(t)
	s := newTestServer(t, Config{MaxLength: 64, WindowOverlap: 8}, e)
	q := "what is the capital of China?"
	doc := strings.Repeat("Shanghai is a financial centre with a large port. ", 12) + "Beijing is the capital of China."
	body, _ := json.Marshal(map[string]any{"query": q, "documents": []string{doc}, "raw_scores": true, "truncation": "windows"})
	r := do(t, s.Handler(), "POST", "/v1/rerank", string(body))
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	got := decode[v1Response](t, r.body).Results[0]

	qe, _ := e.Encode(q, tokenizer.Options{NoSpecial: true})
	de, _ := e.Encode(doc, tokenizer.Options{NoSpecial: true})
	room := 64 - 4 - len(qe.IDs)
	stride := room - 8
	best, n := math.Inf(-1), 0
	for start := 0; ; start += stride {
		end := min(start+room, len(de.IDs))
		l := make([]float32, 1)
		tmpl := e.Pipeline().Template()
		seq := slices.Concat(tmpl.Prefix, qe.IDs, tmpl.Middle, de.IDs[start:end], tmpl.Suffix)
		if err := e.Score([][]int32{seq}, l); err != nil {
			t.Fatal(err)
		}
		best = math.Max(best, float64(l[0]))
		n++
		if end == len(de.IDs) {
			break
		}
	}
	if n < 3 {
		t.Fatalf("only %d windows; make the document longer", n)
	}
	if math.Abs(got.RelevanceScore-best) > 1e-6 || got.Truncated {
		t.Errorf("server %v (truncated %v), best of %d windows %v", got.RelevanceScore, got.Truncated, n, best)
	}
	if wantTok := n*4 + n*len(qe.IDs); decode[v1Response](t, r.body).Usage.TotalTokens < wantTok {
		t.Errorf("usage %d below %d", decode[v1Response](t, r.body).Usage.TotalTokens, wantTok)
	}
}

// Odd input through the real tokenizer and model: every answer is what the library gives
// for the same options (the same logits bit for bit, or 413 exactly where the library says
// ErrTooLong), never a 5xx.
func TestXLMROddInputs(t *testing.T) {
	e := loadTiny(t)
	s := newTestServer(t, Config{MaxLength: 32, NoCache: true}, e)
	docs := []string{"", " ", "\u200d", "<s></s><pad><mask>", "👩‍👩‍👧‍👦🇫🇷", strings.Repeat("x", 5000), "e\u0301\u0301\u0301", "\x00\x01", "\ufeffBOM", "日本語のテキスト" + strings.Repeat("。", 100)}
	ctx := context.Background()
	cases := 0
	for _, mode := range []string{"longest_first", "only_second", "flag", "windows"} {
		for _, q := range []string{"q", "<mask>", strings.Repeat("long query ", 30)} {
			body, _ := json.Marshal(map[string]any{"query": q, "documents": docs, "truncation": mode, "raw_scores": true})
			r := do(t, s.Handler(), "POST", "/rerank", string(body)) // the seed dialect: it reports truncation
			o := gorerank.ScoreOptions{MaxLength: 32, Truncation: gorerank.Truncation(mode), WindowOverlap: DefaultConfig().WindowOverlap, MaxWindows: DefaultConfig().MaxChunks}
			want, err := gorerank.Score(ctx, e.Pipeline(), q, docs, o, func(_ context.Context, inputs []gorerank.Input, logits []float32) error {
				var seqs [][]int32
				for _, in := range inputs {
					seqs = append(seqs, in.Seqs...)
				}
				return e.Score(seqs, logits)
			})
			if err != nil {
				if !errors.Is(err, gorerank.ErrTooLong) || r.status != 413 {
					t.Errorf("%s / %.20q: server %d %s, library %v", mode, q, r.status, r.body, err)
				}
				continue
			}
			if r.status != 200 {
				t.Errorf("%s / %.20q: %d %s", mode, q, r.status, r.body)
				continue
			}
			gorerank.Rank(want)
			got := decode[v1Response](t, r.body).Results
			if len(got) != len(want) {
				t.Fatalf("%s / %.20q: %d results", mode, q, len(got))
			}
			for k := range got {
				if got[k].Index != want[k].Index || got[k].RelevanceScore != float64(want[k].Logit) || got[k].Truncated != want[k].Truncated {
					t.Errorf("%s / %.20q rank %d: server %+v, library %+v", mode, q, k, got[k], want[k])
				}
			}
			cases++
		}
	}
	if cases < 10 {
		t.Errorf("only %d cases scored", cases)
	}
}

// countingEngine counts the sequences scored by the engine it wraps.
type countingEngine struct {
	*XLMREngine
	seqs atomic.Int64
}

func (c *countingEngine) Score(seqs [][]int32, logits []float32) error {
	c.seqs.Add(int64(len(seqs)))
	return c.XLMREngine.Score(seqs, logits)
}

// TestLargeDocumentBounded: one 10 MB document (one "word", or words; under the default
// body limit) costs under 100 MB of allocation for the whole request (body, JSON decoding,
// tokenization, scoring; the 10 MB echo of return_documents left out), and is scored as
// truncated. TotalAlloc counts every byte allocated, so this bounds the extra peak heap
// whatever the GC does.
func TestLargeDocumentBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("10 MB request")
	}
	e := loadTiny(t)
	s := newTestServer(t, DefaultConfig(), e)
	for _, doc := range []string{strings.Repeat("x", 10<<20), strings.Repeat("lorem ipsum ", 10<<20/12)} {
		raw, _ := json.Marshal(map[string]any{"query": "q", "texts": []string{doc}}) // TEI: reports truncation, no text back
		body := string(raw)
		var r reply
		var a, b runtime.MemStats
		runtime.ReadMemStats(&a)
		start := time.Now()
		r = do(t, s.Handler(), "POST", "/rerank", body)
		el := time.Since(start)
		runtime.ReadMemStats(&b)
		n := b.TotalAlloc - a.TotalAlloc
		if r.status != 200 || !decode[[]teiResult](t, r.body)[0].Truncated || n > 100<<20 || el > 5*time.Second {
			t.Errorf("10 MB document: %d, %d MB allocated, %v: %.200s", r.status, n>>20, el, r.body)
		}
		t.Logf("10 MB document: %.1f MB allocated in %v", float64(n)/(1<<20), el)

		// /tokenize shows whole texts: a text longer than any model input is refused cheaply
		for _, tb := range []string{`{"inputs": ` + string(mustJSON(t, doc)) + `}`, `{"query": "q", "documents": [` + string(mustJSON(t, doc)) + `]}`} {
			runtime.ReadMemStats(&a)
			r = do(t, s.Handler(), "POST", "/tokenize", tb)
			runtime.ReadMemStats(&b)
			if n := b.TotalAlloc - a.TotalAlloc; r.status != 413 || n > 100<<20 {
				t.Errorf("/tokenize of a 10 MB text: %d, %d MB allocated: %.200s", r.status, n>>20, r.body)
			}
		}
	}
}

// TestClientLeavingStopsWork: a client that leaves mid-request stops the work within a
// second: the handler returns and the engine scores nothing more for it.
func TestClientLeavingStopsWork(t *testing.T) {
	if testing.Short() {
		t.Skip("a timing test over a large request (too slow under -race)")
	}
	e := &countingEngine{XLMREngine: loadTiny(t)}
	cfg := DefaultConfig()
	cfg.NoCache, cfg.MaxBatchTokens = true, 2048
	s := newTestServer(t, cfg, e)
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	docs := make([]string, 1000)
	for i := range docs {
		docs[i] = fmt.Sprintf("document %d ", i) + strings.Repeat("lorem ipsum dolor sit amet ", 300)
	}
	body, _ := json.Marshal(map[string]any{"query": "q", "documents": docs, "truncation": "windows"})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", ts.URL+"/v1/rerank", bytes.NewReader(body))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			t.Errorf("the request finished before the client left (%d); make it bigger", resp.StatusCode)
		}
	}()
	waitFor(t, func() bool { return e.seqs.Load() > 0 }) // scoring has started
	cancel()
	left := time.Now()
	<-done
	waitFor(t, func() bool { return testutil.ToFloat64(s.m.inFlight) == 0 })
	if el := time.Since(left); el > time.Second {
		t.Errorf("the handler ran %v after the client left", el)
	}
	time.Sleep(200 * time.Millisecond) // a batch in hand may finish
	n := e.seqs.Load()
	time.Sleep(300 * time.Millisecond)
	if m := e.seqs.Load(); m != n {
		t.Errorf("the engine went on scoring after the client left: %d then %d sequences", n, m)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// m3Tiny loads the tiny random bge-m3 of the shared kit (the published layout:
// pytorch_model.bin, sparse_linear.pt, colbert_linear.pt) as the server would.
func m3Tiny(t testing.TB) (*gorerank.Loaded, *XLMREmbedder) {
	t.Helper()
	l, err := gorerank.LoadModel(context.Background(), m3kit.Dir(t), gorerank.Options{TokenizerPath: "../../testdata/tokenizer/tokenizer.json"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	e, err := NewXLMREmbedder(l, ModelInfo{ID: "BAAI/bge-m3"})
	if err != nil {
		t.Fatal(err)
	}
	return l, e
}

// TestXLMREmbedderRoutes: the three outputs of m3-tiny through every embedding route, with
// the reranker beside it, equal to the library's Embed of the same texts.
func TestXLMREmbedderRoutes(t *testing.T) {
	l, emb := m3Tiny(t)
	s := newEmbedServer(t, Config{}, []Engine{loadTiny(t)}, emb)
	h := s.Handler()
	texts := []string{"员工离职需要提前多久通知公司?", "Beijing is the capital of China.", "  "}
	body, _ := json.Marshal(map[string]any{"inputs": texts})
	fwd := func(ctx context.Context, seqs [][]int32, want xlmr.Outputs, out []xlmr.Embedding) error {
		return emb.Embed(seqs, want, out)
	}
	lib, err := gorerank.Embed(context.Background(), l.Pipeline, texts, gorerank.EmbedOptions{Outputs: xlmr.OutputAll}, fwd)
	if err != nil {
		t.Fatal(err)
	}
	close32 := func(a, b float32) bool { return math.Abs(float64(a-b)) <= 1e-6 }

	r := do(t, h, "POST", "/embed", string(body))
	var dense [][]float32
	if r.status != 200 || json.Unmarshal(r.body, &dense) != nil || len(dense) != 3 {
		t.Fatalf("/embed: %d %.300s", r.status, r.body)
	}
	r = do(t, h, "POST", "/embed_sparse", string(body))
	var sparse [][]sparseValue
	if r.status != 200 || json.Unmarshal(r.body, &sparse) != nil {
		t.Fatalf("/embed_sparse: %d %.300s", r.status, r.body)
	}
	r = do(t, h, "POST", "/embed_colbert", string(body))
	var colbert [][][]float32
	if r.status != 200 || json.Unmarshal(r.body, &colbert) != nil {
		t.Fatalf("/embed_colbert: %d %.300s", r.status, r.body)
	}
	for i, e := range lib {
		if len(dense[i]) != 32 {
			t.Fatalf("dense %d: %d dimensions", i, len(dense[i]))
		}
		for k := range e.Dense {
			if !close32(dense[i][k], e.Dense[k]) {
				t.Errorf("text %d dense[%d]: server %v, library %v", i, k, dense[i][k], e.Dense[k])
				break
			}
		}
		ids, vals := e.SparseSorted()
		if len(sparse[i]) != len(ids) {
			t.Errorf("text %d: %d sparse weights, library %d", i, len(sparse[i]), len(ids))
		}
		for k := range min(len(ids), len(sparse[i])) {
			if sparse[i][k].Index != ids[k] || !close32(sparse[i][k].Value, vals[k]) {
				t.Errorf("text %d sparse %d: server %+v, library %d:%v", i, k, sparse[i][k], ids[k], vals[k])
			}
		}
		if len(colbert[i]) != len(e.ColBERT) || !close32(colbert[i][0][0], e.ColBERT[0][0]) {
			t.Errorf("text %d: %d ColBERT vectors, library %d", i, len(colbert[i]), len(e.ColBERT))
		}
	}
	// a text whose normalization expands (U+FDFA is 18 characters after NFKC) has more
	// tokens than characters: admission's bound is not strict there, and the difference is
	// reserved once tokenized
	r = do(t, h, "POST", "/v1/embeddings", `{"input": "`+strings.Repeat("\ufdfa", 20)+`"}`)
	var ou struct {
		Usage usage `json:"usage"`
	}
	if json.Unmarshal(r.body, &ou); r.status != 200 || ou.Usage.PromptTokens <= 20+3 {
		t.Errorf("expanding text: %d, %d tokens %.200s", r.status, ou.Usage.PromptTokens, r.body)
	}
	if tk := s.adm.heldTokens.Load(); tk != 0 {
		t.Errorf("%d tokens still held", tk)
	}
	// OpenAI, and rerank beside it in the same process
	r = do(t, h, "POST", "/v1/embeddings", `{"model": "bge-m3", "input": "Beijing is the capital of China."}`)
	if r.status != 200 || !strings.Contains(string(r.body), `"prompt_tokens":`) {
		t.Errorf("/v1/embeddings: %d %.300s", r.status, r.body)
	}
	if r := do(t, h, "POST", "/v1/rerank", `{"model": "BAAI/bge-reranker-v2-m3", `+threeDocs+`}`); r.status != 200 {
		t.Errorf("/v1/rerank beside the embedder: %d %s", r.status, r.body)
	}
}

// modelInputs is what the scoring pipeline gives the model for a query and its documents:
// gorerank.Score with a forward pass that keeps its inputs.
func modelInputs(p *gorerank.Pipeline, query string, docs []string, o gorerank.ScoreOptions) ([]gorerank.Input, error) {
	var inputs []gorerank.Input
	_, err := gorerank.Score(context.Background(), p, query, docs, o, func(_ context.Context, in []gorerank.Input, _ []float32) error {
		inputs = in
		return nil
	})
	return inputs, err
}
