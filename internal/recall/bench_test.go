package recall

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorerank/gorerank/internal/workers"
)

// Benchmarks on synthetic data: bge-m3-sized dense rows (dimension 1024, random unit vectors)
// and sparse rows of ~60 Zipf-distributed token ids, at 100k and 1M rows, k = 50.
//
//	go test -run '^$' -bench . -benchtime 20x ./internal/recall
//
// An index is built once per size and format and kept for the sub-benchmarks that use it (one
// at a time: 1M F32 rows are 4.1 GB). A size that does not fit in the memory available
// (MemAvailable in /proc/meminfo, less a 2 GiB margin) is skipped, saying so.

const benchDim, benchK = 1024, 50

var benchSizes = []struct {
	name string
	n    int
}{{"100k", 100_000}, {"1M", 1_000_000}}

// cpuTime is the user+system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loop runs body as b.Loop does and reports cpu-ms/op, the CPU time of the process per
// iteration (all threads): on a machine shared with other work, the wall time per op is noise
// from the neighbours, the CPU time much less so (a quiet 2-core run takes about half of it in
// wall time where both cores are busy).
func loop(b *testing.B, body func(i int)) {
	var c0 time.Duration
	n := 0
	for b.Loop() {
		if n == 0 {
			c0 = cpuTime()
		}
		body(n)
		n++
	}
	if n > 1 {
		b.ReportMetric(float64(cpuTime()-c0)/1e6/float64(n), "cpu-ms/op")
	}
}

// benchCache holds the one index built last.
var benchCache struct {
	key   string
	dense *Dense
	sp    *Sparse
}

func dropBenchCache() {
	benchCache.key, benchCache.dense, benchCache.sp = "", nil, nil
	runtime.GC()
	debug.FreeOSMemory()
}

// memAvailable is MemAvailable from /proc/meminfo in bytes, or -1 when unknown.
func memAvailable() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return -1
}

// needMemory skips b when need bytes (plus a margin) are not available.
func needMemory(b *testing.B, what string, need int64) {
	if avail := memAvailable(); avail >= 0 && need+2<<30 > avail {
		b.Skipf("%s needs %.1f GiB and %.1f GiB are available (MemAvailable, less a 2 GiB margin): skipped", what, float64(need)/(1<<30), float64(avail-2<<30)/(1<<30))
	}
}

// fastUnit fills v with a random unit vector: uniform values in [-1,1), normalised (fast to
// draw; dot products between such vectors are distributed as for uniform unit vectors, about
// N(0, 1/dim)).
func fastUnit(r *rand.Rand, v []float32) {
	var ss float64
	for i := 0; i < len(v); i += 2 {
		x := r.Uint64()
		v[i] = float32(int32(x)) * 0x1p-31
		if i+1 < len(v) {
			v[i+1] = float32(int32(x>>32)) * 0x1p-31
		}
	}
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	inv := float32(1 / math.Sqrt(ss))
	for i := range v {
		v[i] *= inv
	}
}

func benchDense(b *testing.B, f Format, n int) *Dense {
	key := fmt.Sprintf("dense %s %d", f, n)
	if benchCache.key == key {
		return benchCache.dense
	}
	need := int64(n) * int64(RowBytes(f, benchDim)+8)
	if benchCache.key != "" {
		dropBenchCache()
	}
	needMemory(b, key, need)
	d := NewDense(f, benchDim)
	r := rand.New(rand.NewPCG(uint64(n), uint64(f)))
	v := make([]float32, benchDim)
	for range n {
		fastUnit(r, v)
		if _, err := d.Append(v); err != nil {
			b.Fatal(err)
		}
	}
	benchCache.key, benchCache.dense = key, d
	return d
}

// BenchmarkDenseSearch: one query against every row, k = 50. candidates/op is the number of
// rows scored exactly (the rest only by the kernels).
func BenchmarkDenseSearch(b *testing.B) {
	for _, f := range formats {
		for _, sz := range benchSizes {
			b.Run(f.String()+"/"+sz.name, func(b *testing.B) {
				d := benchDense(b, f, sz.n)
				r := rand.New(rand.NewPCG(99, 1))
				qs := make([][]float32, 16)
				for i := range qs {
					qs[i] = make([]float32, benchDim)
					fastUnit(r, qs[i])
				}
				ctx := context.Background()
				var cand atomic.Int64
				count := func(int) bool { cand.Add(1); return true }
				for _, q := range qs {
					if _, err := d.Search(ctx, q, benchK, count); err != nil {
						b.Fatal(err)
					}
				}
				b.SetBytes(int64(sz.n) * int64(RowBytes(f, benchDim)))
				loop(b, func(i int) {
					if _, err := d.Search(ctx, qs[i%len(qs)], benchK, nil); err != nil {
						b.Fatal(err)
					}
				})
				b.ReportMetric(float64(cand.Load())/float64(len(qs)), "candidates/op")
			})
		}
	}
}

// kernelJob runs only the approximate kernels of a search over every chunk, on the same
// workers: the part of BenchmarkDenseSearch that is not selection and exact re-scoring.
type kernelJob struct {
	j     *denseJob
	slots []*denseSlot
	g     workers.Group
}

func (k *kernelJob) Work(g *workers.Group) {
	s := k.slots[g.Slot()]
	for t, ok := g.Next(); ok; t, ok = g.Next() {
		c := k.j.chunks[t]
		rows := min(chunkRows, k.j.n-t*chunkRows)
		for b := 0; b < rows; b += k.j.d.kernRows {
			k.j.approx(s, c, b, min(k.j.d.kernRows, rows-b))
		}
	}
}

// BenchmarkDenseKernel: the kernels alone (see kernelJob).
func BenchmarkDenseKernel(b *testing.B) {
	for _, f := range formats {
		for _, sz := range benchSizes {
			b.Run(f.String()+"/"+sz.name, func(b *testing.B) {
				d := benchDense(b, f, sz.n)
				q := make([]float32, benchDim)
				fastUnit(rand.New(rand.NewPCG(5, 5)), q)
				j := &denseJob{d: d, query: q, ctx: context.Background()}
				j.n, j.chunks = d.snapshot()
				j.prepare()
				tasks := ceilDiv(j.n, chunkRows)
				threads := min(workers.Threads(), tasks)
				kj := &kernelJob{j: j}
				for range threads {
					kj.slots = append(kj.slots, &denseSlot{scores: make([]float32, d.kernRows)})
				}
				b.SetBytes(int64(sz.n) * int64(RowBytes(f, benchDim)))
				loop(b, func(int) { kj.g.Run(kj, tasks, threads) })
			})
		}
	}
}

// BenchmarkMemoryBandwidth: copy between two 512 MiB buffers on every core (each core its
// share): bytes/s counts what is read plus what is written. The ceiling for a search that
// streams its rows from memory once.
func BenchmarkMemoryBandwidth(b *testing.B) {
	const size = 512 << 20
	needMemory(b, "bandwidth", 2*size)
	src, dst := make([]byte, size), make([]byte, size)
	for i := range src {
		src[i], dst[i] = byte(i), 1 // touch every page before timing
	}
	threads := runtime.GOMAXPROCS(0)
	b.SetBytes(2 * size)
	for b.Loop() {
		var wg sync.WaitGroup
		for t := range threads {
			wg.Add(1)
			go func() {
				defer wg.Done()
				lo, hi := size*t/threads, size*(t+1)/threads
				copy(dst[lo:hi], src[lo:hi])
			}()
		}
		wg.Wait()
	}
}

// BenchmarkMemoryRead: every core reads its share of 1 GiB (8-byte loads, four streams):
// the read bandwidth a search that streams its rows from memory once cannot beat.
func BenchmarkMemoryRead(b *testing.B) {
	const words = 128 << 20 // 1 GiB
	needMemory(b, "read bandwidth", 8*words)
	buf := make([]uint64, words)
	for i := range buf {
		buf[i] = uint64(i)
	}
	threads := runtime.GOMAXPROCS(0)
	var sink atomic.Uint64
	b.SetBytes(8 * words)
	for b.Loop() {
		var wg sync.WaitGroup
		for t := range threads {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p := buf[words*t/threads : words*(t+1)/threads]
				var x0, x1, x2, x3 uint64
				for i := 0; i+4 <= len(p); i += 4 {
					x0 ^= p[i]
					x1 ^= p[i+1]
					x2 ^= p[i+2]
					x3 ^= p[i+3]
				}
				sink.Add(x0 ^ x1 ^ x2 ^ x3)
			}()
		}
		wg.Wait()
	}
}

// zipfSparse draws a sparse vector of nnz distinct ids, Zipf-distributed over the bge-m3
// vocabulary (s = 1.1: a few ids in most rows, most ids rare), weights uniform in (0, 0.4].
func zipfSparse(z *rand.Zipf, r *rand.Rand, nnz int, ids []int32, vals []float32) ([]int32, []float32) {
	ids, vals = ids[:0], vals[:0]
outer:
	for len(ids) < nnz {
		id := int32(z.Uint64())
		for _, x := range ids {
			if x == id {
				continue outer
			}
		}
		ids = append(ids, id)
		vals = append(vals, float32(r.Float64()*0.4)+1e-3)
	}
	return ids, vals
}

func benchSparse(b *testing.B, n int) *Sparse {
	key := fmt.Sprintf("sparse %d", n)
	if benchCache.key == key {
		return benchCache.sp
	}
	if benchCache.key != "" {
		dropBenchCache()
	}
	needMemory(b, key, int64(n)*60*8*2)
	s := NewSparse(M3Vocab)
	r := rand.New(rand.NewPCG(uint64(n), 7))
	z := rand.NewZipf(r, 1.1, 1, M3Vocab-1)
	var ids []int32
	var vals []float32
	for row := range n {
		ids, vals = zipfSparse(z, r, 60, ids, vals)
		if err := s.Add(row, ids, vals); err != nil {
			b.Fatal(err)
		}
	}
	benchCache.key, benchCache.sp = key, s
	return s
}

// BenchmarkSparseSearch: a query of 20 (a question) or 60 (a passage) Zipf-distributed tokens
// against every row, k = 50. postings/op is the number of postings the query's tokens hold.
func BenchmarkSparseSearch(b *testing.B) {
	for _, sz := range benchSizes {
		for _, qn := range []int{20, 60} {
			b.Run(fmt.Sprintf("%s/q%d", sz.name, qn), func(b *testing.B) {
				s := benchSparse(b, sz.n)
				r := rand.New(rand.NewPCG(42, uint64(qn)))
				z := rand.NewZipf(r, 1.1, 1, M3Vocab-1)
				type q struct {
					ids  []int32
					vals []float32
				}
				qs := make([]q, 16)
				var post int
				for i := range qs {
					qs[i].ids, qs[i].vals = zipfSparse(z, r, qn, nil, nil)
					for _, id := range qs[i].ids {
						post += len(s.lists[id])
					}
				}
				ctx := context.Background()
				loop(b, func(i int) {
					x := qs[i%len(qs)]
					if _, err := s.Search(ctx, x.ids, x.vals, benchK, nil); err != nil {
						b.Fatal(err)
					}
				})
				b.ReportMetric(float64(post)/float64(len(qs)), "postings/op")
			})
		}
	}
}
