//go:build amd64 && gc && !purego

package tensor

import (
	"math"
	"math/rand/v2"
	"testing"

	"golang.org/x/sys/cpu"
)

// lowpExtraTestTiers adds the AMX tier to the tier tests wherever it can run, even
// when the build has not opted in to using it (lowp_amx).
func lowpExtraTestTiers() []*lowpTier {
	if !amxOptIn && amxAvailable() {
		return []*lowpTier{amxTier}
	}
	return nil
}

func TestAMXPermission(t *testing.T) {
	err := amxRequest()
	t.Logf("cpu: amx_tile=%v amx_bf16=%v; permission: %v; available: %v",
		cpu.X86.HasAMXTile, cpu.X86.HasAMXBF16, err, amxAvailable())
	if amxAvailable() != (cpu.X86.HasAMXTile && cpu.X86.HasAMXBF16 && err == nil) {
		t.Fatal("amxAvailable disagrees with the CPU flags and the permission")
	}
}

// TestAMXTilesKernel runs the assembly tile kernel against the Go one on AMX hardware.
func TestAMXTilesKernel(t *testing.T) {
	if !amxAvailable() {
		t.Skipf("no usable AMX here (amx_tile=%v amx_bf16=%v, permission: %v)",
			cpu.X86.HasAMXTile, cpu.X86.HasAMXBF16, amxRequest())
	}
	r := rand.New(rand.NewPCG(13, 14))
	for _, kb := range []int{1, 2, 5, 32} {
		const lda, ldb, ldc = 32*32 + 32, 48, 40
		a := make([]uint16, 32*lda)
		b := make([]uint32, 16*kb*ldb)
		for i := range a {
			a[i] = Float32ToBF16(float32(r.NormFloat64()))
		}
		for i := range b {
			b[i] = uint32(Float32ToBF16(float32(r.NormFloat64()))) | uint32(Float32ToBF16(float32(r.NormFloat64())))<<16
		}
		got, want := make([]float32, 32*ldc), make([]float32, 32*ldc)
		for i := range got {
			got[i], want[i] = -5, -5
		}
		tilesAMX(a, lda, b, ldb, kb, got, ldc)
		tilesGo(a, lda, b, ldb, kb, want, ldc)
		for i := range got {
			if math.Abs(float64(got[i]-want[i])) > 1e-4*float64(kb*32) {
				t.Fatalf("kblocks=%d: c[%d,%d] = %v, want %v", kb, i/ldc, i%ldc, got[i], want[i])
			}
		}
	}
}
