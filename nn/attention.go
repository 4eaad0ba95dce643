package nn

import (
	"math"

	"github.com/gorerank/gorerank/tensor"
)

// AttentionTile is the number of query rows and key columns handled at once by
// AttentionHead: the fused attention never holds more than AttentionTile² scores per head
// in flight.
const AttentionTile = 128

// AttentionHeadWork is the length of the work buffer AttentionHead needs.
const AttentionHeadWork = AttentionTile*AttentionTile + 2*AttentionTile

// AttentionWorkSize is the length of the work buffer Attention and AttentionPacked need: one
// AttentionHeadWork per goroutine that may run heads in parallel (GOMAXPROCS at first use).
func AttentionWorkSize() int { return threads() * AttentionHeadWork }

// Attention computes multi-head scaled dot-product attention for one sequence of t tokens
// (no mask: every token is real). For head h, with Qh, Kh, Vh the columns h·hd … (h+1)·hd:
//
//	dst[:, h·hd:(h+1)·hd] (t,hd) = softmax(Qh·Khᵀ·scale) · Vh
//
// q, k, v are (t, heads·hd) with row stride ld; dst is (t, heads·hd) with row stride ldd.
// work holds AttentionWorkSize() elements. Heads run in parallel (AttentionHead each).
func Attention(dst []float32, ldd int, q, k, v []float32, ld, t, heads, hd int, scale float32, work []float32) {
	runAttention(attnJob{dst: dst, ldd: ldd, q: q, k: k, v: v, ld: ld, t: t, heads: heads, hd: hd, scale: scale, work: work})
}

// AttentionPacked is Attention for a packed batch: sequence i owns rows offs[i] … offs[i+1]-1
// of q, k, v and dst, and attends only to itself. Every (sequence, head) pair is one task
// for the parallel workers. work holds AttentionWorkSize() elements.
func AttentionPacked(dst []float32, ldd int, q, k, v []float32, ld int, offs []int, heads, hd int, scale float32, work []float32) {
	if len(offs) < 2 {
		return
	}
	runAttention(attnJob{dst: dst, ldd: ldd, q: q, k: k, v: v, ld: ld, offs: offs, heads: heads, hd: hd, scale: scale, work: work})
}

// AttentionPackedFirst is AttentionPacked for the first token of each sequence only: the
// query of sequence i is row i of q (row stride ldq), its keys and values are rows
// offs[i] … offs[i+1]-1 of k and v (row stride ld), and its output is row i of dst. It is
// the last encoder layer of a classifier that reads nothing but token 0. work holds
// AttentionWorkSize() elements.
func AttentionPackedFirst(dst []float32, ldd int, q []float32, ldq int, k, v []float32, ld int, offs []int, heads, hd int, scale float32, work []float32) {
	if len(offs) < 2 {
		return
	}
	runAttention(attnJob{dst: dst, ldd: ldd, q: q, ldq: ldq, first: true, k: k, v: v, ld: ld, offs: offs, heads: heads, hd: hd, scale: scale, work: work})
}

// attnJob is one Attention/AttentionPacked call; task i is head i%heads of sequence i/heads.
type attnJob struct {
	dst, q, k, v, work []float32
	ldd, ld, t         int   // t: the single sequence's length when offs is nil
	offs               []int // packed sequences
	heads, hd          int
	scale              float32
	first              bool // query: only each sequence's first token, row s of q (stride ldq) and dst
	ldq                int
}

func (j *attnJob) seqs() int {
	if j.offs == nil {
		return 1
	}
	return len(j.offs) - 1
}

func (j *attnJob) task(i, slot int) {
	s, h := i/j.heads, i%j.heads
	r0, t := 0, j.t
	if j.offs != nil {
		r0, t = j.offs[s], j.offs[s+1]-j.offs[s]
	}
	c := h * j.hd
	work := j.work[slot*AttentionHeadWork : (slot+1)*AttentionHeadWork]
	if j.first {
		attentionHead(j.dst[s*j.ldd+c:], j.ldd, j.q[s*j.ldq+c:], j.ldq, 1, j.k[r0*j.ld+c:], j.v[r0*j.ld+c:], j.ld, t, j.hd, j.scale, work)
		return
	}
	attentionHead(j.dst[r0*j.ldd+c:], j.ldd, j.q[r0*j.ld+c:], j.ld, t, j.k[r0*j.ld+c:], j.v[r0*j.ld+c:], j.ld, t, j.hd, j.scale, work)
}

// attnMinParallel is the score count (Σ t²·heads) under which attention stays on the caller.
const attnMinParallel = 1 << 14

func runAttention(j attnJob) {
	ntasks := j.seqs() * j.heads
	if ntasks == 0 {
		return
	}
	checkLen("Attention", AttentionHeadWork*min(threads(), ntasks), j.work)
	var scores int
	for s := range j.seqs() {
		t := j.t
		if j.offs != nil {
			t = j.offs[s+1] - j.offs[s]
		}
		if j.first {
			scores += t * j.heads
		} else {
			scores += t * t * j.heads
		}
	}
	if ntasks == 1 || threads() == 1 || scores < attnMinParallel {
		for i := range ntasks {
			j.task(i, 0)
		}
		return
	}
	c := getCall()
	c.attn = j
	c.j = &c.attn
	c.run(ntasks)
	putCall(c)
}

// AttentionHead computes dst (t,hd) = softmax(q·kᵀ·scale) · v for one head, with q, k, v
// (t,hd) of row stride ld and dst of row stride ldd, flash-attention style: for each tile
// of query rows it walks the keys tile by tile, keeping a running row maximum m and
// normaliser l (online softmax), rescaling the partial output when the maximum grows:
//
//	S = q_tile·k_tileᵀ·scale;  m' = max(m, rowmax S);  P = exp(S - m')
//	l = l·exp(m - m') + rowsum P;  O = O·exp(m - m') + P·v_tile;  finally O /= l
//
// so at most AttentionTile² scores exist at a time. work holds AttentionHeadWork elements.
// No allocation.
func AttentionHead(dst []float32, ldd int, q, k, v []float32, ld, t, hd int, scale float32, work []float32) {
	attentionHead(dst, ldd, q, ld, t, k, v, ld, t, hd, scale, work)
}

// attentionHead is AttentionHead for tq query rows (row stride ldq) against tk keys and
// values (row stride ld).
func attentionHead(dst []float32, ldd int, q []float32, ldq, tq int, k, v []float32, ld, tk, hd int, scale float32, work []float32) {
	if tq <= 0 || tk <= 0 {
		return
	}
	checkLen("AttentionHead", AttentionHeadWork, work)
	const tile = AttentionTile
	s := work[:tile*tile]
	m := work[tile*tile : tile*tile+tile]
	l := work[tile*tile+tile : tile*tile+2*tile]
	for i0 := 0; i0 < tq; i0 += tile {
		bq := min(tile, tq-i0)
		o := dst[i0*ldd:]
		for j0 := 0; j0 < tk; j0 += tile {
			bk := min(tile, tk-j0)
			// S (bq,bk) = q[i0:i0+bq] · k[j0:j0+bk]ᵀ
			tensor.GemmNT(false, s, bk, q[i0*ldq:], ldq, k[j0*ld:], ld, bq, bk, hd)
			for r := 0; r < bq; r++ {
				row := s[r*bk : (r+1)*bk]
				mx := scaleMax(row, scale)
				if j0 > 0 && m[r] >= mx {
					mx = m[r]
				}
				sum := expSubSum(row, mx)
				switch {
				case j0 == 0:
					l[r] = sum
				case mx > m[r]:
					// the running maximum grew: rescale what was accumulated so far
					corr := expf(m[r] - mx)
					l[r] = l[r]*corr + sum
					scaleRow(o[r*ldd:r*ldd+hd], corr)
				default:
					l[r] += sum
				}
				m[r] = mx
			}
			// O (bq,hd) (+)= P (bq,bk) · v[j0:j0+bk] (bk,hd)
			tensor.GemmNN(j0 > 0, o, ldd, s, bk, v[j0*ld:], ld, bq, hd, bk)
		}
		for r := 0; r < bq; r++ {
			scaleRow(o[r*ldd:r*ldd+hd], 1/l[r])
		}
	}
}

// AttentionProbs computes the full attention probabilities of one sequence, the explicit
// (slow, t² memory) path used only to show them to a hook:
//
//	dst[h] (t,t) = softmax(Qh·Khᵀ·scale)  for h = 0..heads-1, dst (heads,t,t)
//
// q, k are (t, heads·hd) with row stride ld.
func AttentionProbs(dst []float32, q, k []float32, ld, t, heads, hd int, scale float32) {
	checkLen("AttentionProbs", heads*t*t, dst)
	for h := 0; h < heads; h++ {
		p := dst[h*t*t : (h+1)*t*t]
		tensor.GemmNT(false, p, t, q[h*hd:], ld, k[h*hd:], ld, t, t, hd)
		for i := range p {
			p[i] *= scale
		}
		Softmax(p, t, t)
	}
}

// Softmax computes x (rows,n) = softmax(x) along each row, in place.
func Softmax(x []float32, rows, n int) {
	checkLen("Softmax", rows*n, x)
	for r := 0; r < rows; r++ {
		row := x[r*n : (r+1)*n]
		mx := float32(math.Inf(-1))
		for _, v := range row {
			mx = max(mx, v)
		}
		var sum float32
		for i, v := range row {
			e := expf(v - mx)
			row[i] = e
			sum += e
		}
		inv := 1 / sum
		for i := range row {
			row[i] *= inv
		}
	}
}

// AttentionRef is the float64 reference for Attention: it materialises every score.
func AttentionRef(dst []float32, ldd int, q, k, v []float32, ld, t, heads, hd int, scale float32) {
	p := make([]float64, t) // reference code may allocate
	for h := 0; h < heads; h++ {
		for i := 0; i < t; i++ {
			mx := math.Inf(-1)
			for j := 0; j < t; j++ {
				var s float64
				for c := 0; c < hd; c++ {
					s += float64(q[i*ld+h*hd+c]) * float64(k[j*ld+h*hd+c])
				}
				p[j] = s * float64(scale)
				mx = math.Max(mx, p[j])
			}
			var sum float64
			for j := range p {
				p[j] = math.Exp(p[j] - mx)
				sum += p[j]
			}
			for c := 0; c < hd; c++ {
				var o float64
				for j := 0; j < t; j++ {
					o += p[j] * float64(v[j*ld+h*hd+c])
				}
				dst[i*ldd+h*hd+c] = float32(o / sum)
			}
		}
	}
}
