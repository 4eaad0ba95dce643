package tensor

import (
	"math"
	"sync"
)

// The tile path of MatMulNTBF16Compute, for tiers with a BF16 matrix unit (AMX).
//
// A tile kernel (lowpTier.tiles) multiplies BF16 pairs the way TDPBF16PS does:
//
//	c (32,32) = a (32,k) · bᵀ, a BF16 rows (stride lda elements),
//	b "VNNI" pairs: b[p*ldb + j] = w[j][2p] | w[j][2p+1]<<16 (ldb in uint32s)
//
// so the driver prepares, once per call, in parallel, and shared by the workers: the activations
// rounded to BF16, row-major, rows padded with zeros to a multiple of 32 (2·m·k bytes),
// and the weights regrouped into k/2 rows of n BF16 pairs (2·n·k bytes, as much as
// the weights themselves). Then the column tasks run 32×32 output blocks over the
// full depth. The path needs n and k to be multiples of 32 (every XLM-R layer); other
// shapes take the tier's float32 kernel, which gives the same numbers up to the
// float32 summation order.

// tileBuf holds one call's prepared operands; pooled, grown on demand.
type tileBuf struct {
	a []uint16 // (mpad, k) BF16
	b []uint32 // (k/2, n) BF16 pairs
}

var tileBufPool = sync.Pool{New: func() any { return new(tileBuf) }}

// tileOK says whether the tile path can run this call.
func tileOK(t *lowpTier, round bool, n, k int) bool {
	return t.tiles != nil && round && n%32 == 0 && k%32 == 0
}

// grow makes room for an (m,k)·(n,k)ᵀ call.
func (tb *tileBuf) grow(m, n, k int) {
	mpad := (m + 31) &^ 31
	if cap(tb.a) < mpad*k {
		tb.a = make([]uint16, mpad*k)
	}
	if cap(tb.b) < n*k/2 {
		tb.b = make([]uint32, n*k/2)
	}
	tb.a, tb.b = tb.a[:mpad*k], tb.b[:n*k/2]
}

// prepareTiles fills piece q of nq of job.tb: its share of the activation rows
// (rounded to BF16; the last piece also zeroes the padding rows) and of the weight
// rows (regrouped into pairs).
func (job *lowpJob) prepareTiles(q, nq int) {
	m, n, k := job.m, job.n, job.k
	ta, tw := job.tb.a, job.tb.b
	r0, r1 := m*q/nq, m*(q+1)/nq
	for i, v := range job.a[r0*k : r1*k] {
		ta[r0*k+i] = Float32ToBF16(v)
	}
	if q == nq-1 {
		clear(ta[m*k:])
	}
	for j := n * q / nq; j < n*(q+1)/nq; j++ {
		row := job.b[j*k : (j+1)*k]
		for p := 0; p < k/2; p++ {
			tw[p*n+j] = uint32(row[2*p]) | uint32(row[2*p+1])<<16
		}
	}
}

// tileColumns computes dst[:, j0:j1] (j0, j1 multiples of 32) on the tile kernel.
func (job *lowpJob) tileColumns(s *lowpScratch, j0, j1 int) {
	m, n, k := job.m, job.n, job.k
	ta, tw := job.tb.a, job.tb.b
	for jb := j0; jb < j1; jb += 32 {
		for ib := 0; ib < m; ib += 32 {
			if ib+32 <= m {
				job.tier.tiles(ta[ib*k:], k, tw[jb:], n, k/32, job.dst[ib*n+jb:], n)
				continue
			}
			job.tier.tiles(ta[ib*k:], k, tw[jb:], n, k/32, s.tc[:], 32)
			for r := 0; r < m-ib; r++ {
				copy(job.dst[(ib+r)*n+jb:(ib+r)*n+jb+32], s.tc[r*32:(r+1)*32])
			}
		}
	}
}

// tilesGo is the reference tile kernel, written like the hardware computes:
// per k-pair, both products are added to the float32 accumulator.
func tilesGo(a []uint16, lda int, b []uint32, ldb int, kblocks int, c []float32, ldc int) {
	for i := 0; i < 32; i++ {
		for j := 0; j < 32; j++ {
			var s float32
			for p := 0; p < kblocks*16; p++ {
				w := b[p*ldb+j]
				s += BF16ToFloat32(a[i*lda+2*p])*math.Float32frombits(w<<16) +
					BF16ToFloat32(a[i*lda+2*p+1])*math.Float32frombits(w&0xffff0000)
			}
			c[i*ldc+j] = s
		}
	}
}
