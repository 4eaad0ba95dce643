package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorerank/gorerank/internal/ragwork"
	"github.com/gorerank/gorerank/tokenizer"
)

const loadtestUsage = `usage: rerank loadtest --url URL --tokenizer FILE (--rate R | --concurrency N,N,...) [flags]

Measures the capacity of a running 'rerank serve' over HTTP. Every request of a run is the
same, made with --tokenizer (which must be the server's tokenizer.json), and goes to --route:

  rerank routes (/v1/rerank, /v2/rerank, /rerank): the rag workload of 'rerank bench': the
      rag query against the same 50 documents of the fixed length mix (5×32, 5×64, 10×128,
      10×192, 10×256, 5×384, 5×480 tokens; seeded pseudo-English), or the first --documents;
      documents are not returned
  embedding routes (/v1/embeddings, /embed, /embed_sparse, /embed_colbert): --texts texts of
      exactly --text-tokens tokens each, special tokens included (seeded pseudo-English)

Bounded: every level stops after --requests requests or --duration, whichever comes first.

  --rate R            open loop: one request every 1/R s whatever the answers (the offered
                      load), at most --max-in-flight outstanding
  --concurrency list  closed loop: N clients, each sends its next request when the last
                      one is answered; one level per N

Per level it reports completed requests/s, pairs/s (texts/s on embedding routes), the
server's tokens/s (rerank_tokens_scored_total), client latency P50/P95/P99, errors and 429s,
the server's queue time (rerank_queue_duration_seconds), batch fill (tokens per forward pass
/ --max-batch-tokens, from rerank_batch_tokens) and sequences per batch, all from /metrics
differences, and, with --bench, the ratio of the server's pairs/s to 'rerank bench
--workload rag' pairs/s (embedding routes: texts/s to 'rerank bench' of the embedder at
--seq = --text-tokens) on the same machine: the cost of HTTP, JSON, queueing and batching.

The server must run with --cache-size 0: the same pairs and texts are sent again and
again, and cache answers would count as throughput; loadtest fails when the cache answered
anything.

Example (the lead's capacity run, docs/CAPACITY.md):
  rerank serve --model .bench/random-bge-reranker-v2-m3-f32 --tokenizer T --cache-size 0 --port 8000 &
  rerank bench --model .bench/random-bge-reranker-v2-m3-f32 --tokenizer T --workload rag --json > bench-rag.json
  rerank loadtest --url http://127.0.0.1:8000 --tokenizer T --bench bench-rag.json \
    --rate 0.02 --concurrency 1,2,4,8 --requests 20 --duration 10m

  # bge-m3: 8 texts of 128 tokens per /embed request
  rerank loadtest --url http://127.0.0.1:8000 --tokenizer T --route /embed --texts 8 --text-tokens 128 --concurrency 1,2,4

Flags:
`

type loadOptions struct {
	url, tokenizer, apiKey, benchFile string
	route                             string
	rate                              float64
	concurrency                       []int
	requests, maxInFlight, documents  int
	texts, textTokens                 int
	retryAfter                        string
	duration, timeout                 time.Duration
	seed                              uint64
	jsonOut                           bool
}

// loadRoute is a route loadtest drives: whether it embeds (its unit is texts, else pairs),
// the request body for the documents or texts, and how many items an answer holds (-1: not
// an answer of the route).
type loadRoute struct {
	embed bool
	body  func(items []string) any
	count func(answer []byte) int
}

var loadRoutes = map[string]loadRoute{
	"/v1/rerank":     {false, cohereRerankBody, countIn("results")},
	"/v2/rerank":     {false, cohereRerankBody, countIn("results")},
	"/rerank":        {false, func(d []string) any { return map[string]any{"query": ragwork.Query, "texts": d} }, countIn("")},
	"/v1/embeddings": {true, func(t []string) any { return map[string]any{"input": t} }, countIn("data")},
	"/embed":         {true, teiEmbedBody, countIn("")},
	"/embed_sparse":  {true, teiEmbedBody, countIn("")},
	"/embed_colbert": {true, teiEmbedBody, countIn("")},
}

func cohereRerankBody(d []string) any {
	return map[string]any{"query": ragwork.Query, "documents": d, "return_documents": false}
}

func teiEmbedBody(t []string) any { return map[string]any{"inputs": t} }

// countIn counts the elements of the answer's list field (the answer itself for "").
func countIn(field string) func([]byte) int {
	return func(b []byte) int {
		var list []json.RawMessage
		if field == "" {
			if json.Unmarshal(b, &list) != nil {
				return -1
			}
			return len(list)
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal(b, &obj) != nil || json.Unmarshal(obj[field], &list) != nil {
			return -1
		}
		return len(list)
	}
}

// unit names what a route's requests are made of: pairs, or texts on embedding routes.
func (o *loadOptions) unit() string {
	if loadRoutes[o.route].embed {
		return "texts"
	}
	return "pairs"
}

// routeNames lists loadRoutes for usage errors.
func routeNames() string {
	names := slices.Sorted(maps.Keys(loadRoutes))
	return strings.Join(names, ", ")
}

// loadLevel is the result of one level (one rate or one concurrency). Its rates are in the
// route's unit, named as rerank bench names them: pairs (pairs_*) on rerank routes, texts
// (texts_*) on embedding routes; the other set is absent.
type loadLevel struct {
	Mode           string         `json:"mode"` // "rate" or "concurrency"
	OfferedQPS     float64        `json:"offered_qps,omitempty"`
	Concurrency    int            `json:"concurrency,omitempty"`
	Sent           int            `json:"sent"`
	OK             int            `json:"ok"`
	Errors         map[string]int `json:"errors,omitempty"`                 // by class: "status 429", "transport", "bad body"
	NotSent        int            `json:"not_sent_max_in_flight,omitempty"` // open loop: arrivals skipped at --max-in-flight
	Seconds        float64        `json:"seconds"`
	QPS            float64        `json:"queries_per_s"`
	PairsPerS      float64        `json:"pairs_per_s,omitempty"`        // answered pairs / seconds (client side)
	ServerPairsPS  float64        `json:"server_pairs_per_s,omitempty"` // Δrerank_pairs_scored_total / seconds
	PairsPerBatch  float64        `json:"pairs_per_batch,omitempty"`
	TextsPerS      float64        `json:"texts_per_s,omitempty"`        // embedding routes: answered texts / seconds
	ServerTextsPS  float64        `json:"server_texts_per_s,omitempty"` // Δrerank_pairs_scored_total / seconds
	TextsPerBatch  float64        `json:"texts_per_batch,omitempty"`
	ServerTokensPS float64        `json:"server_tokens_per_s"` // Δrerank_tokens_scored_total / seconds
	LatencyMS      quantiles      `json:"latency_ms"`
	QueueMS        quantiles      `json:"queue_ms"` // server histogram: mean exact, quantiles interpolated in buckets
	BatchFill      float64        `json:"batch_fill"`
	CacheHits      float64        `json:"cache_hits"`
	BenchRatio     float64        `json:"server_to_bench_ratio,omitempty"`
}

// setRates stores the client's and the server's items per second and the items per batch
// under the names of unit.
func (res *loadLevel) setRates(unit string, perS, serverPerS, perBatch float64) {
	if unit == "texts" {
		res.TextsPerS, res.ServerTextsPS, res.TextsPerBatch = perS, serverPerS, perBatch
	} else {
		res.PairsPerS, res.ServerPairsPS, res.PairsPerBatch = perS, serverPerS, perBatch
	}
}

// rates are the level's items per second (client, server) and per batch, whatever the unit.
func (res *loadLevel) rates() (perS, serverPerS, perBatch float64) {
	return res.PairsPerS + res.TextsPerS, res.ServerPairsPS + res.ServerTextsPS, res.PairsPerBatch + res.TextsPerBatch
}

type quantiles struct {
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
}

type loadReport struct {
	URL            string      `json:"url"`
	Route          string      `json:"route"`
	Model          string      `json:"model"`
	DType          string      `json:"dtype"`
	MaxBatchTokens int         `json:"max_batch_tokens"`
	Workers        int         `json:"workers"`
	Documents      int         `json:"documents_per_query,omitempty"` // rerank routes
	Texts          int         `json:"texts_per_request,omitempty"`   // embedding routes
	TextTokens     int         `json:"tokens_per_text,omitempty"`     // embedding routes, special tokens included
	BenchPairsPerS float64     `json:"bench_pairs_per_s,omitempty"`
	BenchTextsPerS float64     `json:"bench_texts_per_s,omitempty"`
	Levels         []loadLevel `json:"levels"`
}

func runLoadtest(e *env, args []string) int {
	o := &loadOptions{}
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(e.stderr, loadtestUsage)
		fs.PrintDefaults()
	}
	var conc string
	fs.StringVar(&o.url, "url", "", "base URL of the server, e.g. http://127.0.0.1:8000 (required)")
	fs.StringVar(&o.tokenizer, "tokenizer", "", "the server's tokenizer.json, to build the rag documents (required)")
	fs.StringVar(&o.apiKey, "api-key", "", "Bearer key when the server has one (default $RERANK_API_KEY)")
	fs.StringVar(&o.benchFile, "bench", "", "JSON of 'rerank bench --workload rag --json' on the same machine: report server/bench pairs/s")
	fs.Float64Var(&o.rate, "rate", 0, "open loop: offered queries per second")
	fs.StringVar(&conc, "concurrency", "", "closed loop: comma-separated client counts, one level each")
	fs.IntVar(&o.requests, "requests", 20, "most requests per level")
	fs.DurationVar(&o.duration, "duration", 2*time.Minute, "longest time a level sends requests")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Minute, "per-request client timeout")
	fs.IntVar(&o.maxInFlight, "max-in-flight", 256, "open loop: most outstanding requests")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the rag documents (as rerank bench --seed)")
	fs.BoolVar(&o.jsonOut, "json", false, "print the report as JSON")
	fs.StringVar(&o.route, "route", "/v1/rerank", "the route to load: "+routeNames())
	fs.IntVar(&o.documents, "documents", 0, "rerank routes: documents per request, the first N of the rag mix (0: all 50)")
	fs.IntVar(&o.texts, "texts", 8, "embedding routes: texts per request")
	fs.IntVar(&o.textTokens, "text-tokens", 128, "embedding routes: tokens per text, special tokens included")
	fs.StringVar(&o.retryAfter, "retry-after", "honor", "closed loop, after a 429 or 503 with Retry-After: honor (the client waits that long before its next request) or ignore (it sends again at once)")
	if code, done := parseFlags(fs, e, args); done {
		return code
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(e.stderr, "rerank loadtest: "+format+"\n", a...)
		return exitUsage
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	route, known := loadRoutes[o.route]
	for _, s := range strings.Split(conc, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 4096 {
			return usageErr("--concurrency: %q is not a client count in 1..4096", s)
		}
		o.concurrency = append(o.concurrency, n)
	}
	switch {
	case fs.NArg() > 0:
		return usageErr("unexpected argument %q", fs.Arg(0))
	case o.url == "" || o.tokenizer == "":
		return usageErr("--url and --tokenizer are required (see rerank loadtest --help)")
	case o.rate < 0 || math.IsNaN(o.rate) || math.IsInf(o.rate, 0):
		return usageErr("--rate must be a positive number of queries per second")
	case o.rate == 0 && len(o.concurrency) == 0:
		return usageErr("give --rate, --concurrency or both")
	case o.retryAfter != "honor" && o.retryAfter != "ignore":
		return usageErr("--retry-after must be honor or ignore, got %q", o.retryAfter)
	case !known:
		return usageErr("--route %q: want one of %s", o.route, routeNames())
	case route.embed && set["documents"]:
		return usageErr("--documents is for rerank routes; %s takes --texts and --text-tokens", o.route)
	case !route.embed && (set["texts"] || set["text-tokens"]):
		return usageErr("--texts and --text-tokens are for embedding routes; %s sends the rag documents (--documents)", o.route)
	case o.documents < 0:
		return usageErr("--documents must not be negative")
	case o.texts < 1 || o.textTokens < 3:
		return usageErr("--texts must be positive and --text-tokens at least 3 (a word and the special tokens)")
	case o.requests < 1 || o.duration <= 0 || o.timeout <= 0 || o.maxInFlight < 1:
		return usageErr("--requests, --duration, --timeout and --max-in-flight must be positive")
	}
	o.url = strings.TrimRight(o.url, "/")
	if o.apiKey == "" {
		o.apiKey = os.Getenv("RERANK_API_KEY")
	}
	rep, err := loadtest(o, e.stderr)
	if rep != nil {
		if o.jsonOut {
			enc := json.NewEncoder(e.stdout)
			enc.SetIndent("", "  ")
			enc.Encode(rep)
		} else {
			rep.print(e.stdout)
		}
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "rerank loadtest: %v\n", err)
		return exitFailure
	}
	return exitOK
}

func loadtest(o *loadOptions, progress io.Writer) (*loadReport, error) {
	route := loadRoutes[o.route]
	unit := o.unit()
	var bench float64
	if o.benchFile != "" {
		b, err := os.ReadFile(o.benchFile)
		if err != nil {
			return nil, err
		}
		var br benchResult
		if err := json.Unmarshal(b, &br); err != nil {
			return nil, fmt.Errorf("--bench %s: %w", o.benchFile, err)
		}
		switch {
		case !route.embed && (br.Workload != "rag" || br.PairsPerS <= 0):
			return nil, fmt.Errorf("--bench %s: want the JSON of rerank bench --workload rag, got workload %q with %v pairs/s", o.benchFile, br.Workload, br.PairsPerS)
		case route.embed && (br.TextsPerS <= 0 || br.Seq != o.textTokens):
			return nil, fmt.Errorf("--bench %s: want the JSON of rerank bench of an embedder at --seq %d (--text-tokens), got %q at --seq %d with %v texts/s", o.benchFile, o.textTokens, br.Kind, br.Seq, br.TextsPerS)
		}
		bench = br.PairsPerS + br.TextsPerS
	}
	tok, err := tokenizer.Load(o.tokenizer)
	if err != nil {
		return nil, err
	}
	var items []string
	if route.embed {
		items, err = ragwork.Texts(tok, o.seed, o.texts, o.textTokens)
	} else {
		items, err = ragwork.Documents(tok, o.seed)
		if o.documents > 0 && o.documents < len(items) {
			items = items[:o.documents]
		}
	}
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(route.body(items))
	if err != nil {
		return nil, err
	}
	c := &loadClient{o: o, body: body, items: len(items), count: route.count,
		http: &http.Client{Timeout: o.timeout, Transport: &http.Transport{MaxIdleConnsPerHost: 1024}}}
	defer c.http.CloseIdleConnections()

	var info struct {
		ModelID        string `json:"model_id"`
		DType          string `json:"model_dtype"`
		MaxBatchTokens int    `json:"max_batch_tokens"`
		Workers        int    `json:"workers"`
		CacheSize      int    `json:"cache_size"`
		Models         []struct {
			ID    string `json:"model_id"`
			Task  string `json:"task"`
			DType string `json:"model_dtype"`
		} `json:"models"`
	}
	if err := c.getJSON("/info", &info); err != nil {
		return nil, err
	}
	if info.MaxBatchTokens <= 0 {
		return nil, fmt.Errorf("%s/info: no max_batch_tokens", o.url)
	}
	rep := &loadReport{URL: o.url, Route: o.route, Model: info.ModelID, DType: info.DType, MaxBatchTokens: info.MaxBatchTokens, Workers: info.Workers}
	if route.embed {
		rep.Texts, rep.TextTokens, rep.BenchTextsPerS = len(items), o.textTokens, bench
		for _, m := range info.Models { // /info's top level describes the first reranker
			if m.Task == "embed" {
				rep.Model, rep.DType = m.ID, m.DType
				break
			}
		}
	} else {
		rep.Documents, rep.BenchPairsPerS = len(items), bench
	}
	if info.CacheSize > 0 {
		fmt.Fprintf(progress, "rerank loadtest: warning: the server's cache is on (%d entries); run it with --cache-size 0\n", info.CacheSize)
	}
	type level struct {
		rate float64
		conc int
	}
	var levels []level
	if o.rate > 0 {
		levels = append(levels, level{rate: o.rate})
	}
	for _, n := range o.concurrency {
		levels = append(levels, level{conc: n})
	}
	for _, lv := range levels {
		before, err := c.metrics()
		if err != nil {
			return rep, err
		}
		var res *loadLevel
		if lv.rate > 0 {
			fmt.Fprintf(progress, "rate %.4g q/s: up to %d requests or %v\n", lv.rate, o.requests, o.duration)
			res = c.openLoop(lv.rate)
		} else {
			fmt.Fprintf(progress, "concurrency %d: up to %d requests or %v\n", lv.conc, o.requests, o.duration)
			res = c.closedLoop(lv.conc)
		}
		after, err := c.metrics()
		if err != nil {
			return rep, err
		}
		res.fromMetrics(before, after, info.MaxBatchTokens, unit, len(items))
		if _, server, _ := res.rates(); bench > 0 {
			res.BenchRatio = server / bench
		}
		rep.Levels = append(rep.Levels, *res)
		if res.CacheHits > 0 {
			return rep, fmt.Errorf("the server's cache answered %.0f %s: throughput would be overstated; run rerank serve with --cache-size 0", res.CacheHits, unit)
		}
	}
	return rep, nil
}

// loadClient sends the run's one request, the same body every time.
type loadClient struct {
	o     *loadOptions
	http  *http.Client
	body  []byte
	items int              // documents or texts in the body
	count func([]byte) int // items in an answer (loadRoute.count)
}

func (c *loadClient) request(method, path string, body []byte) (*http.Request, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, c.o.url+path, r)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.o.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.o.apiKey)
	}
	return req, nil
}

func (c *loadClient) getJSON(path string, v any) error {
	req, err := c.request(http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %d %.200s", path, resp.StatusCode, b)
	}
	return json.Unmarshal(b, v)
}

// one sends the request; it returns the latency, or an error class ("status 429",
// "transport", "bad body") and the answer's Retry-After.
func (c *loadClient) one() (time.Duration, string, time.Duration) {
	req, err := c.request(http.MethodPost, c.o.route, c.body)
	if err != nil {
		return 0, "transport", 0
	}
	t0 := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, "transport", 0
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	resp.Body.Close()
	d := time.Since(t0)
	if err != nil {
		return 0, "transport", 0
	}
	if resp.StatusCode != 200 {
		retry := 0 * time.Second
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
			retry = time.Duration(secs) * time.Second
		}
		return 0, "status " + strconv.Itoa(resp.StatusCode), retry
	}
	if c.count(b) != c.items {
		return 0, "bad body", 0
	}
	return d, "", 0
}

// tally collects the answers of one level.
type tally struct {
	mu       sync.Mutex
	lat      []time.Duration
	errs     map[string]int
	sent     int
	last     time.Time
	inFlight atomic.Int64
}

func (t *tally) add(d time.Duration, errClass string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if errClass != "" {
		t.errs[errClass]++
	} else {
		t.lat = append(t.lat, d)
	}
	t.last = time.Now()
}

func (c *loadClient) closedLoop(n int) *loadLevel {
	t := &tally{errs: map[string]int{}}
	var next atomic.Int64
	start := time.Now()
	deadline := start.Add(c.o.duration)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && next.Add(1) <= int64(c.o.requests) {
				d, class, retry := c.one()
				t.add(d, class)
				if retry > 0 && c.o.retryAfter == "honor" {
					time.Sleep(min(retry, time.Until(deadline)))
				}
			}
		}()
	}
	wg.Wait()
	t.sent = int(min(next.Load(), int64(c.o.requests)))
	return t.level(&loadLevel{Mode: "concurrency", Concurrency: n}, start)
}

func (c *loadClient) openLoop(rate float64) *loadLevel {
	t := &tally{errs: map[string]int{}}
	res := &loadLevel{Mode: "rate", OfferedQPS: rate}
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	deadline := start.Add(c.o.duration)
	var wg sync.WaitGroup
	for i := 0; i < c.o.requests; i++ {
		at := start.Add(time.Duration(i) * interval)
		if at.After(deadline) {
			break
		}
		time.Sleep(time.Until(at))
		if t.inFlight.Load() >= int64(c.o.maxInFlight) {
			res.NotSent++
			continue
		}
		t.sent++
		t.inFlight.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer t.inFlight.Add(-1)
			d, class, _ := c.one()
			t.add(d, class)
		}()
	}
	wg.Wait()
	return t.level(res, start)
}

// level fills res's counts, requests/s and latencies; the items' rates come with the
// server's (fromMetrics).
func (t *tally) level(res *loadLevel, start time.Time) *loadLevel {
	end := t.last
	if end.IsZero() {
		end = time.Now()
	}
	res.Sent, res.OK = t.sent, len(t.lat)
	if len(t.errs) > 0 {
		res.Errors = t.errs
	}
	res.Seconds = end.Sub(start).Seconds()
	if res.Seconds > 0 {
		res.QPS = float64(res.OK) / res.Seconds
	}
	slices.Sort(t.lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	if n := len(t.lat); n > 0 {
		var sum time.Duration
		for _, d := range t.lat {
			sum += d
		}
		q := func(p float64) float64 { return ms(t.lat[min(n-1, int(math.Ceil(p*float64(n)))-1)]) }
		res.LatencyMS = quantiles{Mean: ms(sum / time.Duration(n)), P50: q(0.50), P95: q(0.95), P99: q(0.99)}
	}
	return res
}

// metricSamples maps each series of the Prometheus text format (name plus labels, as
// written) to its value.
type metricSamples map[string]float64

func (c *loadClient) metrics() (metricSamples, error) {
	req, err := c.request(http.MethodGet, "/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("GET /metrics: %d", resp.StatusCode)
	}
	return parseMetrics(io.LimitReader(resp.Body, 16<<20))
}

// parseMetrics reads the sample lines of the Prometheus text format (comments skipped).
func parseMetrics(r io.Reader) (metricSamples, error) {
	m := metricSamples{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			return nil, fmt.Errorf("metrics: bad line %q", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics: bad value in %q", line)
		}
		m[strings.TrimSpace(line[:i])] = v
	}
	return m, sc.Err()
}

// histogramQuantile interpolates quantile q of the observations between two scrapes from
// the cumulative buckets name_bucket{le="..."} (as PromQL's histogram_quantile does).
func histogramQuantile(q float64, name string, before, after metricSamples) float64 {
	type bucket struct{ le, n float64 }
	var bs []bucket
	prefix := name + `_bucket{le="`
	for k, v := range after {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		le, err := strconv.ParseFloat(strings.TrimSuffix(k[len(prefix):], `"}`), 64)
		if err != nil {
			continue
		}
		bs = append(bs, bucket{le, v - before[k]})
	}
	slices.SortFunc(bs, func(a, b bucket) int {
		switch {
		case a.le < b.le:
			return -1
		case a.le > b.le:
			return 1
		}
		return 0
	})
	if len(bs) == 0 || bs[len(bs)-1].n <= 0 {
		return 0
	}
	rank := q * bs[len(bs)-1].n
	lo, prev := 0.0, 0.0
	for _, b := range bs {
		if b.n >= rank {
			if math.IsInf(b.le, 1) {
				return lo // beyond the last finite bucket: its bound
			}
			if b.n == prev {
				return b.le
			}
			return lo + (b.le-lo)*(rank-prev)/(b.n-prev)
		}
		lo, prev = b.le, b.n
	}
	return lo
}

// fromMetrics fills what the server's /metrics say of the level (differences between two
// scrapes), and the rates in unit: the client's from the answers of items each.
func (res *loadLevel) fromMetrics(before, after metricSamples, maxBatchTokens int, unit string, items int) {
	d := func(k string) float64 { return after[k] - before[k] }
	var perS, serverPerS, perBatch float64
	if res.Seconds > 0 {
		perS = res.QPS * float64(items)
		serverPerS = d("rerank_pairs_scored_total") / res.Seconds // sequences: pairs, or texts to embed
		res.ServerTokensPS = d("rerank_tokens_scored_total") / res.Seconds
	}
	if n := d("rerank_queue_duration_seconds_count"); n > 0 {
		const h = "rerank_queue_duration_seconds"
		res.QueueMS = quantiles{Mean: 1000 * d(h+"_sum") / n,
			P50: 1000 * histogramQuantile(0.50, h, before, after),
			P95: 1000 * histogramQuantile(0.95, h, before, after),
			P99: 1000 * histogramQuantile(0.99, h, before, after)}
	}
	if n := d("rerank_batch_tokens_count"); n > 0 {
		res.BatchFill = d("rerank_batch_tokens_sum") / n / float64(maxBatchTokens)
		perBatch = d("rerank_batch_size_sum") / n
	}
	res.setRates(unit, perS, serverPerS, perBatch)
	res.CacheHits = d("rerank_cache_hits_total")
}

func (r *loadReport) print(w io.Writer) {
	fmt.Fprintf(w, "server %s  model %s (%s)  max_batch_tokens %d  workers %d\n", r.URL, r.Model, r.DType, r.MaxBatchTokens, r.Workers)
	unit, bench := "pairs", r.BenchPairsPerS
	if r.Texts > 0 {
		unit, bench = "texts", r.BenchTextsPerS
		fmt.Fprintf(w, "workload: %d texts × %d tokens per request to %s", r.Texts, r.TextTokens, r.Route)
	} else {
		fmt.Fprintf(w, "workload rag: 1 query × %d documents per request to %s", r.Documents, r.Route)
	}
	if bench > 0 {
		fmt.Fprintf(w, "; rerank bench: %.3f %s/s", bench, unit)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%-12s %5s %5s %6s %5s %9s %9s %9s %9s %9s %9s %9s %9s %9s %6s %7s %6s\n", "level", "sent", "ok", "errors", "429",
		"q/s", unit+"/s", "tokens/s", "p50 ms", "p95 ms", "p99 ms", "queue ms", "q p95 ms", "q p99 ms", "fill", unit+"/b", "/bench")
	for _, l := range r.Levels {
		name := fmt.Sprintf("conc %d", l.Concurrency)
		if l.Mode == "rate" {
			name = fmt.Sprintf("rate %.3g", l.OfferedQPS)
		}
		nerr := 0
		for _, n := range l.Errors {
			nerr += n
		}
		ratio := "-"
		if l.BenchRatio > 0 {
			ratio = fmt.Sprintf("%.2f", l.BenchRatio)
		}
		perS, _, perBatch := l.rates()
		fmt.Fprintf(w, "%-12s %5d %5d %6d %5d %9.3f %9.2f %9.0f %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f %6.2f %7.1f %6s\n", name, l.Sent, l.OK, nerr,
			l.Errors["status 429"], l.QPS, perS, l.ServerTokensPS, l.LatencyMS.P50, l.LatencyMS.P95, l.LatencyMS.P99,
			l.QueueMS.Mean, l.QueueMS.P95, l.QueueMS.P99, l.BatchFill, perBatch, ratio)
		if nerr > 0 {
			fmt.Fprintf(w, "%-12s errors: %v\n", "", l.Errors)
		}
		if l.NotSent > 0 {
			fmt.Fprintf(w, "%-12s %d arrivals not sent: --max-in-flight reached\n", "", l.NotSent)
		}
	}
}
