package server

import (
	"context"
	"errors"
	"slices"
	"sort"
	"sync"
	"time"
)

// errClosed is returned by submit after close.
var errClosed = errors.New("server: shutting down")

// batcher merges the pairs of concurrent requests into batches under a token budget and runs
// them on a fixed set of workers. The queue is FIFO over requests; each request enqueues its
// sequences sorted by length, so a batch holds sequences of similar lengths. The queue has no
// bound of its own: admission (admit.go) bounds the tokens that can be in it.
type batcher struct {
	score          func(seqs [][]int32, logits []float32) error
	maxBatchTokens int
	maxBatchSize   int
	m              *metrics
	rate           *rateMeter

	mu      sync.Mutex
	cond    *sync.Cond
	queue   []*item // FIFO; head at index 0
	pending int     // sequences queued (== len(queue))
	closed  bool
	wg      sync.WaitGroup
}

type job struct {
	ctx      context.Context
	enqueued time.Time
	logits   []float32

	mu        sync.Mutex
	remaining int
	started   bool
	err       error
	done      chan struct{}
}

type item struct {
	job  *job
	slot int
	ids  []int32
}

func newBatcher(workers, maxBatchTokens, maxBatchSize int, m *metrics, rate *rateMeter, score func([][]int32, []float32) error) *batcher {
	b := &batcher{score: score, maxBatchTokens: maxBatchTokens, maxBatchSize: maxBatchSize, m: m, rate: rate}
	b.cond = sync.NewCond(&b.mu)
	for range workers {
		b.wg.Add(1)
		go b.work()
	}
	return b
}

// submit queues seqs and waits for their logits. It returns ctx.Err() when ctx ends first;
// the request's pairs still queued are then dropped.
func (b *batcher) submit(ctx context.Context, seqs [][]int32) ([]float32, error) {
	if len(seqs) == 0 {
		return nil, nil
	}
	j := &job{ctx: ctx, enqueued: time.Now(), logits: make([]float32, len(seqs)), remaining: len(seqs), done: make(chan struct{})}
	order := make([]int, len(seqs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, c int) bool { return len(seqs[order[a]]) > len(seqs[order[c]]) })

	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, errClosed
	}
	for _, i := range order {
		b.queue = append(b.queue, &item{job: j, slot: i, ids: seqs[i]})
	}
	b.pending += len(seqs)
	b.m.setQueueDepth(b.pending)
	b.mu.Unlock()
	b.cond.Broadcast()

	select {
	case <-j.done:
		return j.logits, j.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// take pops the next batch; the caller holds b.mu. Sequences of requests whose context has
// ended are dropped.
func (b *batcher) take() []*item {
	var batch []*item
	tokens, n := 0, 0
	for n < len(b.queue) {
		it := b.queue[n]
		if it.job.ctx.Err() != nil {
			n++
			b.m.dropped.Inc()
			continue
		}
		if len(batch) > 0 && (tokens+len(it.ids) > b.maxBatchTokens || len(batch) >= b.maxBatchSize) {
			break
		}
		batch = append(batch, it)
		tokens += len(it.ids)
		n++
	}
	clear(b.queue[:n])
	b.queue = b.queue[n:]
	b.pending -= n
	b.m.setQueueDepth(b.pending)
	return batch
}

func (b *batcher) work() {
	defer b.wg.Done()
	var seqs [][]int32
	var logits []float32
	for {
		b.mu.Lock()
		for len(b.queue) == 0 && !b.closed {
			b.cond.Wait()
		}
		if len(b.queue) == 0 && b.closed {
			b.mu.Unlock()
			return
		}
		batch := b.take()
		b.mu.Unlock()
		if len(batch) == 0 {
			continue
		}
		now := time.Now()
		seqs, logits = seqs[:0], logits[:0]
		tokens := 0
		for _, it := range batch {
			seqs = append(seqs, it.ids)
			logits = append(logits, 0)
			tokens += len(it.ids)
			j := it.job
			j.mu.Lock()
			if !j.started {
				j.started = true
				b.m.queueTime.Observe(now.Sub(j.enqueued).Seconds())
			}
			j.mu.Unlock()
		}
		err := b.safeScore(seqs, logits)
		var errs map[*job]error
		if err != nil && len(jobsOf(batch)) > 1 {
			errs = b.isolate(batch, seqs, logits)
		}
		b.m.inferenceTime.Observe(time.Since(now).Seconds())
		if err == nil {
			b.rate.observe(tokens, time.Since(now))
		}
		b.m.batchSize.Observe(float64(len(batch)))
		b.m.batchTokens.Observe(float64(tokens))
		if err == nil {
			b.m.pairs.Add(float64(len(batch)))
			b.m.tokens.Add(float64(tokens))
		}
		for k, it := range batch {
			j := it.job
			jerr := err
			if errs != nil {
				jerr = errs[j]
			}
			j.mu.Lock()
			if jerr != nil && j.err == nil {
				j.err = jerr
			}
			j.logits[it.slot] = logits[k]
			j.remaining--
			if j.remaining == 0 {
				close(j.done)
			}
			j.mu.Unlock()
		}
		// drop references so the batch's ids can be collected
		clear(seqs)
	}
}

// jobsOf lists the requests of a batch, in order of first appearance.
func jobsOf(batch []*item) []*job {
	var jobs []*job
	for _, it := range batch {
		if !slices.Contains(jobs, it.job) {
			jobs = append(jobs, it.job)
		}
	}
	return jobs
}

// isolate re-runs a failed batch that several requests shared, one request at a time, so
// that only the request whose input makes the engine fail (or panic) gets an error.
func (b *batcher) isolate(batch []*item, seqs [][]int32, logits []float32) map[*job]error {
	errs := map[*job]error{}
	var sub [][]int32
	var out []float32
	for _, j := range jobsOf(batch) {
		sub, out = sub[:0], out[:0]
		var at []int
		for k, it := range batch {
			if it.job == j {
				sub, out, at = append(sub, seqs[k]), append(out, 0), append(at, k)
			}
		}
		errs[j] = b.safeScore(sub, out)
		for n, k := range at {
			logits[k] = out[n]
		}
	}
	b.m.isolated.Inc()
	return errs
}

// safeScore turns an engine panic into an error so one bad batch cannot kill the server.
func (b *batcher) safeScore(seqs [][]int32, logits []float32) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &panicError{r}
		}
	}()
	return b.score(seqs, logits)
}

type panicError struct{ v any }

func (e *panicError) Error() string { return "engine panic: " + fmtAny(e.v) }

// close stops taking requests, lets the workers finish what is queued, and waits for them.
func (b *batcher) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.cond.Broadcast()
	b.wg.Wait()
}
