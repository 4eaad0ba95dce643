package tensor

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

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
				cpu0 := lowpCPUTime()
				for i := 0; i < b.N; i++ {
					f()
				}
				flop := 2 * float64(m) * float64(n) * float64(k) * float64(b.N)
				b.ReportMetric(flop/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				// Wall time also counts the time other processes held our cores;
				// flop per CPU-second of this process is the rate of one busy core.
				b.ReportMetric(flop/(lowpCPUTime()-cpu0).Seconds()/1e9, "GFLOP/cpu-s")
			})
		}
		run("fp32", func() { MatMulNT(dst, a, w, m, n, k) })
		for _, tier := range available {
			if tier == genericTier && len(available) > 1 && m > 16 {
				continue // the portable tier is too slow to time on the large shapes
			}
			restore := useTier(tier)
			run("f16-"+tier.name, func() { MatMulNTF16(dst, a, w16, m, n, k) })
			run("bf16-"+tier.name, func() { MatMulNTBF16(dst, a, wbf, m, n, k) })
			run("bf16compute-"+tier.name, func() { MatMulNTBF16Compute(dst, a, wbf, m, n, k) })
			restore()
		}
	}
}

// BenchmarkKernels times each tier's micro-kernels alone on L1/L2-resident panels (k = the
// tier's kc): the float32 tile and, where the tier has one, the BF16 dot tile.
func BenchmarkKernels(b *testing.B) {
	for _, tier := range available {
		f := tier.f32
		b.Run("f32-"+tier.name, func(b *testing.B) {
			a := make([]float32, f.kc*f.mr)
			w := make([]float32, f.kc*f.nr)
			c := make([]float32, f.mr*f.nr)
			for b.Loop() {
				f.tile(f.kc, a, f.kc, w, c, f.nr, true)
			}
			b.ReportMetric(2*float64(f.mr*f.nr*f.kc*b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		if d := tier.dot; d != nil {
			b.Run("bf16-"+tier.name, func(b *testing.B) {
				kp := d.kc / 2
				a := make([]uint16, d.kc*d.mr)
				w := make([]uint32, kp*d.nr)
				c := make([]float32, d.mr*d.nr)
				for b.Loop() {
					d.tile(kp, a, d.kc, w, c, d.nr, true)
				}
				b.ReportMetric(2*float64(d.mr*d.nr*d.kc*b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// lowpCPUTime is the user+system CPU time of the process so far.
func lowpCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
