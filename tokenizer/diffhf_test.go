package tokenizer

import (
	"bufio"
	"encoding/json"
	"flag"
	"os"
	"testing"
)

var hfDiff = flag.String("hfdiff", "", "`dir` with texts.jsonl and hf_out.jsonl from tokenizer/bench (differential test against HF tokenizers)")

// TestDiffHF compares Encode with HF tokenizers' output on generated texts. Opt-in: the
// reference output needs node and the HF binding (see bench/README.md).
func TestDiffHF(t *testing.T) {
	if *hfDiff == "" {
		t.Skip("differential test against HF tokenizers: run with -hfdiff DIR (see bench/README.md)")
	}
	tk := xlmr(t)
	fi, err := os.Open(*hfDiff + "/texts.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer fi.Close()
	fo, err := os.Open(*hfDiff + "/hf_out.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer fo.Close()
	si, so := bufio.NewScanner(fi), bufio.NewScanner(fo)
	si.Buffer(nil, 1<<20)
	so.Buffer(nil, 1<<20)
	n, bad, badOff := 0, 0, 0
	for si.Scan() && so.Scan() {
		var in struct{ Text string }
		var want struct {
			IDs     []int32
			Tokens  []string
			Offsets [][2]int
		}
		json.Unmarshal(si.Bytes(), &in)
		json.Unmarshal(so.Bytes(), &want)
		n++
		e, err := tk.Encode(in.Text, Options{})
		if err != nil {
			t.Errorf("%q: %v", in.Text, err)
			continue
		}
		if d := diffIDs(e.IDs, want.IDs); d != "" {
			bad++
			if bad < 15 {
				t.Errorf("%q: %s\n got %q\nwant %q", in.Text, d, e.Tokens, want.Tokens)
			}
			continue
		}
		for i := range want.Offsets {
			if e.Offsets[i] != want.Offsets[i] || e.Tokens[i] != want.Tokens[i] {
				badOff++
				if badOff < 10 {
					t.Errorf("%q: tok %d %q/%q offsets %v want %v", in.Text, i, e.Tokens[i], want.Tokens[i], e.Offsets, want.Offsets)
				}
				break
			}
		}
	}
	if n == 0 {
		t.Fatal("no texts")
	}
	t.Logf("%d texts, %d id mismatches, %d offset/token mismatches", n, bad, badOff)
}
