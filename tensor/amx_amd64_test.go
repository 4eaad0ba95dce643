//go:build amd64 && gc && !purego

package tensor

import (
	"math"
	"math/rand/v2"
	"runtime"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// TestAMXPermission checks amxRequest against the kernel's own record: where it reports
// success, ARCH_GET_XCOMP_PERM must list XTILEDATA among the features this process may use,
// and asking again gives the same answer.
func TestAMXPermission(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the tile data permission is a Linux interface")
	}
	err := amxRequest()
	t.Logf("cpu: amx_tile=%v amx_bf16=%v; permission: %v", cpu.X86.HasAMXTile, cpu.X86.HasAMXBF16, err)
	if again := amxRequest(); again != err {
		t.Fatalf("second request gave %v, first %v", again, err)
	}
	const archGetXcompPerm = 0x1022
	var mask uint64
	_, _, e := syscall.RawSyscall(syscall.SYS_ARCH_PRCTL, archGetXcompPerm, uintptr(unsafe.Pointer(&mask)), 0)
	if e != 0 {
		if err == nil {
			t.Fatalf("permission granted, but ARCH_GET_XCOMP_PERM fails: %v", e)
		}
		return // an old kernel without the interface: the request must have failed, and did
	}
	granted := mask&(1<<xfeatureXtiledata) != 0
	if granted != (err == nil) {
		t.Fatalf("amxRequest() = %v, but the kernel's permitted mask %#x says XTILEDATA granted=%v", err, mask, granted)
	}
}

// TestAMXTilesKernel runs the assembly tile kernel against the Go reference on AMX hardware.
func TestAMXTilesKernel(t *testing.T) {
	if !(cpu.X86.HasAMXTile && cpu.X86.HasAMXBF16 && amxRequest() == nil) {
		t.Skipf("no usable AMX on this CPU (amx_tile=%v amx_bf16=%v, permission: %v): the kernel runs only in emulation here",
			cpu.X86.HasAMXTile, cpu.X86.HasAMXBF16, amxRequest())
	}
	r := rand.New(rand.NewPCG(13, 14))
	ref := dotTileRef(32, 32)
	for _, kp := range []int{16, 32, 80, 256} {
		for _, add := range []bool{false, true} {
			const ldc = 40
			lda := 2*kp + 32
			a := make([]uint16, 32*lda)
			b := make([]uint32, kp*32)
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
			tileAMX(kp, a, lda, b, got, ldc, add)
			ref(kp, a, lda, b, want, ldc, add)
			for i := range got {
				if math.Abs(float64(got[i]-want[i])) > 1e-4*float64(2*kp) {
					t.Fatalf("kp=%d add=%v: c[%d,%d] = %v, want %v", kp, add, i/ldc, i%ldc, got[i], want[i])
				}
			}
		}
	}
}
