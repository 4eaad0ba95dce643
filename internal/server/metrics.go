package server

import (
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the server's Prometheus series, on a registry of their own (no global state).
type metrics struct {
	reg *prometheus.Registry

	requests      *prometheus.CounterVec   // endpoint, status
	requestTime   *prometheus.HistogramVec // endpoint
	inFlight      prometheus.Gauge
	rejected      *prometheus.CounterVec // budget: requests, bytes, tokens
	heldBytes     prometheus.GaugeFunc
	heldTokens    prometheus.GaugeFunc
	queueTime     prometheus.Histogram
	tokenizeTime  prometheus.Histogram
	inferenceTime prometheus.Histogram
	pairs         prometheus.Counter
	tokens        prometheus.Counter
	modelSeqs     *prometheus.CounterVec // model
	modelTokens   *prometheus.CounterVec // model
	batchSize     prometheus.Histogram
	batchTokens   prometheus.Histogram
	queueDepth    prometheus.Gauge
	queueArea     depthIntegral // rerank_queue_pair_seconds_total
	dropped       prometheus.Counter
	truncated     prometheus.Counter
	isolated      prometheus.Counter
	cacheHits     prometheus.Counter
	cacheMisses   prometheus.Counter
	cacheEntries  prometheus.GaugeFunc
	cacheBytes    prometheus.GaugeFunc
	ready         prometheus.Gauge
}

// latencyBuckets run from 0.5 ms to about 65 s so that P50/P95/P99 of both cache hits and
// long batches fall inside a bucket (histogram_quantile).
var latencyBuckets = prometheus.ExponentialBuckets(0.0005, 2, 18)

func newMetrics(version string, cache *lru, adm *admission) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	const ns = "rerank"
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "requests_total",
		Help: "HTTP requests by endpoint and status code."}, []string{"endpoint", "status"})
	m.requestTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "request_duration_seconds",
		Help: "Time from request received to response written, by endpoint.", Buckets: latencyBuckets}, []string{"endpoint"})
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "requests_in_flight",
		Help: "Requests admitted to a working route (rerank, tokenize) and not yet answered."})
	m.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "admission_rejected_total",
		Help: "Requests turned away before any work: 429 when every request slot was taken (budget=requests), 503 after waiting --request-timeout for in-flight bytes or tokens."}, []string{"budget"})
	m.heldBytes = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "inflight_bytes",
		Help: "Request body bytes held by admitted requests (of --max-inflight-bytes)."}, func() float64 { return float64(adm.heldBytes.Load()) })
	m.heldTokens = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "inflight_tokens",
		Help: "Tokens held by admitted requests (of --max-inflight-tokens)."}, func() float64 { return float64(adm.heldTokens.Load()) })
	m.queueTime = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "queue_duration_seconds",
		Help: "Time a request's first pair waited in the queue before a batch took it.", Buckets: latencyBuckets})
	m.tokenizeTime = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "tokenization_duration_seconds",
		Help: "Time to tokenize all pairs of one request.", Buckets: latencyBuckets})
	m.inferenceTime = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "inference_duration_seconds",
		Help: "Time of one batch's forward pass.", Buckets: latencyBuckets})
	m.pairs = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "pairs_scored_total",
		Help: "Sequences run through the model (a windowed document counts once per window)."})
	m.tokens = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "tokens_scored_total",
		Help: "Tokens run through the model, special tokens included."})
	m.modelSeqs = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "model_sequences_total",
		Help: "Sequences run through each served model (rerank pairs, or texts to embed), by model."}, []string{"model"})
	m.modelTokens = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "model_tokens_total",
		Help: "Tokens run through each served model, by model."}, []string{"model"})
	m.batchSize = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "batch_size",
		Help: "Sequences per batch.", Buckets: prometheus.ExponentialBuckets(1, 2, 12)})
	m.batchTokens = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "batch_tokens",
		Help: "Tokens per batch.", Buckets: prometheus.ExponentialBuckets(16, 2, 14)})
	m.queueDepth = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "queue_depth",
		Help: "Sequences waiting in the batch queue."})
	queueArea := prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Name: "queue_pair_seconds_total",
		Help: "Integral of rerank_queue_depth over time (pair-seconds): rate() over a window is the mean number of pairs waiting in it, exactly, whatever the scrape interval (the autoscaling signal, see deploy/)."},
		m.queueArea.total)
	m.dropped = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "queue_dropped_total",
		Help: "Queued sequences dropped because their client went away or timed out."})
	m.isolated = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "batches_isolated_total",
		Help: "Failed batches shared by several requests, re-run one request at a time so only the culprit fails."})
	m.truncated = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "truncated_pairs_total",
		Help: "Pairs cut to max_length."})
	m.cacheHits = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "cache_hits_total",
		Help: "Rerank pairs and texts to embed answered from the cache."})
	m.cacheMisses = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "cache_misses_total",
		Help: "Rerank pairs and texts to embed not in the cache (counted only when the cache is on)."})
	m.cacheEntries = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "cache_entries",
		Help: "Entries in the cache (of --cache-size)."}, func() float64 { n, _ := cache.stats(); return float64(n) })
	m.cacheBytes = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "cache_bytes",
		Help: "Bytes held by the cache's entries (of --cache-bytes)."}, func() float64 { _, b := cache.stats(); return float64(b) })
	m.ready = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "ready",
		Help: "1 once the model is loaded and warmed up."})
	build := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "build_info",
		Help: "Always 1; labels give the version.", ConstLabels: prometheus.Labels{"version": version}})
	build.Set(1)
	m.reg.MustRegister(m.requests, m.requestTime, m.inFlight, m.rejected, m.heldBytes, m.heldTokens, m.queueTime, m.tokenizeTime, m.inferenceTime,
		m.pairs, m.tokens, m.modelSeqs, m.modelTokens, m.batchSize, m.batchTokens, m.queueDepth, queueArea, m.dropped, m.truncated, m.isolated,
		m.cacheHits, m.cacheMisses, m.cacheEntries, m.cacheBytes, m.ready, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// setQueueDepth records the number of pairs waiting: the gauge and its time integral.
func (m *metrics) setQueueDepth(n int) {
	m.queueDepth.Set(float64(n))
	m.queueArea.set(n, time.Now())
}

// depthIntegral is ∫ depth dt since the start, in pair-seconds. By Little's law its rate is
// the mean queue depth; unlike a sampled gauge, it misses no spike between two scrapes.
type depthIntegral struct {
	mu    sync.Mutex
	area  float64   // pair-seconds up to since
	depth int       // depth since then
	since time.Time // zero until the first set
}

func (d *depthIntegral) set(n int, now time.Time) {
	d.mu.Lock()
	if !d.since.IsZero() {
		d.area += float64(d.depth) * now.Sub(d.since).Seconds()
	}
	d.depth, d.since = n, now
	d.mu.Unlock()
}

// total is the integral up to now (the current depth counts until the scrape).
func (d *depthIntegral) total() float64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.since.IsZero() {
		return 0
	}
	return d.area + float64(d.depth)*time.Since(d.since).Seconds()
}

func fmtAny(v any) string { return fmt.Sprint(v) }
