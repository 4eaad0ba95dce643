package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/gorerank/gorerank"
	"github.com/gorerank/gorerank/internal/server"
)

// doorCase is one request put to the three doors: the library, rerank score and the server.
type doorCase struct {
	name  string
	query string
	docs  []string
	o     gorerank.ScoreOptions
	class error // nil: scored; else the library's error class (and the server's status)
}

// doorCases are the rows of issue 11's table that concern scoring, and more.
func doorCases() []doorCase {
	gp := goldenPairsAll()
	long := strings.Repeat("Shanghai is a financial centre with a large port. ", 40)
	longQuery := strings.Repeat("what is the capital city of the country? ", 12)
	var cases []doorCase
	add := func(name, q string, docs []string, o gorerank.ScoreOptions, class error) {
		cases = append(cases, doorCase{name, q, docs, o, class})
	}
	add("empty document (HF: <s> q </s></s></s>)", "what?", []string{"", "a", " "}, gorerank.ScoreOptions{}, nil)
	add("blank query", "   ", []string{"a"}, gorerank.ScoreOptions{}, gorerank.ErrEmptyQuery)
	add("empty query", "", []string{"a"}, gorerank.ScoreOptions{}, gorerank.ErrEmptyQuery)
	add("zero-width query", "\u200b\ufeff", []string{"a"}, gorerank.ScoreOptions{}, gorerank.ErrEmptyQuery)
	add("NUL query", "\x00 ", []string{"a"}, gorerank.ScoreOptions{}, gorerank.ErrEmptyQuery)
	add("query the tokenizer drops (U+FFFD)", "\ufffd", []string{"a"}, gorerank.ScoreOptions{}, gorerank.ErrEmptyQuery)
	add("invalid UTF-8 document", "q", []string{"a\xffb"}, gorerank.ScoreOptions{}, gorerank.ErrInvalidUTF8)
	for _, n := range []int{5, 6, 9, 15} {
		add(fmt.Sprintf("max_length %d", n), "what is the capital of China?", []string{"Beijing is the capital of China.", long}, gorerank.ScoreOptions{MaxLength: n}, nil)
	}
	add("max_length within the specials", "q", []string{"a"}, gorerank.ScoreOptions{MaxLength: 4}, gorerank.ErrOptions)
	add("only_second, long query", longQuery, []string{"a", long}, gorerank.ScoreOptions{MaxLength: 64, Truncation: gorerank.TruncateOnlySecond}, gorerank.ErrTooLong)
	add("only_second", "capital?", []string{"a", long}, gorerank.ScoreOptions{MaxLength: 64, Truncation: gorerank.TruncateOnlySecond}, nil)
	add("longest_first, long query", longQuery, []string{"a", long}, gorerank.ScoreOptions{MaxLength: 63}, nil)
	add("longest_first, left", longQuery, []string{"a", long}, gorerank.ScoreOptions{MaxLength: 63, Left: true}, nil)
	add("flag", longQuery, []string{"a", long}, gorerank.ScoreOptions{MaxLength: 64, Truncation: gorerank.TruncateFlag}, nil)
	add("windows", "capital?", []string{"a", long + "Beijing is the capital of China."}, gorerank.ScoreOptions{MaxLength: 64, Truncation: gorerank.TruncateWindows, WindowOverlap: gorerank.DefaultWindowOverlap}, nil)
	add("windows, strict", "capital?", []string{long}, gorerank.ScoreOptions{MaxLength: 64, Truncation: gorerank.TruncateWindows, WindowOverlap: gorerank.DefaultWindowOverlap, MaxWindows: 2, Strict: true}, gorerank.ErrTooLong)
	add("truncation none", "q", []string{"a", long}, gorerank.ScoreOptions{MaxLength: 64, Truncation: gorerank.TruncateNone}, gorerank.ErrTooLong)
	add("max tokens per document", "capital?", []string{long, "Beijing"}, gorerank.ScoreOptions{MaxDocTokens: 7}, nil)
	add("max tokens per document, left", "capital?", []string{long, "Beijing"}, gorerank.ScoreOptions{MaxDocTokens: 7, Left: true}, nil)
	// the golden pairs (3 of them truncated at 512) as one request per query
	for i := 0; i < len(gp); i += 5 {
		if strings.TrimSpace(gp[i].Query) == "" {
			continue
		}
		var docs []string
		for j := i; j < min(i+5, len(gp)); j++ {
			docs = append(docs, gp[j].Document)
		}
		add(fmt.Sprintf("golden %d-%d", i, i+len(docs)-1), gp[i].Query, docs, gorerank.ScoreOptions{}, nil)
	}
	return cases
}

// goldenPairsAll is every golden pair, empty texts included.
func goldenPairsAll() []goldenPair {
	var idx struct {
		Pairs []goldenPair `json:"pairs"`
	}
	data, err := os.ReadFile(tinyModel + "/goldens_index.json")
	if err == nil {
		err = json.Unmarshal(data, &idx)
	}
	if err != nil {
		panic(err)
	}
	return idx.Pairs
}

// TestSameAnswersEverywhere puts each case to the library, to rerank score (JSON Lines)
// and to the server (/v1/rerank with raw_scores), and requires the same logits bit for bit
// in the same order, or the same error class: the library's sentinel, an {"error"} line
// carrying the library's message, and the status the server maps it to.
func TestSameAnswersEverywhere(t *testing.T) {
	ctx := context.Background()
	rr, err := gorerank.Open(tinyModel, gorerank.Options{TokenizerPath: tinyTokenizer})
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Close()
	l, err := gorerank.LoadModel(ctx, tinyModel, gorerank.Options{TokenizerPath: tinyTokenizer})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	eng, err := server.NewXLMREngine(l, server.ModelInfo{ID: "tiny"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := server.DefaultConfig() // what rerank serve runs with
	cfg.NoCache = true
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.SetEngine(eng); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()

	status := map[error]int{gorerank.ErrEmptyQuery: 400, gorerank.ErrInvalidUTF8: 400, gorerank.ErrOptions: 400, gorerank.ErrTooLong: 413}
	for _, c := range doorCases() {
		t.Run(c.name, func(t *testing.T) {
			// library
			lib, libErr := rr.Rerank(ctx, c.query, c.docs, c.o)
			switch {
			case c.class == nil && libErr != nil:
				t.Fatalf("library: %v", libErr)
			case c.class != nil && !errors.Is(libErr, c.class):
				t.Fatalf("library: error %v, want %v", libErr, c.class)
			}
			// CLI
			line, _ := json.Marshal(map[string]any{"query": c.query, "documents": c.docs})
			side := "right"
			if c.o.Left {
				side = "left"
			}
			args := []string{"score", "--model", tinyModel, "--tokenizer", tinyTokenizer, "--input", "-",
				"--max-length", fmt.Sprint(cmp.Or(c.o.MaxLength, gorerank.DefaultMaxLength)),
				"--truncation", string(cmpTrunc(c.o)), "--truncation-side", side, "--max-tokens-per-doc", fmt.Sprint(c.o.MaxDocTokens),
				"--window-overlap", fmt.Sprint(gorerank.DefaultWindowOverlap), "--max-windows", fmt.Sprint(cmp.Or(c.o.MaxWindows, gorerank.DefaultMaxWindows))}
			if c.o.Strict {
				args = append(args, "--no-truncate")
			}
			code, stdout, stderr := runCmd(strings.ToValidUTF8(string(line), "")+"\n", args...)
			if strings.Contains(c.query+strings.Join(c.docs, ""), "\xff") {
				// JSON cannot carry invalid UTF-8: send the raw bytes, as a file may hold them
				raw := `{"query": "` + c.query + `", "documents": ["` + strings.Join(c.docs, `", "`) + `"]}`
				code, stdout, stderr = runCmd(raw+"\n", args...)
			}
			var cli struct {
				Error   string `json:"error"`
				Results []struct {
					Index int     `json:"index"`
					Logit float32 `json:"logit"`
				} `json:"results"`
			}
			if err := json.Unmarshal([]byte(stdout), &cli); err != nil && !(c.class == gorerank.ErrOptions && code == exitFailure) {
				t.Fatalf("CLI: exit %d, stdout %q, stderr %q", code, stdout, stderr)
			}
			// server
			body := map[string]any{"query": c.query, "documents": c.docs, "raw_scores": true, "truncation": string(cmpTrunc(c.o)),
				"truncation_side": side, "unknown_fields_are_ignored": true, "truncate": !c.o.Strict}
			if c.o.MaxLength != 0 {
				body["max_length"] = c.o.MaxLength
			}
			if c.o.MaxDocTokens != 0 {
				body["max_tokens_per_doc"] = c.o.MaxDocTokens
			}
			if c.o.MaxWindows != 0 {
				body["max_chunks_per_doc"] = c.o.MaxWindows
			}
			var sbody string
			if b, err := json.Marshal(body); err == nil {
				sbody = string(b)
			}
			if strings.Contains(c.query+strings.Join(c.docs, ""), "\xff") {
				sbody = `{"query": "` + c.query + `", "documents": ["` + strings.Join(c.docs, `", "`) + `"], "raw_scores": true}`
			}
			resp, err := http.Post(ts.URL+"/v1/rerank", "application/json", strings.NewReader(sbody))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var srvOut struct {
				Results []struct {
					Index          int     `json:"index"`
					RelevanceScore float64 `json:"relevance_score"`
				} `json:"results"`
				Error struct {
					Message string `json:"message"`
				} `json:"error"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&srvOut); err != nil {
				t.Fatal(err)
			}

			if c.class != nil {
				libMsg := strings.TrimPrefix(libErr.Error(), "gorerank: ")
				var ok bool
				switch c.class {
				case gorerank.ErrOptions: // refused before reading the input
					ok = stdout == "" && strings.Contains(stderr, libMsg)
				case gorerank.ErrInvalidUTF8: // the CLI refuses the whole line
					ok = strings.Contains(cli.Error, "not valid UTF-8")
				default:
					ok = strings.Contains(cli.Error, libMsg)
				}
				if code != exitFailure || !ok {
					t.Errorf("CLI: exit %d, error %q, library %q (stderr %q)", code, cli.Error, libErr, stderr)
				}
				if resp.StatusCode != status[c.class] {
					t.Errorf("server: %d %q, want %d (library %v)", resp.StatusCode, srvOut.Error.Message, status[c.class], libErr)
				}
				return
			}
			if code != exitOK || cli.Error != "" {
				t.Fatalf("CLI: exit %d, %q, %s", code, stdout, stderr)
			}
			if resp.StatusCode != 200 {
				t.Fatalf("server: %d %s", resp.StatusCode, srvOut.Error.Message)
			}
			if len(cli.Results) != len(lib) || len(srvOut.Results) != len(lib) {
				t.Fatalf("results: library %d, CLI %d, server %d", len(lib), len(cli.Results), len(srvOut.Results))
			}
			for k, want := range lib {
				c, s := cli.Results[k], srvOut.Results[k]
				if c.Index != want.Index || math.Float32bits(c.Logit) != math.Float32bits(want.Logit) ||
					s.Index != want.Index || s.RelevanceScore != float64(want.Logit) {
					t.Errorf("rank %d: library doc %d %v, CLI doc %d %v, server doc %d %v", k, want.Index, want.Logit, c.Index, c.Logit, s.Index, s.RelevanceScore)
				}
			}
		})
	}
}

// cmpTrunc is the truncation name every door is given (Strict is "none" for longest_first).
func cmpTrunc(o gorerank.ScoreOptions) gorerank.Truncation {
	if o.Truncation == "" {
		return gorerank.TruncateLongestFirst
	}
	return o.Truncation
}

// TestTokenizeShowsModelInput: /tokenize with a pair shows the ids the model scores, for
// every truncation mode (windows: one token list per window).
func TestTokenizeShowsModelInput(t *testing.T) {
	ctx := context.Background()
	l, err := gorerank.LoadModel(ctx, tinyModel, gorerank.Options{TokenizerPath: tinyTokenizer})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	eng, err := server.NewXLMREngine(l, server.ModelInfo{ID: "tiny"})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.SetEngine(eng); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	query := strings.Repeat("what is the capital city of the country? ", 6)
	docs := []string{"", "Beijing.", strings.Repeat("Shanghai is a financial centre with a large port. ", 30)}
	for _, mode := range []gorerank.Truncation{gorerank.TruncateLongestFirst, gorerank.TruncateOnlySecond, gorerank.TruncateFlag, gorerank.TruncateWindows} {
		for _, side := range []string{"right", "left"} {
			o := gorerank.ScoreOptions{MaxLength: 96, Truncation: mode, Left: side == "left", WindowOverlap: gorerank.DefaultWindowOverlap}
			var inputs []gorerank.Input // what the scoring pipeline gives the model
			_, err := gorerank.Score(ctx, l.Pipeline, query, docs, o, func(_ context.Context, in []gorerank.Input, _ []float32) error {
				inputs = in
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			var want [][]int32
			for _, in := range inputs {
				want = append(want, in.Seqs...)
			}
			body, _ := json.Marshal(map[string]any{"query": query, "documents": docs, "max_length": 96, "truncation": mode, "truncation_side": side})
			resp, err := http.Post(ts.URL+"/tokenize", "application/json", strings.NewReader(string(body)))
			if err != nil {
				t.Fatal(err)
			}
			var got [][]struct {
				ID       int32  `json:"id"`
				Text     string `json:"text"`
				Special  bool   `json:"special"`
				Start    *int   `json:"start"`
				Sequence *int   `json:"sequence"`
			}
			err = json.NewDecoder(resp.Body).Decode(&got)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || len(got) != len(want) {
				t.Fatalf("%s %s: %d, %d lists, want %d (%v)", mode, side, resp.StatusCode, len(got), len(want), err)
			}
			for i := range want {
				ids := make([]int32, len(got[i]))
				for k, tk := range got[i] {
					ids[k] = tk.ID
					if tk.Special != (tk.Start == nil) || tk.Text == "" || tk.Sequence == nil {
						t.Errorf("%s %s: token %+v", mode, side, tk)
					}
				}
				if fmt.Sprint(ids) != fmt.Sprint(want[i]) {
					t.Errorf("%s %s list %d:\n got %v\nwant %v", mode, side, i, ids, want[i])
				}
			}
		}
	}
}

// TestDTypeEverywhere: every dtype name the library parses is accepted by each --dtype
// flag (score, inspect, bench, serve), and a bad one is refused by each with the same words.
func TestDTypeEverywhere(t *testing.T) {
	for _, d := range append(gorerank.DTypes(), gorerank.BF16Compute) {
		name := d.String()
		if code, _, stderr := runCmd("", "score", "--model", tinyModel, "--tokenizer", tinyTokenizer, "--dtype", name, "--query", "q", "d"); code != exitOK {
			t.Errorf("score --dtype %s: exit %d %s", name, code, stderr)
		}
		var e env
		e.stderr = new(strings.Builder)
		if f, code := parseServeFlags(&e, []string{"--model", "x", "--dtype", name}); f == nil || f.dtype != d {
			t.Errorf("serve --dtype %s: exit %d %s", name, code, e.stderr)
		}
	}
	for _, args := range [][]string{
		{"score", "--model", tinyModel, "--input", "-"},
		{"inspect", "--model", tinyModel, "--ids", "0,2", "--out", "x"},
		{"bench", "--model", tinyModel},
		{"serve", "--model", tinyModel},
	} {
		if code, _, stderr := runCmd("", append(args, "--dtype", "int4")...); code != exitUsage || !strings.Contains(stderr, `unknown dtype "int4" (want f32, f16, bf16, bf16c, int8)`) {
			t.Errorf("%s --dtype int4: exit %d %.200s", args[0], code, stderr)
		}
	}
}
