// Package image assembles the rerank container image without a Docker engine and without
// network: one layer with the static rerank binary (and, when given, a CA bundle for model
// downloads over HTTPS) on an empty base, written as an OCI image layout or a docker-load
// tarball. The Dockerfile at the repository root builds the same image for users with Docker.
//
// The constants below are the image's contract with the Kubernetes manifests (deploy/k8s),
// whose tests check that both agree.
package image

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	BinaryPath = "/usr/local/bin/rerank"
	CACertPath = "/etc/ssl/certs/ca-certificates.crt" // where Go's crypto/x509 looks on Linux
	HFHome     = "/data/hf"                           // HF_HOME: the model cache, a volume
	Port       = 8000
	// UID and GID are distroless's "nonroot" (65532), numeric so that no /etc/passwd is needed
	// and Kubernetes' runAsNonRoot can verify them.
	UID = 65532
	GID = 65532
)

// Spec describes one image.
type Spec struct {
	Binary   string // a static (CGO_ENABLED=0) linux rerank binary
	CACerts  string // optional PEM bundle copied to CACertPath; without it HTTPS downloads fail
	OS, Arch string // platform of Binary; default linux/amd64
	Version  string // org.opencontainers.image.version label
	Revision string // org.opencontainers.image.revision label
	Created  time.Time
}

// Config returns the image's runtime configuration: what `docker inspect` shows.
func Config(s Spec) v1.Config {
	return v1.Config{
		Entrypoint: []string{BinaryPath},
		// serve on all interfaces of the container; the model is downloaded into HF_HOME on
		// first start unless the volume already holds it (see deploy/k8s: an init container)
		Cmd:          []string{"serve", "--host", "0.0.0.0", "--port", fmt.Sprint(Port), "--model", "BAAI/bge-reranker-v2-m3"},
		Env:          []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HF_HOME=" + HFHome, "HOME=/tmp"},
		User:         fmt.Sprintf("%d:%d", UID, GID),
		WorkingDir:   "/",
		ExposedPorts: map[string]struct{}{fmt.Sprintf("%d/tcp", Port): {}},
		Volumes:      map[string]struct{}{HFHome: {}},
		StopSignal:   "SIGTERM",
		Labels: map[string]string{
			"org.opencontainers.image.title":       "gorerank",
			"org.opencontainers.image.description": "rerank serve: a pure-Go HTTP server for the BAAI/bge-reranker-v2-m3 cross-encoder",
			"org.opencontainers.image.source":      "https://github.com/gorerank/gorerank",
			"org.opencontainers.image.licenses":    "Apache-2.0",
			"org.opencontainers.image.version":     s.Version,
			"org.opencontainers.image.revision":    s.Revision,
		},
	}
}

// Build assembles the image in memory (the binary is read once, at call time).
func Build(s Spec) (v1.Image, error) {
	if s.Binary == "" {
		return nil, errors.New("image: no binary given")
	}
	if s.OS == "" {
		s.OS = "linux"
	}
	if s.Arch == "" {
		s.Arch = "amd64"
	}
	bin, err := os.ReadFile(s.Binary)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	var certs []byte
	if s.CACerts != "" {
		if certs, err = os.ReadFile(s.CACerts); err != nil {
			return nil, fmt.Errorf("image: CA bundle: %w", err)
		}
	}
	tb, err := rootfs(bin, certs, s.Created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(tb)), nil },
		tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("image: layer: %w", err)
	}
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{Layer: layer, History: v1.History{
		Created: v1.Time{Time: s.Created}, CreatedBy: "gorerank deploy/cmd/mkimage", Comment: "static rerank binary"}})
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = s.OS, s.Arch
	cf.Created = v1.Time{Time: s.Created}
	cf.Config = Config(s)
	return mutate.ConfigFile(img, cf)
}

// rootfs is the layer: the binary, the CA bundle, a writable HF_HOME and /tmp. Times are
// fixed (created) so that the same inputs give the same digest.
func rootfs(bin, certs []byte, created time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dir := func(name string, mode int64, uid int) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, Uid: uid, Gid: uid, ModTime: created, Format: tar.FormatPAX})
	}
	file := func(name string, mode int64, b []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(b)), ModTime: created, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(b)
		return err
	}
	steps := []func() error{
		func() error { return dir("usr/", 0o755, 0) },
		func() error { return dir("usr/local/", 0o755, 0) },
		func() error { return dir("usr/local/bin/", 0o755, 0) },
		func() error { return file(BinaryPath[1:], 0o755, bin) },
		func() error { return dir("tmp/", 0o1777, 0) },
		func() error { return dir("data/", 0o755, 0) },
		func() error { return dir(HFHome[1:]+"/", 0o755, UID) },
	}
	if certs != nil {
		steps = append(steps,
			func() error { return dir("etc/", 0o755, 0) },
			func() error { return dir("etc/ssl/", 0o755, 0) },
			func() error { return dir("etc/ssl/certs/", 0o755, 0) },
			func() error { return file(CACertPath[1:], 0o644, certs) })
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, fmt.Errorf("image: layer tar: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("image: layer tar: %w", err)
	}
	return buf.Bytes(), nil
}

// WriteLayout writes img as an OCI image layout in dir (created if needed; an existing layout
// gets the image appended), tagged with ref (the org.opencontainers.image.ref.name
// annotation: `skopeo copy oci:DIR:REF docker://...`, `podman load`, `crane push`).
func WriteLayout(dir, ref string, img v1.Image) error {
	p, err := layout.FromPath(dir)
	if err != nil {
		if p, err = layout.Write(dir, empty.Index); err != nil {
			return fmt.Errorf("image: %w", err)
		}
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref})); err != nil {
		return fmt.Errorf("image: %w", err)
	}
	return nil
}

// WriteTarball writes img as a `docker load` tarball tagged ref (e.g. gorerank:dev).
func WriteTarball(path, ref string, img v1.Image) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return fmt.Errorf("image: tag: %w", err)
	}
	if err := tarball.WriteToFile(path, tag, img); err != nil {
		return fmt.Errorf("image: %w", err)
	}
	return nil
}
