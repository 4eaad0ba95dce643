package gorerank

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"strings"
	"sync"
	"testing"
)

const (
	tinyDir       = "testdata/tiny"
	tokenizerPath = "testdata/tokenizer/tokenizer.json"
)

type goldenPair struct {
	Name     string  `json:"name"`
	Query    string  `json:"query"`
	Document string  `json:"document"`
	SeqLen   int     `json:"seq_len"`
	Logit    float64 `json:"logit_f64"`
}

func loadIndex(t testing.TB) []goldenPair {
	t.Helper()
	data, err := os.ReadFile("testdata/tiny/goldens_index.json")
	if err != nil {
		t.Fatalf("golden index missing: %v", err)
	}
	var idx struct {
		Pairs []goldenPair `json:"pairs"`
	}
	if err := json.Unmarshal(data, &idx); err != nil {
		t.Fatal(err)
	}
	if len(idx.Pairs) != 43 {
		t.Fatalf("%d golden pairs, want 43", len(idx.Pairs))
	}
	return idx.Pairs
}

func openTiny(t testing.TB, o Options) *Reranker {
	t.Helper()
	o.TokenizerPath = tokenizerPath
	r, err := Open(tinyDir, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// TestScorePairsGolden goes text → tokenizer → model for the 43 golden pairs (3 of them
// truncated to 512 tokens) and compares with the HF float64 logits. Pairs with an empty
// text are left out: the library refuses them (HF would score "<s> q </s></s></s>"); the
// xlmr golden tests cover them through their token ids.
func TestScorePairsGolden(t *testing.T) {
	var gp []goldenPair
	for _, p := range loadIndex(t) {
		if p.Query != "" && p.Document != "" {
			gp = append(gp, p)
		}
	}
	pairs := make([]Pair, len(gp))
	for i, p := range gp {
		pairs[i] = Pair{p.Query, p.Document}
	}
	for _, budget := range []int{0, 600} { // one batch, and many small ones
		r := openTiny(t, Options{BatchTokens: budget})
		res, err := r.ScorePairs(context.Background(), pairs, ScoreOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var worst float64
		for i, p := range gp {
			d := math.Abs(float64(res[i].Logit) - p.Logit)
			worst = max(worst, d)
			if d > 1e-5 || res[i].Index != i {
				t.Errorf("budget %d %s: logit %.8g want %.8g (index %d)", budget, p.Name, res[i].Logit, p.Logit, res[i].Index)
			}
			if want := p.SeqLen == 512; res[i].Truncated != want {
				t.Errorf("%s: Truncated=%v, seq_len %d", p.Name, res[i].Truncated, p.SeqLen)
			}
			if s := 1 / (1 + math.Exp(-p.Logit)); math.Abs(float64(res[i].Score)-s) > 1e-5 {
				t.Errorf("%s: score %v want %v", p.Name, res[i].Score, s)
			}
		}
		t.Logf("budget %d: max abs logit diff %.3g over %d pairs", budget, worst, len(gp))
	}
}

func TestRerankSortsAndValidates(t *testing.T) {
	gp := loadIndex(t)
	r := openTiny(t, Options{})
	ctx := context.Background()
	q := gp[2].Query
	docs := []string{gp[2].Document, gp[3].Document, gp[4].Document, gp[5].Document}
	res, err := r.Rerank(ctx, q, docs, ScoreOptions{MaxLength: 512})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for i, x := range res {
		seen[x.Index] = true
		if i > 0 && x.Score > res[i-1].Score {
			t.Errorf("not sorted: %+v", res)
		}
		if d := math.Abs(float64(x.Logit) - gp[2+x.Index].Logit); d > 1e-5 {
			t.Errorf("doc %d: logit %v want %v", x.Index, x.Logit, gp[2+x.Index].Logit)
		}
	}
	if len(seen) != 4 {
		t.Errorf("results %+v", res)
	}
	if res, err := r.Rerank(ctx, q, nil, ScoreOptions{}); err != nil || len(res) != 0 {
		t.Errorf("no documents: %v %v", res, err)
	}
	long := strings.Repeat("很长的查询 ", 400)
	for _, c := range []struct {
		name  string
		query string
		docs  []string
		o     ScoreOptions
		want  string
		is    error
	}{
		{"empty query", "", docs, ScoreOptions{}, "empty query", ErrEmptyQuery},
		{"empty document", q, []string{"a", ""}, ScoreOptions{}, "document 1", ErrEmptyDocument},
		{"max length over the model", q, docs, ScoreOptions{MaxLength: 513}, "exceeds the model's 512", nil},
		{"negative max length", q, docs, ScoreOptions{MaxLength: -1}, "negative", nil},
		{"unknown truncation", q, docs, ScoreOptions{Truncation: "middle"}, `unknown truncation "middle"`, nil},
		{"no truncation", q, []string{strings.Repeat("文档", 600)}, ScoreOptions{Truncation: TruncateNone}, "max length 512", ErrTooLong},
		{"only_second, query too long", long, docs, ScoreOptions{Truncation: TruncateOnlySecond, MaxLength: 64}, "document 0", nil},
	} {
		_, err := r.Rerank(ctx, c.query, c.docs, c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) || (c.is != nil && !errors.Is(err, c.is)) {
			t.Errorf("%s: error %v, want one mentioning %q", c.name, err, c.want)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := r.Rerank(cancelled, q, docs, ScoreOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

func TestRerankConcurrent(t *testing.T) {
	gp := loadIndex(t)[:12]
	r := openTiny(t, Options{BatchTokens: 100})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(gp); i += 2 {
				res, err := r.Rerank(context.Background(), gp[i].Query, []string{gp[i].Document}, ScoreOptions{})
				if err != nil {
					t.Error(err)
					return
				}
				if d := math.Abs(float64(res[0].Logit) - gp[i].Logit); d > 1e-5 {
					t.Errorf("%s: logit %v want %v", gp[i].Name, res[0].Logit, gp[i].Logit)
				}
			}
		}()
	}
	wg.Wait()
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(tinyDir, Options{TokenizerPath: "testdata/none.json"}); err == nil || !strings.Contains(err.Error(), "none.json") {
		t.Errorf("missing tokenizer: %v", err)
	}
	if _, err := Open("testdata/absent", Options{TokenizerPath: tokenizerPath}); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("missing model: %v", err)
	}
	if _, err := Open(tinyDir, Options{TokenizerPath: tokenizerPath, BatchTokens: -1}); err == nil {
		t.Error("negative BatchTokens accepted")
	}
}
