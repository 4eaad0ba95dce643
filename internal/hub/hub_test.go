package hub

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const commit = "0123456789abcdef0123456789abcdef01234567"

type hubFile struct {
	data []byte
	lfs  bool
}

// fakeHub mimics huggingface.co: the revision API, HEAD/GET on resolve URLs (LFS files
// redirect to a CDN path with X-Linked-Etag / X-Linked-Size, small files answer with a git
// sha1 ETag), Range requests on the CDN, and a token for gated repos.
type fakeHub struct {
	t       *testing.T
	repo    string
	files   map[string]hubFile
	token   string // required when set
	corrupt bool   // the CDN serves flipped bytes

	mu       sync.Mutex
	gets     map[string]int
	ranges   []string
	apiCalls int
}

func gitSHA1(b []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(b))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func (h *fakeHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.token != "" && r.Header.Get("Authorization") != "Bearer "+h.token && !strings.HasPrefix(r.URL.Path, "/cdn/") {
		http.Error(w, "Access to model is restricted", 401)
		return
	}
	p := r.URL.Path
	switch {
	case p == "/api/models/"+h.repo+"/revision/main" || p == "/api/models/"+h.repo+"/revision/"+commit:
		h.mu.Lock()
		h.apiCalls++
		h.mu.Unlock()
		var sib []map[string]any
		for name, f := range h.files {
			s := map[string]any{"rfilename": name, "size": len(f.data), "blobId": gitSHA1(f.data)}
			if f.lfs {
				s["lfs"] = map[string]any{"sha256": sha256hex(f.data), "size": len(f.data), "pointerSize": 134}
			}
			sib = append(sib, s)
		}
		sib = append(sib, map[string]any{"rfilename": "onnx/model.onnx", "size": 5})
		sib = append(sib, map[string]any{"rfilename": "README.md", "size": 5})
		json.NewEncoder(w).Encode(map[string]any{"id": h.repo, "sha": commit, "siblings": sib})
	case strings.HasPrefix(p, "/BAAI/old-name/resolve/"): // a renamed repository: relative redirect
		http.Redirect(w, r, "/"+h.repo+strings.TrimPrefix(p, "/BAAI/old-name"), http.StatusTemporaryRedirect)
	case p == "/api/models/BAAI/old-name/revision/main":
		http.Redirect(w, r, "/api/models/"+h.repo+"/revision/main", http.StatusTemporaryRedirect)
	case strings.HasPrefix(p, "/"+h.repo+"/resolve/"):
		rest := strings.TrimPrefix(p, "/"+h.repo+"/resolve/")
		rev, name, _ := strings.Cut(rest, "/")
		f, ok := h.files[name]
		if !ok || (rev != "main" && rev != commit) {
			w.Header().Set("X-Error-Code", "EntryNotFound")
			http.Error(w, "Entry not found", 404)
			return
		}
		w.Header().Set("X-Repo-Commit", commit)
		if f.lfs {
			w.Header().Set("X-Linked-Etag", `"`+sha256hex(f.data)+`"`)
			w.Header().Set("X-Linked-Size", fmt.Sprint(len(f.data)))
			w.Header().Set("ETag", `"`+gitSHA1([]byte("pointer"))+`"`)
			// the CDN URL is absolute, as the hub's is (it points at another host there)
			w.Header().Set("Location", "http://"+r.Host+"/cdn/"+sha256hex(f.data))
			w.WriteHeader(http.StatusFound)
			return
		}
		w.Header().Set("ETag", `"`+gitSHA1(f.data)+`"`)
		h.count(name, r)
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.data))
	case strings.HasPrefix(p, "/cdn/"):
		for name, f := range h.files {
			if sha256hex(f.data) == strings.TrimPrefix(p, "/cdn/") {
				h.count(name, r)
				data := f.data
				if h.corrupt {
					data = bytes.Clone(data)
					data[len(data)-1] ^= 0xff
				}
				http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(data))
				return
			}
		}
		http.NotFound(w, r)
	default:
		http.Error(w, "Repository not found", 404)
	}
}

func (h *fakeHub) count(name string, r *http.Request) {
	if r.Method != "GET" {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.gets[name]++
	if rg := r.Header.Get("Range"); rg != "" {
		h.ranges = append(h.ranges, name+" "+rg)
	}
}

func newFakeHub(t *testing.T) (*fakeHub, *httptest.Server) {
	weights := bytes.Repeat([]byte("0123456789"), 50000)
	h := &fakeHub{t: t, repo: "BAAI/tiny-reranker", gets: map[string]int{}, files: map[string]hubFile{
		"config.json":       {data: []byte(`{"model_type": "xlm-roberta"}`)},
		"tokenizer.json":    {data: []byte(`{"model": {}}`)},
		"model.safetensors": {data: weights, lfs: true},
	}}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return h, srv
}

func opts(t *testing.T, srv *httptest.Server) Options {
	t.Setenv("HF_HOME", t.TempDir())
	t.Setenv("HF_HUB_CACHE", "")
	t.Setenv("HF_TOKEN", "")
	t.Setenv("HF_HUB_OFFLINE", "")
	t.Setenv("HF_ENDPOINT", srv.URL)
	return Options{}
}

func TestDownloadLayout(t *testing.T) {
	h, srv := newFakeHub(t)
	o := opts(t, srv)
	var progress bytes.Buffer
	o.Progress = &progress
	dir, rev, err := Resolve(context.Background(), h.repo, o)
	if err != nil {
		t.Fatal(err)
	}
	repoDir := filepath.Join(os.Getenv("HF_HOME"), "hub", "models--BAAI--tiny-reranker")
	if rev != commit || dir != filepath.Join(repoDir, "snapshots", commit) {
		t.Fatalf("dir %s rev %s", dir, rev)
	}
	if b, _ := os.ReadFile(filepath.Join(repoDir, "refs", "main")); string(b) != commit {
		t.Errorf("refs/main = %q", b)
	}
	for name, f := range h.files {
		link := filepath.Join(dir, name)
		target, err := os.Readlink(link)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		etag := gitSHA1(f.data)
		if f.lfs {
			etag = sha256hex(f.data)
		}
		if target != filepath.Join("..", "..", "blobs", etag) {
			t.Errorf("%s -> %s", name, target)
		}
		if b, err := os.ReadFile(link); err != nil || !bytes.Equal(b, f.data) {
			t.Errorf("%s: content differs (%v)", name, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, "README.md")); err == nil {
		t.Error("README.md fetched; only json and safetensors should be")
	}
	if !strings.Contains(progress.String(), "downloaded model.safetensors (0.5 MB)") {
		t.Errorf("progress: %q", progress.String())
	}

	// second run: nothing downloaded again
	if _, _, err := Resolve(context.Background(), h.repo, o); err != nil {
		t.Fatal(err)
	}
	for name, n := range h.gets {
		if n != 1 {
			t.Errorf("%s fetched %d times", name, n)
		}
	}
	// offline: from the cache, without the hub
	srv.Close()
	t.Setenv("HF_HUB_OFFLINE", "1")
	if d, _, err := Resolve(context.Background(), h.repo, Options{}); err != nil || d != dir {
		t.Errorf("offline: %s %v", d, err)
	}
	// hub unreachable, not offline: falls back to the cache
	t.Setenv("HF_HUB_OFFLINE", "")
	if d, _, err := Resolve(context.Background(), h.repo, Options{}); err != nil || d != dir {
		t.Errorf("unreachable: %s %v", d, err)
	}
	// the cache folder itself, and a snapshot folder
	if d, _, err := Resolve(context.Background(), repoDir, Options{}); err != nil || d != dir {
		t.Errorf("cache folder: %s %v", d, err)
	}
	if d, c, err := Resolve(context.Background(), dir, Options{}); err != nil || d != dir || c != commit {
		t.Errorf("snapshot folder: %s %s %v", d, c, err)
	}
}

func TestDownloadResume(t *testing.T) {
	h, srv := newFakeHub(t)
	o := opts(t, srv)
	w := h.files["model.safetensors"].data
	blobs := filepath.Join(os.Getenv("HF_HOME"), "hub", "models--BAAI--tiny-reranker", "blobs")
	os.MkdirAll(blobs, 0o755)
	part := filepath.Join(blobs, sha256hex(w)+".incomplete")
	if err := os.WriteFile(part, w[:123457], 0o644); err != nil {
		t.Fatal(err)
	}
	dir, _, err := Download(context.Background(), h.repo, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.ranges) != 1 || h.ranges[0] != "model.safetensors bytes=123457-" {
		t.Errorf("range requests %v", h.ranges)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "model.safetensors")); !bytes.Equal(b, w) {
		t.Error("resumed file differs")
	}
	if _, err := os.Stat(part); !os.IsNotExist(err) {
		t.Error(".incomplete left behind")
	}
}

func TestDownloadCorrupt(t *testing.T) {
	h, srv := newFakeHub(t)
	h.corrupt = true
	o := opts(t, srv)
	_, _, err := Download(context.Background(), h.repo, o)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("err %v, want ErrCorrupt", err)
	}
	blobs, _ := filepath.Glob(filepath.Join(os.Getenv("HF_HOME"), "hub", "models--BAAI--tiny-reranker", "blobs", "*"))
	for _, b := range blobs {
		if strings.HasSuffix(b, sha256hex(h.files["model.safetensors"].data)) || strings.HasSuffix(b, ".incomplete") {
			t.Errorf("corrupt download kept: %s", b)
		}
	}
}

func TestDownloadTokenAndErrors(t *testing.T) {
	h, srv := newFakeHub(t)
	h.token = "hf_secret"
	o := opts(t, srv)
	if _, _, err := Download(context.Background(), h.repo, o); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("no token: %v", err)
	}
	t.Setenv("HF_TOKEN", "hf_secret")
	if _, _, err := Download(context.Background(), h.repo, Options{}); err != nil {
		t.Errorf("with token: %v", err)
	}
	if _, _, err := Download(context.Background(), "BAAI/missing", Options{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing repo: %v", err)
	}
	t.Setenv("HF_HUB_OFFLINE", "1")
	if _, _, err := Download(context.Background(), "BAAI/other", Options{}); !errors.Is(err, ErrOffline) {
		t.Errorf("offline, not cached: %v", err)
	}
}

func TestResolveLocalAndInvalid(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "config.json"), []byte("{}"), 0o644)
	if d, c, err := Resolve(context.Background(), dir, Options{}); err != nil || d != dir || c != "" {
		t.Errorf("local folder: %s %s %v", d, c, err)
	}
	if _, _, err := Resolve(context.Background(), t.TempDir(), Options{}); err == nil {
		t.Error("folder without config.json accepted")
	}
	for _, bad := range []string{"./no/such/dir/", "../x", "a/b/c", "", "org/.."} {
		if IsRepoID(bad) {
			t.Errorf("IsRepoID(%q)", bad)
		}
		if _, _, err := Resolve(context.Background(), bad, Options{Offline: true}); err == nil {
			t.Errorf("Resolve(%q) succeeded", bad)
		}
	}
	for _, good := range []string{"BAAI/bge-reranker-v2-m3", "gpt2", "org/name.v1_2"} {
		if !IsRepoID(good) {
			t.Errorf("IsRepoID(%q) = false", good)
		}
	}
}

func TestDownloadRenamedRepo(t *testing.T) {
	_, srv := newFakeHub(t)
	o := opts(t, srv)
	dir, rev, err := Download(context.Background(), "BAAI/old-name", o)
	if err != nil || rev != commit {
		t.Fatalf("renamed repo: %s %s %v", dir, rev, err)
	}
	if !strings.Contains(dir, "models--BAAI--old-name") {
		t.Errorf("cached under %s, want the requested id's folder", dir)
	}
}

// TestResolvePaths: a --model that looks like a path (leading . / ~, or a first element that
// exists here) is never looked up on the hub; a missing or incomplete folder is ErrNoFolder,
// saying what is missing. Only otherwise is ORG/NAME a hub id.
func TestResolvePaths(t *testing.T) {
	var calls sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Lock()
		n++
		calls.Unlock()
		http.Error(w, "no", 404)
	}))
	defer srv.Close()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("HF_HOME", filepath.Join(home, "hf"))
	t.Setenv("HF_HUB_CACHE", "")
	t.Setenv("HF_HUB_OFFLINE", "")
	t.Setenv("HF_ENDPOINT", srv.URL)
	t.Chdir(t.TempDir())
	os.MkdirAll(filepath.Join("testdata", "tok"), 0o755)
	os.WriteFile(filepath.Join("testdata", "tok", "tokenizer.json"), []byte("{}"), 0o644)
	os.WriteFile(filepath.Join("testdata", "notes.txt"), []byte("x"), 0o644)
	abs := filepath.Join(t.TempDir(), "absent")
	for _, c := range []struct{ model, want string }{
		{"testdata/tinyy", "hub: no model folder at testdata/tinyy: it does not exist"},
		{"testdata/a/b/c", "hub: no model folder at testdata/a/b/c: it does not exist"},
		{"./tiny", "hub: no model folder at ./tiny: it does not exist"},
		{"../BAAI/bge-reranker-v2-m3", "hub: no model folder at ../BAAI/bge-reranker-v2-m3: it does not exist"},
		{abs, "hub: no model folder at " + abs + ": it does not exist"},
		{"~/models/x", "hub: no model folder at " + filepath.Join(home, "models", "x") + ": it does not exist"},
		{"testdata", "hub: no model folder at testdata: the folder has no config.json, no tokenizer.json, no weights (*.safetensors or pytorch_model.bin)"},
		{"testdata/tok", "hub: no model folder at testdata/tok: the folder has no config.json, no weights (*.safetensors or pytorch_model.bin)"},
		{"testdata/notes.txt", "hub: no model folder at testdata/notes.txt: it is a file"},
	} {
		_, _, err := Resolve(context.Background(), c.model, Options{})
		if !errors.Is(err, ErrNoFolder) || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("Resolve(%q): %v; want ErrNoFolder: %s", c.model, err, c.want)
		}
	}
	// ORG/NAME with no local ORG is a hub id (offline here: the cache, which lacks it)
	if _, _, err := Resolve(context.Background(), "BAAI/bge-reranker-v2-m3", Options{Offline: true}); !errors.Is(err, ErrOffline) {
		t.Errorf("hub id: %v; want ErrOffline", err)
	}
	calls.Lock()
	defer calls.Unlock()
	if n != 0 {
		t.Errorf("%d requests to the hub; a path must never reach it", n)
	}
}

// TestDefaultFiles: what a model folder needs, from the repository's list: JSON and
// safetensors at the top, 1_Pooling/config.json, and PyTorch files only where no
// safetensors stands in for them; never training state, other folders or documents.
func TestDefaultFiles(t *testing.T) {
	common := []string{".gitattributes", "README.md", "config.json", "tokenizer.json", "tokenizer_config.json",
		"sentencepiece.bpe.model", "imgs/bm25.jpg", "onnx/model.onnx", "onnx/config.json", "1_Pooling/config.json",
		"modules.json", "optimizer.pt", "scheduler.pt", "training_args.bin", "checkpoint-500/pytorch_model.bin"}
	for _, c := range []struct {
		name  string
		files []string
		want  string
	}{
		{"bge-m3 as published", []string{"pytorch_model.bin", "sparse_linear.pt", "colbert_linear.pt"},
			"1_Pooling/config.json colbert_linear.pt config.json modules.json pytorch_model.bin sparse_linear.pt tokenizer.json tokenizer_config.json"},
		{"a safetensors conversion beside the .bin", []string{"pytorch_model.bin", "model.safetensors", "sparse_linear.pt", "colbert_linear.pt", "colbert_linear.safetensors"},
			"1_Pooling/config.json colbert_linear.safetensors config.json model.safetensors modules.json sparse_linear.pt tokenizer.json tokenizer_config.json"},
		{"sharded PyTorch", []string{"pytorch_model.bin.index.json", "pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin"},
			"1_Pooling/config.json config.json modules.json pytorch_model-00001-of-00002.bin pytorch_model-00002-of-00002.bin pytorch_model.bin.index.json tokenizer.json tokenizer_config.json"},
		{"sharded safetensors", []string{"model.safetensors.index.json", "model-00001-of-00002.safetensors", "pytorch_model.bin"},
			"1_Pooling/config.json config.json model-00001-of-00002.safetensors model.safetensors.index.json modules.json tokenizer.json tokenizer_config.json"},
		{"a reranker", []string{"model.safetensors", "pytorch_model.bin"},
			"1_Pooling/config.json config.json model.safetensors modules.json tokenizer.json tokenizer_config.json"},
	} {
		got := DefaultFiles(append(slices.Clone(common), c.files...))
		slices.Sort(got)
		if strings.Join(got, " ") != c.want {
			t.Errorf("%s:\n got  %s\n want %s", c.name, strings.Join(got, " "), c.want)
		}
	}
}

// TestDownloadBGEM3Layout: a repository laid out as BAAI/bge-m3 (no safetensors; weights in
// pytorch_model.bin, heads in .pt files, a 1_Pooling folder, training state beside it) is
// downloaded into a snapshot that has what the engine loads and nothing else.
func TestDownloadBGEM3Layout(t *testing.T) {
	h, srv := newFakeHub(t)
	h.repo = "BAAI/bge-m3"
	h.files = map[string]hubFile{
		"config.json":           {data: []byte(`{"architectures": ["XLMRobertaModel"]}`)},
		"tokenizer.json":        {data: []byte(`{"model": {}}`)},
		"pytorch_model.bin":     {data: bytes.Repeat([]byte("w"), 70000), lfs: true},
		"sparse_linear.pt":      {data: []byte("sparse"), lfs: true},
		"colbert_linear.pt":     {data: []byte("colbert"), lfs: true},
		"1_Pooling/config.json": {data: []byte(`{"pooling_mode_cls_token": true}`)},
		"optimizer.pt":          {data: []byte("state"), lfs: true},
		"imgs/logo.jpg":         {data: []byte("jpg")},
	}
	dir, _, err := Download(context.Background(), h.repo, opts(t, srv))
	if err != nil {
		t.Fatal(err)
	}
	for name, f := range h.files {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		skip := name == "optimizer.pt" || name == "imgs/logo.jpg"
		switch {
		case skip && err == nil:
			t.Errorf("%s fetched", name)
		case !skip && (err != nil || !bytes.Equal(b, f.data)):
			t.Errorf("%s: %v", name, err)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.gets["optimizer.pt"] != 0 || h.gets["imgs/logo.jpg"] != 0 {
		t.Errorf("requests for files left on the hub: %v", h.gets)
	}
}
