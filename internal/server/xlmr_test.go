package server

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/gorerank/gorerank/tokenizer"
	"github.com/gorerank/gorerank/xlmr"
)

func loadTiny(t testing.TB) *XLMREngine {
	t.Helper()
	m, err := xlmr.Load("../../testdata/tiny", xlmr.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	tok, err := tokenizer.Load("../../testdata/tokenizer/tokenizer.json")
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewXLMREngine(m, tok, ModelInfo{ID: "tiny"})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// JoinPair over separately encoded texts must give exactly the tokenizer's pair encoding
// (the server relies on it to tokenize a query once per request).
func TestXLMRJoinPairMatchesTokenizer(t *testing.T) {
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
	for _, p := range corpus.Pairs {
		want, err := e.EncodePair(p[0], p[1], tokenizer.Options{})
		if err != nil {
			t.Fatal(err)
		}
		q, _ := e.Encode(p[0], tokenizer.Options{NoSpecial: true})
		d, _ := e.Encode(p[1], tokenizer.Options{NoSpecial: true})
		if got := e.JoinPair(q.IDs, d.IDs); !slices.Equal(got, want.IDs) {
			t.Errorf("pair %q / %q:\n got %v\nwant %v", p[0], p[1], got, want.IDs)
		}
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
		enc, err := e.EncodePair("what is the capital of China?", docs[res.Index], tokenizer.Options{MaxLength: 512})
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
