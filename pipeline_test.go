package gorerank

import (
	"context"
	"errors"
	"github.com/gorerank/gorerank/tensor"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorerank/gorerank/tokenizer"
)

func tinyPipeline(t testing.TB) (*Pipeline, *tokenizer.Tokenizer) {
	t.Helper()
	tok, err := tokenizer.Load(tokenizerPath)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := templateOf(tok)
	if err != nil {
		t.Fatal(err)
	}
	return NewPipeline(tok, tmpl, 512), tok
}

// TestPipelineMatchesEncodePair: for longest_first and only_second, from either side and
// for many max lengths, the pipeline (each text tokenized once, ids only, stopping early,
// truncation on ids) gives exactly the ids of the tokenizer's HF-conformant EncodePair, and
// an error exactly where EncodePair has one.
func TestPipelineMatchesEncodePair(t *testing.T) {
	p, tok := tinyPipeline(t)
	var texts []string
	for _, g := range loadIndex(t) {
		texts = append(texts, g.Query, g.Document)
	}
	texts = append(texts, strings.Repeat("word ", 300), "x")
	ctx := context.Background()
	n := 0
	for _, strategy := range []tokenizer.Strategy{tokenizer.LongestFirst, tokenizer.OnlySecond} {
		for _, left := range []bool{false, true} {
			for _, maxLen := range []int{5, 6, 7, 9, 12, 17, 30, 64, 200, 512} {
				for i := 0; i+1 < len(texts); i += 3 {
					q, d := texts[i], texts[i+1]
					if strings.TrimSpace(q) == "" {
						continue
					}
					o := ScoreOptions{MaxLength: maxLen, Truncation: Truncation(strategy), Left: left}
					in, err := p.prepare(ctx, q, []string{d}, o)
					want, werr := tok.EncodePair(q, d, tokenizer.Options{MaxLength: maxLen, Strategy: strategy, Left: left})
					n++
					switch {
					case werr != nil:
						if !errors.Is(werr, tokenizer.ErrSequenceTooShort) || !errors.Is(err, ErrTooLong) {
							t.Errorf("%s left=%v max %d pair %d: error %v, EncodePair %v", strategy, left, maxLen, i, err, werr)
						}
					case err != nil:
						t.Errorf("%s left=%v max %d pair %d: %v", strategy, left, maxLen, i, err)
					case !slices.Equal(in[0].Seqs[0], want.IDs) || in[0].Truncated != want.Truncated:
						t.Errorf("%s left=%v max %d pair %d:\n got %v (truncated %v)\nwant %v (truncated %v)", strategy, left, maxLen, i, in[0].Seqs[0], in[0].Truncated, want.IDs, want.Truncated)
					}
				}
			}
		}
	}
	t.Logf("%d cases", n)
}

func TestPipelineModes(t *testing.T) {
	p, tok := tinyPipeline(t)
	ctx := context.Background()
	ids := func(s string) []int32 {
		e, err := tok.Encode(s, tokenizer.Options{NoSpecial: true})
		if err != nil {
			t.Fatal(err)
		}
		return e.IDs
	}
	query := strings.Repeat("query words ", 20) // 40+ tokens
	doc := strings.Repeat("document text here ", 60)
	qi, di := ids(query), ids(doc)
	tmpl := p.Template()

	// flag: query capped at 3/4 of max length, then the document cut
	in, err := p.prepare(ctx, query, []string{doc}, ScoreOptions{MaxLength: 32, Truncation: TruncateFlag})
	if err != nil {
		t.Fatal(err)
	}
	if want := tmpl.join(qi[:24], di[:4]); !slices.Equal(in[0].Seqs[0], want) || !in[0].Truncated {
		t.Errorf("flag: %v, want %v", in[0].Seqs[0], want)
	}
	// windows: query capped at half, overlapping windows, at most MaxWindows
	in, err = p.prepare(ctx, query, []string{doc}, ScoreOptions{MaxLength: 40, Truncation: TruncateWindows, WindowOverlap: 4, MaxWindows: 3})
	if err != nil {
		t.Fatal(err)
	}
	q := qi[:20]
	room := 40 - 4 - 20
	wantSeqs := [][]int32{tmpl.join(q, di[:room]), tmpl.join(q, di[room-4:2*room-4]), tmpl.join(q, di[2*room-8:3*room-8])}
	if !slices.EqualFunc(in[0].Seqs, wantSeqs, slices.Equal) || !in[0].Truncated {
		t.Errorf("windows: %v, want %v", in[0].Seqs, wantSeqs)
	}
	if _, err := p.prepare(ctx, query, []string{doc}, ScoreOptions{MaxLength: 40, Truncation: TruncateWindows, MaxWindows: 3, Strict: true}); !errors.Is(err, ErrTooLong) {
		t.Errorf("windows, strict: %v", err)
	}
	// max_tokens_per_doc cuts the document first
	in, err = p.prepare(ctx, "q", []string{doc}, ScoreOptions{MaxDocTokens: 7})
	if err != nil {
		t.Fatal(err)
	}
	if want := tmpl.join(ids("q"), di[:7]); !slices.Equal(in[0].Seqs[0], want) || !in[0].Truncated {
		t.Errorf("max doc tokens: %v, want %v", in[0].Seqs[0], want)
	}
	in, err = p.prepare(ctx, "q", []string{doc}, ScoreOptions{MaxDocTokens: 7, Left: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := tmpl.join(ids("q"), di[len(di)-7:]); !slices.Equal(in[0].Seqs[0], want) {
		t.Errorf("max doc tokens, left: %v, want %v", in[0].Seqs[0], want)
	}
	// an empty document is the pair <s> q </s></s></s>
	in, err = p.prepare(ctx, "q", []string{""}, ScoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := tmpl.join(ids("q"), nil); !slices.Equal(in[0].Seqs[0], want) || len(want) != len(ids("q"))+4 {
		t.Errorf("empty document: %v, want %v", in[0].Seqs[0], want)
	}
	// the context is honoured between documents
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := p.prepare(cctx, "q", []string{"a"}, ScoreOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestRank(t *testing.T) {
	res := []Result{{Index: 0, Logit: 1}, {Index: 1, Logit: 20}, {Index: 2, Logit: 20.000002}, {Index: 3, Logit: 1}, {Index: 4, Logit: 20}}
	Rank(res)
	var got []int
	for _, r := range res {
		got = append(got, r.Index)
	}
	// sigmoid(20) and sigmoid(20.000002) are the same float32; the logits are not
	if want := []int{2, 1, 4, 0, 3}; !slices.Equal(got, want) {
		t.Errorf("rank %v, want %v", got, want)
	}
}

func TestDType(t *testing.T) {
	for _, d := range DTypes() {
		back, err := ParseDType(d.String())
		if err != nil || back != d {
			t.Errorf("%v: round trip %v %v", d, back, err)
		}
		if _, err := d.Precision(); err != nil {
			t.Error(err)
		}
	}
	for s, want := range map[string]DType{"F32": F32, "float16": F16, "bfloat16": BF16, "bf16-compute": BF16Compute, "bf16c": BF16Compute} {
		if d, err := ParseDType(s); err != nil || d != want {
			t.Errorf("%q: %v %v", s, d, err)
		}
	}
	if _, err := ParseDType("f8"); !errors.Is(err, ErrOptions) || !strings.Contains(err.Error(), "f32, f16, bf16, bf16c, int8") {
		t.Errorf("f8: %v", err)
	}
	bf16Compute := map[bool]string{true: "bf16", false: "f32"}[tensor.BF16Arithmetic()]
	if BF16Compute.Storage() != "bf16" || BF16Compute.Compute() != "bf16" || BF16.Compute() != bf16Compute ||
		Int8.Storage() != "int8" || Int8.Compute() != "int8" {
		t.Errorf("storage/compute: bf16c %s/%s, bf16 %s/%s (tier %s), int8 %s/%s", BF16Compute.Storage(), BF16Compute.Compute(),
			BF16.Storage(), BF16.Compute(), tensor.Tier().Name, Int8.Storage(), Int8.Compute())
	}
	if d, err := ParseDType("INT8"); err != nil || d != Int8 {
		t.Errorf("INT8: %v %v", d, err)
	}
}

// allocated runs f and returns the bytes it allocated (runtime TotalAlloc: counts every
// allocation whatever the GC does, so the figure is robust).
func allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// TestLongDocumentBounded: a 10 MB document (one "word", or ordinary words) costs memory and
// time bounded by what truncation keeps, not by its size, from either side and in windows.
func TestLongDocumentBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("10 MB documents")
	}
	p, _ := tinyPipeline(t)
	ctx := context.Background()
	docs := map[string]string{
		"one word":  strings.Repeat("x", 10<<20),
		"words":     strings.Repeat("lorem ipsum dolor sit amet ", 10<<20/27),
		"CJK":       strings.Repeat("北京是中国的首都", 10<<20/24),
		"no breaks": strings.Repeat("\u00e9", 5<<20),
	}
	for name, doc := range docs {
		for _, o := range []ScoreOptions{{}, {Left: true}, {Truncation: TruncateWindows, WindowOverlap: 64}, {Truncation: TruncateOnlySecond, MaxLength: 128}} {
			var in []Input
			var err error
			start := time.Now()
			n := allocated(func() { in, err = p.prepare(ctx, "query", []string{doc}, o) })
			el := time.Since(start)
			if err != nil {
				t.Fatalf("%s %+v: %v", name, o, err)
			}
			if !in[0].Truncated || n > 100<<20 || el > 5*time.Second {
				t.Errorf("%s %+v: truncated %v, %d MB allocated, %v", name, o, in[0].Truncated, n>>20, el)
			}
			t.Logf("%s %+v: %.1f MB allocated, %v", name, o, float64(n)/(1<<20), el)
		}
		// the same text as the query, against many long documents
		many := []string{doc, doc, doc, doc, doc, doc, doc, doc}
		start := time.Now()
		n := allocated(func() { _, err := p.prepare(ctx, doc, many, ScoreOptions{}); _ = err })
		if el := time.Since(start); n > 100<<20 || el > 5*time.Second {
			t.Errorf("%s as the query: %d MB allocated, %v", name, n>>20, el)
		}
	}
}

// TestPrepareStopsOnCancel: a request of many long documents stops within a second of its
// context ending (the context is checked between documents: one document's work is bounded
// by what truncation keeps).
func TestPrepareStopsOnCancel(t *testing.T) {
	p, _ := tinyPipeline(t)
	doc := strings.Repeat("lorem ipsum dolor sit amet ", 2400) // 64 KB, tokenized whole in windows
	docs := make([]string, 20000)
	for i := range docs {
		docs[i] = doc
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := p.prepare(ctx, "q", docs, ScoreOptions{Truncation: TruncateWindows, MaxWindows: 1 << 20})
	if el := time.Since(start); !errors.Is(err, context.Canceled) || el > 1100*time.Millisecond {
		t.Errorf("Prepare returned %v after %v", err, el)
	}
}

// TestPipelineOptionGrid: every combination of options on assorted texts either gives
// model inputs that respect them (no sequence over max length, at most MaxWindows windows,
// the template around each) or a typed error; never a panic or a hang.
func TestPipelineOptionGrid(t *testing.T) {
	p, _ := tinyPipeline(t)
	ctx := context.Background()
	texts := []string{"", "a", "short query", strings.Repeat("word ", 50), strings.Repeat("x", 3000), "北京是中国的首都。" + strings.Repeat("。", 40)}
	tmpl := p.Template()
	n := 0
	for _, mode := range Truncations {
		for _, maxLen := range []int{5, 6, 9, 17, 40} {
			for _, left := range []bool{false, true} {
				for _, strict := range []bool{false, true} {
					for _, docTok := range []int{0, 6} {
						for _, overlap := range []int{0, 100} {
							for _, windows := range []int{1, 3} {
								o := ScoreOptions{MaxLength: maxLen, Truncation: mode, Left: left, Strict: strict, MaxDocTokens: docTok, WindowOverlap: overlap, MaxWindows: windows}
								for _, q := range []string{texts[1], texts[3], texts[4]} {
									in, err := p.prepare(ctx, q, texts, o)
									n++
									if err != nil {
										if !errors.Is(err, ErrTooLong) {
											t.Fatalf("%+v %.10q: %v", o, q, err)
										}
										continue
									}
									for i, x := range in {
										if len(x.Seqs) == 0 || len(x.Seqs) > max(windows, 1) || len(x.Seqs) != len(x.Spans) {
											t.Fatalf("%+v %.10q doc %d: %d windows", o, q, i, len(x.Seqs))
										}
										for _, s := range x.Seqs {
											if len(s) > maxLen || s[0] != tmpl.Prefix[0] || s[len(s)-1] != tmpl.Suffix[len(tmpl.Suffix)-1] {
												t.Fatalf("%+v %.10q doc %d: sequence %v", o, q, i, s)
											}
										}
									}
								}
							}
						}
					}
				}
			}
		}
	}
	t.Logf("%d requests", n)
}

// TestBlankQuery: a query with nothing the model would read is ErrEmptyQuery, whether the
// text says so (white space, control and format characters) or only the tokenizer does
// (U+FFFD and other characters its normalization drops); Query and CheckQuery agree.
func TestBlankQuery(t *testing.T) {
	p, _ := tinyPipeline(t)
	for _, c := range []struct {
		q          string
		blank      bool
		textBlank  bool // the tokenizer-free CheckQuery already says so
		invalidUTF bool
	}{
		{"", true, true, false},
		{" \t\n", true, true, false},
		{"\u200b\ufeff", true, true, false},
		{"\x00", true, true, false}, // the tokenizer keeps NUL (▁ <unk>, as HF), the text check does not
		{"\u00a0\u3000\u200c\u200d\u2060", true, true, false},
		{"\ufffd", true, false, false},               // dropped by the normalizer alone
		{" \ufffd\u200b\ufffd ", true, false, false}, // a mix
		{"\xff", false, false, true},
		{"a", false, false, false},
		{"\u200ba\ufeff", false, false, false},
		{"\u0301", false, false, false}, // a lone combining mark is a token
	} {
		err := p.CheckQuery(c.q)
		_, qerr := p.query(c.q, ScoreOptions{})
		switch {
		case c.invalidUTF:
			if !errors.Is(err, ErrInvalidUTF8) || !errors.Is(qerr, ErrInvalidUTF8) {
				t.Errorf("%q: CheckQuery %v, Query %v; want ErrInvalidUTF8", c.q, err, qerr)
			}
		case c.blank:
			if !errors.Is(err, ErrEmptyQuery) || !errors.Is(qerr, ErrEmptyQuery) {
				t.Errorf("%q: CheckQuery %v, Query %v; want ErrEmptyQuery", c.q, err, qerr)
			}
		default:
			if err != nil || qerr != nil {
				t.Errorf("%q: CheckQuery %v, Query %v; want no error", c.q, err, qerr)
			}
		}
		if got := errors.Is(CheckQuery(c.q), ErrEmptyQuery); got != c.textBlank {
			t.Errorf("%q: package CheckQuery blank %v, want %v", c.q, got, c.textBlank)
		}
	}
}
