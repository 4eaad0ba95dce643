package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const fakeCommit = "89abcdef0123456789abcdef0123456789abcdef"

// fakeHubServer serves the tiny model as the hub would: the revision API, and resolve URLs
// that redirect to a CDN path with X-Linked-Etag / X-Linked-Size (all files as LFS here).
func fakeHubServer(t *testing.T, repo string, files map[string][]byte) *httptest.Server {
	t.Helper()
	sum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/models/"+repo+"/revision/main", func(w http.ResponseWriter, r *http.Request) {
		var sib []map[string]any
		for name, b := range files {
			sib = append(sib, map[string]any{"rfilename": name, "size": len(b), "lfs": map[string]any{"sha256": sum(b), "size": len(b)}})
		}
		json.NewEncoder(w).Encode(map[string]any{"id": repo, "sha": fakeCommit, "siblings": sib})
	})
	mux.HandleFunc("/"+repo+"/resolve/"+fakeCommit+"/{file}", func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[r.PathValue("file")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("X-Repo-Commit", fakeCommit)
		w.Header().Set("X-Linked-Etag", `"`+sum(b)+`"`)
		w.Header().Set("X-Linked-Size", strconv.Itoa(len(b)))
		w.Header().Set("Location", "http://"+r.Host+"/cdn/"+r.PathValue("file"))
		w.WriteHeader(http.StatusFound)
	})
	mux.HandleFunc("GET /cdn/{file}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(files[r.PathValue("file")]))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// rerank download fills the HF cache from a (fake) hub; rerank serve then runs the model by
// its hub id from that cache, offline.
func TestDownloadThenServeByID(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	files := map[string][]byte{}
	for name, src := range map[string]string{
		"config.json":       "../../testdata/tiny/config.json",
		"model.safetensors": "../../testdata/tiny/model.safetensors",
		"tokenizer.json":    "../../testdata/tokenizer/tokenizer.json",
	} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		files[name] = b
	}
	const repo = "BAAI/tiny-reranker-test"
	hub := fakeHubServer(t, repo, files)
	home := t.TempDir()
	t.Setenv("HF_HOME", home)
	t.Setenv("HF_HUB_CACHE", "")
	t.Setenv("HF_ENDPOINT", hub.URL)
	t.Setenv("HF_HUB_OFFLINE", "")
	t.Setenv("HF_TOKEN", "")

	var out, errb bytes.Buffer
	if code := run(&env{stdout: &out, stderr: &errb}, []string{"download", repo}); code != exitOK {
		t.Fatalf("download: %d\n%s", code, errb.String())
	}
	dir := strings.TrimSpace(out.String())
	want := filepath.Join(home, "hub", "models--BAAI--tiny-reranker-test", "snapshots", fakeCommit)
	if dir != want {
		t.Fatalf("download printed %q, want %q", dir, want)
	}
	for name, b := range files {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(got, b) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if !strings.Contains(errb.String(), "downloaded") {
		t.Errorf("no download log:\n%s", errb.String())
	}
	// several ids at once (a two-model server's init container): one folder a line, in order;
	// a bad id anywhere is a usage error before anything is fetched
	out.Reset()
	if code := run(&env{stdout: &out, stderr: &errb}, []string{"download", "--quiet", repo, repo}); code != exitOK || out.String() != dir+"\n"+dir+"\n" {
		t.Errorf("download of two ids: %d %q", code, out.String())
	}
	if code, _, stderr := runCmd("", "download", repo, "not an id"); code != exitUsage || !strings.Contains(stderr, `"not an id"`) {
		t.Errorf("download with a bad second id: %d %s", code, stderr)
	}

	hub.Close() // the other subcommands and serve must work from the cache alone
	for _, args := range [][]string{
		{"score", "--model", repo, "--query", "capital of China", "Beijing", "Paris"},
		{"inspect", "--model", repo, "--query", "q", "--document", "d", "--out", filepath.Join(t.TempDir(), "x.safetensors")},
		{"bench", "--model", repo, "--workload", "rag", "--rounds", "1", "--min-time", "0", "--no-peak", "--batch", "50"},
	} {
		if code, _, stderr := runCmd("", args...); code != exitOK {
			t.Errorf("%s --model %s: exit %d %s", args[0], repo, code, stderr)
		}
	}
	p := startServe(t, "--model", repo)
	code, body := p.post(t, "/v1/rerank", map[string]any{"query": "capital of China", "documents": []string{"Beijing", "Paris"}})
	if code != 200 || !strings.Contains(string(body), `"model":"`+repo+`"`) {
		t.Errorf("/v1/rerank: %d %s", code, body)
	}
	resp, err := http.Get(p.base + "/info")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"model_sha":"`+fakeCommit+`"`) {
		t.Errorf("/info: %s", b)
	}
}
