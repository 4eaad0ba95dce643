package nn

import "github.com/gorerank/gorerank/internal/workers"

// Parallel policy: the large calls of the row kernels and of attention are cut into
// independent tasks that write disjoint parts of dst and run on the calling goroutine plus
// idle helpers of the module's one worker pool (internal/workers, shared with package
// tensor's GEMMs). Calls are described by a *call from a fixed free list, so steady-state use
// does not allocate.

// job is a kernel cut into tasks; slot (0 ≤ slot < threads()) identifies the goroutine, for
// per-goroutine work space.
type job interface {
	task(i, slot int)
}

type call struct {
	j     job
	group workers.Group

	// parameter blocks of the parallel kernels; j points at one of them
	rows rowJob
	attn attnJob
}

var freeCalls = make(chan *call, 64)

// threads is how many goroutines may run one call.
func threads() int { return workers.Threads() }

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
func (c *call) run(ntasks int) { c.group.Run(c, ntasks, threads()) }

// Work takes tasks of c.j until none is left (workers.Job).
func (c *call) Work(g *workers.Group) {
	slot := g.Slot()
	for t, ok := g.Next(); ok; t, ok = g.Next() {
		c.j.task(t, slot)
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
