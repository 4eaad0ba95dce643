package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

type goldenPair struct {
	Name      string  `json:"name"`
	Query     string  `json:"query"`
	Document  string  `json:"document"`
	Logit     float64 `json:"logit_f64"`
	LogitFP16 float64 `json:"logit_fp16_ckpt_f64"`
}

func goldenPairs(t *testing.T) []goldenPair {
	t.Helper()
	data, err := os.ReadFile(tinyModel + "/goldens_index.json")
	if err != nil {
		t.Fatalf("golden index missing: %v", err)
	}
	var idx struct {
		Pairs []goldenPair `json:"pairs"`
	}
	if err := json.Unmarshal(data, &idx); err != nil {
		t.Fatal(err)
	}
	var out []goldenPair
	for _, p := range idx.Pairs {
		if p.Query != "" && p.Document != "" { // empty texts are refused by design
			out = append(out, p)
		}
	}
	if len(out) < 40 {
		t.Fatalf("only %d usable golden pairs", len(out))
	}
	return out
}

func jsonLine(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}

func TestScoreJSONLinesGolden(t *testing.T) {
	gp := goldenPairs(t)
	var in strings.Builder
	for _, p := range gp {
		in.WriteString(jsonLine(t, map[string]string{"query": p.Query, "document": p.Document}))
	}
	// pairs 2..5 share a query: one "documents" line
	docs := []string{gp[2].Document, gp[3].Document, gp[4].Document, gp[5].Document}
	in.WriteString(jsonLine(t, map[string]any{"query": gp[2].Query, "documents": docs}))

	check := func(stdout string, logitOf func(goldenPair) float64) {
		t.Helper()
		lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
		if len(lines) != len(gp)+1 {
			t.Fatalf("%d output lines for %d input lines", len(lines), len(gp)+1)
		}
		var worst float64
		for i, p := range gp {
			var o struct{ Logit, Score *float64 }
			if err := json.Unmarshal([]byte(lines[i]), &o); err != nil || o.Logit == nil || o.Score == nil {
				t.Fatalf("line %d: %q (%v)", i+1, lines[i], err)
			}
			d := math.Abs(*o.Logit - logitOf(p))
			worst = max(worst, d)
			if d > 1e-5 {
				t.Errorf("line %d (%s): logit %v, want %v", i+1, p.Name, *o.Logit, logitOf(p))
			}
			if s := 1 / (1 + math.Exp(-*o.Logit)); math.Abs(s-*o.Score) > 1e-6 {
				t.Errorf("line %d: score %v is not sigmoid(logit %v)", i+1, *o.Score, *o.Logit)
			}
		}
		t.Logf("max abs logit diff over %d lines: %.3g", len(gp), worst)
		var multi struct {
			Results []struct {
				Index        int
				Logit, Score float64
			}
		}
		if err := json.Unmarshal([]byte(lines[len(gp)]), &multi); err != nil || len(multi.Results) != 4 {
			t.Fatalf("documents line: %q (%v)", lines[len(gp)], err)
		}
		for j, r := range multi.Results {
			if j > 0 && r.Score > multi.Results[j-1].Score {
				t.Errorf("results not sorted: %+v", multi.Results)
			}
			if d := math.Abs(r.Logit - logitOf(gp[2+r.Index])); d > 1e-5 {
				t.Errorf("documents[%d]: logit %v, want %v", r.Index, r.Logit, logitOf(gp[2+r.Index]))
			}
		}
	}

	code, stdout, stderr := runCmd(in.String(), "score", "--model", tinyModel, "--tokenizer", tinyTokenizer, "--input", "-")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	check(stdout, func(p goldenPair) float64 { return p.Logit })

	// from a file, on the F16 checkpoint (widened at load)
	file := filepath.Join(t.TempDir(), "in.jsonl")
	os.WriteFile(file, []byte(in.String()), 0o644)
	code, stdout, stderr = runCmd("", "score", "--model", tinyModel, "--tokenizer", tinyTokenizer, "--input", file, "--weights", "model-fp16.safetensors")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	check(stdout, func(p goldenPair) float64 { return p.LogitFP16 })
}

func TestScoreMaxLength(t *testing.T) {
	gp := goldenPairs(t)
	var long goldenPair
	for _, p := range gp {
		if len([]rune(p.Document)) > 4000 {
			long = p
		}
	}
	in := jsonLine(t, map[string]string{"query": long.Query, "document": long.Document})
	_, out512, _ := runCmd(in, "score", "--model", tinyModel, "--tokenizer", tinyTokenizer, "--input", "-")
	code, out64, stderr := runCmd(in, "score", "--model", tinyModel, "--tokenizer", tinyTokenizer, "--input", "-", "--max-length", "64")
	if code != exitOK || out64 == out512 || out64 == "" {
		t.Errorf("--max-length 64: exit %d, %q vs %q, %s", code, out64, out512, stderr)
	}
	if code, _, stderr := runCmd(in, "score", "--model", tinyModel, "--tokenizer", tinyTokenizer, "--input", "-", "--max-length", "600"); code != exitFailure || !strings.Contains(stderr, "exceeds the model's 512") {
		t.Errorf("--max-length 600: exit %d, %s", code, stderr)
	}
}

// TestScoreBadLines: a bad line gets {"error": ...} on its output line (and a message on
// stderr), the lines around it are scored, and the exit status is 1; --fail-fast stops there.
func TestScoreBadLines(t *testing.T) {
	good := `{"query": "q", "document": "d"}` + "\n"
	_, goodOut, _ := runCmd(good, "score", "--model", tinyModel, "--tokenizer", tinyTokenizer, "--input", "-")
	if !strings.HasPrefix(goodOut, `{"logit":`) {
		t.Fatalf("good line: %q", goodOut)
	}
	for _, c := range []struct {
		name, line, want string
	}{
		{"invalid JSON", `{"query": "q", "document": }`, "line 2: invalid JSON at byte 28: invalid character '}'"},
		{"unknown field", `{"query": "q", "doc": "d"}`, `line 2: unknown field \"doc\" (want \"query\" and \"document\" or \"documents\")`},
		{"missing query", `{"document": "d"}`, `line 2: missing \"query\"`},
		{"empty query", `{"query": "", "document": "d"}`, `line 2: gorerank: the query is empty or blank`},
		{"blank query", `{"query": " \t", "document": "d"}`, `line 2: gorerank: the query is empty or blank`},
		{"zero-width query", `{"query": "\u200b\ufeff", "documents": ["d"]}`, `line 2: gorerank: the query is empty or blank`},
		{"query the tokenizer drops", `{"query": "\ufffd", "document": "d"}`, `line 2: gorerank: the query is empty or blank`},
		{"null query", `{"query": null, "document": "d"}`, `line 2: field \"query\" must be a string, got null`},
		{"document number", `{"query": "q", "document": 5}`, `line 2: field \"document\" must be a string, got a number`},
		{"document object", `{"query": "q", "document": {"text": "d"}}`, `line 2: field \"document\" must be a string, got an object`},
		{"documents string", `{"query": "q", "documents": "d"}`, `line 2: field \"documents\" must be a list of strings, got a string`},
		{"documents entry", `{"query": "q", "documents": ["a", true]}`, `line 2: field \"documents[1]\" must be a string, got a boolean`},
		{"cut short", `{"query": "q", "document": "d"`, `line 2: invalid JSON: the line ends inside a value`},
		{"no document", `{"query": "q"}`, `line 2: missing \"document\" or \"documents\"`},
		{"both", `{"query": "q", "document": "d", "documents": ["d"]}`, "not both"},
		{"empty list", `{"query": "q", "documents": []}`, `line 2: \"documents\" is empty`},
		{"not an object", `["q", "d"]`, `line 2: want a JSON object with \"query\" and \"document\" or \"documents\", got an array`},
		{"two values", `{"query": "q", "document": "d"} {}`, "line 2: invalid JSON: more than one value"},
		{"blank line", ``, "line 2: empty line"},
		{"wrong type", `{"query": 3, "document": "d"}`, `line 2: field \"query\" must be a string, got a number`},
		{"lone surrogate", `{"query": "q", "documents": ["a", "\ud800"]}`, `is a lone UTF-16 surrogate, not a character`},
		{"bad UTF-8", "{\"query\": \"q\xff\", \"document\": \"d\"}", "line 2: gorerank: text is not valid UTF-8"},
		{"too long", `{"query": "` + strings.Repeat("word ", 300) + `", "documents": ["a", "b"]}`, "line 2: gorerank: document 0: the query has more than"},
	} {
		args := []string{"score", "--model", tinyModel, "--tokenizer", tinyTokenizer, "--input", "-"}
		if c.name == "too long" {
			args = append(args, "--truncation", "only_second", "--max-length", "64")
		}
		code, stdout, stderr := runCmd(good+c.line+"\n"+good, args...)
		lines := strings.Split(stdout, "\n")
		if code != exitFailure || len(lines) != 4 || lines[0]+"\n" != goodOut || lines[2]+"\n" != goodOut ||
			!strings.HasPrefix(lines[1], `{"error":"`) || !strings.Contains(lines[1], c.want) || !strings.Contains(stderr, "1 of 3 lines failed") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 1, an error line containing %q between two scored lines", c.name, code, stdout, stderr, c.want)
		}
		code, stdout, stderr = runCmd(good+c.line+"\n"+good, append(args, "--fail-fast")...)
		if code != exitFailure || stdout != goodOut || !strings.Contains(stderr, "line 2") {
			t.Errorf("%s --fail-fast: exit %d, stdout %q, stderr %q; want exit 1 after the first line", c.name, code, stdout, stderr)
		}
	}
	// empty documents are scored (HF: <s> q </s></s></s>), in a list too
	in := `{"query": "q", "document": ""}` + "\n" + `{"query": "q", "documents": ["a", ""]}` + "\n"
	if code, stdout, stderr := runCmd(in, "score", "--model", tinyModel, "--tokenizer", tinyTokenizer, "--input", "-"); code != exitOK || strings.Count(stdout, "\n") != 2 || strings.Contains(stdout, "error") {
		t.Errorf("empty documents: exit %d, %q, %s", code, stdout, stderr)
	}
	// a line longer than the limit is one error line; reading goes on
	if code, _, stderr := runCmd("", "score", "--model", tinyModel, "--tokenizer", tinyTokenizer, "--input", "-"); code != exitFailure || !strings.Contains(stderr, "no input lines") {
		t.Errorf("empty input: exit %d, %s", code, stderr)
	}
	if code, _, stderr := runCmd("", "score", "--model", tinyModel, "--tokenizer", tinyTokenizer, "--input", "/nonexistent.jsonl"); code != exitFailure || !strings.Contains(stderr, "/nonexistent.jsonl") {
		t.Errorf("missing input: exit %d, %s", code, stderr)
	}
}

// TestLineReader: lines of any length up to the limit come back whole; a longer one is a
// per-line error and the next line is read normally.
func TestLineReader(t *testing.T) {
	long := strings.Repeat("x", maxLineBytes+10)
	in := "a\n" + strings.Repeat("y", 100000) + "\n" + long + "\nb\r\nlast"
	lr := &lineReader{r: bufio.NewReaderSize(strings.NewReader(in), 4096)}
	var got []string
	for {
		b, err := lr.next()
		if err == io.EOF {
			break
		}
		var le lineError
		if errors.As(err, &le) {
			got = append(got, "ERR")
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprint(len(b)))
	}
	if want := []string{"1", "100000", "ERR", "2", "4"}; !slices.Equal(got, want) {
		t.Errorf("lines %v, want %v", got, want)
	}
	if lr.n != 5 {
		t.Errorf("%d lines counted", lr.n)
	}
}

func TestScoreHumanAndUsage(t *testing.T) {
	code, stdout, stderr := runCmd("", "score", "--model", tinyModel, "--tokenizer", tinyTokenizer, "--query", "中国的首都是哪里?", "北京是中国的首都。", "上海是经济中心。")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "RANK") || !strings.HasPrefix(lines[1], "1 ") || !strings.Contains(lines[1], "上海") || !strings.Contains(lines[1], "1.313504") {
		t.Errorf("table:\n%s", stdout)
	}
	// flags after the documents apply; after "--" everything is a document
	code, after, stderr := runCmd("", "score", "--model", tinyModel, "--query", "中国的首都是哪里?", "北京是中国的首都。", "上海是经济中心。", "--tokenizer", tinyTokenizer)
	if code != exitOK || after != stdout {
		t.Errorf("--tokenizer after the documents: exit %d, %s\n%s", code, after, stderr)
	}
	code, stdout, stderr = runCmd("", "score", "--model", tinyModel, "--query", "q", "--tokenizer", tinyTokenizer, "--", "--max-length", "-")
	if lines := strings.Split(strings.TrimSpace(stdout), "\n"); code != exitOK || len(lines) != 3 || !strings.Contains(stdout, "--max-length") {
		t.Errorf("documents after --: exit %d, %s\n%s", code, stdout, stderr)
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"score", "--input", "-"}, exitUsage, "--model is required"},
		{[]string{"score", "--model", tinyModel}, exitUsage, "one of --input FILE or --query"},
		{[]string{"score", "--model", tinyModel, "--input", "-", "--query", "q"}, exitUsage, "not both"},
		{[]string{"score", "--model", tinyModel, "--query", "q"}, exitUsage, "at least one document"},
		{[]string{"score", "--model", tinyModel, "--input", "-", "extra"}, exitUsage, "unexpected arguments"},
		{[]string{"score", "--model", tinyModel, "--input", "-", "--max-length", "0"}, exitUsage, "--max-length must be positive"},
		{[]string{"score", "--model", tinyModel, "--input", "-", "--precision", "f8"}, exitUsage, `unknown dtype "f8"`},
		{[]string{"score", "--bogus"}, exitUsage, "flag provided but not defined"},
		// an explicitly empty or blank query is the query's error, not a missing flag: before
		// the model loads (text) or after (what the tokenizer drops)
		{[]string{"score", "--model", tinyModel, "--query", "", "d"}, exitUsage, "rerank score: --query: the query is empty or blank\n"},
		{[]string{"score", "--model", tinyModel, "--query", ""}, exitUsage, "rerank score: --query: the query is empty or blank\n"},
		{[]string{"score", "--model", tinyModel, "--query", "\u200b\ufeff", "d"}, exitUsage, "rerank score: --query: the query is empty or blank\n"},
		{[]string{"score", "--model", tinyModel, "--tokenizer", tinyTokenizer, "--query", "\ufffd", "d"}, exitUsage, "rerank score: --query: the query is empty or blank\n"},
		{[]string{"score", "--help"}, exitOK, "Examples:"},
		{[]string{"score", "--model", tinyModel, "--query", "q", "d"}, exitFailure, "tokenizer.json"}, // the tiny folder has no tokenizer
		{[]string{"score", "--model", tinyModel + "y", "--query", "q", "d"}, exitFailure, "rerank score: gorerank: hub: no model folder at ../../testdata/tinyy: it does not exist\n"},
		{[]string{"score", "--model", "../../testdata", "--query", "q", "d"}, exitFailure, "hub: no model folder at ../../testdata: the folder has no config.json, no tokenizer.json, no weights (*.safetensors or pytorch_model.bin)\n"},
	} {
		code, _, stderr := runCmd("", c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d mentioning %q", c.args, code, stderr, c.code, c.want)
		}
	}
}

func FuzzParseScoreLine(f *testing.F) {
	for _, s := range []string{`{"query": "q", "document": "d"}`, `{"query": "q", "documents": ["a", "b"]}`, `{"query": ""}`, `[]`, `{"query": "q", "document": "d"} x`, `null`, `{"query": "q", "documents": ["a", 5]}`, `{"query": "q", "document": "d"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := parseScoreLine(b)
		if err != nil {
			return
		}
		if len(l.docs) == 0 || (!l.multiple && len(l.docs) != 1) {
			t.Fatalf("accepted %q as %+v", b, l)
		}
	})
}
