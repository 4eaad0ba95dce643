// Package testbin builds the main module's rerank command for the deploy module's tests, as
// the Dockerfile does (static: CGO_ENABLED=0, -trimpath), and runs `rerank serve` on the tiny
// test model on loopback.
package testbin

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// Version is the version linked into the test binary.
const Version = "v0.0.0-deploytest"

var build = sync.OnceValues(func() (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "gorerank-deploy-test-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "rerank")
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	cmd := exec.Command(goBin, "build", "-trimpath", "-ldflags", "-s -w -X main.buildVersion="+Version, "-o", bin, "./cmd/rerank")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/rerank: %v\n%s", err, out)
	}
	return bin, nil
})

// Rerank returns the path of a static linux rerank binary, built once per test process.
func Rerank() (string, error) { return build() }

// RepoRoot is the main module's folder: the nearest parent of the working directory whose
// go.mod declares github.com/gorerank/gorerank.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(b), "module github.com/gorerank/gorerank\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testbin: no parent folder holds the main module's go.mod")
		}
		dir = parent
	}
}

// Server is a running `rerank serve` on the tiny model.
type Server struct {
	Base string // http://127.0.0.1:PORT
	cmd  *exec.Cmd
	done chan error
}

// Serve starts `rerank serve` on the tiny test model at a free loopback port with extra
// arguments and waits until /ready says 200 (at most a minute).
func Serve(extra ...string) (*Server, error) {
	bin, err := Rerank()
	if err != nil {
		return nil, err
	}
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	args := append([]string{"serve", "--model", filepath.Join(root, "testdata", "tiny"),
		"--tokenizer", filepath.Join(root, "testdata", "tokenizer", "tokenizer.json"),
		"--host", "127.0.0.1", "--port", "0", "--log-format", "json"}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "HF_HUB_OFFLINE=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &Server{cmd: cmd, done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var rec map[string]any
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec["msg"] == "listening" {
				if a, ok := rec["addr"].(string); ok {
					addr <- a
				}
			}
		}
	}()
	go func() { s.done <- cmd.Wait() }()
	select {
	case a := <-addr:
		s.Base = "http://" + a
	case err := <-s.done:
		return nil, fmt.Errorf("testbin: rerank serve exited: %v", err)
	case <-time.After(time.Minute):
		s.Close()
		return nil, errors.New("testbin: rerank serve printed no listening line")
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(s.Base + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			s.Close()
			return nil, errors.New("testbin: rerank serve not ready after a minute")
		}
	}
}

// Close kills the server and waits for it.
func (s *Server) Close() {
	s.cmd.Process.Kill()
	<-s.done
}
