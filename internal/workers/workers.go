// Package workers is the one pool of helper goroutines that every parallel kernel of the
// module shares (tensor's GEMMs, nn's attention and row kernels), so that however many
// kernels run at once, at most the callers plus GOMAXPROCS−1 helpers do kernel work: no
// oversubscription.
//
// A kernel call large enough to share is cut into tasks that write disjoint parts of its
// output. The calling goroutine always works on its own call, taking tasks from an atomic
// counter; it also posts up to threads−1 requests for help to a small queue served by the
// GOMAXPROCS−1 helpers, started on first use and parked between calls. A helper joins a call
// only while it is still open; once the caller has run out of tasks it closes the call, waits
// for the helpers that joined (each finishes the task in hand) and returns, so a request that
// a busy helper picks up late is simply dropped: no caller ever waits for a helper working
// for someone else. A lone caller thus runs on every core, concurrent callers share the
// helpers, and a worker slowed by the rest of the machine simply takes fewer tasks.
//
// The queue (rather than a hand-off to a parked helper) matters for back-to-back calls: a
// helper that has just finished the previous call is not parked yet when the next call
// starts. Nothing here allocates in steady state.
package workers

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Job is a kernel call cut into tasks. Work takes tasks with g.Next until there are none
// left; it runs on the caller and on every helper that joins.
type Job interface {
	Work(g *Group)
}

// Group is the parallel state of one call: the task counter and who has joined. Keep one per
// reusable call object (pooled), not per call: it holds a channel made on first parallel use.
type Group struct {
	next   atomic.Int64
	ntasks int64
	slots  atomic.Int32
	// state is gen<<32 | closed<<31 | helpers joined and not yet done. gen tells a request
	// for this run from a stale one for an earlier run of the same Group.
	state atomic.Uint64
	done  chan struct{} // the last helper out of a closed run signals the caller
}

const (
	closed = 1 << 31
	count  = closed - 1
)

// request asks a helper to join g's run gen with job j.
type request struct {
	g   *Group
	j   Job
	gen uint32
}

var (
	once       sync.Once
	queue      chan request
	nhelpers   int
	generation atomic.Uint32
)

// Threads starts the helpers on first use and returns how many goroutines may work on one
// call: 1 + GOMAXPROCS−1 at that moment.
func Threads() int {
	once.Do(func() {
		nhelpers = max(1, runtime.GOMAXPROCS(0)) - 1
		queue = make(chan request, max(nhelpers, 1))
		for range nhelpers {
			go helper()
		}
	})
	return 1 + nhelpers
}

func helper() {
	for {
		r := next()
		if r.g.join(r.gen) {
			r.j.Work(r.g)
			r.g.leave()
		}
	}
}

// spin is how long an idle helper keeps polling the queue before it parks. A forward pass
// issues its parallel kernels microseconds apart; a parked helper takes tens of microseconds
// to wake (a futex round trip on a virtual machine), which for a short input (one pair of 64
// tokens: GEMMs of under a millisecond) left a core idle a third of the time. Polling yields
// the processor to any other runnable goroutine (runtime.Gosched), so it delays no one; it
// burns at most this much CPU after the last kernel of a burst.
const spin = 200 * time.Microsecond

// next returns the next request, polling for up to spin before blocking.
func next() request {
	deadline := time.Now().Add(spin)
	for {
		select {
		case r := <-queue:
			return r
		default:
		}
		if time.Now().After(deadline) {
			return <-queue
		}
		runtime.Gosched()
	}
}

// Next returns the index of the next task and true, or false when none is left.
func (g *Group) Next() (int, bool) {
	t := g.next.Add(1) - 1
	return int(t), t < g.ntasks
}

// Tasks is the number of tasks of the current run.
func (g *Group) Tasks() int { return int(g.ntasks) }

// Slot returns an index in [0, threads) that no other goroutine of the current run has: call
// it once per Work to pick per-goroutine scratch space.
func (g *Group) Slot() int { return int(g.slots.Add(1) - 1) }

// join enters the run if it is generation gen and still open.
func (g *Group) join(gen uint32) bool {
	for {
		s := g.state.Load()
		if uint32(s>>32) != gen || s&closed != 0 {
			return false
		}
		if g.state.CompareAndSwap(s, s+1) {
			return true
		}
	}
}

// leave marks a helper done; the last one out of a closed run wakes the caller.
func (g *Group) leave() {
	if s := g.state.Add(^uint64(0)); s&closed != 0 && s&count == 0 {
		g.done <- struct{}{}
	}
}

// Run executes ntasks tasks of j on the calling goroutine plus up to threads−1 idle helpers
// (threads ≤ Threads()) and returns when all are done. j's fields must be set before Run:
// opening the run publishes them to the helpers.
func (g *Group) Run(j Job, ntasks, threads int) {
	g.next.Store(0)
	g.ntasks = int64(ntasks)
	g.slots.Store(0)
	parallel := threads > 1 && ntasks > 1
	if parallel {
		if g.done == nil {
			g.done = make(chan struct{}, 1) // once per Group
		}
		gen := generation.Add(1)
		g.state.Store(uint64(gen) << 32) // opens the run
	post:
		for h := 1; h < min(threads, ntasks, Threads()); h++ {
			select {
			case queue <- request{g, j, gen}:
			default:
				break post // queue full: the helpers are busy
			}
		}
	}
	j.Work(g)
	if parallel {
		for {
			s := g.state.Load()
			if g.state.CompareAndSwap(s, s|closed) {
				if s&count != 0 {
					// Helpers are still finishing their last task: wait for them, polling for
					// up to spin before parking (the last one out sends on done either way).
					for deadline := time.Now().Add(spin); g.state.Load()&count != 0 && time.Now().Before(deadline); {
						runtime.Gosched()
					}
					<-g.done
				}
				break
			}
		}
	}
}
