package main

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gorerank/gorerank"
	"github.com/gorerank/gorerank/internal/m3kit"
	"github.com/gorerank/gorerank/xlmr"
)

// m3Model is the m3-tiny kit (internal/m3kit).
func m3Model(t *testing.T) string { t.Helper(); return m3kit.Dir(t) }

// embedOut is one output line of rerank embed.
type embedOut struct {
	ID     json.RawMessage `json:"id"`
	Dense  []float32       `json:"dense"`
	Sparse *struct {
		Indices []int32   `json:"indices"`
		Values  []float32 `json:"values"`
	} `json:"sparse"`
	ColBERT [][]float32 `json:"colbert"`
	Error   string      `json:"error"`
}

func parseEmbedOut(t *testing.T, stdout string) []embedOut {
	t.Helper()
	var outs []embedOut
	for _, l := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
		var o embedOut
		if err := json.Unmarshal([]byte(l), &o); err != nil {
			t.Fatalf("output line %q: %v", l, err)
		}
		outs = append(outs, o)
	}
	return outs
}

// TestEmbedCommandGolden: rerank embed on m3-tiny, JSON Lines in (strings and objects with
// ids), one line out per text in order: every output is the library's Embedder.Embed,
// value for value, and the dense one is FlagEmbedding's float64 reference within 1e-5.
// Sparse indices are ascending; ids are echoed as given.
func TestEmbedCommandGolden(t *testing.T) {
	dir := m3Model(t)
	raw, err := os.ReadFile(filepath.Join(dir, "refs.json"))
	if err != nil {
		t.Fatal(err)
	}
	var kit struct {
		Refs []struct {
			ID    string    `json:"id"`
			Text  string    `json:"text"`
			Dense []float64 `json:"dense"`
		} `json:"refs"`
	}
	if err := json.Unmarshal(raw, &kit); err != nil {
		t.Fatal(err)
	}
	byID := map[string]int{}
	for i, r := range kit.Refs {
		byID[r.ID] = i
	}
	// a few texts with lexical weights, a long one (1,602 tokens), non-Latin and white space
	ids := []string{"s0000", "s0005", "s0052", "s0098", "s0295", "s0124", "s0166"}
	var in strings.Builder
	var texts []string
	for i, id := range ids {
		r := kit.Refs[byID[id]]
		texts = append(texts, r.Text)
		b, _ := json.Marshal(r.Text)
		switch i % 3 {
		case 0:
			in.Write(b)
		case 1:
			in.WriteString(`{"id": "` + id + `", "text": ` + string(b) + `}`)
		default:
			in.WriteString(`{"text": ` + string(b) + `, "id": ` + strconv.Itoa(i) + `}`)
		}
		in.WriteString("\n")
	}
	code, stdout, stderr := runCmd(in.String(), "embed", "--model", dir, "--tokenizer", tinyTokenizer, "--input", "-", "--output", "all", "--progress", "never")
	if code != exitOK || stderr != "" {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	outs := parseEmbedOut(t, stdout)
	if len(outs) != len(ids) {
		t.Fatalf("%d output lines for %d texts", len(outs), len(ids))
	}

	emb, err := gorerank.OpenEmbedder(dir, gorerank.Options{TokenizerPath: tinyTokenizer})
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Close()
	lib, err := emb.Embed(context.Background(), texts, gorerank.EmbedOptions{Outputs: xlmr.OutputAll})
	if err != nil {
		t.Fatal(err)
	}
	sparse := 0
	for i, o := range outs {
		wantID := map[int]string{0: "", 1: `"` + ids[i] + `"`, 2: strconv.Itoa(i)}[i%3]
		if string(o.ID) != wantID || o.Error != "" {
			t.Errorf("line %d: id %s (error %q), want %s", i+1, o.ID, o.Error, wantID)
		}
		l := &lib[i]
		if !slices.Equal(o.Dense, l.Dense) {
			t.Errorf("line %d: dense differs from the library's", i+1)
		}
		ref := kit.Refs[byID[ids[i]]].Dense
		for j, v := range o.Dense {
			if d := math.Abs(float64(v) - ref[j]); d > 1e-5 {
				t.Fatalf("line %d: dense[%d] = %g, reference %g", i+1, j, v, ref[j])
			}
		}
		if o.Sparse == nil || !slices.IsSorted(o.Sparse.Indices) || len(o.Sparse.Indices) != len(l.Sparse) || len(o.Sparse.Values) != len(l.Sparse) {
			t.Fatalf("line %d: sparse %+v, library %v", i+1, o.Sparse, l.Sparse)
		}
		for k, id := range o.Sparse.Indices {
			if o.Sparse.Values[k] != l.Sparse[id] {
				t.Errorf("line %d: sparse[%d] = %g, library %g", i+1, id, o.Sparse.Values[k], l.Sparse[id])
			}
		}
		sparse += len(o.Sparse.Indices)
		if len(o.ColBERT) != len(l.ColBERT) || len(o.ColBERT) != l.Tokens-1 {
			t.Fatalf("line %d: %d ColBERT vectors, library %d (%d tokens)", i+1, len(o.ColBERT), len(l.ColBERT), l.Tokens)
		}
		for k, row := range o.ColBERT {
			if !slices.Equal(row, l.ColBERT[k]) {
				t.Fatalf("line %d: ColBERT row %d differs from the library's", i+1, k)
			}
		}
	}
	if sparse < 10 {
		t.Errorf("only %d sparse weights: the test would not see the sparse output", sparse)
	}

	// --output picks the keys; the default is dense alone
	for _, c := range []struct{ output, keys string }{{"", "dense"}, {"sparse", "sparse"}, {"colbert,dense", "colbert,dense"}} {
		args := []string{"embed", "--model", dir, "--tokenizer", tinyTokenizer, "--input", "-"}
		if c.output != "" {
			args = append(args, "--output", c.output)
		}
		code, stdout, stderr := runCmd(`"hello"`+"\n", args...)
		var m map[string]json.RawMessage
		if code != exitOK || json.Unmarshal([]byte(stdout), &m) != nil {
			t.Fatalf("--output %q: exit %d: %s %s", c.output, code, stdout, stderr)
		}
		var keys []string
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if strings.Join(keys, ",") != c.keys {
			t.Errorf("--output %q: keys %v, want %s", c.output, keys, c.keys)
		}
	}
}

// TestEmbedCommandBadLines: a bad line gets {"error": ...} (with its id) in its place and a
// message on stderr, the others go on, exit 1; --fail-fast stops at it; over-long texts are
// errors unless --truncate.
func TestEmbedCommandBadLines(t *testing.T) {
	dir := m3Model(t)
	args := []string{"embed", "--model", dir, "--tokenizer", tinyTokenizer, "--input", "-"}
	for _, c := range []struct{ name, line, want string }{
		{"empty text", `""`, `line 2: gorerank: the text is empty`},
		{"empty text with id", `{"id": "x", "text": ""}`, `line 2: gorerank: the text is empty`},
		{"blank line", ``, `line 2: empty line (want a JSON string or an object with \"text\")`},
		{"invalid JSON", `{"text": }`, `line 2: invalid JSON at byte 10`},
		{"unknown field", `{"text": "a", "query": "b"}`, `line 2: unknown field \"query\" (want \"text\" and optionally \"id\")`},
		{"missing text", `{"id": 3}`, `line 2: missing \"text\"`},
		{"text number", `{"text": 5}`, `line 2: field \"text\" must be a string, got a number`},
		{"id object", `{"id": {"a": 1}, "text": "a"}`, `line 2: field \"id\" must be a string or a number, got an object`},
		{"array", `["a"]`, `line 2: want a JSON string or an object with \"text\", got an array`},
		{"two values", `"a" "b"`, `line 2: invalid JSON: more than one value`},
		{"invalid UTF-8", "\"\xff\"", `line 2: gorerank: text is not valid UTF-8`},
		{"too long", `"` + strings.Repeat("word ", 20) + `"`, `line 2: gorerank: the text is longer than max length 16`},
	} {
		in := "\"first\"\n" + c.line + "\n\"third\"\n"
		code, stdout, stderr := runCmd(in, append(args, "--max-length", "16")...)
		lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
		if code != exitFailure || len(lines) != 3 || !strings.Contains(lines[1], c.want) || !strings.Contains(lines[0], "dense") || !strings.Contains(lines[2], "dense") {
			t.Errorf("%s: exit %d, output %q", c.name, code, stdout)
		}
		if !strings.Contains(stderr, "rerank embed: -: line 2: ") || !strings.Contains(stderr, "1 of 3 lines failed") {
			t.Errorf("%s: stderr %q", c.name, stderr)
		}
		if strings.Contains(c.line, `"id": "x"`) && !strings.HasPrefix(lines[1], `{"id":"x","error":`) {
			t.Errorf("%s: %s: the error line does not echo the id", c.name, lines[1])
		}
		code, stdout, stderr = runCmd(in, append(args, "--max-length", "16", "--fail-fast")...)
		if code != exitFailure || strings.Count(stdout, "\n") != 1 || !strings.Contains(stderr, "line 2") {
			t.Errorf("%s --fail-fast: exit %d, stdout %q, stderr %q", c.name, code, stdout, stderr)
		}
	}
	long := `"` + strings.Repeat("word ", 20) + `"` + "\n"
	for _, side := range []string{"right", "left"} {
		code, stdout, stderr := runCmd(long, append(args, "--max-length", "16", "--truncate", "--truncation-side", side, "--output", "colbert")...)
		if o := parseEmbedOut(t, stdout); code != exitOK || len(o) != 1 || len(o[0].ColBERT) != 15 {
			t.Errorf("--truncate %s: exit %d: %s %s", side, code, stdout, stderr)
		}
	}
	if code, _, stderr := runCmd("", args...); code != exitFailure || !strings.Contains(stderr, "no input lines") {
		t.Errorf("empty input: exit %d, %q", code, stderr)
	}
}

// TestEmbedCommandHuman: TEXT arguments print a table of each text's outputs (every output
// the model has) and the scores against the first text.
func TestEmbedCommandHuman(t *testing.T) {
	dir := m3Model(t)
	code, stdout, stderr := runCmd("", "embed", "--model", dir, "--tokenizer", tinyTokenizer,
		"What is BGE M3?", "Don't split contractions like isn't, won't and shouldn't incorrectly.")
	for _, want := range []string{
		"#  TOKENS  DENSE    SPARSE", "0  9       32 dims  0 weights", "1  24      32 dims  5 weights (▁split 1.450,",
		"8 × 32", "23 × 32", "scores against text 0", "#  DENSE   SPARSE  COLBERT  COMBINED", "1  0.7624  0.0000  0.8724   0.6539",
	} {
		if code != exitOK || !strings.Contains(stdout, want) {
			t.Errorf("exit %d, output lacks %q:\n%s%s", code, want, stdout, stderr)
		}
	}
	code, stdout, _ = runCmd("", "embed", "--model", dir, "--tokenizer", tinyTokenizer, "--output", "dense", "a", "b")
	if code != exitOK || !strings.Contains(stdout, "0  3       32 dims  -       -") || !strings.Contains(stdout, "-       -        ") {
		t.Errorf("--output dense:\n%s", stdout)
	}
	code, _, stderr = runCmd("", "embed", "--model", dir, "--tokenizer", tinyTokenizer, "a", "")
	if code != exitFailure || !strings.Contains(stderr, "rerank embed: gorerank: text 1: the text is empty") {
		t.Errorf("empty text argument: exit %d, %q", code, stderr)
	}
}

// TestEmbedCommandUsage: usage errors exit 2 before loading; a model of the other kind, or
// an output the model has no head for, exit 1 with a message saying so.
func TestEmbedCommandUsage(t *testing.T) {
	dir := m3Model(t)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"embed", "text"}, exitUsage, "--model is required"},
		{[]string{"embed", "--model", dir}, exitUsage, "one of --input FILE or TEXT... is required"},
		{[]string{"embed", "--model", dir, "--input", "-", "text"}, exitUsage, "unexpected arguments"},
		{[]string{"embed", "--model", dir, "--output", "dense,vectors", "x"}, exitUsage, `--output: unknown output "vectors"`},
		{[]string{"embed", "--model", dir, "--truncation-side", "middle", "x"}, exitUsage, "--truncation-side"},
		{[]string{"embed", "--model", dir, "--max-length", "-1", "x"}, exitUsage, "--max-length"},
		{[]string{"embed", "--model", dir, "--progress", "sometimes", "--input", "-"}, exitUsage, "--progress"},
		{[]string{"embed", "--model", dir, "--tokenizer", tinyTokenizer, "--max-length", "9000", "x"}, exitFailure, "max length 9000 exceeds the model's 8192 tokens"},
		{[]string{"embed", "--model", tinyModel, "--tokenizer", tinyTokenizer, "x"}, exitFailure, "holds a reranker"},
		{[]string{"score", "--model", dir, "--tokenizer", tinyTokenizer, "--query", "q", "d"}, exitFailure, "an embedder embeds texts with rerank embed"},
	} {
		code, _, stderr := runCmd("", c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d mentioning %q", c.args, code, stderr, c.code, c.want)
		}
	}
}

// TestGenRandomEmbedder: gen-random --kind embedder writes a folder rerank embed runs (main
// checkpoint without the roberta. prefix, the two heads, the config rewritten to
// XLMRobertaModel); rerank quantize copies the heads and its int8 checkpoint embeds as the
// original quantized at load does, byte for byte; the embedder's config alone (no --kind)
// gives the same kind.
func TestGenRandomEmbedder(t *testing.T) {
	out := filepath.Join(t.TempDir(), "emb")
	code, stdout, stderr := runCmd("", "gen-random", "--config", tinyModel+"/config.json", "--kind", "embedder",
		"--seed", "5", "--tokenizer", tinyTokenizer, "--out", out)
	if code != exitOK || !strings.Contains(stdout, "wrote an embedder in "+out) || !strings.Contains(stdout, "model.safetensors, sparse_linear.safetensors, colbert_linear.safetensors") {
		t.Fatalf("exit %d: %s %s", code, stdout, stderr)
	}
	cfg, err := xlmr.LoadConfig(filepath.Join(out, "config.json"))
	if err != nil || cfg.Kind() != xlmr.Embedder || cfg.HiddenSize != 32 {
		t.Fatalf("config: %v %v", cfg.Architectures, err)
	}
	m, err := xlmr.Load(out, xlmr.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind != xlmr.Embedder || m.Keys.Prefix != "" || m.Heads() != xlmr.OutputAll || len(m.Report.Unused) != 0 {
		t.Errorf("kind %v, prefix %q, heads %v, unused %v", m.Kind, m.Keys.Prefix, m.Heads(), m.Report.Unused)
	}
	m.Close()

	in := `"What is BGE M3?"` + "\n" + `{"id": 1, "text": "BM25 is a bag-of-words retrieval function"}` + "\n"
	embed := func(model string, extra ...string) string {
		t.Helper()
		code, stdout, stderr := runCmd(in, append([]string{"embed", "--model", model, "--input", "-", "--output", "all"}, extra...)...)
		if code != exitOK {
			t.Fatalf("embed %s %v: exit %d: %s", model, extra, code, stderr)
		}
		return stdout
	}
	if o := parseEmbedOut(t, embed(out)); len(o) != 2 || len(o[0].Dense) != 32 || len(o[1].ColBERT) == 0 || string(o[1].ID) != "1" {
		t.Fatalf("embed on the random embedder: %+v", o)
	}

	q := filepath.Join(t.TempDir(), "q")
	if code, stdout, stderr := runCmd("", "quantize", "--model", out, "--out", q); code != exitOK {
		t.Fatalf("quantize: exit %d: %s %s", code, stdout, stderr)
	}
	for _, f := range []string{"config.json", "tokenizer.json", "sparse_linear.safetensors", "colbert_linear.safetensors"} {
		if _, err := os.Stat(filepath.Join(q, f)); err != nil {
			t.Errorf("quantize did not copy %s: %v", f, err)
		}
	}
	if got, want := embed(q, "--dtype", "int8"), embed(out, "--dtype", "int8"); got != want {
		t.Errorf("the int8 checkpoint embeds\n%s\nquantized at load:\n%s", got, want)
	}

	out2 := filepath.Join(t.TempDir(), "emb2")
	if code, stdout, stderr := runCmd("", "gen-random", "--config", filepath.Join(out, "config.json"), "--seed", "5", "--tokenizer", tinyTokenizer, "--out", out2); code != exitOK || !strings.Contains(stdout, "an embedder") {
		t.Fatalf("gen-random from an embedder config: exit %d: %s %s", code, stdout, stderr)
	}
	if got := embed(out2); got != embed(out) {
		t.Errorf("the same config and seed give another embedder")
	}
	if code, _, stderr := runCmd("", "gen-random", "--config", tinyModel+"/config.json", "--kind", "encoder", "--out", out2); code != exitUsage || !strings.Contains(stderr, "--kind") {
		t.Errorf("--kind encoder: exit %d, %q", code, stderr)
	}
	// and back: --kind reranker on the embedder's config scores
	out3 := filepath.Join(t.TempDir(), "rr")
	if code, stdout, stderr := runCmd("", "gen-random", "--config", filepath.Join(out, "config.json"), "--kind", "reranker", "--tokenizer", tinyTokenizer, "--out", out3); code != exitOK || !strings.Contains(stdout, "a reranker") {
		t.Fatalf("gen-random --kind reranker: exit %d: %s %s", code, stdout, stderr)
	}
	if code, stdout, stderr := runCmd("", "score", "--model", out3, "--query", "q", "d"); code != exitOK || !strings.Contains(stdout, "RANK") {
		t.Errorf("score on a reranker from an embedder config: exit %d: %s %s", code, stdout, stderr)
	}
}

// TestQuantizeM3: rerank quantize reads bge-m3's published layout (pytorch_model.bin,
// sparse_linear.pt, colbert_linear.pt): the heads are copied as they are, and the int8
// checkpoint embeds as m3-tiny quantized at load does, byte for byte.
func TestQuantizeM3(t *testing.T) {
	dir := m3Model(t)
	q := filepath.Join(t.TempDir(), "q")
	if code, stdout, stderr := runCmd("", "quantize", "--model", dir, "--out", q); code != exitOK {
		t.Fatalf("quantize: exit %d: %s %s", code, stdout, stderr)
	}
	for _, f := range []string{"model.safetensors", "config.json", "sparse_linear.pt", "colbert_linear.pt"} {
		if _, err := os.Stat(filepath.Join(q, f)); err != nil {
			t.Errorf("quantize wrote no %s: %v", f, err)
		}
	}
	in := `"What is BGE M3?"` + "\n" + `"Don't split contractions like isn't, won't and shouldn't incorrectly."` + "\n"
	embed := func(model string) string {
		code, stdout, stderr := runCmd(in, "embed", "--model", model, "--tokenizer", tinyTokenizer, "--dtype", "int8", "--input", "-", "--output", "all")
		if code != exitOK {
			t.Fatalf("embed %s: exit %d: %s", model, code, stderr)
		}
		return stdout
	}
	if got, want := embed(q), embed(dir); got != want {
		t.Errorf("the int8 checkpoint embeds\n%s\nquantized at load:\n%s", got, want)
	}
}
