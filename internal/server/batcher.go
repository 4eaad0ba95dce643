package server

import (
	"context"
	"errors"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/gorerank/gorerank/xlmr"
)

// errClosed is returned by submit after close.
var errClosed = errors.New("server: shutting down")

// batcher merges the sequences of concurrent requests into batches under a token budget and
// runs them on a fixed set of workers shared by every served model. Each model has a lane:
// a FIFO queue over requests, each request's sequences sorted by length so that a batch holds
// sequences of similar lengths. A batch holds one model's sequences (one forward pass), and
// the workers take the lanes that have work in turn (round robin), so a long job of one model
// delays another model's requests by at most one batch (--max-batch-tokens) per other model:
// a long embedding job cannot starve rerank requests, nor the reverse. The queue has no bound
// of its own: admission (admit.go) bounds the tokens that can be in it.
type batcher struct {
	maxBatchTokens int
	maxBatchSize   int
	m              *metrics
	rate           *rateMeter

	mu      sync.Mutex
	cond    *sync.Cond
	lanes   []*lane
	next    int // the lane whose turn it is
	pending int // sequences queued in all lanes
	closed  bool
	wg      sync.WaitGroup
}

// lane is one served model's queue and forward pass. run computes the outputs want of seqs
// into out[k] for seqs[k].
type lane struct {
	name  string
	run   func(seqs [][]int32, want xlmr.Outputs, out []result) error
	queue []*item // FIFO; head at index 0
}

// result is one sequence's output: a reranker's logit or an embedder's embeddings.
type result struct {
	logit float32
	emb   xlmr.Embedding
}

type job struct {
	ctx      context.Context
	enqueued time.Time
	want     xlmr.Outputs
	out      []result

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

func newBatcher(workers, maxBatchTokens, maxBatchSize int, m *metrics, rate *rateMeter) *batcher {
	b := &batcher{maxBatchTokens: maxBatchTokens, maxBatchSize: maxBatchSize, m: m, rate: rate}
	b.cond = sync.NewCond(&b.mu)
	for range workers {
		b.wg.Add(1)
		go b.work()
	}
	return b
}

// lane adds a model's lane; call it before submitting to it.
func (b *batcher) lane(name string, run func(seqs [][]int32, want xlmr.Outputs, out []result) error) *lane {
	l := &lane{name: name, run: run}
	b.mu.Lock()
	b.lanes = append(b.lanes, l)
	b.mu.Unlock()
	return l
}

// submit queues seqs on l and waits for their results. It returns ctx.Err() when ctx ends
// first; the request's sequences still queued are then dropped.
func (b *batcher) submit(ctx context.Context, l *lane, seqs [][]int32, want xlmr.Outputs) ([]result, error) {
	if len(seqs) == 0 {
		return nil, nil
	}
	j := &job{ctx: ctx, enqueued: time.Now(), want: want, out: make([]result, len(seqs)), remaining: len(seqs), done: make(chan struct{})}
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
		l.queue = append(l.queue, &item{job: j, slot: i, ids: seqs[i]})
	}
	b.pending += len(seqs)
	b.m.setQueueDepth(b.pending)
	b.mu.Unlock()
	b.cond.Broadcast()

	select {
	case <-j.done:
		return j.out, j.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// turn picks the next lane with queued work, in turn; the caller holds b.mu and has checked
// that something is pending.
func (b *batcher) turn() *lane {
	for i := range b.lanes {
		l := b.lanes[(b.next+i)%len(b.lanes)]
		if len(l.queue) > 0 {
			b.next = (b.next + i + 1) % len(b.lanes)
			return l
		}
	}
	return nil
}

// take pops the next batch of l; the caller holds b.mu. Sequences of requests whose context
// has ended are dropped.
func (b *batcher) take(l *lane) []*item {
	var batch []*item
	tokens, n := 0, 0
	for n < len(l.queue) {
		it := l.queue[n]
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
	clear(l.queue[:n])
	l.queue = l.queue[n:]
	b.pending -= n
	b.m.setQueueDepth(b.pending)
	return batch
}

func (b *batcher) work() {
	defer b.wg.Done()
	var seqs [][]int32
	for {
		b.mu.Lock()
		for b.pending == 0 && !b.closed {
			b.cond.Wait()
		}
		if b.pending == 0 && b.closed {
			b.mu.Unlock()
			return
		}
		l := b.turn()
		batch := b.take(l)
		b.mu.Unlock()
		if len(batch) == 0 {
			continue
		}
		now := time.Now()
		seqs = seqs[:0]
		out := make([]result, len(batch))
		var want xlmr.Outputs
		tokens := 0
		for _, it := range batch {
			seqs = append(seqs, it.ids)
			tokens += len(it.ids)
			j := it.job
			want |= j.want
			j.mu.Lock()
			if !j.started {
				j.started = true
				b.m.queueTime.Observe(now.Sub(j.enqueued).Seconds())
			}
			j.mu.Unlock()
		}
		err := safeRun(l, seqs, want, out)
		var errs map[*job]error
		if err != nil && len(jobsOf(batch)) > 1 {
			errs = b.isolate(l, batch, seqs, want, out)
		}
		b.m.inferenceTime.Observe(time.Since(now).Seconds())
		b.m.batchSize.Observe(float64(len(batch)))
		b.m.batchTokens.Observe(float64(tokens))
		if err == nil {
			b.m.pairs.Add(float64(len(batch)))
			b.m.tokens.Add(float64(tokens))
			b.m.modelSeqs.WithLabelValues(l.name).Add(float64(len(batch)))
			b.m.modelTokens.WithLabelValues(l.name).Add(float64(tokens))
			b.rate.observe(tokens, time.Since(now))
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
			j.out[it.slot] = out[k]
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
func (b *batcher) isolate(l *lane, batch []*item, seqs [][]int32, want xlmr.Outputs, out []result) map[*job]error {
	errs := map[*job]error{}
	var sub [][]int32
	for _, j := range jobsOf(batch) {
		sub = sub[:0]
		var at []int
		for k, it := range batch {
			if it.job == j {
				sub, at = append(sub, seqs[k]), append(at, k)
			}
		}
		res := make([]result, len(sub))
		errs[j] = safeRun(l, sub, want, res)
		for n, k := range at {
			out[k] = res[n]
		}
	}
	b.m.isolated.Inc()
	return errs
}

// safeRun turns an engine panic into an error so one bad batch cannot kill the server.
func safeRun(l *lane, seqs [][]int32, want xlmr.Outputs, out []result) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &panicError{r}
		}
	}()
	return l.run(seqs, want, out)
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
