package workers

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// TestProtocol checks the join/close protocol of a parallel run: helpers join only an open
// run of their generation, and the caller that closes a run with helpers inside is woken by
// the last one out.
func TestProtocol(t *testing.T) {
	var g Group
	g.done = make(chan struct{}, 1)
	g.state.Store(7 << 32) // generation 7, open
	if g.join(6) {
		t.Fatal("a stale request (generation 6) joined generation 7")
	}
	if !g.join(7) || !g.join(7) {
		t.Fatal("helpers could not join an open run")
	}
	g.leave() // one helper done while the run is open: no signal
	select {
	case <-g.done:
		t.Fatal("signal before the run was closed")
	default:
	}
	s := g.state.Load()
	if !g.state.CompareAndSwap(s, s|closed) || s&count != 1 {
		t.Fatalf("close: state %#x, want one helper inside", s)
	}
	if g.join(7) {
		t.Fatal("a helper joined a closed run")
	}
	g.leave() // last one out of a closed run
	select {
	case <-g.done:
	default:
		t.Fatal("the last helper out did not wake the caller")
	}
}

// countJob records which tasks ran and which slots worked.
type countJob struct {
	hits  []atomic.Int32
	slots []atomic.Int32
}

func (j *countJob) Work(g *Group) {
	slot := g.Slot()
	j.slots[slot].Add(1)
	for i, ok := g.Next(); ok; i, ok = g.Next() {
		j.hits[i].Add(1)
	}
}

// TestRun: every task runs exactly once, slots stay below Threads(), for back-to-back runs
// of one Group and for concurrent callers sharing the helpers.
func TestRun(t *testing.T) {
	n := Threads()
	var wg sync.WaitGroup
	for c := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var g Group
			for r := range 200 {
				ntasks := 1 + (r*7+c)%50
				j := &countJob{hits: make([]atomic.Int32, ntasks), slots: make([]atomic.Int32, n)}
				g.Run(j, ntasks, n)
				for i := range j.hits {
					if h := j.hits[i].Load(); h != 1 {
						t.Errorf("caller %d run %d: task %d ran %d times", c, r, i, h)
						return
					}
				}
				if j.slots[0].Load() != 1 {
					t.Errorf("caller %d run %d: slot 0 used %d times", c, r, j.slots[0].Load())
					return
				}
			}
		}()
	}
	wg.Wait()
	if n != runtime.GOMAXPROCS(0) && runtime.GOMAXPROCS(0) >= 1 {
		t.Errorf("Threads() = %d, want GOMAXPROCS %d", n, runtime.GOMAXPROCS(0))
	}
}

// TestRunDoesNotAllocate: a warm Group runs without allocating.
func TestRunDoesNotAllocate(t *testing.T) {
	var g Group
	j := &countJob{hits: make([]atomic.Int32, 64), slots: make([]atomic.Int32, Threads())}
	g.Run(j, 64, Threads())
	if a := testing.AllocsPerRun(50, func() { g.Run(j, 64, Threads()) }); a != 0 {
		t.Errorf("Run allocates %v times", a)
	}
}
