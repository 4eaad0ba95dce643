package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorerank/gorerank"
)

// goldenInput is the golden pairs as JSON Lines, with one "documents" line at the end.
func goldenInput(t *testing.T) (in string, lines, pairs int) {
	gp := goldenPairs(t)
	var b strings.Builder
	for _, p := range gp {
		b.WriteString(jsonLine(t, map[string]string{"query": p.Query, "document": p.Document}))
	}
	b.WriteString(jsonLine(t, map[string]any{"query": gp[0].Query, "documents": []string{gp[1].Document, gp[2].Document, gp[3].Document}}))
	return b.String(), len(gp) + 1, len(gp) + 3
}

func TestScoreProgressFlag(t *testing.T) {
	in, nLines, nPairs := goldenInput(t)
	score := func(mode string) (string, string) {
		t.Helper()
		code, stdout, stderr := runCmd(in, "score", "--model", tinyModel, "--tokenizer", tinyTokenizer, "--input", "-", "--progress", mode)
		if code != exitOK {
			t.Fatalf("--progress %s: exit %d: %s", mode, code, stderr)
		}
		return stdout, stderr
	}
	never, stderr := score("never")
	if stderr != "" {
		t.Errorf("--progress never wrote to stderr: %q", stderr)
	}
	if strings.Count(never, "\n") != nLines {
		t.Fatalf("--progress never: %d output lines, want %d", strings.Count(never, "\n"), nLines)
	}

	// auto: the test's stderr is a buffer, not a terminal
	auto, stderr := score("auto")
	if stderr != "" {
		t.Errorf("--progress auto to a non-terminal wrote to stderr: %q", stderr)
	}
	if auto != never {
		t.Errorf("--progress auto changed stdout")
	}

	always, stderr := score("always")
	if always != never {
		t.Errorf("--progress always changed stdout:\n%s\nwant\n%s", always, never)
	}
	// the summary is the last line; a progress line, if one was drawn, is cleared before it
	want := fmt.Sprintf("scored %d pairs from %d lines in ", nPairs, nLines)
	last := stderr[strings.LastIndexByte(stderr, '\r')+1:]
	if !strings.HasPrefix(last, want) || !strings.Contains(last, " pairs/s, ") || !strings.HasSuffix(last, " tokens/s)\n") {
		t.Errorf("--progress always: stderr %q, want a summary line %q...", stderr, want)
	}
	if strings.ContainsAny(always, "\r") || strings.Contains(always, "scored ") {
		t.Errorf("progress output on stdout: %q", always)
	}

	// a failure while scoring leaves the error and no summary
	if code, stdout, stderr := runCmd(in, "score", "--model", tinyModel, "--tokenizer", tinyTokenizer, "--input", "-", "--progress", "always", "--max-length", "600"); code != exitFailure || stdout != "" || strings.Contains(stderr, "scored") || !strings.Contains(stderr, "exceeds the model's 512") {
		t.Errorf("failure with --progress always: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	// human mode ignores the flag; a bad value is a usage error
	if code, _, stderr := runCmd("", "score", "--model", tinyModel, "--tokenizer", tinyTokenizer, "--progress", "always", "--query", "q", "d"); code != exitOK || stderr != "" {
		t.Errorf("human mode with --progress always: exit %d, stderr %q", code, stderr)
	}
	if code, _, stderr := runCmd(in, "score", "--model", tinyModel, "--input", "-", "--progress", "sometimes"); code != exitUsage || !strings.Contains(stderr, `--progress "sometimes"`) {
		t.Errorf("--progress sometimes: exit %d, stderr %q", code, stderr)
	}
}

// TestScoreProgressHook checks the counts that reach the meter: cumulative, once per
// batch, ending at every pair and a token total that does not depend on the batching; and
// that the hook leaves the scores alone.
func TestScoreProgressHook(t *testing.T) {
	gp := goldenPairs(t)
	pairs := make([]gorerank.Pair, len(gp))
	for i, p := range gp {
		pairs[i] = gorerank.Pair{Query: p.Query, Document: p.Document}
	}
	run := func(batchTokens int, hook bool) ([]gorerank.Result, [][2]int) {
		t.Helper()
		rr, err := gorerank.Open(tinyModel, gorerank.Options{TokenizerPath: tinyTokenizer, BatchTokens: batchTokens})
		if err != nil {
			t.Fatal(err)
		}
		defer rr.Close()
		var calls [][2]int
		var so gorerank.ScoreOptions
		if hook {
			so.Progress = func(p, tok int) { calls = append(calls, [2]int{p, tok}) }
		}
		res, err := rr.ScorePairs(context.Background(), pairs, so)
		if err != nil {
			t.Fatal(err)
		}
		return res, calls
	}
	plain, _ := run(256, false)
	res, calls := run(256, true)
	if len(calls) < 2 {
		t.Fatalf("%d progress calls for %d pairs in 256-token batches, want several", len(calls), len(pairs))
	}
	for i, c := range calls {
		if i > 0 && (c[0] <= calls[i-1][0] || c[1] <= calls[i-1][1]) {
			t.Errorf("progress went from %v to %v", calls[i-1], c)
		}
	}
	if last := calls[len(calls)-1]; last[0] != len(pairs) {
		t.Errorf("last progress call %v, want %d pairs", last, len(pairs))
	}
	for i := range res {
		if res[i] != plain[i] {
			t.Errorf("pair %d: %+v with the hook, %+v without", i, res[i], plain[i])
		}
	}
	_, one := run(1<<20, true)
	if len(one) != 1 || one[0] != calls[len(calls)-1] {
		t.Errorf("one batch: progress %v, want the last of %v", one, calls)
	}
}

func TestMeterDraw(t *testing.T) {
	var buf bytes.Buffer
	m := &meter{w: &buf, total: 4, start: time.Now().Add(-2 * time.Second)}
	m.update(1, 3, 120)
	m.draw()
	got := buf.String()
	for _, want := range []string{"\r[", "  25%", "1/4 lines", "3 pairs", "pairs/s", "  2.0s", "ETA 6."} {
		if !strings.Contains(got, want) {
			t.Errorf("progress line %q lacks %q", got, want)
		}
	}
	if strings.Contains(got, "\n") {
		t.Errorf("progress line %q has a newline", got)
	}
	width := len(got) - 1 // without the \r
	// a shorter line (no ETA at the end) is padded over the longer one
	buf.Reset()
	m.update(4, 8, 300)
	m.draw()
	if got := buf.String(); len(got)-1 < width || strings.Contains(got, "ETA") || !strings.Contains(got, "4/4 lines") || !strings.Contains(got, "100%") {
		t.Errorf("final progress line %q (previous width %d)", got, width)
	}
	buf.Reset()
	m.clear()
	if got := buf.String(); strings.Trim(got, " \r") != "" || !strings.HasPrefix(got, "\r") || !strings.HasSuffix(got, "\r") || len(got)-2 < width {
		t.Errorf("clear wrote %q", got)
	}

	buf.Reset()
	m.elapsed = 4 * time.Second
	m.summary()
	if got, want := buf.String(), "scored 8 pairs from 4 lines in 4.0s (2.0 pairs/s, 75 tokens/s)\n"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
	buf.Reset()
	m = &meter{w: &buf, elapsed: 500 * time.Millisecond}
	m.update(1, 1, 10)
	m.summary()
	if got, want := buf.String(), "scored 1 pair from 1 line in 0.5s (2.0 pairs/s, 20 tokens/s)\n"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
	// unknown total (stdin): counts and rate, no bar, no ETA
	buf.Reset()
	m = &meter{w: &buf, start: time.Now().Add(-time.Second)}
	m.update(7, 9, 100)
	m.draw()
	if got := buf.String(); !strings.HasPrefix(got, "\r7 lines  9 pairs  ") || strings.Contains(got, "ETA") || strings.Contains(got, "[") {
		t.Errorf("progress with unknown total %q", got)
	}
}

func TestFmtElapsed(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0.0s"},
		{1234 * time.Millisecond, "1.2s"},
		{59900 * time.Millisecond, "59.9s"},
		{125 * time.Second, "2m05s"},
		{3725 * time.Second, "1h02m05s"},
	} {
		if got := fmtElapsed(c.d); got != c.want {
			t.Errorf("fmtElapsed(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}
