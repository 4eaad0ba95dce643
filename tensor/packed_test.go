package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

// A product with packed weights must give MatMulNT's bits on every tier (same kernels, same
// order), at every shape edge, and stay right when used on a tier it was not packed for.
func TestPackedNT(t *testing.T) {
	shapes := [][3]int{{1, 1, 1}, {5, 17, 3}, {13, 33, 257}, {64, 1024, 64}, {7, 100, 600}, {130, 97, 300}}
	forEachTier(t, func(t *testing.T, tr *cpuTier) {
		for _, s := range shapes {
			m, n, k := s[0], s[1], s[2]
			r := rand.New(rand.NewPCG(uint64(m), uint64(n+k)))
			a, b := make([]float32, m*k), make([]float32, n*k)
			for i := range a {
				a[i] = float32(r.NormFloat64())
			}
			for i := range b {
				b[i] = float32(r.NormFloat64())
			}
			p := PackNT(b, n, k)
			got, want := make([]float32, m*n+1), make([]float32, m*n)
			got[m*n] = 42
			MatMulPackedNT(got, a, p, m)
			MatMulNT(want, a, b, m, n, k)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%dx%dx%d: dst[%d] = %v, MatMulNT gives %v", m, n, k, i, got[i], want[i])
				}
			}
			if got[m*n] != 42 {
				t.Fatalf("%dx%dx%d: wrote past dst", m, n, k)
			}
			// Packed for this tier, used on another: the source is packed per call.
			other := genericTier
			if tr == genericTier {
				other = sim512Tier
			}
			restore := useTier(other)
			MatMulPackedNT(got, a, p, m)
			MatMulNT(want, a, b, m, n, k)
			restore()
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%dx%dx%d on %s: dst[%d] = %v, want %v", m, n, k, other.name, i, got[i], want[i])
				}
			}
		}
	})
}

func TestPackedNTAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	const m, n, k = 64, 512, 256
	a, b, c := make([]float32, m*k), make([]float32, n*k), make([]float32, m*n)
	p := PackNT(b, n, k)
	MatMulPackedNT(c, a, p, m)
	if got := testing.AllocsPerRun(20, func() { MatMulPackedNT(c, a, p, m) }); got != 0 {
		t.Errorf("%v allocs per call, want 0", got)
	}
}
