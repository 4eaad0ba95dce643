package image

import (
	"archive/tar"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/gorerank/gorerank/deploy/internal/testbin"
)

func testSpec(t *testing.T) Spec {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the image's binary is a linux binary; running it needs linux")
	}
	bin, err := testbin.Rerank()
	if err != nil {
		t.Fatal(err)
	}
	certs := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(certs, []byte("-----BEGIN CERTIFICATE-----\nnot a real one\n-----END CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return Spec{Binary: bin, CACerts: certs, OS: "linux", Arch: runtime.GOARCH, Version: testbin.Version, Revision: "abc123",
		Created: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

// TestImage builds the image into an OCI layout, reads it back as a registry client would,
// checks its config, then extracts the binary from the layer and runs `rerank version`.
func TestImage(t *testing.T) {
	spec := testSpec(t)
	img, err := Build(spec)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "oci")
	if err := WriteLayout(dir, "gorerank:test", img); err != nil {
		t.Fatal(err)
	}

	// read back from disk only
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "gorerank:test" ||
		im.Manifests[0].MediaType != types.OCIManifestSchema1 {
		t.Fatalf("index: %+v", im.Manifests)
	}
	got, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := got.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if cf.OS != "linux" || cf.Architecture != runtime.GOARCH {
		t.Errorf("platform %s/%s", cf.OS, cf.Architecture)
	}
	if !slices.Equal(c.Entrypoint, []string{"/usr/local/bin/rerank"}) || len(c.Cmd) == 0 || c.Cmd[0] != "serve" {
		t.Errorf("entrypoint %q cmd %q", c.Entrypoint, c.Cmd)
	}
	if c.User != "65532:65532" {
		t.Errorf("user %q, want the non-root 65532:65532", c.User)
	}
	if !slices.Contains(c.Env, "HF_HOME=/data/hf") {
		t.Errorf("env %q lacks HF_HOME=/data/hf", c.Env)
	}
	if _, ok := c.ExposedPorts["8000/tcp"]; !ok || len(c.ExposedPorts) != 1 {
		t.Errorf("exposed ports %v", c.ExposedPorts)
	}
	if _, ok := c.Volumes["/data/hf"]; !ok {
		t.Errorf("volumes %v", c.Volumes)
	}
	if c.Healthcheck != nil {
		t.Errorf("a HEALTHCHECK: %+v (Kubernetes probes do that)", c.Healthcheck)
	}
	if c.Labels["org.opencontainers.image.version"] != testbin.Version || c.Labels["org.opencontainers.image.revision"] != "abc123" {
		t.Errorf("labels %v", c.Labels)
	}
	layers, err := got.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %d %v", len(layers), err)
	}
	if mt, _ := layers[0].MediaType(); mt != types.OCILayer {
		t.Errorf("layer media type %s", mt)
	}

	// the filesystem: the binary, the CA bundle, a HF_HOME the non-root user may write
	rc := mutate.Extract(got)
	defer rc.Close()
	tr := tar.NewReader(rc)
	exe := filepath.Join(t.TempDir(), "rerank")
	seen := map[string]*tar.Header{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		seen["/"+strings.TrimSuffix(h.Name, "/")] = h
		if "/"+h.Name == BinaryPath {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(exe, b, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	if h := seen[BinaryPath]; h == nil || h.Mode&0o111 == 0 {
		t.Fatalf("no executable %s in the layer", BinaryPath)
	}
	if h := seen[HFHome]; h == nil || h.Uid != UID || h.Typeflag != tar.TypeDir {
		t.Errorf("%s: %+v, want a folder owned by %d", HFHome, h, UID)
	}
	if seen[CACertPath] == nil {
		t.Errorf("no CA bundle at %s", CACertPath)
	}

	// static: no program interpreter, no shared libraries (it runs on an empty base)
	f, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			t.Error("the binary asks for a dynamic loader (PT_INTERP): not static")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v", libs)
	}
	f.Close()

	out, err := exec.Command(exe, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "rerank "+testbin.Version) {
		t.Errorf("rerank version from the image: %v %q", err, out)
	}
	t.Logf("%s", strings.TrimSpace(string(out)))
}

// The same inputs give the same digest (fixed times, no randomness), and the docker-load
// tarball holds the same config.
func TestImageReproducibleAndTarball(t *testing.T) {
	spec := testSpec(t)
	a, err := Build(spec)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(spec)
	if err != nil {
		t.Fatal(err)
	}
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da != db {
		t.Errorf("two builds: %s and %s", da, db)
	}
	path := filepath.Join(t.TempDir(), "image.tar")
	if err := WriteTarball(path, "gorerank:test", a); err != nil {
		t.Fatal(err)
	}
	back, err := tarball.ImageFromPath(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := a.ConfigName()
	cb, err := back.ConfigName()
	if err != nil || ca != cb {
		t.Errorf("tarball config %s (%v), built %s", cb, err, ca)
	}
}

func TestBuildErrors(t *testing.T) {
	if _, err := Build(Spec{}); err == nil {
		t.Error("no binary: no error")
	}
	if _, err := Build(Spec{Binary: filepath.Join(t.TempDir(), "missing")}); err == nil {
		t.Error("missing binary: no error")
	}
	bin := filepath.Join(t.TempDir(), "bin")
	os.WriteFile(bin, []byte("x"), 0o755)
	if _, err := Build(Spec{Binary: bin, CACerts: filepath.Join(t.TempDir(), "missing")}); err == nil {
		t.Error("missing CA bundle: no error")
	}
	img, err := Build(Spec{Binary: bin})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteTarball(filepath.Join(t.TempDir(), "x.tar"), "Not A Valid::Tag", img); err == nil {
		t.Error("bad tag: no error")
	}
}
