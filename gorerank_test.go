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

// TestScorePairsGolden goes text → tokenizer → model for the golden pairs (3 of them
// truncated to 512 tokens) and compares with the HF float64 logits. An empty document is
// scored as HF does ("<s> q </s></s></s>"); pairs with an empty query are left out (a blank
// query is ErrEmptyQuery; the xlmr golden tests cover them through their token ids).
func TestScorePairsGolden(t *testing.T) {
	var gp []goldenPair
	for _, p := range loadIndex(t) {
		if p.Query != "" {
			gp = append(gp, p)
		}
	}
	if len(gp) != 41 {
		t.Fatalf("%d golden pairs with a query, want 41", len(gp))
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
		if i > 0 && (x.Logit > res[i-1].Logit || x.Logit == res[i-1].Logit && x.Index < res[i-1].Index) {
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
		{"empty query", "", docs, ScoreOptions{}, "empty", ErrEmptyQuery},
		{"blank query", " \t\n", docs, ScoreOptions{}, "blank", ErrEmptyQuery},
		{"zero-width query", "\u200b\ufeff", docs, ScoreOptions{}, "blank", ErrEmptyQuery},
		{"query the tokenizer drops", "\ufffd ", docs, ScoreOptions{}, "blank", ErrEmptyQuery},
		{"blank query, bad options", "\u200b", docs, ScoreOptions{MaxLength: -1}, "negative", ErrOptions},
		{"invalid UTF-8 query", "a\xffb", docs, ScoreOptions{}, "UTF-8", ErrInvalidUTF8},
		{"invalid UTF-8 document", q, []string{"a", "\xc3"}, ScoreOptions{}, "document 1", ErrInvalidUTF8},
		{"max length over the model", q, docs, ScoreOptions{MaxLength: 513}, "exceeds the model's 512", ErrOptions},
		{"max length within the specials", q, docs, ScoreOptions{MaxLength: 4}, "special tokens", ErrOptions},
		{"negative max length", q, docs, ScoreOptions{MaxLength: -1}, "negative", ErrOptions},
		{"unknown truncation", q, docs, ScoreOptions{Truncation: "middle"}, `unknown truncation "middle"`, ErrOptions},
		{"no truncation", q, []string{strings.Repeat("文档", 600)}, ScoreOptions{Truncation: TruncateNone}, "max length 512", ErrTooLong},
		{"strict", q, []string{strings.Repeat("文档", 600)}, ScoreOptions{Strict: true, Truncation: TruncateFlag}, "max length 512", ErrTooLong},
		{"only_second, query too long", long, docs, ScoreOptions{Truncation: TruncateOnlySecond, MaxLength: 64}, "document 0: the query has more than 64 tokens; only_second with max length 64 keeps at most 59", ErrTooLong},
	} {
		_, err := r.Rerank(ctx, c.query, c.docs, c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) || (c.is != nil && !errors.Is(err, c.is)) || strings.Contains(err.Error(), "Truncation error") {
			t.Errorf("%s: error %v, want one mentioning %q", c.name, err, c.want)
		}
	}
	for _, query := range []string{"\u200b\ufeff", "\x00", "\ufffd"} {
		_, err := r.ScorePairs(ctx, []Pair{{q, "d"}, {query, "d"}}, ScoreOptions{})
		var pe *PairError
		if !errors.Is(err, ErrEmptyQuery) || !errors.As(err, &pe) || pe.Index != 1 {
			t.Errorf("ScorePairs, query %q: %v; want ErrEmptyQuery for pair 1", query, err)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := r.Rerank(cancelled, q, docs, ScoreOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

// TestRerankConcurrent scores disjoint pairs from several goroutines at once (each pair
// exactly once) and requires the logits of a sequential run, bit for bit.
func TestRerankConcurrent(t *testing.T) {
	gp := loadIndex(t)[:12]
	r := openTiny(t, Options{BatchTokens: 100})
	ctx := context.Background()
	want := make([]float32, len(gp))
	for i, p := range gp {
		res, err := r.Rerank(ctx, p.Query+"?", []string{p.Document}, ScoreOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want[i] = res[0].Logit
	}
	const workers = 4
	got := make([]float32, len(gp))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(gp); i += workers { // worker w takes pairs w, w+4, w+8
				res, err := r.Rerank(ctx, gp[i].Query+"?", []string{gp[i].Document}, ScoreOptions{})
				if err != nil {
					t.Error(err)
					return
				}
				got[i] = res[0].Logit
			}
		}()
	}
	wg.Wait()
	for i := range gp {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Errorf("%s: concurrent logit %v, sequential %v", gp[i].Name, got[i], want[i])
		}
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(tinyDir, Options{TokenizerPath: "testdata/none.json"}); err == nil || !strings.Contains(err.Error(), "none.json") {
		t.Errorf("missing tokenizer: %v", err)
	}
	if _, err := Open(t.TempDir()+"/absent", Options{TokenizerPath: tokenizerPath}); err == nil || !strings.Contains(err.Error(), "no model folder at ") {
		t.Errorf("missing model: %v", err)
	}
	if _, err := Open(tinyDir, Options{TokenizerPath: tokenizerPath, BatchTokens: -1}); err == nil {
		t.Error("negative BatchTokens accepted")
	}
}

// TestScoreSeam: Score is the pair policy, the forward pass it is given, then windows reduced: one result per
// document in input order, a windowed document its best window, the forward's error as is,
// and Rerank's answer when the forward is the model's.
func TestScoreSeam(t *testing.T) {
	r := openTiny(t, Options{})
	ctx := context.Background()
	docs := []string{"Beijing is the capital of China.", strings.Repeat("Paris is in France. ", 200), "Berlin."}
	o := ScoreOptions{MaxLength: 64, Truncation: TruncateWindows}
	var got []Input
	res, err := Score(ctx, r.Pipeline(), "capital of China", docs, o, func(ctx context.Context, inputs []Input, logits []float32) error {
		got = inputs
		for k := range logits {
			logits[k] = float32(k)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || len(got[1].Seqs) < 2 || len(res) != 3 {
		t.Fatalf("%d inputs (%d windows for the long document), %d results", len(got), len(got[1].Seqs), len(res))
	}
	// logits are sequence numbers: document 1's best window is its last sequence
	if last := float32(len(got[0].Seqs) + len(got[1].Seqs) - 1); res[1].Logit != last || res[0].Logit != 0 || res[2].Index != 2 {
		t.Errorf("results %+v, want document 1 at %v", res, last)
	}
	boom := errors.New("boom")
	if _, err := Score(ctx, r.Pipeline(), "q", docs, o, func(context.Context, []Input, []float32) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("forward error: %v", err)
	}
	if _, err := Score(ctx, r.Pipeline(), "\u200b", docs, o, func(context.Context, []Input, []float32) error { t.Error("forward on a blank query"); return nil }); !errors.Is(err, ErrEmptyQuery) {
		t.Errorf("blank query: %v", err)
	}
}

// TestRerankEach: every group gets Rerank's answer, bit for bit, with the forward passes
// shared; a bad group has its own error (the query's, or a *PairError naming the document
// within the group) and the others are scored; bad options and an ended ctx fail the call.
func TestRerankEach(t *testing.T) {
	r := openTiny(t, Options{BatchTokens: 64})
	ctx := context.Background()
	long := strings.Repeat("Paris is in France. ", 200)
	groups := []Group{
		{"capital of China", []string{"Beijing is the capital of China.", long, "Berlin."}},
		{" \u200b", []string{"a"}},
		{"q", []string{"fine", "bad \xff", "also bad \xff"}},
		{"where is Paris?", []string{long}},
		{"empty list", nil},
	}
	o := ScoreOptions{MaxLength: 64, Truncation: TruncateWindows, WindowOverlap: 8}
	res, errs, err := r.RerankEach(ctx, groups, o)
	if err != nil || len(res) != len(groups) || len(errs) != len(groups) {
		t.Fatalf("%d results, %d errors, %v", len(res), len(errs), err)
	}
	for g, gr := range groups {
		want, werr := r.Rerank(ctx, gr.Query, gr.Documents, o)
		switch {
		case werr != nil:
			if errs[g] == nil || errs[g].Error() != werr.Error() || res[g] != nil {
				t.Errorf("group %d: %v (results %v), want Rerank's error %v", g, errs[g], res[g], werr)
			}
		case errs[g] != nil || len(res[g]) != len(want):
			t.Errorf("group %d: %v, %d results; want %d", g, errs[g], len(res[g]), len(want))
		default:
			for k := range want {
				if res[g][k] != want[k] {
					t.Errorf("group %d rank %d: %+v, Rerank %+v", g, k, res[g][k], want[k])
				}
			}
		}
	}
	var pe *PairError
	if !errors.Is(errs[1], ErrEmptyQuery) || !errors.As(errs[2], &pe) || pe.Index != 1 || !errors.Is(errs[2], ErrInvalidUTF8) {
		t.Errorf("errors %v", errs)
	}
	if _, _, err := r.RerankEach(ctx, groups, ScoreOptions{MaxLength: -1}); !errors.Is(err, ErrOptions) {
		t.Errorf("bad options: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := r.RerankEach(cctx, groups, o); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
