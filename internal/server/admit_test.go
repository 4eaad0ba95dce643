package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// countingBody is a request body that records whether the server read from it.
type countingBody struct {
	r    io.Reader
	read atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.read.Add(int64(n))
	return n, err
}

func (b *countingBody) Close() error { return nil }

// TestAdmissionBeforeBody: a request refused for want of a slot, or for a declared body
// over --max-body-bytes, is answered without reading a byte of its body.
func TestAdmissionBeforeBody(t *testing.T) {
	f := &fakeEngine{gate: make(chan struct{}), started: make(chan struct{}, 10)}
	s := newTestServer(t, Config{MaxConcurrentRequests: 1, MaxBodyBytes: 1 << 20, NoCache: true}, f)
	h := s.Handler()

	big := &countingBody{r: strings.NewReader(strings.Repeat("x", 2<<20))}
	req := httptest.NewRequest("POST", "/v1/rerank", nil)
	req.Body, req.ContentLength = big, 2<<20
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 413 || big.read.Load() != 0 {
		t.Errorf("declared body over the limit: %d, %d bytes read", w.Code, big.read.Load())
	}

	done := make(chan int)
	go func() { done <- do(t, h, "POST", "/v1/rerank", `{`+threeDocs+`}`).status }()
	<-f.started // the only slot is taken
	for _, path := range []string{"/v1/rerank", "/rerank", "/tokenize"} {
		body := &countingBody{r: strings.NewReader(`{` + threeDocs + `}`)}
		req := httptest.NewRequest("POST", path, nil)
		req.Body, req.ContentLength = body, -1
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 429 || w.Header().Get("Retry-After") == "" || body.read.Load() != 0 {
			t.Errorf("%s with every slot taken: %d, Retry-After %q, %d bytes read", path, w.Code, w.Header().Get("Retry-After"), body.read.Load())
		}
	}
	// /health, /ready, /info and /metrics take no slot
	for _, path := range []string{"/health", "/ready", "/info", "/metrics"} {
		if r := do(t, h, "GET", path, ""); r.status != 200 {
			t.Errorf("%s while the slots are taken: %d", path, r.status)
		}
	}
	close(f.gate)
	if c := <-done; c != 200 {
		t.Errorf("admitted request: %d", c)
	}
	if n := testutil.ToFloat64(s.m.rejected.WithLabelValues("requests")); n != 3 {
		t.Errorf("rejected{budget=requests} = %v, want 3", n)
	}
}

// TestTokenBudgetWaits: a request whose tokens do not fit the in-flight budget waits for
// them before it is tokenized, is scored once they are given back, and never gets a 429
// after its work was done.
func TestTokenBudgetWaits(t *testing.T) {
	f := &fakeEngine{gate: make(chan struct{}), started: make(chan struct{}, 10)}
	// each request asks for 3 documents × max_length 16 = 48 tokens; the budget holds one
	s := newTestServer(t, Config{MaxLength: 16, MaxBatchTokens: 48, MaxInflightTokens: 60, NoCache: true}, f)
	h := s.Handler()
	first := make(chan int)
	go func() { first <- do(t, h, "POST", "/v1/rerank", `{`+threeDocs+`}`).status }()
	<-f.started
	second := make(chan reply)
	go func() { second <- do(t, h, "POST", "/v1/rerank", `{`+threeDocs+`}`) }()
	// the first holds its real tokens (3 pairs of a few tokens); the second's bound of 48
	// cannot be had until they are given back
	waitFor(t, func() bool { return testutil.ToFloat64(s.m.inFlight) == 2 })
	time.Sleep(20 * time.Millisecond)
	if c := histCount(t, s); c != 1 {
		t.Errorf("%d requests tokenized while the second waits for its tokens, want 1", c)
	}
	close(f.gate)
	if c := <-first; c != 200 {
		t.Errorf("first: %d", c)
	}
	if r := <-second; r.status != 200 {
		t.Errorf("second: %d %s", r.status, r.body)
	}
	if held := s.adm.heldTokens.Load(); held != 0 {
		t.Errorf("%d tokens still held after both answers", held)
	}
}

// histCount is the number of requests that were tokenized.
func histCount(t *testing.T, s *Server) uint64 {
	t.Helper()
	mf, err := s.m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range mf {
		if f.GetName() == "rerank_tokenization_duration_seconds" {
			return f.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	return 0
}

// TestTokenBudgetTimeout: a request that waits --request-timeout for tokens gets 503 with
// Retry-After, and was never tokenized.
func TestTokenBudgetTimeout(t *testing.T) {
	s := newTestServer(t, Config{MaxLength: 16, MaxBatchTokens: 48, MaxInflightTokens: 60, RequestTimeout: 200 * time.Millisecond, NoCache: true}, &fakeEngine{})
	if err := s.adm.tokens.Acquire(context.Background(), 50); err != nil { // work in flight
		t.Fatal(err)
	}
	r := do(t, s.Handler(), "POST", "/v1/rerank", `{`+threeDocs+`}`)
	if r.status != 503 || r.header.Get("Retry-After") == "" || !strings.Contains(string(r.body), "--max-inflight-tokens") {
		t.Errorf("waiting past the timeout: %d %q %s", r.status, r.header.Get("Retry-After"), r.body)
	}
	if c := histCount(t, s); c != 0 {
		t.Errorf("%d requests tokenized, want 0 (the refused one must not be)", c)
	}
	s.adm.tokens.Release(50)
	if r := do(t, s.Handler(), "POST", "/v1/rerank", `{`+threeDocs+`}`); r.status != 200 {
		t.Errorf("once the tokens are back: %d %s", r.status, r.body)
	}
}

// TestByteBudget: bodies wait for room in --max-inflight-bytes before they are read, and a
// client that leaves while waiting gives its place back.
func TestByteBudget(t *testing.T) {
	f := &fakeEngine{gate: make(chan struct{}), started: make(chan struct{}, 10)}
	body := `{` + threeDocs + `}`
	s := newTestServer(t, Config{MaxBodyBytes: int64(len(body)), MaxInflightBytes: int64(len(body)) + 10, NoCache: true}, f)
	h := s.Handler()
	first := make(chan int)
	go func() { first <- do(t, h, "POST", "/v1/rerank", body).status }()
	<-f.started

	ctx, cancel := context.WithCancel(context.Background())
	waiting := &countingBody{r: strings.NewReader(body)}
	req := httptest.NewRequest("POST", "/v1/rerank", nil).WithContext(ctx)
	req.Body, req.ContentLength = waiting, int64(len(body))
	gone := make(chan int)
	go func() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		gone <- w.Code
	}()
	waitFor(t, func() bool { return testutil.ToFloat64(s.m.inFlight) == 2 })
	time.Sleep(20 * time.Millisecond)
	if waiting.read.Load() != 0 {
		t.Error("a body was read before its bytes were admitted")
	}
	cancel()
	if c := <-gone; c != 499 {
		t.Errorf("client gone while waiting: %d", c)
	}
	close(f.gate)
	if c := <-first; c != 200 {
		t.Errorf("first: %d", c)
	}
	if r := do(t, h, "POST", "/v1/rerank", body); r.status != 200 {
		t.Errorf("after the first: %d", r.status)
	}
	if b, tk := s.adm.heldBytes.Load(), s.adm.heldTokens.Load(); b != 0 || tk != 0 {
		t.Errorf("held after all answers: %d bytes, %d tokens", b, tk)
	}
	if n := testutil.ToFloat64(s.m.inFlight); n != 0 {
		t.Errorf("in flight after all answers: %v", n)
	}
}

// TestTokenizeBounded is the probe that took 2.2 GB: 1,000 inputs of 8,000 words to
// /tokenize. It is refused with 413 after counting at most --max-inflight-tokens tokens, and
// what /tokenize does answer stays within that many tokens.
func TestTokenizeBounded(t *testing.T) {
	s := newTestServer(t, Config{MaxBodyBytes: 64 << 20, MaxInflightBytes: 64 << 20}, &fakeEngine{})
	h := s.Handler()
	text := strings.Repeat("word ", 8000)
	var b strings.Builder
	b.WriteString(`{"inputs": [`)
	for i := range 1000 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(strconv.Quote(text))
	}
	b.WriteString("]}")
	t0 := time.Now()
	r := do(t, h, "POST", "/tokenize", b.String())
	if r.status != 413 || !strings.Contains(string(r.body), "tokens") {
		t.Errorf("1,000 × 8,000 words: %d %.200s", r.status, r.body)
	}
	t.Logf("refused in %v", time.Since(t0))

	// just under the cap: answered, and the answer holds the tokens asked for
	limit := s.cfg.MaxInflightTokens
	words := s.cfg.MaxLength - 2
	n := limit / words
	var ok strings.Builder
	ok.WriteString(`{"add_special_tokens": false, "inputs": [`)
	for i := range n {
		if i > 0 {
			ok.WriteString(",")
		}
		ok.WriteString(strconv.Quote(strings.Repeat("w ", words)))
	}
	ok.WriteString("]}")
	r = do(t, h, "POST", "/tokenize", ok.String())
	if r.status != 200 {
		t.Fatalf("%d texts of %d words: %d %.200s", n, words, r.status, r.body)
	}
	if got := len(decode[[][]tokenOut](t, r.body)); got != n {
		t.Errorf("%d token lists, want %d", got, n)
	}
	// exactly the cap, then one text more: the count must not run unbounded once the cap
	// is reached (a limit of 0 means "no limit" to the tokenizer)
	texts := func(k int) string {
		words := make([]string, k)
		for i := range words {
			words[i] = strconv.Quote(strings.Repeat("w ", 512))
		}
		return `{"add_special_tokens": false, "inputs": [` + strings.Join(words, ",") + `]}`
	}
	if r := do(t, h, "POST", "/tokenize", texts(limit/512)); r.status != 200 {
		t.Errorf("%d texts of 512 tokens (the cap exactly): %d %.200s", limit/512, r.status, r.body)
	}
	if r := do(t, h, "POST", "/tokenize", texts(limit/512+1)); r.status != 413 {
		t.Errorf("%d texts of 512 tokens (one over the cap): %d %.200s", limit/512+1, r.status, r.body)
	}
	if b, tk := s.adm.heldBytes.Load(), s.adm.heldTokens.Load(); b != 0 || tk != 0 {
		t.Errorf("held after the answers: %d bytes, %d tokens", b, tk)
	}
}

// TestOverloadNoWastedWork: many clients at once against a small token budget: every
// request is answered 200 (waiting for its place) or refused before tokenization; none is
// tokenized and then thrown away.
func TestOverloadNoWastedWork(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	f := &fakeEngine{}
	s := newTestServer(t, Config{MaxLength: 16, MaxBatchTokens: 64, MaxInflightTokens: 128, MaxConcurrentRequests: 16, NoCache: true}, f)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	for c := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				resp, err := http.Post(srv.URL+"/v1/rerank", "application/json",
					strings.NewReader(fmt.Sprintf(`{"query": "q%d", "documents": ["a b %d", "c d", "e f g"]}`, c, i)))
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case 200:
					ok.Add(1)
				case 429:
					refused.Add(1)
				default:
					t.Errorf("status %d", resp.StatusCode)
				}
			}
		}()
	}
	wg.Wait()
	if tokenized := histCount(t, s); tokenized != uint64(ok.Load()) {
		t.Errorf("%d requests tokenized, %d answered 200: work was thrown away", tokenized, ok.Load())
	}
	t.Logf("%d answered, %d refused before any work", ok.Load(), refused.Load())
}

// BenchmarkRejected is the server's cost of a 429 when every request slot is taken and as
// many requests wait for one: the router, the admission check and the JSON error, with a
// 20-document body left unread (the HTTP header parse of net/http comes on top).
func BenchmarkRejected(b *testing.B) {
	f := &fakeEngine{gate: make(chan struct{}), started: make(chan struct{}, 1)}
	s, err := New(Config{MaxConcurrentRequests: 1, NoCache: true})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.SetEngine(f); err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	h := s.Handler()
	go func() {
		req := httptest.NewRequest("POST", "/v1/rerank", strings.NewReader(`{`+threeDocs+`}`))
		h.ServeHTTP(httptest.NewRecorder(), req)
	}()
	<-f.started
	s.adm.waiting.Store(waitPerSlot) // the wait line is full too
	docs := make([]string, 20)
	for i := range docs {
		docs[i] = strconv.Quote(strings.Repeat("a document of some length ", 20))
	}
	body := `{"query": "q", "documents": [` + strings.Join(docs, ",") + `]}`
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("POST", "/v1/rerank", strings.NewReader(body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 429 {
			b.Fatalf("status %d", w.Code)
		}
	}
	close(f.gate)
}

// TestLargeBodiesBounded is the probe of 32 concurrent 15 MB bodies, scaled down: 12
// concurrent 1 MB bodies against a 3 MB budget. Every one is answered 200 and the bytes held
// never exceed the budget (before admission every body was read and parsed at once).
func TestLargeBodiesBounded(t *testing.T) {
	const budget = 3 << 20
	s := newTestServer(t, Config{MaxBodyBytes: 1 << 20, MaxInflightBytes: budget, NoCache: true}, &slowEngine{perBatch: 2 * time.Millisecond})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	doc := strconv.Quote(strings.Repeat("word ", 1000))
	docs := make([]string, 190)
	for i := range docs {
		docs[i] = doc
	}
	body := `{"query": "word", "documents": [` + strings.Join(docs, ",") + `], "return_documents": false}`
	if len(body) > 1<<20 {
		t.Fatalf("body %d bytes", len(body))
	}
	var peak atomic.Int64
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if h := s.adm.heldBytes.Load(); h > peak.Load() {
				peak.Store(h)
			}
			time.Sleep(100 * time.Microsecond)
		}
	}()
	var wg sync.WaitGroup
	for range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(srv.URL+"/v1/rerank", "application/json", strings.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("status %d", resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	close(stop)
	if p := peak.Load(); p > budget || p == 0 {
		t.Errorf("peak bytes held %d, budget %d", p, budget)
	}
}
