package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var serveLoad = flag.Bool("serve-load", false, "run the bounded loopback load benchmark of rerank serve (TestServeLoad)")

// TestServeLoad is a bounded load benchmark: the real binary on 127.0.0.1, a fixed number of
// requests per concurrency level and a time limit per level; it stops by itself. Opt-in:
//
//	go test ./cmd/rerank -run TestServeLoad -serve-load -v
func TestServeLoad(t *testing.T) {
	if !*serveLoad {
		t.Skip("opt-in benchmark; run with -serve-load")
	}
	const (
		requestsPerLevel = 300
		docsPerRequest   = 10
		levelTimeLimit   = 30 * time.Second
	)
	pairs := loadServeGoldens(t)
	var docs []string
	for _, g := range pairs {
		if len(g.Document) > 20 && len(g.Document) < 400 && len(docs) < docsPerRequest {
			docs = append(docs, g.Document)
		}
	}
	for _, cache := range []string{"0", "10000"} {
		p := startServe(t, "--model", "../../testdata/tiny", "--tokenizer", "../../testdata/tokenizer/tokenizer.json",
			"--cache-size", cache)
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}}
		t.Logf("cache-size %s, %d documents per request, %d requests per level", cache, len(docs), requestsPerLevel)
		t.Logf("%11s %9s %10s %9s %9s %9s %7s", "concurrency", "req/s", "pairs/s", "p50 ms", "p95 ms", "p99 ms", "errors")
		for _, conc := range []int{1, 4, 16, 64} {
			var next, errs atomic.Int64
			lat := make([]time.Duration, 0, requestsPerLevel)
			var mu sync.Mutex
			deadline := time.Now().Add(levelTimeLimit)
			start := time.Now()
			var wg sync.WaitGroup
			for range conc {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for time.Now().Before(deadline) {
						i := next.Add(1)
						if i > requestsPerLevel {
							return
						}
						q := fmt.Sprintf("what is the capital of China? (%d)", i)
						if cache != "0" {
							q = "what is the capital of China?"
						}
						body, _ := json.Marshal(map[string]any{"query": q, "documents": docs})
						t0 := time.Now()
						resp, err := client.Post(p.base+"/v1/rerank", "application/json", bytes.NewReader(body))
						if err != nil {
							errs.Add(1)
							continue
						}
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != 200 {
							errs.Add(1)
							continue
						}
						d := time.Since(t0)
						mu.Lock()
						lat = append(lat, d)
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			slices.Sort(lat)
			pct := func(q float64) float64 {
				if len(lat) == 0 {
					return 0
				}
				return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Microseconds()) / 1000
			}
			rps := float64(len(lat)) / elapsed.Seconds()
			t.Logf("%11d %9.1f %10.1f %9.2f %9.2f %9.2f %7d", conc, rps, rps*float64(len(docs)), pct(0.50), pct(0.95), pct(0.99), errs.Load())
			if errs.Load() > 0 {
				t.Errorf("%d failed requests at concurrency %d", errs.Load(), conc)
			}
		}
		client.CloseIdleConnections()
		p.cmd.Process.Kill()
		<-p.done
	}
}
