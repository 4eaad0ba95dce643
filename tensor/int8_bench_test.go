package tensor

import (
	"fmt"
	"testing"
)

// BenchmarkMatMulNTInt8 runs the layer shapes (benchLayerShapes) on every int8 tier, the
// activation quantization included; compare with BenchmarkGemmNT (float32) at the same shapes:
//
//	go test ./tensor -run '^$' -bench 'MatMulNTInt8|GemmNT/(avx|generic)' -benchtime 20x
func BenchmarkMatMulNTInt8(b *testing.B) {
	for _, s := range benchLayerShapes {
		m, n, k := s[0], s[1], s[2]
		for _, tier := range int8Available() {
			if tier == int8Generic && m*n*k > 1<<28 {
				continue // minutes per call
			}
			b.Run(fmt.Sprintf("%s/%dx%dx%d", tier.name, m, n, k), func(b *testing.B) {
				defer useInt8Kernel(tier)()
				q := make([]int8, n*k)
				for i := range q {
					q[i] = int8(i%255 - 127)
				}
				sw := make([]float32, n)
				for j := range sw {
					sw[j] = 0.01
				}
				w := NewInt8Weights(q, sw, n, k)
				benchGemm(b, m, n, k, func(c, a, _ []float32) { MatMulNTInt8(c, a, w, nil, m) })
			})
		}
	}
}

// BenchmarkInt8Tile is one tile kernel alone on L1-resident operands (k = 1024): the
// per-core ceiling of each tier. GFLOP/s counts a multiply-add as 2.
func BenchmarkInt8Tile(b *testing.B) {
	const k = 1024
	a, w := make([]int8, 4*k), make([]int8, 4*k)
	c := make([]int32, 16)
	for _, tier := range int8Available() {
		b.Run(tier.name, func(b *testing.B) {
			for b.Loop() {
				tier.tile(k, &a[0], k, &w[0], k, &c[0], 4, 1)
			}
			b.ReportMetric(2*16*k*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
