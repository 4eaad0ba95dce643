package tensor

//go:generate go run ./_gen

import (
	"sync"

	"github.com/gorerank/gorerank/internal/workers"
)

// This file is the one blocked GEMM driver of the package: GemmNT, GemmNN, MatMulNTF16,
// MatMulNTBF16 and MatMulNTBF16Compute all run it, on the building blocks of the CPU tier in
// use (tier.go); only the packing of b, the staging of a and the micro-kernel differ.
//
// dst (m,n) = a (m,k) · op(b), op(b) = bᵀ (b is (n,k): float32, F16 or BF16 weights) or b
// (GemmNN, b is (k,n) float32).
//
// Before the tasks start, a is prepared once per call (in row pieces shared by the workers):
// copied into a buffer of mpad = m rounded up to mr rows, zero rows below m, with a row
// stride of k plus 64 bytes (rounded to 64 bytes), and rounded to BF16 when the call asks for
// it. The kernels then read their mr rows of a in place from it: no per-block copies, no
// edge-row padding, and the stride keeps rows out of each other's L1 sets (read from the
// caller's buffer, rows of a stride that is a multiple of 4 KB, as every layer here has,
// fall in the same few sets, and 64×64×64 attention tiles ran 2× slower).
//
// The product is then cut into tasks, each a block of rows [i0,i1) × columns [j0,j1) of dst
// that owns its output (no two tasks write the same element, so tasks need no locks). A task
// walks k in slices of kc; for each slice it packs its columns of op(b) into kc×nr
// micro-panels (zero-padded to nr columns; L2-resident), then sweeps the rows mr at a time,
// running the micro-kernel on each panel (a task of at most fewRowBlocks row blocks goes the
// other way round: panel by panel, every row block on it). A tile at the edge (fewer than mr
// rows or nr columns) is computed into a small tile buffer and the part inside dst copied out.
//
// The BF16 dot path (MatMulNTBF16Compute on a tier with a dot kernel) differs in two places:
// the prepared a holds BF16 values, zero beyond k up to the next 64 elements (the kernel's
// depth is padded to its step: a pair, or 16 pairs for AMX), and the panels hold BF16 weight
// pairs (kc/2 rows of nr pairs).

// weightFormat says how b is stored.
type weightFormat uint8

const (
	weightF32 weightFormat = iota
	weightF16
	weightBF16
)

// Per-worker buffer bounds over all tiers: the packed block of b, the staged rows of a and
// an edge tile.
const (
	maxPanelFloats = 512 * 256
	maxTileFloats  = 32 * 32
)

// gemmBuf is one worker's scratch. About 790 KB; pooled.
type gemmBuf struct {
	b  [maxPanelFloats]float32    // packed float32 panels
	b2 [maxPanelFloats / 2]uint32 // packed BF16 pair panels (kc/2 × nc)
	c  [maxTileFloats]float32     // edge tile
}

var gemmBufs = sync.Pool{New: func() any { return new(gemmBuf) }}

// gemmCall is one GEMM: its operands, its tiling into tasks, and the task counter that the
// participating goroutines share.
type gemmCall struct {
	gemmOps
	tasks workers.Group
}

// gemmOps is the plain data of a gemmCall.
type gemmOps struct {
	transB        bool
	acc           bool
	wf            weightFormat // b's storage: bf (float32) or bh (16-bit bits)
	round         bool         // round a to BF16 (MatMulNTBF16Compute)
	dot           *dotKernel   // the BF16 pair kernel, when round and the tier has one
	dst, a, bf    []float32
	bh            []uint16
	pb            *PackedNT // b packed ahead (MatMulPackedNT), or nil
	ldd, lda, ldb int
	m, n, k       int
	ap            []float32 // prepared a: (mpad, lap), see prepA
	a16           []uint16  // dot path: prepared a in BF16, (mpad, lap)
	lap, mpad     int
	prep          bool
	sh            gemmShape
	tier          *cpuTier
	tm, tn        int // task block: tm rows (multiple of mr), tn columns (multiple of nr)
	ntm, ntn      int // tasks along m and along n
}

var callPool = sync.Pool{New: func() any { return new(gemmCall) }}

// gemm checks float32 operands and runs the blocked product on the current tier.
func gemm(op string, transB, acc bool, dst []float32, ldd int, a []float32, lda int, b []float32, ldb int, m, n, k int) {
	if m < 0 || n < 0 || k < 0 {
		panic("tensor: " + op + ": negative dimension")
	}
	if transB {
		checkStrided(op, dst, ldd, m, n, a, lda, m, k, b, ldb, n, k)
	} else {
		checkStrided(op, dst, ldd, m, n, a, lda, m, k, b, ldb, k, n)
	}
	run(gemmOps{transB: transB, acc: acc, wf: weightF32, dst: dst, a: a, bf: b, ldd: ldd, lda: lda, ldb: ldb, m: m, n: n, k: k})
}

// gemmHalf runs dst (m,n) = a (m,k) · bᵀ for dense operands with b (n,k) F16 or BF16 bits,
// a rounded to BF16 first when round.
func gemmHalf(op string, dst, a []float32, b []uint16, m, n, k int, wf weightFormat, round bool) {
	if m < 0 || n < 0 || k < 0 || len(dst) < m*n || len(a) < m*k || len(b) < n*k {
		panic("tensor: " + op + ": operand does not fit its slice")
	}
	run(gemmOps{transB: true, wf: wf, round: round, dst: dst, a: a, bh: b, ldd: n, lda: k, ldb: k, m: m, n: n, k: k})
}

// maxPrepRows is the most rows of a one call prepares at once: 2048 rows of the widest layer
// input (4096) are 34 MB. Above it, a product runs in row chunks, each packing its panels of b
// again (F32 weights packed ahead, PackNT, are not; others cost one more pass over b per
// 2048 rows, under 1% of the product).
const maxPrepRows = 2048

// parallelMinFlops is the size under which a GEMM runs on the calling goroutine alone: waking
// a helper costs from a few to tens of microseconds on a busy virtual machine, while 4 MFLOP
// take one core about 50µs: below that a second core does not pay for its wake-up.
const parallelMinFlops = 4 << 20

// run plans and executes one product.
func run(ops gemmOps) {
	if ops.m == 0 || ops.n == 0 {
		return
	}
	if ops.k == 0 {
		if !ops.acc {
			for i := 0; i < ops.m; i++ {
				clear(ops.dst[i*ops.ldd : i*ops.ldd+ops.n])
			}
		}
		return
	}
	if ops.m > maxPrepRows {
		// Tall products run in row chunks, so that the prepared copy of a stays bounded
		// (a (16384, 4096) activation would otherwise be copied whole: 268 MB).
		for i := 0; i < ops.m; i += maxPrepRows {
			sub := ops
			sub.m = min(maxPrepRows, ops.m-i)
			sub.dst, sub.a = ops.dst[i*ops.ldd:], ops.a[i*ops.lda:]
			run(sub)
		}
		return
	}
	c := callPool.Get().(*gemmCall)
	c.gemmOps = ops
	c.tier = active
	c.sh = c.tier.f32.gemmShape
	if c.round && c.tier.dot != nil {
		c.dot = c.tier.dot
		c.sh = c.dot.gemmShape
	}
	threads := 1
	if 2*float64(c.m)*float64(c.n)*float64(c.k) >= parallelMinFlops {
		threads = workers.Threads()
	}
	c.prepA(threads)
	c.plan(threads)
	c.tasks.Run(c, c.ntm*c.ntn, threads)
	putPrepared(c.ap, c.a16)
	c.gemmOps = gemmOps{} // drop the operands: a pooled call must not keep them alive
	callPool.Put(c)
}

// Work takes tasks of c until none is left (workers.Job).
func (c *gemmCall) Work(g *workers.Group) {
	if c.prep {
		for t, ok := g.Next(); ok; t, ok = g.Next() {
			c.prepRows(t, g.Tasks())
		}
		return
	}
	buf := gemmBufs.Get().(*gemmBuf)
	for t, ok := g.Next(); ok; t, ok = g.Next() {
		c.task(t, buf)
	}
	gemmBufs.Put(buf)
}

// prepA prepares a for the kernels (see the top of this file), in up to 4·threads row pieces.
func (c *gemmCall) prepA(threads int) {
	c.mpad = roundUp(c.m, c.sh.mr)
	c.lap = roundUp(c.k, 16) + 16 // 64 bytes more than the row, in floats
	if c.dot != nil {
		c.lap = roundUp(c.k, 32) + 32 // the same in BF16 values; zero from k on (see prepRows)
	}
	c.ap, c.a16 = getPrepared(c.mpad*c.lap, c.dot != nil)
	c.prep = true
	c.tasks.Run(c, min(c.mpad/c.sh.mr, 4*threads), threads)
	c.prep = false
}

// prepRows fills piece q of nq of the prepared rows.
func (c *gemmCall) prepRows(q, nq int) {
	for i := c.mpad * q / nq; i < c.mpad*(q+1)/nq; i++ {
		switch {
		case c.dot != nil:
			row := c.a16[i*c.lap : (i+1)*c.lap]
			if i < c.m {
				c.dot.toBF16(row[:c.k], c.a[i*c.lda:i*c.lda+c.k])
				clear(row[c.k:])
			} else {
				clear(row)
			}
		case i >= c.m:
			clear(c.ap[i*c.lap : i*c.lap+c.k])
		case c.round:
			c.tier.roundBF16(c.ap[i*c.lap:i*c.lap+c.k], c.a[i*c.lda:i*c.lda+c.k])
		default:
			copy(c.ap[i*c.lap:i*c.lap+c.k], c.a[i*c.lda:i*c.lda+c.k])
		}
	}
}

// Prepared-a buffers are kept on a short free list rather than in a sync.Pool: they can be
// megabytes, and a pool drops its items at every garbage collection.
var prepared struct {
	sync.Mutex
	f32 [][]float32
	b16 [][]uint16
}

// getPrepared returns a buffer of n float32 (or, for bf16, n uint16) values.
func getPrepared(n int, bf16 bool) ([]float32, []uint16) {
	prepared.Lock()
	defer prepared.Unlock()
	if bf16 {
		var b []uint16
		if l := len(prepared.b16); l > 0 {
			b, prepared.b16 = prepared.b16[l-1], prepared.b16[:l-1]
		}
		if cap(b) < n {
			b = make([]uint16, n)
		}
		return nil, b[:n]
	}
	var f []float32
	if l := len(prepared.f32); l > 0 {
		f, prepared.f32 = prepared.f32[l-1], prepared.f32[:l-1]
	}
	if cap(f) < n {
		f = make([]float32, n)
	}
	return f[:n], nil
}

// putPrepared hands the buffers back; at most maxPrepared of each kind are kept (one per
// concurrent call is enough).
func putPrepared(f []float32, b []uint16) {
	const maxPrepared = 8
	prepared.Lock()
	defer prepared.Unlock()
	if f != nil && len(prepared.f32) < maxPrepared {
		prepared.f32 = append(prepared.f32, f)
	}
	if b != nil && len(prepared.b16) < maxPrepared {
		prepared.b16 = append(prepared.b16, b)
	}
}

// plan picks the task blocks: columns in blocks of at most nc, in a count that is a multiple of
// threads; rows split further only when that gives fewer than two tasks per thread. Workers
// take tasks dynamically, so a thread slowed by a neighbour on the machine takes fewer.
func (c *gemmOps) plan(threads int) {
	sh := c.sh
	c.tn = min(sh.nc, roundUp(c.n, sh.nr))
	c.ntn = ceilDiv(c.n, c.tn)
	if threads > 1 && c.ntn%threads != 0 && c.ntn > threads {
		// Equal shares: a task count that is a multiple of threads, of near-equal widths.
		c.ntn = roundUp(c.ntn, threads)
		c.tn = roundUp(ceilDiv(c.n, c.ntn), sh.nr)
		c.ntn = ceilDiv(c.n, c.tn)
	}
	c.ntm = 1
	if want := 2 * threads; threads > 1 && c.ntn < want {
		// Too few column blocks: split rows too (each row block packs its own b panels).
		c.ntm = min(ceilDiv(want, c.ntn), ceilDiv(c.m, sh.mr))
	}
	c.tm = roundUp(ceilDiv(c.m, c.ntm), sh.mr)
	c.ntm = ceilDiv(c.m, c.tm)
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
func roundUp(a, b int) int { return ceilDiv(a, b) * b }

// task computes the dst block of task t with scratch buf.
func (c *gemmCall) task(t int, buf *gemmBuf) {
	sh := c.sh
	i0 := (t / c.ntn) * c.tm
	j0 := (t % c.ntn) * c.tn
	i1 := min(i0+c.tm, c.m)
	j1 := min(j0+c.tn, c.n)
	for p0 := 0; p0 < c.k; p0 += sh.kc {
		kc := min(sh.kc, c.k-p0)
		add := c.acc || p0 > 0
		if c.dot != nil {
			c.dotSlice(buf, i0, i1, j0, j1, p0, kc, add)
			continue
		}
		packed := c.pb.panel(c.tier, p0, kc, j0)
		if packed == nil {
			c.packB(buf.b[:], p0, kc, j0, j1)
			packed = buf.b[:]
		}
		if i1-i0 <= fewRowBlocks*sh.mr {
			// Few rows (a short query): each panel once, for all row blocks while it is in L1.
			for j := j0; j < j1; j += sh.nr {
				for i := i0; i < i1; i += sh.mr {
					c.tile(buf, packed[(j-j0)*kc:], i, i1, j, j1, p0, kc, add)
				}
			}
			continue
		}
		for i := i0; i < i1; i += sh.mr {
			for j := j0; j < j1; j += sh.nr {
				c.tile(buf, packed[(j-j0)*kc:], i, i1, j, j1, p0, kc, add)
			}
		}
	}
}

// fewRowBlocks is the most row blocks of a task that run panel by panel (all row blocks on
// one panel, then the next) rather than row block by row block (one row block across the
// task's panels, then the next). With few rows of a the weights cannot be reused from cache
// across many row blocks anyway: going panel by panel reads each panel from memory once and
// again from L1 for the other row blocks, where the other order reads the whole column block
// again from L2 or, on CPUs with a 512 KB L2 such as Zen 3, partly from L3.
const fewRowBlocks = 4

// tile runs the micro-kernel for rows [i, min(i+mr, i1)) × columns [j, min(j+nr, j1)) of dst
// on the k slice [p0, p0+kc), with bp the packed panel of those columns.
func (c *gemmCall) tile(buf *gemmBuf, bp []float32, i, i1, j, j1, p0, kc int, add bool) {
	sh := c.sh
	rows, cols := min(sh.mr, i1-i), min(sh.nr, j1-j)
	a := c.ap[i*c.lap+p0:]
	h, tile := sh.mr, c.tier.f32.tile // kernel height: lower for the last rows where the tier allows
	if rows < sh.mr && c.tier.f32.short != nil {
		h, tile = c.tier.f32.short(rows)
	}
	if rows == h && cols == sh.nr {
		tile(kc, a, c.lap, bp, c.dst[i*c.ldd+j:], c.ldd, add)
		return
	}
	tile(kc, a, c.lap, bp, buf.c[:], sh.nr, false)
	c.edge(buf.c[:], i, rows, j, cols, add)
}

// dotSlice is task's k slice [p0, p0+kc) on the BF16 pair kernel.
func (c *gemmCall) dotSlice(buf *gemmBuf, i0, i1, j0, j1, p0, kc int, add bool) {
	sh, d := c.sh, c.dot
	kp := roundUp(ceilDiv(kc, 2), d.kstep) // pairs, padded to the kernel's step
	for j := j0; j < j1; j += sh.nr {
		cols := min(sh.nr, j1-j)
		panel := buf.b2[(j-j0)*kp : (j-j0)*kp+kp*sh.nr]
		if cols < sh.nr || 2*kp > kc {
			clear(panel)
		}
		d.packPairs(panel, sh.nr, c.bh, c.ldb, j, cols, p0, kc/2)
		if kc%2 == 1 { // odd k: the last pair is (w[k-1], 0)
			for q := 0; q < cols; q++ {
				panel[(kc/2)*sh.nr+q] = uint32(c.bh[(j+q)*c.ldb+p0+kc-1])
			}
		}
	}
	for i := i0; i < i1; i += sh.mr {
		rows := min(sh.mr, i1-i)
		a := c.a16[i*c.lap+p0:]
		for j := j0; j < j1; j += sh.nr {
			cols := min(sh.nr, j1-j)
			bp := buf.b2[(j-j0)*kp:]
			if rows == sh.mr && cols == sh.nr {
				d.tile(kp, a, c.lap, bp, c.dst[i*c.ldd+j:], c.ldd, add)
				continue
			}
			d.tile(kp, a, c.lap, bp, buf.c[:], sh.nr, false)
			c.edge(buf.c[:], i, rows, j, cols, add)
		}
	}
}

// edge copies (or adds) the rows × cols part of a tile computed into tile (stride nr) into
// dst at (i, j).
func (c *gemmOps) edge(tile []float32, i, rows, j, cols int, add bool) {
	nr := c.sh.nr
	for r := 0; r < rows; r++ {
		d := c.dst[(i+r)*c.ldd+j : (i+r)*c.ldd+j+cols]
		s := tile[r*nr : r*nr+cols]
		if add {
			for x := range d {
				d[x] += s[x]
			}
		} else {
			copy(d, s)
		}
	}
}

// packB packs columns [j0,j1) × k rows [p0,p0+kc) of op(b) into dst as consecutive kc×nr
// micro-panels (panel q holds columns j0+q·nr.., row p at dst[q·kc·nr + p·nr:]), zero-padding
// the last panel to nr columns.
func (c *gemmOps) packB(dst []float32, p0, kc, j0, j1 int) {
	nr := c.sh.nr
	for j := j0; j < j1; j += nr {
		cols := min(nr, j1-j)
		panel := dst[(j-j0)*kc : (j-j0)*kc+kc*nr]
		if cols < nr {
			clear(panel)
		}
		switch {
		case c.wf != weightF32:
			c.tier.widen(panel, nr, c.bh, c.ldb, j, cols, p0, kc, c.wf)
		case c.transB:
			// op(b) = bᵀ: column j of op(b) is row j of b, contiguous in k.
			c.tier.packNT(panel, nr, c.bf, c.ldb, j, cols, p0, kc)
		default:
			// op(b) = b: row p of the panel is a contiguous piece of row p0+p of b.
			c.tier.packNN(panel, nr, c.bf[p0*c.ldb+j:], c.ldb, cols, kc)
		}
	}
}
