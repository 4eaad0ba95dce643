package server

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the server's Prometheus series, on a registry of their own (no global state).
type metrics struct {
	reg *prometheus.Registry

	requests      *prometheus.CounterVec   // endpoint, status
	requestTime   *prometheus.HistogramVec // endpoint
	inFlight      prometheus.Gauge
	queueTime     prometheus.Histogram
	tokenizeTime  prometheus.Histogram
	inferenceTime prometheus.Histogram
	pairs         prometheus.Counter
	tokens        prometheus.Counter
	batchSize     prometheus.Histogram
	batchTokens   prometheus.Histogram
	queueDepth    prometheus.Gauge
	dropped       prometheus.Counter
	truncated     prometheus.Counter
	isolated      prometheus.Counter
	cacheHits     prometheus.Counter
	cacheMisses   prometheus.Counter
	cacheEntries  prometheus.GaugeFunc
	ready         prometheus.Gauge
}

// latencyBuckets run from 0.5 ms to about 65 s so that P50/P95/P99 of both cache hits and
// long batches fall inside a bucket (histogram_quantile).
var latencyBuckets = prometheus.ExponentialBuckets(0.0005, 2, 18)

func newMetrics(version string, cacheLen func() int) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	const ns = "rerank"
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "requests_total",
		Help: "HTTP requests by endpoint and status code."}, []string{"endpoint", "status"})
	m.requestTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "request_duration_seconds",
		Help: "Time from request received to response written, by endpoint.", Buckets: latencyBuckets}, []string{"endpoint"})
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "requests_in_flight",
		Help: "Scoring requests being handled now."})
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
	m.batchSize = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "batch_size",
		Help: "Sequences per batch.", Buckets: prometheus.ExponentialBuckets(1, 2, 12)})
	m.batchTokens = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "batch_tokens",
		Help: "Tokens per batch.", Buckets: prometheus.ExponentialBuckets(16, 2, 14)})
	m.queueDepth = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "queue_depth",
		Help: "Sequences waiting in the batch queue."})
	m.dropped = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "queue_dropped_total",
		Help: "Queued sequences dropped because their client went away or timed out."})
	m.isolated = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "batches_isolated_total",
		Help: "Failed batches shared by several requests, re-run one request at a time so only the culprit fails."})
	m.truncated = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "truncated_pairs_total",
		Help: "Pairs cut to max_length."})
	m.cacheHits = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "cache_hits_total",
		Help: "Pairs answered from the score cache."})
	m.cacheMisses = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "cache_misses_total",
		Help: "Pairs not in the score cache (counted only when the cache is on)."})
	m.cacheEntries = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "cache_entries",
		Help: "Entries in the score cache."}, func() float64 { return float64(cacheLen()) })
	m.ready = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "ready",
		Help: "1 once the model is loaded and warmed up."})
	build := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "build_info",
		Help: "Always 1; labels give the version.", ConstLabels: prometheus.Labels{"version": version}})
	build.Set(1)
	m.reg.MustRegister(m.requests, m.requestTime, m.inFlight, m.queueTime, m.tokenizeTime, m.inferenceTime,
		m.pairs, m.tokens, m.batchSize, m.batchTokens, m.queueDepth, m.dropped, m.truncated, m.isolated,
		m.cacheHits, m.cacheMisses, m.cacheEntries, m.ready, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func fmtAny(v any) string { return fmt.Sprint(v) }
