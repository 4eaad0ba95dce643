package tensor

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// This file is the one place that decides which kernels run. A CPU tier is a named set of
// building blocks: the float32 GEMM micro-kernels and their blocking, the weight packers,
// an optional BF16 dot-product kernel, and the row kernels that package nn uses. One tier is
// chosen once, when the package is initialised, from the CPU's features (tierTable, per
// GOARCH, best first) or from the environment variable GORERANK_TIER (chooseTier); GEMM,
// the half-precision products and the row kernels all read it, and Tier reports it. Tests
// switch it with useTier; nothing else writes it.

// cpuTier is one CPU tier.
type cpuTier struct {
	name   string
	forced bool // chosen by GORERANK_TIER (chooseTier)

	// f32 is the float32 micro-kernel of GemmNT, GemmNN, MatMulNTF16/BF16 (weights widened
	// while packing) and of MatMulNTBF16Compute on tiers without a dot kernel.
	f32 f32Kernel
	// packNT packs rows [j, j+cols) × [p0, p0+kc) of a float32 b transposed into a kc×nr
	// panel: panel[p*nr+q] = b[(j+q)*ldb+p0+p].
	packNT func(panel []float32, nr int, b []float32, ldb, j, cols, p0, kc int)
	// packNN packs kc rows of cols floats of b (row stride ldb) into a kc×nr panel.
	packNN func(panel []float32, nr int, b []float32, ldb, cols, kc int)
	// widen is packNT for F16 or BF16 weight bits, widened exactly to float32.
	widen func(panel []float32, nr int, b []uint16, ldb, j, cols, p0, kc int, wf weightFormat)
	// roundBF16 rounds len(src) values to BF16 (nearest even) into dst, kept as float32.
	roundBF16 func(dst, src []float32)

	// dot, if not nil, multiplies BF16 pairs in hardware (MatMulNTBF16Compute).
	dot *dotKernel

	// int8 is the int8 product's building blocks (MatMulNTInt8, GemmInt8NT, QuantizeInt8):
	// the best set whose instructions this CPU has. Its own driver (int8.go) reads the
	// weight rows in place, so it shares no blocking with the float32 one.
	int8 *int8Kernel

	// rows are the element-wise row kernels of package nn (see Rows).
	rows RowKernels
}

// f32Kernel is a float32 micro-kernel and its blocking.
type f32Kernel struct {
	isa string // instruction set, for Tier: "avx512", "avx2", "go"
	gemmShape
	// tile computes one mr×nr tile of c from mr rows of a (stride lda) and a packed k×nr
	// panel b: c[i*ldc+j] = (add ? c[i*ldc+j] : 0) + Σ_p a[i*lda+p]·b[p*nr+j].
	tile func(k int, a []float32, lda int, b, c []float32, ldc int, add bool)
	// short, if not nil, gives a lower kernel for the last rows < mr of a product: its
	// height h ≥ rows and its tile function (same contract, h rows).
	short func(rows int) (h int, tile func(k int, a []float32, lda int, b, c []float32, ldc int, add bool))
}

// dotKernel is a BF16 pair micro-kernel (VDPBF16PS, AMX TDPBF16PS): products of BF16 values,
// exact in float32, summed pairwise into float32 accumulators.
type dotKernel struct {
	name      string
	gemmShape // kc counts BF16 elements and is a multiple of 2·kstep
	// kstep is the number of pairs the kernel consumes at once: staged depth is padded with
	// zeros to a multiple of it.
	kstep int
	// tile computes one mr×nr tile over kp pairs (a multiple of kstep): a holds mr rows of
	// BF16 values (stride lda, even), b a packed panel of kp rows of nr pairs
	// (b[p*nr+j] = w[j][2p] | w[j][2p+1]<<16):
	// c[i*ldc+j] = (add ? c[i*ldc+j] : 0) + Σ_p a[i*lda+2p]·w[j][2p] + a[i*lda+2p+1]·w[j][2p+1].
	tile func(kp int, a []uint16, lda int, b []uint32, c []float32, ldc int, add bool)
	// toBF16 rounds len(src) values to BF16 bits (nearest even, as Float32ToBF16).
	toBF16 func(dst []uint16, src []float32)
	// packPairs packs rows [j, j+cols) of BF16 weights b (stride ldb) × pairs [p0/2, p0/2+kp)
	// into a kp×nr panel of pairs; p0 is even and 2·kp ≤ the row's remaining length.
	packPairs func(panel []uint32, nr int, b []uint16, ldb, j, cols, p0, kp int)
}

// The tier in use and the tiers this machine can run, best first (tierTable ends with the
// generic tier). Chosen once; see useTier for tests.
var (
	available         = tierTable()
	active, tierError = chooseTier(available, os.Getenv(TierEnv))
)

// TierEnv is the environment variable that forces a CPU tier, for benchmarks and for CPUs
// whose best tier misbehaves: GORERANK_TIER=avx2 runs the avx2 tier's kernels as an
// AVX2-only CPU does (see chooseTier). It is read once, when the package is initialised.
const TierEnv = "GORERANK_TIER"

// chooseTier returns the tier to run: the best of ts, or the one that env (GORERANK_TIER's
// value, "" when unset) names. A forced tier runs the int8 kernel of the same name where
// one exists (avx2, generic: as on a CPU without VNNI) and otherwise the tier's own, the best
// its CPU allows. A name that is not in ts (unknown, or not runnable by this CPU or build)
// is refused: the best tier runs and the error says why (Tier().Err).
func chooseTier(ts []*cpuTier, env string) (*cpuTier, error) {
	name := strings.ToLower(strings.TrimSpace(env))
	if name == "" {
		return ts[0], nil
	}
	var names []string
	for _, t := range ts {
		names = append(names, t.name)
		if t.name != name {
			continue
		}
		c := *t
		c.forced = true
		for _, k := range int8Available() {
			if k.name == name {
				c.int8 = k
			}
		}
		return &c, nil
	}
	return ts[0], fmt.Errorf("tensor: %s=%q: not a tier this CPU and build can run (%s); running %s",
		TierEnv, env, strings.Join(names, ", "), ts[0].name)
}

// TierInfo describes the kernels that run on this machine.
type TierInfo struct {
	Name string // the tier: "avx512-bf16", "avx512", "avx2", "generic", …
	// GEMM is the float32 micro-kernel: ISA and tile, e.g. "avx512 12x32".
	GEMM string
	// BF16 is the BF16 dot-product kernel used for BF16 arithmetic, or "" when BF16 weights
	// are widened to float32 (no such instructions, or not validated yet).
	BF16 string
	// Int8 is the int8 dot-product kernel (--dtype int8): "avx512vnni 4x4", "avxvnni 4x4",
	// "avx2 4x4" or "generic 4x4".
	Int8 string
	// Available lists every tier this machine and build can run, best first.
	Available []string
	// Forced says that GORERANK_TIER chose the tier (TierEnv), not the CPU's features.
	Forced bool
	// Err, if not nil, says why GORERANK_TIER was refused; the CPU's best tier runs.
	Err error
}

// String is the tier name followed by its kernels: "avx512-bf16 (gemm avx512 12x32, bf16
// vdpbf16ps 12x32, int8 avx512vnni 4x4)", then "; forced by GORERANK_TIER" or the reason it
// was refused.
func (t TierInfo) String() string {
	s := t.Name + " (gemm " + t.GEMM
	if t.BF16 != "" {
		s += ", bf16 " + t.BF16
	}
	s += ", int8 " + t.Int8 + ")"
	if t.Forced {
		s += "; forced by " + TierEnv
	}
	if t.Err != nil {
		s += "; " + t.Err.Error()
	}
	return s
}

// Tier reports the CPU tier in use: which kernels GEMM, the half-precision products, the
// int8 products and the row kernels run, and whether GORERANK_TIER chose it (or was refused).
func Tier() TierInfo {
	info := TierInfo{Name: active.name, GEMM: active.f32.String(), Int8: active.int8.name + " 4x4",
		Forced: active.forced, Err: tierError}
	if active.dot != nil {
		info.BF16 = active.dot.name + " " + active.dot.gemmShape.tile()
	}
	for _, t := range available {
		info.Available = append(info.Available, t.name)
	}
	return info
}

// BF16Arithmetic says whether the tier in use multiplies BF16 in hardware. Where it does,
// BF16 weights are best used through MatMulNTBF16Compute (twice the float32 FMA rate);
// elsewhere MatMulNTBF16 (exact widening) costs the same and is more accurate.
func BF16Arithmetic() bool { return active.dot != nil }

// useTier makes every kernel of the package use tier t until the returned func restores the
// previous one. It is the test hook for checking every tier on one machine.
func useTier(t *cpuTier) (restore func()) {
	prev := active
	active = t
	return func() { active = prev }
}

// gemmShape holds a kernel's blocking: the micro-tile (mr×nr), the k slice kc and the widest
// column block of a task (nc, a multiple of nr) so that a packed kc×nc block stays in L2.
type gemmShape struct{ mr, nr, kc, nc int }

func (s gemmShape) tile() string { return strconv.Itoa(s.mr) + "x" + strconv.Itoa(s.nr) }

func (k f32Kernel) String() string { return k.isa + " " + k.gemmShape.tile() }

// withDot is tier base with the BF16 dot kernel d, named name.
func withDot(name string, base *cpuTier, d *dotKernel) *cpuTier {
	t := *base
	t.name, t.dot = name, d
	return &t
}

// genericTier is pure Go: every GOARCH, the purego build, CPUs without AVX2.
var genericTier = &cpuTier{
	name: "generic",
	f32: f32Kernel{
		isa:       "go",
		gemmShape: gemmShape{mr: 4, nr: 4, kc: 256, nc: 128},
		tile:      kernelGeneric,
	},
	packNT:    packNTGeneric,
	packNN:    packNNGeneric,
	widen:     widenGeneric,
	roundBF16: roundBF16Generic,
	int8:      int8Generic,
	rows:      rowsGeneric,
}
