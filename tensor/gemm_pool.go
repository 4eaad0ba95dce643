package tensor

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Parallel policy.
//
// A GEMM large enough to share (parallelMinFlops) is cut into tasks that own disjoint blocks of
// dst. The calling goroutine always works on its own call; it also recruits helpers, but only
// helpers that are idle at that moment (a non-blocking send to goroutines parked on an
// unbuffered channel). There are GOMAXPROCS−1 helpers, started on first use and parked between
// calls. So a lone caller runs on every core, while several goroutines calling GEMM at once
// (a server running several forwards) share the helpers and otherwise each run their own call:
// at most callers + GOMAXPROCS−1 goroutines ever do GEMM work, never a pool per call, and a
// caller never waits for a busy helper. Workers take tasks from an atomic counter, so a worker
// slowed by the rest of the machine simply takes fewer tasks.

// par is the task counter of one call and the wait for its helpers.
type par struct {
	next   atomic.Int64
	ntasks int64
	wg     sync.WaitGroup
}

var (
	helpersOnce sync.Once
	helperCh    chan *gemmCall
	nhelpers    int
)

// poolThreads starts the helpers on first use and returns how many goroutines a call may use.
func poolThreads() int {
	helpersOnce.Do(func() {
		nhelpers = runtime.GOMAXPROCS(0) - 1
		helperCh = make(chan *gemmCall)
		for range nhelpers {
			go helper()
		}
	})
	return 1 + nhelpers
}

func helper() {
	for c := range helperCh {
		c.work()
		c.tasks.wg.Done()
	}
}

// run executes ntasks tasks of c on the calling goroutine plus up to threads−1 idle helpers and
// returns when all are done.
func (p *par) run(c *gemmCall, ntasks, threads int) {
	p.next.Store(0)
	p.ntasks = int64(ntasks)
	for h := 1; h < min(threads, ntasks); h++ {
		p.wg.Add(1)
		select {
		case helperCh <- c:
			continue
		default:
			p.wg.Done()
		}
		break // no helper idle: do the rest ourselves
	}
	c.work()
	p.wg.Wait()
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
