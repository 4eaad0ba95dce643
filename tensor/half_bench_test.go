package tensor

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/x448/float16"
)

// BenchmarkLowp runs every half-precision kernel beside float32 MatMulNT on the layer
// shapes of XLM-R large (m tokens; n,k the Linear's Out,In) and reports GFLOP/s.
// Run with -benchtime=3x -count=5 and take medians: the machine is shared.
func BenchmarkLowp(b *testing.B) {
	shapes := [][3]int{{1024, 1024, 1024}, {1024, 4096, 1024}, {1024, 1024, 4096}, {16, 1024, 1024}}
	for _, s := range shapes {
		m, n, k := s[0], s[1], s[2]
		r := rand.New(rand.NewPCG(1, 2))
		a := make([]float32, m*k)
		w := make([]float32, n*k)
		w16 := make([]uint16, n*k)
		wbf := make([]uint16, n*k)
		for i := range a {
			a[i] = float32(r.NormFloat64())
		}
		for i := range w {
			w[i] = float32(r.NormFloat64() * 0.05)
			w16[i] = float16.Fromfloat32(w[i]).Bits()
			wbf[i] = Float32ToBF16(w[i])
		}
		dst := make([]float32, m*n)
		run := func(name string, f func()) {
			b.Run(fmt.Sprintf("%s/m%d_n%d_k%d", name, m, n, k), func(b *testing.B) {
				f()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					f()
				}
				b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
		run("fp32", func() { MatMulNT(dst, a, w, m, n, k) })
		for _, tier := range lowpTiers() {
			if tier == genericTier && len(lowpTiers()) > 1 && m > 16 {
				continue // the portable tier is too slow to time on the large shapes
			}
			saved := lowpActive
			lowpActive = tier
			run("f16-"+tier.name, func() { MatMulNTF16(dst, a, w16, m, n, k) })
			run("bf16-"+tier.name, func() { MatMulNTBF16(dst, a, wbf, m, n, k) })
			run("bf16compute-"+tier.name, func() { MatMulNTBF16Compute(dst, a, wbf, m, n, k) })
			lowpActive = saved
		}
	}
}

// BenchmarkLowpKernel times the active tier's 6x16 micro-kernel alone, on L1-resident panels.
func BenchmarkLowpKernel(b *testing.B) {
	const kc = lowpKC
	a := make([]float32, kc*lowpMR)
	w := make([]float32, kc*lowpNR)
	c := make([]float32, lowpMR*lowpNR)
	for i := 0; i < b.N; i++ {
		lowpActive.kernel(kc, a, kc, w, c, lowpNR, true)
	}
	b.ReportMetric(2*lowpMR*lowpNR*kc*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
