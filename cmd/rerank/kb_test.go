package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorerank/gorerank"
	"github.com/gorerank/gorerank/internal/m3kit"
	"github.com/gorerank/gorerank/internal/testmodels"
	"github.com/gorerank/gorerank/kb"
)

func runRerank(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(&env{stdin: strings.NewReader(stdin), stdout: &o, stderr: &e}, args)
	return code, o.String(), e.String()
}

// TestKBCommands: init, add (with every kind of bad input), search, rm, stats, export, the
// export read back by add, check.
func TestKBCommands(t *testing.T) {
	emb, rr := testmodels.EmbedderDir(t), testmodels.RerankerDir(t)
	dir := filepath.Join(t.TempDir(), "kb")
	code, out, errOut := runRerank(t, "", "kb", "init", dir, "--embedder", emb, "--reranker", rr, "--chunk-tokens", "24", "--overlap", "4")
	if code != exitOK || !strings.Contains(out, "created knowledge base") {
		t.Fatalf("init: %d %s %s", code, out, errOut)
	}
	if code, _, errOut := runRerank(t, "", "kb", "init", dir, "--embedder", emb); code != exitFailure || !strings.Contains(errOut, "already exists") {
		t.Fatalf("init again: %d %s", code, errOut)
	}

	docs := t.TempDir()
	files := map[string]string{
		"notice.md":     "# 离职\n\n员工离职应提前三十日以书面形式通知用人单位。试用期内提前三日通知即可。\n",
		"severance.txt": "用人单位解除劳动合同的，应当向劳动者支付经济补偿。",
		"leave.txt":     "Employees are entitled to fifteen days of paid annual leave after one year of service.",
		"sub/trap.txt":  "公司通知:员工食堂离职窗口提前关闭。",
		"empty.txt":     "",
		"blank.md":      "  \n\n ",
		"image.png":     "\x89PNG\r\n\x1a\n\x00\x00",
		"binary.txt":    "abc\x00def",
		"latin1.txt":    "caf\xe9",
		".hidden.txt":   "not read",
		"big.txt":       strings.Repeat("x", 5000),
		"lines.jsonl": `{"id": "j1", "text": "A JSON line document.", "metadata": {"lang": "en"}}
{"id": 42, "text": "A numeric id."}
not json
{"id": "j2"}
{"id": "j3", "text": "lone \ud800 surrogate"}
{"id": "j4", "text": "an unknown field", "extra": 1}
`,
	}
	for name, body := range files {
		p := filepath.Join(docs, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errOut = runRerank(t, "", "kb", "add", dir, docs, "--max-doc-bytes", "4096")
	if code != exitFailure {
		t.Fatalf("add with bad files: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"notice.md", "severance.txt", "leave.txt", "sub/trap.txt", "added j1 ", "added 42 "} {
		if !strings.Contains(out, want) {
			t.Errorf("add: %q not acknowledged:\n%s", want, out)
		}
	}
	for _, want := range []string{"empty.txt: empty file", "blank.md", "image.png: unsupported format", "binary.txt: a binary file",
		"latin1.txt", "not valid UTF-8", "big.txt: 5000 bytes", "lines.jsonl:3:", "lines.jsonl:4: \"text\" is missing",
		"lines.jsonl:5:", "surrogate", "lines.jsonl:6:", "unknown field"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("add: no %q in stderr:\n%s", want, errOut)
		}
	}
	if strings.Contains(out+errOut, "hidden") {
		t.Errorf("a hidden file was read:\n%s%s", out, errOut)
	}
	// Again: nothing embedded, everything unchanged.
	_, out, _ = runRerank(t, "", "kb", "add", dir, docs, "--max-doc-bytes", "4096")
	if strings.Contains(out, "added") || strings.Count(out, "unchanged") != 6 {
		t.Fatalf("second add:\n%s", out)
	}

	code, out, errOut = runRerank(t, "", "kb", "search", dir, "员工离职需要提前多久通知公司?", "--top-k", "10", "--top-n", "3", "--json")
	if code != exitOK {
		t.Fatalf("search: %d %s", code, errOut)
	}
	var sr struct {
		Results []kb.Hit           `json:"results"`
		Timings map[string]float64 `json:"timings_ms"`
	}
	if err := json.Unmarshal([]byte(out), &sr); err != nil {
		t.Fatalf("search --json: %v\n%s", err, out)
	}
	if len(sr.Results) != 3 || !sr.Results[0].Reranked || sr.Results[0].Text == "" || sr.Timings["total"] <= 0 {
		t.Fatalf("search: %+v", sr)
	}
	code, out, _ = runRerank(t, "", "kb", "search", dir, "annual leave", "--mode", "dense", "--no-rerank", "--filter", `{"lang": "en"}`)
	if code != exitOK || !strings.Contains(out, "j1") || strings.Contains(out, "notice") {
		t.Fatalf("filtered search: %d\n%s", code, out)
	}
	if code, _, errOut := runRerank(t, "", "kb", "search", dir, "  "); code != exitUsage || !strings.Contains(errOut, "empty") {
		t.Fatalf("blank query: %d %s", code, errOut)
	}
	if code, _, errOut := runRerank(t, "", "kb", "search", dir, "q", "--top-k", "5", "--top-n", "9"); code != exitUsage || !strings.Contains(errOut, "top_n") {
		t.Fatalf("top-n > top-k: %d %s", code, errOut)
	}
	// --dense-weight and --sparse-weight are kb's weights: the dense weight alone is dense
	// recall's order; kb's check refuses bad ones
	hits := func(args ...string) string {
		t.Helper()
		code, out, errOut := runRerank(t, "", append([]string{"kb", "search", dir, "员工离职需要提前多久通知公司?", "--top-k", "20", "--top-n", "20", "--no-rerank", "--json"}, args...)...)
		var sr struct{ Results []kb.Hit }
		if code != exitOK || json.Unmarshal([]byte(out), &sr) != nil || len(sr.Results) == 0 {
			t.Fatalf("search %v: %d %s %s", args, code, out, errOut)
		}
		var b strings.Builder
		for _, h := range sr.Results {
			fmt.Fprintf(&b, "%s#%d %.5f\n", h.DocID, h.Chunk, h.RecallScore)
		}
		return b.String()
	}
	if w, d := hits("--fusion", "weighted", "--dense-weight", "1", "--sparse-weight", "0"), hits("--mode", "dense"); w != d {
		t.Errorf("--dense-weight 1 --sparse-weight 0:\n%swant dense recall's:\n%s", w, d)
	}
	for _, c := range []struct{ args, msg string }{
		{"--fusion weighted --dense-weight -1", "dense_weight must be a finite number, 0 or more"},
		{"--fusion weighted --sparse-weight NaN", "sparse_weight must be a finite number"},
		{"--sparse-weight 0.5", `weigh fusion "weighted" only`},
	} {
		args := append([]string{"kb", "search", dir, "q"}, strings.Fields(c.args)...)
		if code, _, errOut := runRerank(t, "", args...); code != exitUsage || !strings.Contains(errOut, c.msg) {
			t.Errorf("%s: %d %s, want a usage error with %q", c.args, code, errOut, c.msg)
		}
	}

	code, out, errOut = runRerank(t, "", "kb", "rm", dir, "42", "absent")
	if code != exitFailure || !strings.Contains(out, "removed 42") || !strings.Contains(errOut, "absent") {
		t.Fatalf("rm: %d %s %s", code, out, errOut)
	}
	code, out, _ = runRerank(t, "", "kb", "stats", dir, "--json")
	var st kb.Stats
	if code != exitOK || json.Unmarshal([]byte(out), &st) != nil || st.Documents != 5 || st.Chunks < 5 {
		t.Fatalf("stats: %d %s", code, out)
	}

	// Export: one line per chunk, with vectors.
	code, out, _ = runRerank(t, "", "kb", "export", dir)
	if code != exitOK || strings.Count(out, "\n") != int(st.Chunks) {
		t.Fatalf("export: %d, %d lines for %d chunks", code, strings.Count(out, "\n"), st.Chunks)
	}
	var line exportChunk
	json.Unmarshal([]byte(out[:strings.IndexByte(out, '\n')]), &line)
	if len(line.Dense) != 32 || line.DocID == "" || line.ID != fmt.Sprintf("%s#%d", line.DocID, line.Chunk) {
		t.Fatalf("export line: %+v", line)
	}
	// --documents goes back in without being embedded again.
	_, docsOut, _ := runRerank(t, "", "kb", "export", dir, "--documents")
	dir2 := filepath.Join(t.TempDir(), "kb2")
	runRerank(t, "", "kb", "init", dir2, "--embedder", emb, "--chunk-tokens", "24", "--overlap", "4")
	code, out, errOut = runRerank(t, docsOut, "kb", "add", dir2, "-")
	if code != exitOK || strings.Count(out, "added") != 5 {
		t.Fatalf("add of an export: %d\n%s\n%s", code, out, errOut)
	}
	_, again, _ := runRerank(t, "", "kb", "export", dir2, "--documents")
	if strip := func(s string) string { // the add times differ
		var b strings.Builder
		for _, l := range strings.Split(s, "\n") {
			var m map[string]any
			json.Unmarshal([]byte(l), &m)
			delete(m, "added")
			x, _ := json.Marshal(m)
			b.Write(x)
		}
		return b.String()
	}; strip(again) != strip(docsOut) {
		t.Fatalf("export → add → export differs")
	}
	if code, out, _ := runRerank(t, "", "kb", "check", dir); code != exitOK || !strings.Contains(out, "ok") {
		t.Fatalf("check: %d %s", code, out)
	}
	if code, _, errOut := runRerank(t, "", "kb", "stats", t.TempDir()); code != exitFailure || !strings.Contains(errOut, "not a knowledge base") {
		t.Fatalf("stats of a folder that is not one: %d %s", code, errOut)
	}
}

// TestKBAddKill: kb add is killed (SIGKILL) at random moments, again and again, then runs to
// the end. Every document an add acknowledged is there, whole, after each kill; no document
// is half there (kb check: every document has all its chunks, every checksum matches).
func TestKBAddKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills it many times")
	}
	bin, err := buildRerank()
	if err != nil {
		t.Fatal(err)
	}
	emb := testmodels.EmbedderDir(t)
	dir := filepath.Join(t.TempDir(), "kb")
	if code, _, errOut := runRerank(t, "", "kb", "init", dir, "--embedder", emb, "--chunk-tokens", "16", "--overlap", "2"); code != exitOK {
		t.Fatal(errOut)
	}
	docs := t.TempDir()
	texts := map[string]string{}
	refs := m3kit.Refs(t, m3kit.Dir(t))
	for i, r := range refs[:80] {
		p := filepath.Join(docs, fmt.Sprintf("d%03d.txt", i))
		if strings.TrimSpace(r.Text) == "" {
			continue
		}
		os.WriteFile(p, []byte(r.Text), 0o644)
		texts[p] = r.Text
	}
	e, err := gorerank.OpenEmbedder(emb, gorerank.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	acked := map[string]bool{}
	verify := func(round int) {
		t.Helper()
		k, err := kb.Open(context.Background(), dir, kb.Options{Embedder: e})
		if err != nil {
			t.Fatalf("round %d: open after kill: %v", round, err)
		}
		defer k.Close()
		if err := k.Check(context.Background()); err != nil {
			t.Fatalf("round %d: check after kill: %v", round, err)
		}
		n := 0
		err = k.Export(context.Background(), func(d *kb.DocInfo) error {
			n++
			if d.Text != texts[d.ID] {
				return fmt.Errorf("document %s is not its file's text", d.ID)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		for id := range acked {
			if _, err := k.Get(context.Background(), id); err != nil {
				t.Fatalf("round %d: acknowledged document %s is gone: %v", round, id, err)
			}
		}
		if n < len(acked) {
			t.Fatalf("round %d: %d documents, %d acknowledged", round, n, len(acked))
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	kills := 12
	for round := 0; ; round++ {
		cmd := exec.Command(bin, "kb", "add", dir, docs, "--commit-docs", "3", "--progress", "never")
		stdout, _ := cmd.StdoutPipe()
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		var timer <-chan time.Time
		if round < kills {
			timer = time.After(time.Duration(200+rng.IntN(1500)) * time.Millisecond)
		}
		killed := false
	read:
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					break read
				}
				f := strings.Fields(l)
				if len(f) >= 2 && (f[0] == "added" || f[0] == "replaced" || f[0] == "unchanged") {
					acked[f[1]] = true
				}
			case <-timer:
				cmd.Process.Signal(syscall.SIGKILL)
				killed = true
				timer = nil
			}
		}
		err := cmd.Wait()
		if !killed && err != nil {
			t.Fatalf("round %d: kb add failed: %v\n%s", round, err, stderr.String())
		}
		verify(round)
		if !killed {
			break
		}
	}
	if len(acked) != len(texts) {
		t.Fatalf("%d of %d documents acknowledged after the last, complete add", len(acked), len(texts))
	}
	t.Logf("%d kills, %d documents", kills, len(acked))
}
