package hub

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Errors Resolve and Download wrap.
var (
	ErrNotFound     = errors.New("hub: model or revision not found")
	ErrUnauthorized = errors.New("hub: access denied (gated or private model: set HF_TOKEN)")
	ErrOffline      = errors.New("hub: offline and not in the cache")
	ErrCorrupt      = errors.New("hub: downloaded file does not match the hub's metadata")
	// ErrNoFolder: --model is a path (see Resolve) with no model folder there.
	ErrNoFolder = errors.New("hub: no model folder")
)

// Options configure Resolve and Download. Zero fields come from the environment.
type Options struct {
	Revision string       // branch, tag or commit; default "main"
	Endpoint string       // default $HF_ENDPOINT, else https://huggingface.co
	CacheDir string       // default $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub
	Token    string       // default $HF_TOKEN, else the file $HF_HOME/token
	Offline  bool         // also set by HF_HUB_OFFLINE=1
	Client   *http.Client // default: a client with no overall timeout
	// Progress receives a progress bar per file when it is a terminal, else one line per file.
	// Nil: silent.
	Progress io.Writer
	Logger   *slog.Logger
	// Files selects which of the repository's files to fetch, given all their names (as the
	// hub lists them, "/"-separated); default: DefaultFiles.
	Files func(names []string) []string
}

func (o *Options) fill() {
	if o.Revision == "" {
		o.Revision = "main"
	}
	if o.Endpoint == "" {
		o.Endpoint = os.Getenv("HF_ENDPOINT")
	}
	if o.Endpoint == "" {
		o.Endpoint = "https://huggingface.co"
	}
	o.Endpoint = strings.TrimRight(o.Endpoint, "/")
	home := os.Getenv("HF_HOME")
	if home == "" {
		if d, err := os.UserHomeDir(); err == nil {
			home = filepath.Join(d, ".cache", "huggingface")
		}
	}
	if o.CacheDir == "" {
		o.CacheDir = os.Getenv("HF_HUB_CACHE")
	}
	if o.CacheDir == "" {
		o.CacheDir = filepath.Join(home, "hub")
	}
	if o.Token == "" {
		o.Token = os.Getenv("HF_TOKEN")
	}
	if o.Token == "" && home != "" {
		if b, err := os.ReadFile(filepath.Join(home, "token")); err == nil {
			o.Token = strings.TrimSpace(string(b))
		}
	}
	switch strings.ToLower(os.Getenv("HF_HUB_OFFLINE")) {
	case "1", "true", "yes", "on":
		o.Offline = true
	}
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Files == nil {
		o.Files = DefaultFiles
	}
}

// DefaultFiles selects, from a repository's file names, what a model folder needs and
// nothing else:
//   - top-level *.json (config, tokenizer, shard indexes, sentence-transformers' configs) and
//     *.safetensors;
//   - 1_Pooling/config.json, the pooling a sentence-transformers embedder declares (the
//     engine refuses to run an embedder whose pooling it does not do);
//   - PyTorch files only where no safetensors stands in for them: pytorch_model.bin and its
//     shards (pytorch_model-*.bin) when the repository has neither model.safetensors nor
//     model.safetensors.index.json (BAAI/bge-m3 has neither), and any other top-level *.pt or
//     *.bin without a <name>.safetensors beside it (bge-m3's sparse_linear.pt and
//     colbert_linear.pt) except training state no model reads (optimizer.pt, scheduler.pt,
//     training_args.bin).
//
// Everything else (README, images, onnx/, other folders) is left on the hub.
func DefaultFiles(names []string) []string {
	have := map[string]bool{}
	for _, n := range names {
		have[n] = true
	}
	safetensors := have["model.safetensors"] || have["model.safetensors.index.json"]
	var out []string
	for _, n := range names {
		top := !strings.Contains(n, "/")
		stem, ext := strings.TrimSuffix(n, path.Ext(n)), path.Ext(n)
		var keep bool
		switch {
		case n == "1_Pooling/config.json":
			keep = true
		case !top:
		case ext == ".json" || ext == ".safetensors":
			keep = true
		case n == "pytorch_model.bin" || strings.HasPrefix(n, "pytorch_model-") && ext == ".bin":
			keep = !safetensors
		case ext == ".pt" || ext == ".bin":
			keep = !have[stem+".safetensors"] && !trainingState[n]
		}
		if keep {
			out = append(out, n)
		}
	}
	return out
}

// trainingState is the top-level files a training run leaves beside a model, which no model
// folder needs (some are larger than the model).
var trainingState = map[string]bool{"optimizer.pt": true, "scheduler.pt": true, "training_args.bin": true}

var repoIDRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)?$`)

// IsRepoID reports whether s is shaped like a hub model id (NAME or ORG/NAME).
func IsRepoID(s string) bool {
	return repoIDRe.MatchString(s) && !strings.Contains(s, "..") && !strings.HasSuffix(s, ".")
}

var commitRe = regexp.MustCompile(`^[0-9a-f]{40}$`)

// Resolve turns --model into a local model folder and, for hub models, the commit.
//
// model is a path when it starts with ".", "/" or "~" (~ and ~/ are the home folder), when
// it exists, or when its first element exists (testdata/tiny while testdata does): then it
// is never looked up on the hub, and a missing or incomplete folder is ErrNoFolder, saying
// what is missing. A path resolves as:
//   - a folder with config.json: used as it is;
//   - a cache folder models--ORG--NAME: through refs/<revision> to its snapshot.
//
// Anything else shaped like a hub id (ORG/NAME) is looked up in the cache and downloaded
// when missing or stale.
func Resolve(ctx context.Context, model string, o Options) (dir, commit string, err error) {
	o.fill()
	if path, ok := localPath(model); ok {
		return resolveFolder(path, o.Revision)
	}
	if !IsRepoID(model) {
		return "", "", fmt.Errorf("hub: %q is neither a model folder nor a hub model id like BAAI/bge-reranker-v2-m3", model)
	}
	return Download(ctx, model, o)
}

// localPath reports whether --model names a local path rather than a hub id (see Resolve),
// and the path, with a leading ~ expanded.
func localPath(model string) (string, bool) {
	if model == "~" || strings.HasPrefix(model, "~/") || strings.HasPrefix(model, "~"+string(filepath.Separator)) {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, model[1:]), true
		}
		return model, true
	}
	if strings.HasPrefix(model, ".") || strings.HasPrefix(model, "/") || strings.HasPrefix(model, "~") || filepath.IsAbs(model) || filepath.VolumeName(model) != "" {
		return model, true
	}
	if model == "" {
		return "", false
	}
	if _, err := os.Lstat(model); err == nil {
		return model, true
	}
	first, _, _ := strings.Cut(filepath.ToSlash(model), "/")
	if _, err := os.Lstat(filepath.FromSlash(first)); err == nil {
		return model, true
	}
	return "", false
}

// resolveFolder resolves a local path: a model folder, or a cache folder models--ORG--NAME.
func resolveFolder(path, revision string) (dir, commit string, err error) {
	noFolder := func(format string, a ...any) (string, string, error) {
		return "", "", fmt.Errorf("%w at %s: %s", ErrNoFolder, path, fmt.Sprintf(format, a...))
	}
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return noFolder("it does not exist")
	case err != nil:
		return noFolder("%v", err)
	case !st.IsDir():
		return noFolder("it is a file (want the folder with config.json, the weights and tokenizer.json)")
	}
	if _, err := os.Stat(filepath.Join(path, "config.json")); err == nil {
		return path, commitOf(path), nil
	}
	if strings.HasPrefix(filepath.Base(filepath.Clean(path)), "models--") {
		return snapshotFor(filepath.Clean(path), revision)
	}
	missing := []string{"config.json"}
	if _, err := os.Stat(filepath.Join(path, "tokenizer.json")); err != nil {
		missing = append(missing, "tokenizer.json")
	}
	m, _ := filepath.Glob(filepath.Join(path, "*.safetensors"))
	if _, err := os.Stat(filepath.Join(path, "pytorch_model.bin")); len(m) == 0 && err != nil {
		missing = append(missing, "weights (*.safetensors or pytorch_model.bin)")
	}
	return noFolder("the folder has no %s", strings.Join(missing, ", no "))
}

// commitOf returns the commit of a snapshot folder (…/snapshots/<commit>), else "".
func commitOf(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	if b := filepath.Base(abs); commitRe.MatchString(b) && filepath.Base(filepath.Dir(abs)) == "snapshots" {
		return b
	}
	return ""
}

// RepoDir is the cache folder of a model id.
func RepoDir(cacheDir, repo string) string {
	return filepath.Join(cacheDir, "models--"+strings.ReplaceAll(repo, "/", "--"))
}

func snapshotFor(repoDir, rev string) (string, string, error) {
	commit := rev
	if !commitRe.MatchString(rev) {
		b, err := os.ReadFile(filepath.Join(repoDir, "refs", filepath.FromSlash(rev)))
		if err != nil {
			return "", "", fmt.Errorf("%w: %s has no refs/%s", ErrOffline, repoDir, rev)
		}
		commit = strings.TrimSpace(string(b))
	}
	dir := filepath.Join(repoDir, "snapshots", commit)
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
		return "", "", fmt.Errorf("%w: snapshot %s has no config.json", ErrOffline, dir)
	}
	return dir, commit, nil
}

// repoInfo is the part of GET /api/models/{id}/revision/{rev} used here.
type repoInfo struct {
	SHA      string    `json:"sha"`
	Siblings []sibling `json:"siblings"`
}

type sibling struct {
	Name   string `json:"rfilename"`
	Size   *int64 `json:"size"`
	BlobID string `json:"blobId"`
	LFS    *struct {
		SHA256 string `json:"sha256"`
		Size   int64  `json:"size"`
	} `json:"lfs"`
}

// Download fetches the selected files of repo at o.Revision into the cache (skipping those
// already there) and returns the snapshot folder and commit. Offline, or when the hub cannot
// be reached and the cache has the revision, the cached snapshot is returned.
func Download(ctx context.Context, repo string, o Options) (dir, commit string, err error) {
	o.fill()
	if !IsRepoID(repo) {
		return "", "", fmt.Errorf("hub: invalid model id %q", repo)
	}
	repoDir := RepoDir(o.CacheDir, repo)
	if o.Offline {
		return snapshotFor(repoDir, o.Revision)
	}
	info, err := o.revisionInfo(ctx, repo)
	if err != nil {
		var ne *netError
		if errors.As(err, &ne) {
			if dir, commit, cerr := snapshotFor(repoDir, o.Revision); cerr == nil {
				o.Logger.Warn("hub unreachable; using the cached snapshot", "error", err, "dir", dir)
				return dir, commit, nil
			}
		}
		return "", "", err
	}
	if !commitRe.MatchString(info.SHA) {
		return "", "", fmt.Errorf("hub: %s@%s: the hub returned no commit (sha %q)", repo, o.Revision, info.SHA)
	}
	snap := filepath.Join(repoDir, "snapshots", info.SHA)
	names := make([]string, len(info.Siblings))
	for i, s := range info.Siblings {
		names[i] = s.Name
	}
	want := map[string]bool{}
	for _, n := range o.Files(names) {
		want[n] = true
	}
	n := 0
	for _, s := range info.Siblings {
		if !want[s.Name] || !safeName(s.Name) {
			continue
		}
		n++
		if err := o.fetchFile(ctx, repo, info.SHA, repoDir, snap, s); err != nil {
			return "", "", err
		}
	}
	if n == 0 {
		return "", "", fmt.Errorf("hub: %s@%s has no config, tokenizer or weights files", repo, o.Revision)
	}
	if o.Revision != info.SHA {
		ref := filepath.Join(repoDir, "refs", filepath.FromSlash(o.Revision))
		if err := os.MkdirAll(filepath.Dir(ref), 0o755); err != nil {
			return "", "", err
		}
		if err := os.WriteFile(ref, []byte(info.SHA), 0o644); err != nil {
			return "", "", err
		}
	}
	if _, err := os.Stat(filepath.Join(snap, "config.json")); err != nil {
		return "", "", fmt.Errorf("hub: %s@%s has no config.json", repo, o.Revision)
	}
	return snap, info.SHA, nil
}

func safeName(name string) bool {
	return name != "" && !strings.HasPrefix(name, "/") && !strings.Contains(name, "\\") &&
		path.Clean(name) == name && !strings.HasPrefix(name, "..")
}

// netError marks failures to reach the hub at all (as opposed to HTTP errors).
type netError struct{ err error }

func (e *netError) Error() string { return "hub: " + e.err.Error() }
func (e *netError) Unwrap() error { return e.err }

func (o *Options) request(ctx context.Context, method, u string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "gorerank")
	if o.Token != "" {
		req.Header.Set("Authorization", "Bearer "+o.Token)
	}
	return req, nil
}

func statusError(what string, resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	msg := strings.TrimSpace(string(body))
	switch resp.StatusCode {
	case 401, 403:
		return fmt.Errorf("%w: %s: %s %s", ErrUnauthorized, what, resp.Status, msg)
	case 404:
		return fmt.Errorf("%w: %s: %s", ErrNotFound, what, resp.Status)
	}
	return fmt.Errorf("hub: %s: %s %s", what, resp.Status, msg)
}

func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i := range parts {
		parts[i] = url.PathEscape(parts[i])
	}
	return strings.Join(parts, "/")
}

func (o *Options) revisionInfo(ctx context.Context, repo string) (*repoInfo, error) {
	u := fmt.Sprintf("%s/api/models/%s/revision/%s?blobs=true", o.Endpoint, escapePath(repo), url.PathEscape(o.Revision))
	req, err := o.request(ctx, "GET", u)
	if err != nil {
		return nil, err
	}
	resp, err := o.Client.Do(req)
	if err != nil {
		return nil, &netError{err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, statusError(repo+"@"+o.Revision, resp)
	}
	var info repoInfo
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&info); err != nil {
		return nil, fmt.Errorf("hub: %s@%s: bad revision info: %w", repo, o.Revision, err)
	}
	return &info, nil
}

// fileMeta is what HEAD …/resolve/… says about a file.
type fileMeta struct {
	etag   string
	size   int64
	commit string
}

func unquoteETag(s string) string {
	s = strings.TrimPrefix(strings.TrimSpace(s), "W/")
	return strings.Trim(s, `"`)
}

func (o *Options) head(ctx context.Context, u string) (*fileMeta, error) {
	req, err := o.request(ctx, "HEAD", u)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept-Encoding", "identity")
	c := *o.Client
	// The metadata is on the hub's own response, not on the CDN's: follow only relative
	// redirects (a renamed repository), as huggingface_hub does.
	c.CheckRedirect = func(r *http.Request, via []*http.Request) error {
		if len(via) >= 5 || r.Response == nil {
			return http.ErrUseLastResponse
		}
		if loc, err := url.Parse(r.Response.Header.Get("Location")); err != nil || loc.Scheme != "" || loc.Host != "" {
			return http.ErrUseLastResponse
		}
		return nil
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, &netError{err}
	}
	resp.Body.Close()
	if resp.StatusCode >= 400 {
		return nil, statusError(u, resp)
	}
	m := &fileMeta{commit: resp.Header.Get("X-Repo-Commit")}
	m.etag = unquoteETag(resp.Header.Get("X-Linked-Etag"))
	if m.etag == "" {
		m.etag = unquoteETag(resp.Header.Get("ETag"))
	}
	size := resp.Header.Get("X-Linked-Size")
	if size == "" {
		size = resp.Header.Get("Content-Length")
	}
	if m.size, err = strconv.ParseInt(size, 10, 64); err != nil || m.size < 0 {
		return nil, fmt.Errorf("hub: %s: no file size in the response headers", u)
	}
	if m.etag == "" || strings.ContainsAny(m.etag, `/\.`) {
		return nil, fmt.Errorf("hub: %s: no usable ETag in the response headers", u)
	}
	return m, nil
}

func (o *Options) fetchFile(ctx context.Context, repo, commit, repoDir, snap string, s sibling) error {
	link := filepath.Join(snap, filepath.FromSlash(s.Name))
	if _, err := os.Stat(link); err == nil {
		return nil // already in this snapshot
	}
	u := fmt.Sprintf("%s/%s/resolve/%s/%s", o.Endpoint, escapePath(repo), commit, escapePath(s.Name))
	meta, err := o.head(ctx, u)
	if err != nil {
		return err
	}
	if meta.commit != "" && meta.commit != commit {
		return fmt.Errorf("hub: %s: resolved to commit %s, expected %s", s.Name, meta.commit, commit)
	}
	// cross-check with the API listing where it has the data
	if s.LFS != nil && (s.LFS.SHA256 != meta.etag || s.LFS.Size != meta.size) {
		return fmt.Errorf("%w: %s: the file listing says sha256 %s size %d, the file headers %s size %d", ErrCorrupt, s.Name, s.LFS.SHA256, s.LFS.Size, meta.etag, meta.size)
	}
	blob := filepath.Join(repoDir, "blobs", meta.etag)
	if st, err := os.Stat(blob); err != nil || st.Size() != meta.size {
		if err := o.download(ctx, u, blob, s.Name, meta); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		return err
	}
	rel, err := filepath.Rel(filepath.Dir(link), blob)
	if err != nil {
		return err
	}
	if err := os.Symlink(rel, link); err != nil {
		// file systems without symlinks: copy, as huggingface_hub does
		if cerr := copyFile(blob, link); cerr != nil {
			return fmt.Errorf("hub: linking %s: %v; copying: %w", link, err, cerr)
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// hasherFor returns the hash that an etag names: sha256 for 64 hex digits (LFS), git's blob
// sha1 for 40 (the header "blob <size>\0" is written first), nil when the etag is neither.
func hasherFor(etag string, size int64) hash.Hash {
	if _, err := hex.DecodeString(etag); err != nil {
		return nil
	}
	switch len(etag) {
	case 64:
		return sha256.New()
	case 40:
		h := sha1.New()
		fmt.Fprintf(h, "blob %d\x00", size)
		return h
	}
	return nil
}

// download writes u into blob via blob.incomplete, resuming a partial file with a Range
// request, and verifies size and hash before renaming it into place.
func (o *Options) download(ctx context.Context, u, blob, name string, meta *fileMeta) error {
	if err := os.MkdirAll(filepath.Dir(blob), 0o755); err != nil {
		return err
	}
	tmp := blob + ".incomplete"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	have, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	if have > meta.size {
		if err := f.Truncate(0); err != nil {
			return err
		}
		have = 0
	}
	h := hasherFor(meta.etag, meta.size)
	if h == nil {
		o.Logger.Warn("hub: etag is not a sha256 or git sha1; checking the size only", "file", name, "etag", meta.etag)
	}
	req, err := o.request(ctx, "GET", u)
	if err != nil {
		return err
	}
	req.Header.Set("Accept-Encoding", "identity")
	if have > 0 && have < meta.size {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	resp, err := o.Client.Do(req)
	if err != nil {
		return &netError{err}
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0:
		o.Logger.Info("hub: resuming download", "file", name, "from", have)
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && have == meta.size:
		// complete already; nothing to read
	case resp.StatusCode == 200:
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		if err := f.Truncate(0); err != nil {
			return err
		}
		have = 0
	default:
		return statusError(name, resp)
	}
	if h != nil && have > 0 {
		if _, err := io.Copy(h, io.NewSectionReader(f, 0, have)); err != nil {
			return err
		}
	}
	if _, err := f.Seek(have, io.SeekStart); err != nil {
		return err
	}
	bar := newProgress(o.Progress, name, meta.size, have)
	var w io.Writer = f
	if h != nil {
		w = io.MultiWriter(f, h)
	}
	body := io.LimitReader(resp.Body, meta.size-have+1) // one byte more to notice an overlong body
	n, err := io.Copy(io.MultiWriter(w, bar), body)
	bar.done()
	if err != nil {
		return fmt.Errorf("hub: downloading %s (%d of %d bytes; run again to resume): %w", name, have+n, meta.size, err)
	}
	if got := have + n; got != meta.size {
		os.Remove(tmp)
		return fmt.Errorf("%w: %s is %d bytes, the hub said %d", ErrCorrupt, name, got, meta.size)
	}
	if h != nil {
		if sum := hex.EncodeToString(h.Sum(nil)); sum != meta.etag {
			f.Close()
			os.Remove(tmp)
			return fmt.Errorf("%w: %s has hash %s, the hub said %s", ErrCorrupt, name, sum, meta.etag)
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	o.Logger.Info("hub: downloaded", "file", name, "bytes", meta.size, "seconds", time.Since(bar.start).Seconds())
	return os.Rename(tmp, blob)
}

// progress draws "name  42% 120.0/285.7 MB  35.1 MB/s" on a terminal, else one line when done.
type progress struct {
	w           io.Writer
	tty         bool
	name        string
	total, cur  int64
	start, last time.Time
	base        int64
}

func newProgress(w io.Writer, name string, total, have int64) *progress {
	p := &progress{w: w, name: name, total: total, cur: have, base: have, start: time.Now()}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) Write(b []byte) (int, error) {
	p.cur += int64(len(b))
	if p.w != nil && p.tty && time.Since(p.last) > 200*time.Millisecond {
		p.last = time.Now()
		p.draw()
	}
	return len(b), nil
}

func (p *progress) draw() {
	pct := 100.0
	if p.total > 0 {
		pct = 100 * float64(p.cur) / float64(p.total)
	}
	rate := float64(p.cur-p.base) / max(time.Since(p.start).Seconds(), 1e-3) / 1e6
	fmt.Fprintf(p.w, "\r%-28s %5.1f%% %9.1f/%.1f MB %7.1f MB/s", p.name, pct, float64(p.cur)/1e6, float64(p.total)/1e6, rate)
}

func (p *progress) done() {
	if p.w == nil {
		return
	}
	if p.tty {
		p.draw()
		fmt.Fprintln(p.w)
		return
	}
	fmt.Fprintf(p.w, "downloaded %s (%.1f MB)\n", p.name, float64(p.cur)/1e6)
}
