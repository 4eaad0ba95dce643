package tensor

import "github.com/gorerank/gorerank/internal/workers"

// PackedNT is a float32 weight b (n,k), PyTorch's [out,in] layout, packed once into the
// micro-panels that the GEMM of the tier in use reads, so that products with it skip the
// per-call packing of b: for few rows of a (one short pair: 64 tokens) that packing costs a
// third of the time. It holds as many floats as b, rounded up to whole panels. Safe for
// concurrent use; read-only after PackNT.
//
// Layout: k in slices of the tier's kc; within a slice, panels of nr columns, each a
// (slice depth)×nr block of op(b) = bᵀ, the last one zero-padded to nr columns. The panels
// of one slice are consecutive, so a task's columns [j0, j1) are one contiguous run.
type PackedNT struct {
	n, k   int
	b      []float32 // the source, for products on another tier (tests switch tiers)
	tier   *cpuTier  // the tier the panels were made for
	panels []float32
}

// PackNT packs b (n,k) for MatMulPackedNT. It keeps b for products on other tiers but never
// reads it on the tier it packed for, so a caller may let the OS drop b's pages (an mmap).
func PackNT(b []float32, n, k int) *PackedNT {
	if n < 0 || k < 0 || len(b) < n*k {
		panic("tensor: PackNT: operand does not fit its slice")
	}
	t := active
	npad := roundUp(n, t.f32.nr)
	p := &PackedNT{n: n, k: k, b: b, tier: t, panels: make([]float32, npad*k)}
	j := packJob{p: p}
	j.tasks.Run(&j, ceilDiv(k, t.f32.kc)*ceilDiv(n, t.f32.nr), workers.Threads())
	return p
}

// packJob packs the panels of a PackedNT on all threads, one panel per task.
type packJob struct {
	p     *PackedNT
	tasks workers.Group
}

func (j *packJob) Work(g *workers.Group) {
	p, t := j.p, j.p.tier
	sh := t.f32.gemmShape
	npad, panels := roundUp(p.n, sh.nr), ceilDiv(p.n, sh.nr)
	for q, ok := g.Next(); ok; q, ok = g.Next() {
		p0, c := (q/panels)*sh.kc, (q%panels)*sh.nr
		kc := min(sh.kc, p.k-p0)
		t.packNT(p.panels[p0*npad+c*kc:p0*npad+(c+sh.nr)*kc], sh.nr, p.b, p.k, c, min(sh.nr, p.n-c), p0, kc)
	}
}

// panel returns the packed panels of slice p0 from column j on, when they were made for the
// tier t; nil otherwise.
func (p *PackedNT) panel(t *cpuTier, p0, kc, j int) []float32 {
	if p == nil || p.tier != t {
		return nil
	}
	return p.panels[p0*roundUp(p.n, t.f32.nr)+j*kc:]
}

// MatMulPackedNT computes dst (m,n) = a (m,k) · bᵀ for the packed b, dense operands: what
// MatMulNT(dst, a, b, m, n, k) computes, with the same kernels and the same result bits.
// No allocation in steady state.
func MatMulPackedNT(dst, a []float32, p *PackedNT, m int) {
	n, k := p.n, p.k
	if m < 0 || len(dst) < m*n || len(a) < m*k {
		panic("tensor: MatMulPackedNT: operand does not fit its slice")
	}
	run(gemmOps{transB: true, wf: weightF32, dst: dst, a: a, bf: p.b, pb: p, ldd: n, lda: k, ldb: k, m: m, n: n, k: k})
}
