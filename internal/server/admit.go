package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/semaphore"
)

// Admission: what a request must hold before the server works for it.
//
// What the server holds is bounded by its flags, not by its clients. A request to a route
// that does work (the rerank routes, /tokenize, and every route of that kind to come) passes
// two gates, and each is passed before the work it guards:
//
//  1. On arrival, before a byte of its body is read: a request slot (--max-concurrent-requests;
//     none free within a second: 429) and its body's size from the in-flight byte budget
//     (--max-inflight-bytes): the declared Content-Length, or --max-body-bytes when the body's
//     length is not declared. A Content-Length over --max-body-bytes is a 413 without reading.
//     Bytes are waited for in arrival order (FIFO) within --request-timeout.
//  2. After the body is parsed, before anything is tokenized: the most tokens its inputs can
//     become (documents × max_length, × the windows per document in windows mode; /tokenize:
//     its token cap) from the in-flight token budget (--max-inflight-tokens), waited for in
//     arrival order; once tokenized the reservation shrinks to the real count. The budget
//     bounds the work queued for the batch workers, so that admitted work is done before its
//     clients time out instead of being thrown away.
//
// A request that asks for more than a whole budget takes the whole budget (it then runs
// alone), so every request the limits allow can run. Waiting ends with the request's context:
// a client that leaves stops waiting; one whose --request-timeout passes gets 503 with
// Retry-After. A rejection reads no body, parses nothing and tokenizes nothing: it costs the
// HTTP header parse and a short JSON answer (docs/CAPACITY.md gives the measured CPU time).
//
// Memory in flight is therefore at most (docs/CAPACITY.md):
//
//	bodies:  k_body × --max-inflight-bytes  (the body, its parsed strings, the answer)
//	tokens:  k_tok × --max-inflight-tokens  (ids, queue items, /tokenize answers)
//	engine:  --workers × the scratch of one --max-batch-tokens batch
type admission struct {
	slots      chan struct{}
	bytes      *semaphore.Weighted
	tokens     *semaphore.Weighted
	maxBytes   int64
	maxTokens  int64
	waiting    atomic.Int64 // requests waiting for a slot (takeSlot)
	heldBytes  atomic.Int64 // for /metrics and Retry-After
	heldTokens atomic.Int64
	rate       *rateMeter
}

func newAdmission(requests int, bytes, tokens int64, rate *rateMeter) *admission {
	return &admission{slots: make(chan struct{}, requests), bytes: semaphore.NewWeighted(bytes),
		tokens: semaphore.NewWeighted(tokens), maxBytes: bytes, maxTokens: tokens, rate: rate}
}

// slotWait is how long a request waits for a request slot before its 429; up to
// waitPerSlot × --max-concurrent-requests requests wait at once. The wait costs no CPU and
// holds no body (a parked goroutine beside the one net/http already runs for the
// connection); it turns a client that ignores Retry-After and resends at once into one that
// sends at most once a slotWait, where an immediate 429 lets it spend the server's CPU on
// rejections (measured: goodput fell to half with 500 such clients against 64 slots).
const (
	slotWait    = time.Second
	waitPerSlot = 16
)

// takeSlot takes a request slot, waiting up to slotWait for one while fewer than
// waitPerSlot × slots requests wait.
func (a *admission) takeSlot(ctx context.Context) bool {
	select {
	case a.slots <- struct{}{}:
		return true
	default:
	}
	if a.waiting.Add(1) > int64(waitPerSlot*cap(a.slots)) {
		a.waiting.Add(-1)
		return false
	}
	defer a.waiting.Add(-1)
	t := time.NewTimer(slotWait)
	defer t.Stop()
	select {
	case a.slots <- struct{}{}:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// ticket is what one admitted request holds; release gives it all back.
type ticket struct {
	a        *admission
	bytes    int64
	tokens   int64
	cancel   context.CancelFunc // ends the request's --request-timeout context
	inFlight prometheus.Gauge
	once     sync.Once
}

type ticketKey struct{}

// ticketOf is the request's ticket (nil on routes that take none).
func ticketOf(ctx context.Context) *ticket {
	t, _ := ctx.Value(ticketKey{}).(*ticket)
	return t
}

// admit passes gate 1 for r; on success the ticket is in the returned request's context and
// the caller must release it after the answer is written.
func (s *Server) admit(w http.ResponseWriter, r *http.Request) (*http.Request, *ticket, error) {
	a := s.adm
	if r.ContentLength > s.cfg.MaxBodyBytes {
		w.Header().Set("Connection", "close") // the body is not read
		return nil, nil, tooLarge("request body is %d bytes, over the limit of %d (--max-body-bytes)", r.ContentLength, s.cfg.MaxBodyBytes)
	}
	if !a.takeSlot(r.Context()) {
		s.m.rejected.WithLabelValues("requests").Inc()
		return nil, nil, s.overloaded(w, fmt.Sprintf("too many concurrent requests (--max-concurrent-requests %d); retry later", s.cfg.MaxConcurrentRequests))
	}
	s.m.inFlight.Inc()
	t := &ticket{a: a, inFlight: s.m.inFlight}
	need := r.ContentLength
	if need < 0 {
		need = s.cfg.MaxBodyBytes // not declared (chunked): the most it may be
	}
	need = min(need, a.maxBytes)
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	r = r.WithContext(context.WithValue(ctx, ticketKey{}, t))
	t.cancel = cancel
	if need > 0 {
		if err := a.bytes.Acquire(ctx, need); err != nil {
			t.release()
			return nil, nil, s.waitError(w, ctx, "bytes", "--max-inflight-bytes")
		}
		t.bytes = need
		a.heldBytes.Add(need)
	}
	return r, t, nil
}

// reserveTokens passes gate 2: it waits for n tokens of the budget (at most the whole
// budget) before the request's inputs are tokenized.
func (s *Server) reserveTokens(w http.ResponseWriter, ctx context.Context, n int64) error {
	t := ticketOf(ctx)
	if t == nil || n <= 0 {
		return nil
	}
	n = min(n, t.a.maxTokens-t.tokens)
	if n <= 0 {
		return nil
	}
	if err := t.a.tokens.Acquire(ctx, n); err != nil {
		return s.waitError(w, ctx, "tokens", "--max-inflight-tokens")
	}
	t.tokens += n
	t.a.heldTokens.Add(n)
	return nil
}

// settleTokens makes the request hold the n tokens its inputs became: it gives back what it
// reserved beyond them, or (when its bound was not strict) waits for the rest, at most the
// whole budget.
func (s *Server) settleTokens(w http.ResponseWriter, ctx context.Context, n int64) error {
	if t := ticketOf(ctx); t != nil && n > t.tokens {
		return s.reserveTokens(w, ctx, n-t.tokens)
	}
	trimTokens(ctx, n)
	return nil
}

// trimTokens gives back what the request reserved beyond the n tokens its inputs became.
func trimTokens(ctx context.Context, n int64) {
	t := ticketOf(ctx)
	if t == nil || n >= t.tokens {
		return
	}
	extra := t.tokens - max(n, 0)
	t.tokens -= extra
	t.a.heldTokens.Add(-extra)
	t.a.tokens.Release(extra)
}

func (t *ticket) release() {
	t.once.Do(func() {
		a := t.a
		if t.tokens > 0 {
			a.heldTokens.Add(-t.tokens)
			a.tokens.Release(t.tokens)
		}
		if t.bytes > 0 {
			a.heldBytes.Add(-t.bytes)
			a.bytes.Release(t.bytes)
		}
		if t.cancel != nil {
			t.cancel()
		}
		t.inFlight.Dec()
		<-a.slots
	})
}

// waitError answers a request whose wait for a budget ended: the client left (499, which it
// will not read), or --request-timeout passed (503 with Retry-After).
func (s *Server) waitError(w http.ResponseWriter, ctx context.Context, what, flag string) error {
	if errors.Is(context.Cause(ctx), context.Canceled) || errors.Is(ctx.Err(), context.Canceled) {
		return &apiError{status: 499, typ: errTimeout, msg: "client closed the request"}
	}
	s.m.rejected.WithLabelValues(what).Inc()
	s.retryAfter(w)
	return &apiError{status: 503, typ: errOverloaded,
		msg: fmt.Sprintf("waited %v (--request-timeout) for the server's %s in flight (%s) to fall; retry later", s.cfg.RequestTimeout, what, flag)}
}

// overloaded is a 429 with Retry-After.
func (s *Server) overloaded(w http.ResponseWriter, msg string) error {
	s.retryAfter(w)
	return &apiError{status: 429, typ: errOverloaded, msg: msg}
}

// retryAfter sets Retry-After to the time the queued tokens take at the measured rate
// (1 to 60 s; 1 before anything was measured).
func (s *Server) retryAfter(w http.ResponseWriter) {
	secs := 1
	if tps := s.adm.rate.tokensPerSecond(); tps > 0 {
		secs = int(math.Ceil(float64(s.adm.heldTokens.Load()) / tps))
		secs = min(max(secs, 1), 60)
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
}

// rateMeter keeps a moving average of the engine's throughput in tokens per second of
// batch time.
type rateMeter struct {
	mu  sync.Mutex
	tps float64
}

func (m *rateMeter) observe(tokens int, d time.Duration) {
	if tokens <= 0 || d <= 0 {
		return
	}
	x := float64(tokens) / d.Seconds()
	m.mu.Lock()
	if m.tps == 0 {
		m.tps = x
	} else {
		m.tps += 0.2 * (x - m.tps)
	}
	m.mu.Unlock()
}

func (m *rateMeter) tokensPerSecond() float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.tps
}
