package nn

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Parallel policy (the same as package tensor's GEMM): a kernel call large enough to share is
// cut into independent tasks that write disjoint parts of dst. The calling goroutine always
// works on its own call and recruits only helpers that are idle at that moment (non-blocking
// send to goroutines parked on an unbuffered channel). There are GOMAXPROCS−1 helpers, started
// on first use. A lone caller thus uses every core, several concurrent callers share the
// helpers, and nobody waits for a busy helper. Tasks are taken from an atomic counter.
//
// Calls are described by a *call from a fixed free list, so steady-state use does not allocate.

// job is a kernel cut into tasks; slot (0 ≤ slot < threads()) identifies the goroutine, for
// per-goroutine work space.
type job interface {
	task(i, slot int)
}

type call struct {
	j      job
	next   atomic.Int64
	ntasks int64
	slots  atomic.Int32
	wg     sync.WaitGroup

	// parameter blocks of the parallel kernels; j points at one of them
	rows rowJob
	attn attnJob
}

var (
	poolOnce    sync.Once
	poolCh      chan *call
	poolThreads int
	freeCalls   = make(chan *call, 64)
)

// threads starts the helpers on first use and returns how many goroutines may run one call.
func threads() int {
	poolOnce.Do(func() {
		poolThreads = max(1, runtime.GOMAXPROCS(0))
		poolCh = make(chan *call)
		for range poolThreads - 1 {
			go func() {
				for c := range poolCh {
					c.work()
					c.wg.Done()
				}
			}()
		}
	})
	return poolThreads
}

func getCall() *call {
	select {
	case c := <-freeCalls:
		return c
	default:
		return new(call)
	}
}

func putCall(c *call) {
	c.j, c.rows, c.attn = nil, rowJob{}, attnJob{} // drop references to the caller's slices
	select {
	case freeCalls <- c:
	default:
	}
}

// run executes ntasks tasks of c.j on the caller plus idle helpers and returns when all are done.
func (c *call) run(ntasks int) {
	c.next.Store(0)
	c.ntasks = int64(ntasks)
	c.slots.Store(0)
	for h := 1; h < min(threads(), ntasks); h++ {
		c.wg.Add(1)
		select {
		case poolCh <- c:
			continue
		default:
			c.wg.Done()
		}
		break // no helper idle: do the rest ourselves
	}
	c.work()
	c.wg.Wait()
}

func (c *call) work() {
	slot := int(c.slots.Add(1) - 1)
	for {
		t := c.next.Add(1) - 1
		if t >= c.ntasks {
			return
		}
		c.j.task(int(t), slot)
	}
}

// rowMinParallel is the element count under which a row kernel stays on the calling goroutine.
const rowMinParallel = 1 << 15

type rowKind int

const (
	rowGELU rowKind = iota
	rowLayerNorm
	rowAddLayerNorm
)

// rowJob is a row-wise kernel over (rows,n) cut into chunks of rows.
type rowJob struct {
	kind              rowKind
	dst, x, res, w, b []float32
	rows, n, chunk    int
	eps               float32
}

func (j *rowJob) task(i, _ int) {
	lo := i * j.chunk
	hi := min(j.rows, lo+j.chunk)
	d, x := j.dst[lo*j.n:hi*j.n], j.x[lo*j.n:hi*j.n]
	switch j.kind {
	case rowGELU:
		addBiasGELU(d, x, j.b, hi-lo, j.n)
	case rowLayerNorm:
		layerNorm(d, x, j.w, j.b, hi-lo, j.n, j.eps)
	case rowAddLayerNorm:
		addLayerNorm(d, x, j.res[lo*j.n:hi*j.n], j.w, j.b, hi-lo, j.n, j.eps)
	}
}

// parallelRows runs j over its rows, in parallel when the call is large enough; it reports
// false (doing nothing) when the caller should run the kernel itself.
func parallelRows(j rowJob) bool {
	if j.rows < 2 || j.rows*j.n < rowMinParallel || threads() == 1 {
		return false
	}
	ntasks := min(j.rows, max(threads()*4, j.rows*j.n/rowMinParallel))
	j.chunk = (j.rows + ntasks - 1) / ntasks
	ntasks = (j.rows + j.chunk - 1) / j.chunk
	c := getCall()
	c.rows = j
	c.j = &c.rows
	c.run(ntasks)
	putCall(c)
	return true
}
