package tensor

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// Layer shapes of bge-reranker-v2-m3 with 1024 tokens (M,N,K): q/k/v/o (1024×1024), FFN up
// (N=4096) and FFN down (K=4096); then the per-head attention products of 512 tokens: Q·Kᵀ
// (512,64)·(512,64)ᵀ with row stride 1024 and P·V (512,512)·(512,64) with ldb 1024.
var benchLayerShapes = [][3]int{{1024, 1024, 1024}, {1024, 4096, 1024}, {1024, 1024, 4096}, {128, 1024, 1024}}

func benchGemm(b *testing.B, m, n, k int, run func(c, a, bm []float32)) {
	a := make([]float32, m*k)
	bm := make([]float32, n*k)
	c := make([]float32, m*n)
	for i := range a {
		a[i] = float32(i%7) - 3
	}
	for i := range bm {
		bm[i] = float32(i%5) - 2
	}
	run(c, a, bm)
	b.ResetTimer()
	cpu0 := processCPU()
	for b.Loop() {
		run(c, a, bm)
	}
	cpu := processCPU() - cpu0
	flop := 2 * float64(m) * float64(n) * float64(k) * float64(b.N)
	b.ReportMetric(flop/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	// On a shared machine wall time counts the time other processes held our cores; CPU time
	// does not. flop per CPU-second is the rate of one busy core.
	b.ReportMetric(flop/cpu.Seconds()/1e9, "GFLOP/cpu-s")
}

// processCPU is the user+system CPU time of the process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkGemmNT runs the layer shapes on every tier, and gonum's Sgemm for comparison.
func BenchmarkGemmNT(b *testing.B) {
	for _, s := range benchLayerShapes {
		m, n, k := s[0], s[1], s[2]
		for _, tr := range available {
			b.Run(fmt.Sprintf("%s/%dx%dx%d", tr.name, m, n, k), func(b *testing.B) {
				defer useTier(tr)()
				benchGemm(b, m, n, k, func(c, a, bm []float32) { GemmNT(false, c, n, a, k, bm, k, m, n, k) })
			})
		}
		b.Run(fmt.Sprintf("gonum/%dx%dx%d", m, n, k), func(b *testing.B) {
			benchGemm(b, m, n, k, func(c, a, bm []float32) {
				blas32.Gemm(blas.NoTrans, blas.Trans, 1, General(a, m, k, k), General(bm, n, k, k), 0, General(c, m, n, n))
			})
		})
	}
}

// BenchmarkAttention runs the per-head attention products (T tokens, head size 64, hidden 1024),
// first as nn.AttentionHead issues them (64×64 tiles of S = Q·Kᵀ and O += P·V), then whole.
func BenchmarkAttention(b *testing.B) {
	const hidden, dh, tile = 1024, 64, 64
	for _, tr := range available {
		b.Run(fmt.Sprintf("%s/QK/tile=%d", tr.name, tile), func(b *testing.B) {
			defer useTier(tr)()
			q := make([]float32, tile*hidden)
			s := make([]float32, tile*tile)
			benchGemm(b, tile, tile, dh, func(_, _, _ []float32) { GemmNT(false, s, tile, q, hidden, q[dh:], hidden, tile, tile, dh) })
		})
		b.Run(fmt.Sprintf("%s/PV/tile=%d", tr.name, tile), func(b *testing.B) {
			defer useTier(tr)()
			p := make([]float32, tile*tile)
			v := make([]float32, tile*hidden)
			o := make([]float32, tile*hidden)
			benchGemm(b, tile, dh, tile, func(_, _, _ []float32) { GemmNN(true, o, hidden, p, tile, v, hidden, tile, dh, tile) })
		})
	}
	for _, T := range []int{128, 512} {
		for _, tr := range available {
			b.Run(fmt.Sprintf("%s/QK/T=%d", tr.name, T), func(b *testing.B) {
				defer useTier(tr)()
				q := make([]float32, T*hidden)
				s := make([]float32, T*T)
				benchGemm(b, T, T, dh, func(_, _, _ []float32) { GemmNT(false, s, T, q, hidden, q[dh:], hidden, T, T, dh) })
			})
			b.Run(fmt.Sprintf("%s/PV/T=%d", tr.name, T), func(b *testing.B) {
				defer useTier(tr)()
				p := make([]float32, T*T)
				v := make([]float32, T*hidden)
				out := make([]float32, T*hidden)
				benchGemm(b, T, dh, T, func(_, _, _ []float32) { GemmNN(false, out, hidden, p, T, v, hidden, T, dh, T) })
			})
		}
		b.Run(fmt.Sprintf("gonum/QK/T=%d", T), func(b *testing.B) {
			q := make([]float32, T*hidden)
			s := make([]float32, T*T)
			benchGemm(b, T, T, dh, func(_, _, _ []float32) {
				blas32.Gemm(blas.NoTrans, blas.Trans, 1, General(q, T, dh, hidden), General(q[dh:], T, dh, hidden), 0, General(s, T, T, T))
			})
		})
	}
}
