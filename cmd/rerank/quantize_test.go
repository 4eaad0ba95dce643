package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rerank quantize on the tiny model, then score with the int8 checkpoint: the same output,
// byte for byte, as scoring the original with --dtype int8 (quantized at load).
func TestQuantizeCommand(t *testing.T) {
	out := filepath.Join(t.TempDir(), "q")
	code, stdout, stderr := runCmd("", "quantize", "--model", tinyModel, "--out", out)
	if code != exitOK || !strings.Contains(stdout, "wrote") {
		t.Fatalf("exit %d: %s %s", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "config.json")); err != nil {
		t.Fatal(err)
	}
	args := func(model string) []string {
		return []string{"score", "--model", model, "--tokenizer", tinyTokenizer, "--dtype", "int8", "--query", "中国的首都是哪里?", "北京是中国的首都。", "上海是经济中心。"}
	}
	c1, want, e1 := runCmd("", args(tinyModel)...)
	c2, got, e2 := runCmd("", args(out)...)
	if c1 != exitOK || c2 != exitOK || got != want || !strings.Contains(got, "上海") {
		t.Errorf("int8 checkpoint scores:\n%s(%s)\nquantized at load:\n%s(%s)", got, e2, want, e1)
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"quantize", "--model", tinyModel}, exitUsage, "--model and --out are required"},
		{[]string{"quantize", "--model", tinyModel, "--out", out, "x"}, exitUsage, "unexpected argument"},
		{[]string{"quantize", "--model", tinyModel, "--out", out}, exitFailure, "exists"},
		{[]string{"quantize", "--model", t.TempDir(), "--out", filepath.Join(t.TempDir(), "y")}, exitFailure, "config.json"},
		{[]string{"score", "--model", out, "--tokenizer", tinyTokenizer, "--query", "q", "d"}, exitFailure, "I8"},
	} {
		code, _, stderr := runCmd("", c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d mentioning %q", c.args, code, stderr, c.code, c.want)
		}
	}
}
