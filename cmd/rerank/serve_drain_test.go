package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestServeDrainUnderLoad: the real binary on the tiny model, 64 keep-alive clients, SIGTERM.
// As a Kubernetes endpoint removal would, the clients stop sending new requests half-way
// through --shutdown-delay. Every request sent must get a complete 200 (none may end in EOF or
// reset), /ready must turn 503 at once, responses during the drain must say Connection: close,
// and the process must exit 0. Bounded: 64 clients, at most 20000 requests, a few seconds.
func TestServeDrainUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	const (
		clients     = 64
		maxRequests = 20000
		delay       = 1500 * time.Millisecond
	)
	p := startServe(t, "--model", "../../testdata/tiny", "--tokenizer", "../../testdata/tokenizer/tokenizer.json",
		"--cache-size", "0", "--shutdown-delay", delay.String(), "--shutdown-timeout", "20s")
	body, _ := json.Marshal(map[string]any{"query": "capital of China", "documents": []string{
		"Beijing is the capital of China.", "Paris is the capital of France.", "Berlin is in Germany."}})
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	defer client.CloseIdleConnections()

	var (
		sent, ok, okAfterSignal, keptAlive atomic.Int64
		signalled, stopSending             atomic.Bool
		mu                                 sync.Mutex
		failures                           []string
	)
	fail := func(format string, a ...any) {
		mu.Lock()
		if len(failures) < 20 {
			failures = append(failures, fmt.Sprintf(format, a...))
		}
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stopSending.Load() && sent.Add(1) <= maxRequests {
				after := signalled.Load()
				resp, err := client.Post(p.base+"/v1/rerank", "application/json", bytes.NewReader(body))
				if err != nil {
					fail("transport error (after signal: %v): %v", after, err)
					continue
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch {
				case err != nil:
					fail("reading body: %v", err)
				case resp.StatusCode != 200 || strings.Count(string(b), `"index"`) != 3:
					fail("status %d: %.200s", resp.StatusCode, b)
				default:
					ok.Add(1)
					if after {
						okAfterSignal.Add(1)
						// the server saw the signal a moment after us; a response may still
						// have started before it, so only count, and require most to close
						if !resp.Close {
							keptAlive.Add(1)
						}
					}
				}
			}
		}()
	}
	for deadline := time.Now().Add(30 * time.Second); ok.Load() < 2*clients; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			stopSending.Store(true)
			wg.Wait()
			t.Fatalf("load did not start: %d answers, failures %v\n%s", ok.Load(), failures, p.logs)
		}
	}
	signalled.Store(true)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// /ready turns 503 within a moment while the listener still accepts
	var readyCode int
	for deadline := time.Now().Add(delay / 2); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		resp, err := http.Get(p.base + "/ready")
		if err != nil {
			t.Fatalf("/ready during the delay: %v", err)
		}
		resp.Body.Close()
		if readyCode = resp.StatusCode; readyCode == 503 && resp.Header.Get("Retry-After") != "" {
			break
		}
	}
	if readyCode != 503 {
		t.Errorf("/ready during the drain: %d, want 503", readyCode)
	}
	time.Sleep(delay/2 - 100*time.Millisecond)
	stopSending.Store(true)
	wg.Wait()

	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", err, p.logs)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
	t.Logf("%d requests, %d answered after SIGTERM, %d of those kept alive", ok.Load(), okAfterSignal.Load(), keptAlive.Load())
	for _, f := range failures {
		t.Error(f)
	}
	if okAfterSignal.Load() == 0 {
		t.Error("no request answered during the shutdown delay")
	}
	// at most one response per client can have started before the server saw the signal
	if keptAlive.Load() > clients {
		t.Errorf("%d responses after SIGTERM without Connection: close", keptAlive.Load())
	}
	if !strings.Contains(p.logs.String(), `"msg":"stopped"`) {
		t.Errorf("no stopped log:\n%s", p.logs)
	}
}

// A second SIGTERM ends a long --shutdown-delay at once.
func TestServeSecondSignalEndsDelay(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	p := startServe(t, "--model", "../../testdata/tiny", "--tokenizer", "../../testdata/tokenizer/tokenizer.json",
		"--shutdown-delay", "10m")
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		resp, err := http.Get(p.base + "/ready")
		if err != nil {
			t.Fatalf("/ready during the delay: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode == 503 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("/ready never turned 503")
		}
	}
	time.Sleep(100 * time.Millisecond) // the second handler is installed right after the first signal
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("exit: %v\n%s", err, p.logs)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a second SIGTERM did not end the delay")
	}
}

// TestServeDrainNewConnections is the probe that found 51 resets in 8 runs: SIGTERM while
// clients keep opening a new connection for every request, through the shutdown delay and
// after the listener stops. A request whose bytes were sent must get an HTTP answer (200);
// a connection the server will not serve must be refused before anything is sent. Bounded:
// a few runs of 32 clients, each run a few seconds.
func TestServeDrainNewConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	const (
		runs    = 4
		clients = 32
		delay   = 500 * time.Millisecond
	)
	body, _ := json.Marshal(map[string]any{"query": "capital of China", "documents": []string{
		"Beijing is the capital of China.", "Paris is the capital of France."}})
	req := fmt.Sprintf("POST /v1/rerank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	var answered, refused, lost atomic.Int64
	for run := range runs {
		p := startServe(t, "--model", "../../testdata/tiny", "--tokenizer", "../../testdata/tokenizer/tokenizer.json",
			"--cache-size", "0", "--shutdown-delay", delay.String(), "--shutdown-timeout", "20s")
		addr := strings.TrimPrefix(p.base, "http://")
		var exited atomic.Bool
		var mu sync.Mutex
		var failures []string
		var wg sync.WaitGroup
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 5000; i++ {
					c, err := net.DialTimeout("tcp", addr, 5*time.Second)
					if err != nil { // refused (or never taken) before anything was sent
						refused.Add(1)
						if exited.Load() {
							return
						}
						time.Sleep(5 * time.Millisecond)
						continue
					}
					c.SetDeadline(time.Now().Add(20 * time.Second))
					_, err = io.WriteString(c, req)
					var resp *http.Response
					if err == nil {
						resp, err = http.ReadResponse(bufio.NewReader(c), nil)
					}
					if err == nil {
						var b []byte
						b, err = io.ReadAll(resp.Body)
						if err == nil && resp.StatusCode != 200 {
							err = fmt.Errorf("status %d: %.100s", resp.StatusCode, b)
						}
					}
					c.Close()
					if err != nil {
						lost.Add(1)
						mu.Lock()
						failures = append(failures, err.Error())
						mu.Unlock()
						continue
					}
					answered.Add(1)
				}
			}()
		}
		time.Sleep(300 * time.Millisecond) // connections coming and going
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-p.done:
			if err != nil {
				t.Errorf("run %d: exit after SIGTERM: %v\n%s", run, err, p.logs)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("run %d: no exit after SIGTERM", run)
		}
		exited.Store(true)
		wg.Wait()
		for i, f := range failures {
			if i < 10 {
				t.Errorf("run %d: a request sent was not answered: %s", run, f)
			}
		}
	}
	t.Logf("%d runs: %d answered, %d connections refused before sending, %d sent and lost", runs, answered.Load(), refused.Load(), lost.Load())
	if answered.Load() == 0 || refused.Load() == 0 {
		t.Error("the probe did not exercise both sides of the stop")
	}
}
