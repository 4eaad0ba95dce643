package tensor

import (
	"github.com/gorerank/gorerank/internal/workers"
	"math"
	"sync"

	"github.com/x448/float16"
)

// This file is the blocked driver shared by MatMulNTF16, MatMulNTBF16 and
// MatMulNTBF16Compute. The CPU tier only supplies the building blocks (lowpTier);
// blocking, packing order and the split over cores are the same on every tier.
//
// Loop nest of one task, which owns the output columns [j0,j1):
//
//	for jc in [j0,j1) by lowpNC            // weight block
//	  for pc in [0,k) by lowpKC            // depth block
//	    pack b[jc:jc+NC, pc:pc+KC] -> float32 slivers [NC/16][KC][16]   (widened once per call)
//	    for ic in [0,m) by lowpMC          // activation block, lives in L2
//	      stage a[ic:ic+MC, pc:pc+KC] row-major (MC,KC), rounded to BF16 for the compute path
//	      for each 16-column sliver (L1), for each 6-row sliver: kernel 6x16 over KC
//
// Every weight element is widened exactly once per call, every activation element
// copied once per column task (≥ 256 columns wide, so the copy is ~1% of the work).
// The kernel broadcasts activations straight from the staged rows, so they need no
// transposition.

type weightFormat uint8

const (
	weightF16 weightFormat = iota
	weightBF16
)

const (
	lowpMR = 6   // rows of a micro-tile
	lowpNR = 16  // columns of a micro-tile
	lowpKC = 256 // depth block: a 16-column weight sliver is 16 KiB (L1)
	lowpMC = 72  // activation block: 72 KiB (L2)
	lowpNC = 512 // weight block: 512 KiB of float32 per worker (L2/L3)
)

// lowpTier is one CPU tier's set of building blocks.
type lowpTier struct {
	name string
	// pack widens rows [0,rows) × columns [0,kc) of the weight rows at src (stride ldb)
	// into the 16-column sliver dst [kc][16]; columns of dst from rows on are zeroed.
	pack func(dst []float32, src []uint16, ldb, rows, kc int, wf weightFormat)
	// roundBF16 rounds len(src) values to BF16 (nearest even) into dst, as float32.
	roundBF16 func(dst, src []float32)
	// kernel computes c (6,16) = a·b over kc, or adds it to c when acc is true;
	// a is 6 rows of stride lda, b a packed [kc][16] sliver, c has row stride ldc.
	kernel func(kc int, a []float32, lda int, b, c []float32, ldc int, acc bool)
	// tiles, if not nil, is a BF16 matrix-unit kernel for MatMulNTBF16Compute
	// (see bf16_tiles.go): c (32,32) = a (32,k) BF16 rows · b BF16 pairs.
	tiles func(a []uint16, lda int, b []uint32, ldb int, kblocks int, c []float32, ldc int)
}

var genericTier = &lowpTier{
	name:      "generic",
	pack:      packGeneric,
	roundBF16: roundBF16Generic,
	kernel:    kernel6x16Generic,
}

// lowpActive is the tier in use, chosen once at start-up (see lowpTiers); tests switch it.
var lowpActive = lowpTiers()[0]

func packGeneric(dst []float32, src []uint16, ldb, rows, kc int, wf weightFormat) {
	packRange(dst, src, ldb, 0, rows, 0, kc, wf)
	for c := rows; c < lowpNR; c++ {
		for p := 0; p < kc; p++ {
			dst[p*lowpNR+c] = 0
		}
	}
}

// packRange widens rows [r0,r1) × columns [p0,p1) of src (stride ldb) into the sliver dst.
func packRange(dst []float32, src []uint16, ldb, r0, r1, p0, p1 int, wf weightFormat) {
	for c := r0; c < r1; c++ {
		row := src[c*ldb+p0 : c*ldb+p1]
		if wf == weightF16 {
			for p, h := range row {
				dst[(p0+p)*lowpNR+c] = float16.Frombits(h).Float32()
			}
		} else {
			for p, h := range row {
				dst[(p0+p)*lowpNR+c] = math.Float32frombits(uint32(h) << 16)
			}
		}
	}
}

func roundBF16Generic(dst, src []float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = roundBF16(v)
	}
}

// kernel6x16Generic is the portable micro-kernel: c (6,16) (+)= a (6,kc; stride lda) · b[kc][16].
func kernel6x16Generic(kc int, a []float32, lda int, b, c []float32, ldc int, acc bool) {
	var t [lowpMR * lowpNR]float32
	b = b[:kc*lowpNR]
	for r := 0; r < lowpMR; r++ {
		ar := a[r*lda : r*lda+kc]
		row := t[r*lowpNR : r*lowpNR+lowpNR]
		for p, av := range ar {
			bp := b[p*lowpNR : p*lowpNR+lowpNR]
			for j, bv := range bp {
				row[j] += av * bv
			}
		}
	}
	for r := 0; r < lowpMR; r++ {
		cr := c[r*ldc : r*ldc+lowpNR]
		tr := t[r*lowpNR : r*lowpNR+lowpNR]
		if acc {
			for j := range cr {
				cr[j] += tr[j]
			}
		} else {
			copy(cr, tr)
		}
	}
}

// roundBF16 rounds f to the nearest BF16 value (ties to even) and widens it back.
func roundBF16(f float32) float32 { return BF16ToFloat32(Float32ToBF16(f)) }

// lowpScratch holds one worker's packed panels; pooled, so calls do not allocate.
type lowpScratch struct {
	bp [lowpNC * lowpKC]float32 // weight slivers [NC/16][KC][16]
	ap [lowpMC * lowpKC]float32 // staged activation block (MC,KC), BF16-rounded if asked
	c  [lowpMR * lowpNR]float32 // edge tile
	tc [32 * 32]float32         // edge tile of the tile path
}

var lowpScratchPool = sync.Pool{New: func() any { return new(lowpScratch) }}

// lowpJob is one call. Its output columns are cut into tasks (column blocks, multiples
// of 16 wide); the caller and any idle helpers take tasks from a shared counter until
// none is left, so a core slowed down by the rest of the machine simply takes fewer.
type lowpJob struct {
	dst, a  []float32
	b       []uint16
	m, n, k int
	wf      weightFormat
	round   bool
	tier    *lowpTier
	tb      *tileBuf // prepared operands of the tile path, nil on the float32 path
	prep    bool     // tasks prepare tb instead of computing columns
	unit    int      // column granularity of tasks: 16, or 32 on the tile path
	slivers int      // units of dst columns
	tasks   workers.Group
}

var lowpJobPool = sync.Pool{New: func() any { return new(lowpJob) }}

// lowpParallelMin is the work (m·n·k) below which a call stays on the calling goroutine.
const lowpParallelMin = 1 << 20

// lowpTaskCols is the narrowest column task worth its own copy of the activations.
const lowpTaskCols = 256

// lowpGemm computes dst (m,n) = a (m,k) · widen(b)ᵀ, with a rounded to BF16 first if round.
func lowpGemm(dst, a []float32, b []uint16, m, n, k int, wf weightFormat, round bool) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		clear(dst[:m*n])
		return
	}
	j := lowpJobPool.Get().(*lowpJob)
	j.dst, j.a, j.b, j.m, j.n, j.k, j.wf, j.round, j.tier = dst, a, b, m, n, k, wf, round, lowpActive
	j.unit = lowpNR
	threads := workers.Threads()
	if m*n*k < lowpParallelMin {
		threads = 1
	}
	if tileOK(j.tier, round, n, k) {
		j.unit = 32
		j.tb = tileBufPool.Get().(*tileBuf)
		j.tb.grow(m, n, k)
		j.prep = true // first round: prepare the BF16 operands, in pieces
		j.tasks.Run(j, 4*threads, threads)
		j.prep = false
	}
	j.slivers = (n + j.unit - 1) / j.unit
	// Enough tasks to balance (up to 4 per thread), none narrower than lowpTaskCols
	// unless that is needed to give every thread one.
	j.tasks.Run(j, min(j.slivers, max(threads, min(4*threads, n/lowpTaskCols))), threads)
	if j.tb != nil {
		tileBufPool.Put(j.tb)
	}
	j.dst, j.a, j.b, j.tier, j.tb = nil, nil, nil, nil, nil
	lowpJobPool.Put(j)
}

// Work takes tasks of j until none is left (workers.Job).
func (j *lowpJob) Work(g *workers.Group) {
	s := lowpScratchPool.Get().(*lowpScratch)
	nt := g.Tasks()
	for q, ok := g.Next(); ok; q, ok = g.Next() {
		if j.prep {
			j.prepareTiles(q, nt)
			continue
		}
		j0 := min(j.n, j.slivers*q/nt*j.unit)
		j1 := min(j.n, j.slivers*(q+1)/nt*j.unit)
		if j.tb != nil {
			j.tileColumns(s, j0, j1)
		} else {
			j.columns(s, j0, j1)
		}
	}
	lowpScratchPool.Put(s)
}

// columns computes dst[:, j0:j1].
func (job *lowpJob) columns(s *lowpScratch, j0, j1 int) {
	m, n, k := job.m, job.n, job.k
	t := job.tier
	for jc := j0; jc < j1; jc += lowpNC {
		nc := min(lowpNC, j1-jc)
		for pc := 0; pc < k; pc += lowpKC {
			kc := min(lowpKC, k-pc)
			acc := pc > 0
			job.packB(s, jc, nc, pc, kc)
			for ic := 0; ic < m; ic += lowpMC {
				mc := min(lowpMC, m-ic)
				job.stageA(s, ic, mc, pc, kc)
				for jr := 0; jr < nc; jr += lowpNR {
					nr := min(lowpNR, nc-jr)
					bs := s.bp[jr*kc : (jr+lowpNR)*kc]
					col := jc + jr
					for ir := 0; ir < mc; ir += lowpMR {
						mr := min(lowpMR, mc-ir)
						as := s.ap[ir*kc:]
						row := ic + ir
						if mr == lowpMR && nr == lowpNR {
							t.kernel(kc, as, kc, bs, job.dst[row*n+col:], n, acc)
							continue
						}
						t.kernel(kc, as, kc, bs, s.c[:], lowpNR, false)
						for r := 0; r < mr; r++ {
							d := job.dst[(row+r)*n+col : (row+r)*n+col+nr]
							e := s.c[r*lowpNR : r*lowpNR+nr]
							if acc {
								for x := range d {
									d[x] += e[x]
								}
							} else {
								copy(d, e)
							}
						}
					}
				}
			}
		}
	}
}

// stageA copies a[ic:ic+mc, pc:pc+kc] into the contiguous block s.ap (mc,kc), rounded
// to BF16 when the job asks for it, and zero-fills rows up to the next multiple of 6.
// The copy also keeps the kernel's six rows 4·kc bytes apart, whatever k is: rows
// 16 KiB apart (k=4096) would fight over the same cache sets.
func (job *lowpJob) stageA(s *lowpScratch, ic, mc, pc, kc int) {
	k := job.k
	for r := 0; r < mc; r++ {
		src := job.a[(ic+r)*k+pc : (ic+r)*k+pc+kc]
		if job.round {
			job.tier.roundBF16(s.ap[r*kc:(r+1)*kc], src)
		} else {
			copy(s.ap[r*kc:(r+1)*kc], src)
		}
	}
	if pad := (lowpMR - mc%lowpMR) % lowpMR; pad > 0 {
		clear(s.ap[mc*kc : (mc+pad)*kc])
	}
}

// packB widens b[jc:jc+nc, pc:pc+kc] into 16-column slivers [kc][16], zero-padding the
// last sliver's missing columns.
func (job *lowpJob) packB(s *lowpScratch, jc, nc, pc, kc int) {
	k := job.k
	for jr := 0; jr < nc; jr += lowpNR {
		rows := min(lowpNR, nc-jr)
		job.tier.pack(s.bp[jr*kc:(jr+lowpNR)*kc], job.b[(jc+jr)*k+pc:], k, rows, kc, job.wf)
	}
}
