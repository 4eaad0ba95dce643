package tensor

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Parallel policy.
//
// A GEMM large enough to share (parallelMinFlops) is cut into tasks that own disjoint blocks of
// dst. The calling goroutine always works on its own call, taking tasks from an atomic counter;
// it also posts up to GOMAXPROCS−1 requests for help to a small queue served by GOMAXPROCS−1
// helper goroutines, started on first use and parked between calls. A helper joins a call only
// while the call is still open; once the caller has run out of tasks it closes the call, waits
// for the helpers that joined (each finishes the task in hand) and returns, so a request that
// a busy helper picks up late is simply dropped: no caller ever waits for a helper that is
// working for someone else. A lone caller thus runs on every core, and several goroutines
// calling at once (a server running several forwards) share the helpers: at most callers +
// GOMAXPROCS−1 goroutines ever do GEMM work, never a pool per call. A worker slowed by the
// rest of the machine simply takes fewer tasks.
//
// The queue (rather than a hand-off to a parked helper) matters for back-to-back calls: a
// helper that has just finished the previous call is not parked yet when the next call starts.

// par is the parallel state of one call: the task counter and who has joined.
type par struct {
	next   atomic.Int64
	ntasks int64
	// state is gen<<32 | closed<<31 | helpers joined and not yet done. gen tells a request
	// for this call from a stale one for an earlier call that reused the same gemmCall.
	state atomic.Uint64
	done  chan struct{} // the last helper out of a closed call signals the caller
}

const (
	parClosed = 1 << 31
	parCount  = parClosed - 1
)

// helpRequest asks a helper to join call c if it is still in generation gen.
type helpRequest struct {
	c   *gemmCall
	gen uint32
}

var (
	helpersOnce sync.Once
	helpQueue   chan helpRequest
	nhelpers    int
	generation  atomic.Uint32
)

// poolThreads starts the helpers on first use and returns how many goroutines a call may use.
func poolThreads() int {
	helpersOnce.Do(func() {
		nhelpers = runtime.GOMAXPROCS(0) - 1
		helpQueue = make(chan helpRequest, max(nhelpers, 1))
		for range nhelpers {
			go helper()
		}
	})
	return 1 + nhelpers
}

func helper() {
	for r := range helpQueue {
		p := &r.c.tasks
		if p.join(r.gen) {
			r.c.work()
			p.leave()
		}
	}
}

// join enters the call if it is generation gen and still open.
func (p *par) join(gen uint32) bool {
	for {
		s := p.state.Load()
		if uint32(s>>32) != gen || s&parClosed != 0 {
			return false
		}
		if p.state.CompareAndSwap(s, s+1) {
			return true
		}
	}
}

// leave marks a helper done; the last one out of a closed call wakes the caller.
func (p *par) leave() {
	if s := p.state.Add(^uint64(0)); s&parClosed != 0 && s&parCount == 0 {
		p.done <- struct{}{}
	}
}

// run executes ntasks tasks of c on the calling goroutine plus up to threads−1 helpers and
// returns when all are done.
func (p *par) run(c *gemmCall, ntasks, threads int) {
	p.next.Store(0)
	p.ntasks = int64(ntasks)
	if threads > 1 && ntasks > 1 {
		if p.done == nil {
			p.done = make(chan struct{}, 1) // once per pooled gemmCall
		}
		gen := generation.Add(1)
		p.state.Store(uint64(gen) << 32) // opens the call: publishes c's fields to joiners
	post:
		for h := 1; h < min(threads, ntasks); h++ {
			select {
			case helpQueue <- helpRequest{c, gen}:
			default:
				break post // queue full: the helpers are busy
			}
		}
	}
	c.work()
	if threads > 1 && ntasks > 1 {
		for {
			s := p.state.Load()
			if p.state.CompareAndSwap(s, s|parClosed) {
				if s&parCount != 0 {
					<-p.done // helpers still finishing their last task
				}
				break
			}
		}
	}
}

// work takes tasks of c until none is left.
func (c *gemmCall) work() {
	buf := gemmBufs.Get().(*gemmBuf)
	for {
		t := c.tasks.next.Add(1) - 1
		if t >= c.tasks.ntasks {
			break
		}
		c.task(int(t), buf)
	}
	gemmBufs.Put(buf)
}
