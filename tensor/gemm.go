package tensor

//go:generate go run ./_gen -out gemm_amd64.s

import (
	"github.com/gorerank/gorerank/internal/workers"
	"sync"
)

// This file is the blocked GEMM driver shared by every CPU tier (see doc.go for the design).
//
// dst (m,n) = a (m,k) · op(b), op(b) = bᵀ (GemmNT, b is (n,k)) or b (GemmNN, b is (k,n)).
//
// The product is cut into tasks, each a block of rows [i0,i1) × columns [j0,j1) of dst that
// owns its output (no two tasks write the same element, so tasks need no locks). A task walks
// k in slices of kc; for each slice it packs its columns of op(b) into kc×nr micro-panels
// (zero-padded to nr columns; L2-resident), then sweeps the rows mr at a time: it copies the
// mr×kc block of a into a contiguous buffer (L1-resident for the sweep over the panels) and
// runs the micro-kernel on each panel. The copy is small (mr·kc floats per tn/nr kernel calls,
// no difference measurable on the layer shapes) and makes the kernel's loads independent of
// lda: read in place, rows of a stride that is a multiple of 4 KB (every layer here: 1024 or
// 4096 floats) fall in the same few L1 sets, and depending on where the buffers happened to
// lie, 64×64×64 attention tiles ran 2× slower. A column remainder (< nr columns) goes through
// a small tile buffer.

// gemmTier is a CPU tier: which micro-kernel the driver calls.
type gemmTier int

const (
	tierGeneric gemmTier = iota // pure Go, every GOARCH
	tierAVX2                    // amd64 AVX2+FMA, 6×16 tile in Y registers
	tierAVX512                  // amd64 AVX-512F, 12×32 tile in Z registers

	// tierSim512 is for tests only: the AVX-512 blocking (12×32 tiles) with the Go reference
	// tile kernel, so that the driver paths of that shape run on machines without AVX-512.
	tierSim512
)

func (t gemmTier) String() string {
	switch t {
	case tierAVX2:
		return "avx2"
	case tierAVX512:
		return "avx512"
	case tierSim512:
		return "sim512"
	default:
		return "generic"
	}
}

// gemmShape holds a tier's blocking: the micro-tile (mr×nr), the k slice kc and the widest
// column block of a task (nc, a multiple of nr) so that a packed kc×nc block stays in L2.
// The AVX2 numbers were picked on Zen 3 (512 KB L2) by alternating runs against OpenBLAS on
// the layer shapes: kc 512 / nc 256 beat 256/128, 384/256 and 512/128. The AVX-512 numbers
// are untuned (no such machine was at hand): a 256×256 block is 256 KB, half of what Intel
// server cores have.
type gemmShape struct{ mr, nr, kc, nc int }

func (t gemmTier) shape() gemmShape {
	switch t {
	case tierAVX2:
		return gemmShape{mr: 6, nr: 16, kc: 512, nc: 256}
	case tierAVX512, tierSim512:
		return gemmShape{mr: 12, nr: 32, kc: 256, nc: 256}
	default:
		return gemmShape{mr: 4, nr: 4, kc: 256, nc: 128}
	}
}

// tier is the kernel tier used by GemmNT and GemmNN, chosen once from the CPU features
// (bestTier, per GOARCH). Tests switch it with useTier; nothing else writes it.
var tier = bestTier()

// maxTileFloats bounds mr·nr and maxPanelFloats bounds kc·nc over all tiers: the size of the
// per-worker buffers.
const (
	maxTileFloats  = 12 * 32
	maxPanelFloats = 512 * 256
	maxKC          = 512
	maxMR          = 12
)

// gemmBuf is one worker's scratch: the packed B block, the padded A remainder and a C tile.
type gemmBuf struct {
	b [maxPanelFloats]float32
	a [maxMR * maxKC]float32
	c [maxTileFloats]float32
}

var gemmBufs = sync.Pool{New: func() any { return new(gemmBuf) }}

// gemmCall is one GEMM: its operands, its tiling into tasks, and the task counter that the
// participating goroutines share.
type gemmCall struct {
	gemmOps
	tasks workers.Group // task counter and helpers
}

// gemmOps is the plain data of a gemmCall.
type gemmOps struct {
	transB        bool
	acc           bool
	dst, a, b     []float32
	ldd, lda, ldb int
	m, n, k       int
	sh            gemmShape
	tier          gemmTier
	tm, tn        int // task block: tm rows (multiple of mr), tn columns (multiple of nr)
	ntm, ntn      int // tasks along m and along n
}

// gemm checks the operands and runs the blocked product on the current tier.
func gemm(op string, transB, acc bool, dst []float32, ldd int, a []float32, lda int, b []float32, ldb int, m, n, k int) {
	if m < 0 || n < 0 || k < 0 {
		panic("tensor: " + op + ": negative dimension")
	}
	if transB {
		checkStrided(op, dst, ldd, m, n, a, lda, m, k, b, ldb, n, k)
	} else {
		checkStrided(op, dst, ldd, m, n, a, lda, m, k, b, ldb, k, n)
	}
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		if !acc {
			for i := 0; i < m; i++ {
				clear(dst[i*ldd : i*ldd+n])
			}
		}
		return
	}
	c := callPool.Get().(*gemmCall)
	c.gemmOps = gemmOps{transB: transB, acc: acc, dst: dst, a: a, b: b, ldd: ldd, lda: lda, ldb: ldb, m: m, n: n, k: k}
	c.tier = tier
	c.sh = c.tier.shape()
	threads := 1
	if 2*float64(m)*float64(n)*float64(k) >= parallelMinFlops {
		threads = workers.Threads()
	}
	c.plan(threads)
	c.tasks.Run(c, c.ntm*c.ntn, threads)
	c.gemmOps = gemmOps{} // drop the operands: a pooled call must not keep them alive
	callPool.Put(c)
}

var callPool = sync.Pool{New: func() any { return new(gemmCall) }}

// Work takes tasks of c until none is left (workers.Job).
func (c *gemmCall) Work(g *workers.Group) {
	buf := gemmBufs.Get().(*gemmBuf)
	for t, ok := g.Next(); ok; t, ok = g.Next() {
		c.task(t, buf)
	}
	gemmBufs.Put(buf)
}

// parallelMinFlops is the size under which a GEMM runs on the calling goroutine alone: waking
// a helper costs from a few to tens of microseconds on a busy virtual machine, while 4 MFLOP
// take one core about 50µs: below that a second core does not pay for its wake-up.
const parallelMinFlops = 4 << 20

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
func (c *gemmOps) task(t int, buf *gemmBuf) {
	sh := c.sh
	i0 := (t / c.ntn) * c.tm
	j0 := (t % c.ntn) * c.tn
	i1 := min(i0+c.tm, c.m)
	j1 := min(j0+c.tn, c.n)
	for p0 := 0; p0 < c.k; p0 += sh.kc {
		kc := min(sh.kc, c.k-p0)
		add := c.acc || p0 > 0
		c.packB(buf.b[:], p0, kc, j0, j1)
		for i := i0; i < i1; i += sh.mr {
			rows := min(sh.mr, i1-i)
			// Copy the rows into a contiguous mr×kc block, zero-padded to mr rows (see above).
			a := buf.a[:sh.mr*kc]
			clear(a[rows*kc:])
			for r := 0; r < rows; r++ {
				copy(a[r*kc:(r+1)*kc], c.a[(i+r)*c.lda+p0:])
			}
			emr := sh.mr // kernel height: smaller for the last rows where the tier allows
			if rows < sh.mr {
				emr = edgeRows(c.tier, rows, sh.mr)
			}
			for j := j0; j < j1; j += sh.nr {
				cols := min(sh.nr, j1-j)
				bp := buf.b[(j-j0)*kc:]
				if rows == emr && cols == sh.nr {
					kernelRows(c.tier, emr, kc, a, kc, bp, c.dst[i*c.ldd+j:], c.ldd, add)
					continue
				}
				// Edge tile: compute the full tile into buf.c, keep the part inside dst.
				tile := buf.c[:emr*sh.nr]
				kernelRows(c.tier, emr, kc, a, kc, bp, tile, sh.nr, false)
				for r := 0; r < rows; r++ {
					d := c.dst[(i+r)*c.ldd+j : (i+r)*c.ldd+j+cols]
					s := tile[r*sh.nr : r*sh.nr+cols]
					if add {
						for x := range d {
							d[x] += s[x]
						}
					} else {
						copy(d, s)
					}
				}
			}
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
		if c.transB {
			// op(b) = bᵀ: column j of op(b) is row j of b, contiguous in k.
			packNT(c.tier, panel, nr, c.b, c.ldb, j, cols, p0, kc)
		} else {
			// op(b) = b: row p of the panel is a contiguous piece of row p0+p of b.
			packNN(c.tier, panel, nr, c.b[p0*c.ldb+j:], c.ldb, cols, kc)
		}
	}
}

// useTier makes GEMM use tier t until the returned func restores the previous tier. It is the
// test hook for checking every tier on one machine; t must be one of tiers() or tierSim512.
func useTier(t gemmTier) (restore func()) {
	prev := tier
	tier = t
	return func() { tier = prev }
}
