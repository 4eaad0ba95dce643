package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// slowEngine is the fake engine with a fixed time per batch, so that requests overlap the
// moments the drain changes state.
type slowEngine struct {
	fakeEngine
	perBatch time.Duration
}

func (e *slowEngine) Score(seqs [][]int32, logits []float32) error {
	time.Sleep(e.perBatch)
	return e.fakeEngine.Score(seqs, logits)
}

// listen serves s on a loopback port with a real http.Server.
func listen(t *testing.T, s *Server) (*http.Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln = s.Listener(ln)
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return hs, "http://" + ln.Addr().String()
}

const drainBody = `{"query": "capital of China", "documents": ["Beijing is the capital of China.", "Paris is the capital of France.", "Berlin."]}`

// TestShutdownLosesNoRequest: 48 keep-alive clients send requests through a Shutdown with a
// delay. As a Kubernetes endpoint removal would, they stop sending new requests half-way
// through the delay. Every request sent must get a complete 200; every response that started
// after the drain began must say Connection: close; /ready must say 503 at once.
func TestShutdownLosesNoRequest(t *testing.T) {
	const (
		clients     = 48
		maxRequests = 20000 // bound on the whole test, far above what the time allows
		delay       = 600 * time.Millisecond
	)
	s := newTestServer(t, Config{NoCache: true}, &slowEngine{perBatch: time.Millisecond})
	hs, base := listen(t, s)
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	defer client.CloseIdleConnections()

	var (
		sent, ok, okDraining, keptAlive atomic.Int64
		stopSending                     atomic.Bool
		mu                              sync.Mutex
		failures                        []string
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
				draining := s.Draining() // before sending: the response starts after this
				resp, err := client.Post(base+"/v1/rerank", "application/json", strings.NewReader(drainBody))
				if err != nil {
					fail("transport error: %v", err)
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
					if draining {
						okDraining.Add(1)
						if !resp.Close {
							keptAlive.Add(1)
						}
					}
				}
			}
		}()
	}
	// let every client get a keep-alive connection and some answers before the signal
	for deadline := time.Now().Add(10 * time.Second); ok.Load() < 4*clients; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("load did not start: %d answers", ok.Load())
		}
	}
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background(), hs, delay, 10*time.Second) }()
	for !s.Draining() {
		time.Sleep(time.Millisecond)
	}
	resp, err := client.Get(base + "/ready")
	if err != nil {
		t.Fatalf("/ready during the delay: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !resp.Close {
		t.Errorf("/ready while draining: %d Retry-After=%q close=%v", resp.StatusCode, resp.Header.Get("Retry-After"), resp.Close)
	}
	time.Sleep(delay / 2)
	stopSending.Store(true)
	wg.Wait()
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	t.Logf("%d requests answered, %d of them after the drain began", ok.Load(), okDraining.Load())
	for _, f := range failures {
		t.Error(f)
	}
	if okDraining.Load() == 0 {
		t.Error("no request was served during the delay")
	}
	if keptAlive.Load() > 0 {
		t.Errorf("%d responses during the drain kept the connection open", keptAlive.Load())
	}
	if c, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), time.Second); err == nil {
		c.Close()
		t.Error("still accepting connections after Shutdown")
	}
}

// A request accepted during the delay and still scoring when the listener closes is answered.
func TestShutdownFinishesAcceptedRequests(t *testing.T) {
	eng := &fakeEngine{gate: make(chan struct{}), started: make(chan struct{}, 1)}
	s := newTestServer(t, Config{NoCache: true}, eng)
	hs, base := listen(t, s)
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background(), hs, 100*time.Millisecond, 10*time.Second) }()
	for !s.Draining() {
		time.Sleep(time.Millisecond)
	}
	type result struct {
		code int
		body string
		err  error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.Post(base+"/v1/rerank", "application/json", strings.NewReader(drainBody))
		if err != nil {
			res <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		res <- result{resp.StatusCode, string(b), err}
	}()
	<-eng.started
	time.Sleep(300 * time.Millisecond) // past the delay: the listener is closed now
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned with a request still scoring: %v", err)
	default:
	}
	close(eng.gate)
	r := <-res
	if r.err != nil || r.code != 200 || strings.Count(r.body, `"index"`) != 3 {
		t.Errorf("request accepted during the drain: %d %v %.200s", r.code, r.err, r.body)
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// Past the timeout, Shutdown cuts the remaining connections and says so.
func TestShutdownTimeout(t *testing.T) {
	eng := &fakeEngine{gate: make(chan struct{}), started: make(chan struct{}, 1)}
	s, err := New(Config{NoCache: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetEngine(eng); err != nil {
		t.Fatal(err)
	}
	hs, base := listen(t, s)
	errc := make(chan error, 1)
	go func() {
		resp, err := http.Post(base+"/v1/rerank", "application/json", strings.NewReader(drainBody))
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-eng.started
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background(), hs, 0, 100*time.Millisecond) }()
	if err := <-errc; err == nil {
		t.Error("the cut-off request got a response")
	}
	close(eng.gate) // the batch in the engine finishes; Close then returns
	if err := <-done; !errors.Is(err, ErrShutdownTimeout) {
		t.Errorf("Shutdown: %v, want ErrShutdownTimeout", err)
	}
}

// The delay ends early when the context ends (a second signal).
func TestShutdownDelayCancelled(t *testing.T) {
	s := newTestServer(t, Config{}, &fakeEngine{})
	hs, _ := listen(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	t0 := time.Now()
	if err := s.Shutdown(ctx, hs, time.Hour, time.Second); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > 10*time.Second {
		t.Errorf("cancelled delay took %v", d)
	}
	if s.Ready() {
		t.Error("Ready after Shutdown")
	}
}

// gatedListener holds Accept until gate is closed, so that connections pile up in the
// kernel's accept queue, as they do when a burst arrives at the moment the listener stops.
type gatedListener struct {
	net.Listener
	gate chan struct{}
}

func (g *gatedListener) Accept() (net.Conn, error) {
	<-g.gate
	return g.Listener.Accept()
}

// TestShutdownServesAcceptQueue: connections that completed their handshake and sent a
// request, but were still in the accept queue when the drain stopped the listener, are
// accepted and answered, not reset; a connection attempted after the stop is refused.
func TestShutdownServesAcceptQueue(t *testing.T) {
	const queued = 16
	s := newTestServer(t, Config{NoCache: true}, &fakeEngine{})
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := raw.Addr().String()
	gate := make(chan struct{})
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(&gatedListener{s.Listener(raw), gate})
	t.Cleanup(func() { hs.Close() })

	req := fmt.Sprintf("POST /v1/rerank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(drainBody), drainBody)
	conns := make([]net.Conn, queued)
	for i := range conns {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		conns[i] = c
	}
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background(), hs, 0, 10*time.Second) }()
	for !s.Draining() {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // the drain has stopped the listener; the queue waits
	if c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond); err == nil {
		c.Close()
		t.Error("a new connection was taken after the listener stopped")
	}
	close(gate)
	for i, c := range conns {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Errorf("queued connection %d: %v (reset instead of answered)", i, err)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || strings.Count(string(b), `"index"`) != 3 || !resp.Close {
			t.Errorf("queued connection %d: %d close=%v %.100s", i, resp.StatusCode, resp.Close, b)
		}
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("still accepting after Shutdown")
	}
}
