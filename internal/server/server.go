package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorerank/gorerank"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Config is the server's configuration; zero fields take the defaults of [DefaultConfig].
type Config struct {
	ModelName             string        // reported as "model" in responses
	MaxLength             int           // default and ceiling of a request's max_length (tokens, specials included)
	MaxDocuments          int           // most documents per request
	MaxBodyBytes          int64         // largest request body
	MaxBatchTokens        int           // token budget of one batch
	MaxBatchSize          int           // most sequences in one batch
	MaxConcurrentRequests int           // most requests admitted to working routes at once (beyond: 429)
	MaxInflightBytes      int64         // request body bytes held at once by admitted requests (see admit.go)
	MaxInflightTokens     int           // tokens held at once by admitted requests (0: (Workers+1) × MaxBatchTokens)
	Workers               int           // batch workers running the engine
	RequestTimeout        time.Duration // per scoring request, queue included
	CacheSize             int           // most cache entries (0: the default); NoCache disables the cache
	CacheBytes            int64         // most bytes the cache holds (0: the default); see cache.go
	NoCache               bool
	Truncation            string // default truncation mode (a gorerank.Truncation)
	WindowOverlap         int    // windows mode: tokens shared by neighbouring windows
	MaxChunks             int    // windows mode: most windows per document
	NoReturnDocuments     bool   // /v1/rerank: return_documents defaults to false instead of true
	APIKey                string // non-empty: Bearer token required except on /health, /ready, /docs, /openapi.json
	CORSOrigins           []string
	Version               string
	Logger                *slog.Logger
	// Extra is merged into /info (e.g. the serve command's flags).
	Extra map[string]any
}

// DefaultConfig returns the defaults documented in docs/SERVER.md.
func DefaultConfig() Config {
	return Config{
		MaxLength:             512,
		MaxDocuments:          1000,
		MaxBodyBytes:          16 << 20,
		MaxBatchTokens:        16384,
		MaxBatchSize:          256,
		MaxConcurrentRequests: 512,
		MaxInflightBytes:      64 << 20,
		Workers:               1,
		RequestTimeout:        60 * time.Second,
		CacheSize:             10000,
		CacheBytes:            16 << 20,
		Truncation:            string(gorerank.TruncateLongestFirst),
		WindowOverlap:         gorerank.DefaultWindowOverlap,
		MaxChunks:             gorerank.DefaultMaxWindows,
		Version:               "dev",
	}
}

func (c *Config) fill() error {
	d := DefaultConfig()
	setInt := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	setInt(&c.MaxLength, d.MaxLength)
	setInt(&c.MaxDocuments, d.MaxDocuments)
	setInt(&c.MaxBatchTokens, d.MaxBatchTokens)
	setInt(&c.MaxBatchSize, d.MaxBatchSize)
	setInt(&c.MaxConcurrentRequests, d.MaxConcurrentRequests)
	setInt(&c.Workers, d.Workers)
	setInt(&c.MaxChunks, d.MaxChunks)
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = d.MaxBodyBytes
	}
	if c.MaxInflightBytes == 0 {
		c.MaxInflightBytes = max(d.MaxInflightBytes, c.MaxBodyBytes)
	}
	if c.MaxInflightTokens == 0 {
		// one batch running on each worker and one filling: the batcher never waits for
		// work that the budget holds back
		c.MaxInflightTokens = (c.Workers + 1) * c.MaxBatchTokens
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = d.RequestTimeout
	}
	if c.Truncation == "" {
		c.Truncation = d.Truncation
	}
	if c.Version == "" {
		c.Version = d.Version
	}
	if c.NoCache {
		c.CacheSize, c.CacheBytes = 0, 0
	} else {
		setInt(&c.CacheSize, d.CacheSize)
		if c.CacheBytes == 0 {
			c.CacheBytes = d.CacheBytes
		}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	positive := []struct {
		flag string
		v    int64
	}{
		{"--max-length", int64(c.MaxLength)}, {"--max-documents", int64(c.MaxDocuments)},
		{"--max-batch-tokens", int64(c.MaxBatchTokens)}, {"--max-batch-size", int64(c.MaxBatchSize)},
		{"--max-concurrent-requests", int64(c.MaxConcurrentRequests)},
		{"--workers", int64(c.Workers)}, {"--max-chunks", int64(c.MaxChunks)}, {"--max-body-bytes", c.MaxBodyBytes},
		{"--max-inflight-bytes", c.MaxInflightBytes}, {"--max-inflight-tokens", int64(c.MaxInflightTokens)},
	}
	for _, p := range positive {
		if p.v < 1 {
			return fmt.Errorf("server: %s must be positive, got %d", p.flag, p.v)
		}
	}
	switch {
	case c.MaxInflightBytes < c.MaxBodyBytes:
		return fmt.Errorf("server: --max-inflight-bytes %d is below --max-body-bytes %d: the largest body could never be admitted", c.MaxInflightBytes, c.MaxBodyBytes)
	case c.MaxInflightTokens < c.MaxBatchTokens:
		return fmt.Errorf("server: --max-inflight-tokens %d is below --max-batch-tokens %d: batches could never fill", c.MaxInflightTokens, c.MaxBatchTokens)
	case c.CacheSize < 0:
		return fmt.Errorf("server: --cache-size must not be negative, got %d", c.CacheSize)
	case c.CacheBytes < 0:
		return fmt.Errorf("server: --cache-bytes must not be negative, got %d", c.CacheBytes)
	case c.WindowOverlap < 0:
		return fmt.Errorf("server: --window-overlap must not be negative, got %d", c.WindowOverlap)
	}
	if _, err := gorerank.ParseTruncation(c.Truncation); err != nil {
		return fmt.Errorf("server: --truncation: %w", err)
	}
	return nil
}

// Server is the HTTP rerank server. Create it with [New], give it a model with [Server.SetEngine]
// (it answers 503 on scoring endpoints and /ready until then), serve [Server.Handler], and call
// [Server.Close] after http.Server.Shutdown to finish queued work.
type Server struct {
	cfg     Config
	log     *slog.Logger
	m       *metrics
	cache   *lru
	lim     limits
	keyHash [32]byte
	adm     *admission
	rate    rateMeter // the engine's tokens per second, for Retry-After

	engine   atomic.Pointer[modelSet]
	draining atomic.Bool // see drain.go
	// the knowledge base of /v1/search and /v1/documents (kb.go); nil: none
	kbase atomic.Pointer[servedKnowledgeBase]

	lnMu      sync.Mutex
	listeners []*listener // from Server.Listener, emptied by Shutdown (listener.go)
	handler   http.Handler
}

// New returns a server with no engine yet.
func New(cfg Config) (*Server, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, cache: newLRU(cfg.CacheSize, cfg.CacheBytes)}
	s.adm = newAdmission(cfg.MaxConcurrentRequests, cfg.MaxInflightBytes, int64(cfg.MaxInflightTokens), &s.rate)
	s.m = newMetrics(cfg.Version, s.cache, s.adm)
	s.lim = limits{maxDocuments: cfg.MaxDocuments, maxLength: cfg.MaxLength, defaultMode: gorerank.Truncation(cfg.Truncation),
		maxChunks: cfg.MaxChunks, windowOverlap: cfg.WindowOverlap, defaultReturn: !cfg.NoReturnDocuments}
	s.keyHash = sha256.Sum256([]byte(cfg.APIKey))
	s.handler = s.closeWhileDraining(s.routes())
	return s, nil
}

// Ready reports whether an engine is installed and the server is not draining.
func (s *Server) Ready() bool { return s.engine.Load() != nil && !s.draining.Load() }

// Close finishes the queued work and stops the batch workers. Call it after the HTTP server
// has stopped accepting requests (http.Server.Shutdown).
func (s *Server) Close() {
	if st := s.engine.Load(); st != nil {
		st.batch.close()
	}
	s.m.ready.Set(0)
}

// Handler is the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Registry returns the server's Prometheus registry (for tests and embedding).
func (s *Server) Registry() *prometheus.Registry { return s.m.reg }

// route is one entry of the route table. method may list several ("GET, DELETE"): the
// handler tells them apart.
type route struct {
	method string
	public bool // no API key needed
	work   bool // admitted before its body is read (admit.go)
	h      func(w http.ResponseWriter, r *http.Request) error
}

// routeTable is every route but /docs/ (served from the embedded Swagger UI).
func (s *Server) routeTable() map[string]route {
	metricsH := promhttp.HandlerFor(s.m.reg, promhttp.HandlerOpts{Registry: s.m.reg})
	return map[string]route{
		"/v1/rerank":     {http.MethodPost, false, true, s.handleV1Rerank},
		"/v2/rerank":     {http.MethodPost, false, true, s.handleV2Rerank}, // the path of Cohere's v2 client; same format
		"/rerank":        {http.MethodPost, false, true, s.handleRerank},
		"/tokenize":      {http.MethodPost, false, true, s.handleTokenize},
		"/v1/embeddings": {http.MethodPost, false, true, s.handleOpenAIEmbeddings},
		"/embed":         {http.MethodPost, false, true, s.handleEmbed},
		"/embed_sparse":  {http.MethodPost, false, true, s.handleEmbedSparse},
		"/embed_colbert": {http.MethodPost, false, true, s.handleEmbedColBERT},
		"/info":          {http.MethodGet, false, false, s.handleInfo},
		"/health":        {http.MethodGet, true, false, s.handleHealth},
		"/ready":         {http.MethodGet, true, false, s.handleReady},
		"/openapi.json":  {http.MethodGet, true, false, s.handleOpenAPI},
		"/metrics": {http.MethodGet, false, false, func(w http.ResponseWriter, r *http.Request) error {
			metricsH.ServeHTTP(w, r)
			return nil
		}},
		// the knowledge base (kb.go): 404 without one
		"/v1/search":         {http.MethodPost, false, true, s.handleSearch},
		"/v1/documents":      {http.MethodPost, false, true, s.handleAddDocuments},
		"/v1/documents/{id}": {"GET, DELETE", false, true, s.handleDocument},
	}
}

func (s *Server) routes() http.Handler {
	table := s.routeTable()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := &statusWriter{ResponseWriter: w, status: 200}
		id := requestID(r.Header.Get("X-Request-Id"))
		rw.Header().Set("X-Request-Id", id)
		ctx := context.WithValue(r.Context(), requestIDKey{}, id)
		r = r.WithContext(ctx)

		path := r.URL.Path
		rt, ok := table[routePattern(path)]
		endpoint := routePattern(path) // metrics are labelled by route, not by document id
		isDocs := path == "/docs" || strings.HasPrefix(path, "/docs/")
		if !ok && !isDocs {
			endpoint = "other"
		}
		if isDocs {
			endpoint = "/docs"
			rt = route{http.MethodGet, true, false, s.handleDocs}
			ok = true
		}
		defer func() {
			if v := recover(); v != nil {
				s.log.ErrorContext(ctx, "panic", "request_id", id, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if !rw.wrote {
					writeError(rw, &apiError{status: 500, typ: errInternal, msg: "internal server error"})
				}
			}
			d := time.Since(start)
			s.m.requests.WithLabelValues(endpoint, strconv.Itoa(rw.status)).Inc()
			s.m.requestTime.WithLabelValues(endpoint).Observe(d.Seconds())
			level := slog.LevelInfo
			if endpoint == "/health" || endpoint == "/ready" || endpoint == "/metrics" {
				level = slog.LevelDebug
			}
			s.log.Log(ctx, level, "request", "request_id", id, "method", r.Method, "path", path,
				"status", rw.status, "duration_ms", float64(d.Microseconds())/1000, "bytes", rw.bytes, "remote", r.RemoteAddr)
		}()

		if s.cors(rw, r) {
			return
		}
		if !ok {
			writeError(rw, &apiError{status: 404, typ: errNotFound, msg: fmt.Sprintf("no endpoint %s; see /docs", path)})
			return
		}
		if !allowsMethod(rt.method, r.Method) {
			rw.Header().Set("Allow", rt.method)
			writeError(rw, &apiError{status: 405, typ: errMethod, msg: fmt.Sprintf("%s takes %s, not %s", path, rt.method, r.Method)})
			return
		}
		if !rt.public && !s.authorized(r) {
			rw.Header().Set("WWW-Authenticate", `Bearer realm="rerank"`)
			writeError(rw, &apiError{status: 401, typ: errUnauthorized, msg: "missing or wrong API key (Authorization: Bearer <key>)"})
			return
		}
		err := func() error {
			if !rt.work {
				return rt.h(rw, r)
			}
			r, t, err := s.admit(rw, r)
			if err != nil {
				return err
			}
			defer t.release()
			return rt.h(rw, r)
		}()
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) {
				// the details stay in the log: they may come from a batch shared with others
				s.log.ErrorContext(ctx, "request failed", "request_id", id, "error", err)
				ae = &apiError{status: 500, typ: errInternal, msg: fmt.Sprintf("internal error while scoring (request id %s; the details are in the server log)", id)}
			}
			writeError(rw, ae)
		}
	})
}

// routePattern is the route table's key for path: a route with a parameter
// ("/v1/documents/{id}") for the paths it takes, else the path itself.
func routePattern(path string) string {
	if id, ok := strings.CutPrefix(path, documentsPrefix); ok && id != "" {
		return documentsPrefix + "{id}"
	}
	return path
}

// allowsMethod says whether a route's method, or list of them ("GET, DELETE"), takes m; a
// route that takes GET takes HEAD.
func allowsMethod(methods, m string) bool {
	for _, x := range strings.Split(methods, ", ") {
		if x == m || (x == http.MethodGet && m == http.MethodHead) {
			return true
		}
	}
	return false
}

type requestIDKey struct{}

// requestID keeps a client's X-Request-Id when it is short and printable, else makes one.
func requestID(h string) string {
	if h != "" && len(h) <= 128 {
		ok := true
		for i := 0; i < len(h); i++ {
			if h[i] < 0x21 || h[i] > 0x7e {
				ok = false
				break
			}
		}
		if ok {
			return h
		}
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (s *Server) authorized(r *http.Request) bool {
	if s.cfg.APIKey == "" {
		return true
	}
	h := r.Header.Get("Authorization")
	const p = "bearer "
	if len(h) < len(p) || !strings.EqualFold(h[:len(p)], p) {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(h[len(p):])))
	return subtle.ConstantTimeCompare(got[:], s.keyHash[:]) == 1
}

// cors sets CORS headers for allowed origins and answers preflight requests; it reports
// whether the request was fully answered.
func (s *Server) cors(w http.ResponseWriter, r *http.Request) bool {
	if len(s.cfg.CORSOrigins) == 0 {
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	allowed := ""
	for _, o := range s.cfg.CORSOrigins {
		if o == "*" {
			allowed = "*"
			break
		}
		if o == origin {
			allowed = origin
			break
		}
	}
	w.Header().Add("Vary", "Origin")
	if allowed == "" {
		return false
	}
	w.Header().Set("Access-Control-Allow-Origin", allowed)
	w.Header().Set("Access-Control-Expose-Headers", "X-Request-Id, Retry-After")
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		w.Header().Set("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS")
		w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Request-Id")
		w.Header().Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	return false
}

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// writeJSON encodes v before writing anything, so an encoding failure becomes a clean 500
// instead of a truncated body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		_ = enc.Encode(errorBody{errorDetail{Message: "encoding the response: " + err.Error(), Type: errInternal}})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Message string `json:"message"`
	Type    string `json:"type"`
}

func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.status, errorBody{errorDetail{Message: e.msg, Type: e.typ}})
}

// readBody reads at most MaxBodyBytes; a larger body is a 413.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	var buf bytes.Buffer
	if r.ContentLength > 0 && r.ContentLength <= s.cfg.MaxBodyBytes {
		buf.Grow(int(r.ContentLength) + bytes.MinRead) // one allocation, not a doubling series
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	body := buf.Bytes()
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, tooLarge("request body is larger than %d bytes (--max-body-bytes)", s.cfg.MaxBodyBytes)
	case err != nil:
		return nil, badRequest("reading request body: %v", err)
	}
	return body, nil
}
