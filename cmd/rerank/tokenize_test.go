package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testTokenizer = "../../testdata/tokenizer/tokenizer.json"

func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(&env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb}, args)
	return code, out.String(), errb.String()
}

func TestTokenizeCLI(t *testing.T) {
	in := `{"text": "Hello world"}
{"query": "中国的首都是哪里?", "document": "北京是中国的首都。"}
not json
{"text": "a", "query": "b"}
{"query": "the the the the the the", "document": "x"}
`
	code, out, stderr := runCLI(t, in, "tokenize", "--tokenizer", testTokenizer, "--input", "-")
	if code != exitFailure || !strings.Contains(stderr, "2 line(s) failed") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d output lines, want 5:\n%s", len(lines), out)
	}
	var first struct {
		IDs     []int32  `json:"ids"`
		Tokens  []string `json:"tokens"`
		Offsets [][2]int `json:"offsets"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if want := []int32{0, 35378, 8999, 2}; !equalIDs(first.IDs, want) || first.Tokens[1] != "▁Hello" || first.Offsets[2] != [2]int{5, 11} {
		t.Fatalf("line 1: %s", lines[0])
	}
	var pair struct{ IDs []int32 }
	_ = json.Unmarshal([]byte(lines[1]), &pair)
	if want := []int32{0, 6, 44031, 6342, 3352, 79942, 32, 2, 2, 6, 8732, 90021, 43, 84206, 30, 2}; !equalIDs(pair.IDs, want) {
		t.Fatalf("pair ids %v", pair.IDs)
	}
	for _, i := range []int{2, 3} {
		if !strings.HasPrefix(lines[i], `{"error":"line `+string(rune('1'+i))) {
			t.Errorf("line %d: %s", i+1, lines[i])
		}
	}

	// Truncation flags; input from a file.
	dir := t.TempDir()
	f := filepath.Join(dir, "in.jsonl")
	if err := os.WriteFile(f, []byte(`{"query": "the the the the the the", "document": "x"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, stderr = runCLI(t, "", "tokenize", "--tokenizer", testTokenizer, "--input", f, "--max-length", "6", "--truncation", "only_second")
	if code != exitFailure || !strings.Contains(out, "Sequence to truncate too short") {
		t.Fatalf("only_second: exit %d out %q stderr %q", code, out, stderr)
	}
	code, out, _ = runCLI(t, "", "tokenize", "--tokenizer", testTokenizer, "--input", f, "--max-length", "6", "--no-special")
	var ns struct{ IDs []int32 }
	if err := json.Unmarshal([]byte(out), &ns); err != nil || code != exitOK {
		t.Fatalf("no-special: exit %d out %q", code, out)
	}
	// 6 "▁the" + "▁x" without specials, cut to 6 by longest_first: (6,1) -> (5,1).
	if len(ns.IDs) != 6 || ns.IDs[0] == 0 || ns.IDs[5] == 2 || ns.IDs[4] != ns.IDs[0] {
		t.Fatalf("no-special ids %v", ns.IDs)
	}
}

func TestTokenizeCLIUsage(t *testing.T) {
	if code, _, stderr := runCLI(t, "", "tokenize", "--help"); code != exitOK || !strings.Contains(stderr, "Example:") {
		t.Fatalf("--help: exit %d, %q", code, stderr)
	}
	for _, args := range [][]string{
		{"tokenize"},
		{"tokenize", "--tokenizer", testTokenizer, "--truncation", "middle"},
		{"tokenize", "--tokenizer", testTokenizer, "--max-length", "-1"},
		{"tokenize", "--bogus"},
	} {
		if code, _, _ := runCLI(t, "", args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
	if code, _, stderr := runCLI(t, "", "tokenize", "--tokenizer", "/nonexistent.json"); code != exitFailure || stderr == "" {
		t.Errorf("missing file: exit %d %q", code, stderr)
	}
}

func equalIDs(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
