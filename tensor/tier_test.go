package tensor

import (
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// Emulation tiers, for tests only: the driver paths of kernels this machine may have no
// instructions for, run with the Go reference tiles (kernelTileRef, dotTileRef).
var (
	// sim512 is the AVX-512 blocking (12×32 tiles) on the generic building blocks.
	sim512Tier = &cpuTier{
		name: "sim512",
		f32: f32Kernel{isa: "go", gemmShape: gemmShape{mr: 12, nr: 32, kc: 256, nc: 256},
			tile: func(k int, a []float32, lda int, b, c []float32, ldc int, add bool) {
				kernelTileRef(12, 32, k, a, lda, b, c, ldc, add)
			}},
		packNT: packNTGeneric, packNN: packNNGeneric, widen: widenGeneric, roundBF16: roundBF16Generic,
		int8: int8Generic,
	}
	// dotEmulated is the VDPBF16PS blocking (12×32, one pair per step).
	dotEmulated = withDot("vdpbf16ps-emulated", genericTier, &dotKernel{
		name: "go", gemmShape: gemmShape{mr: 12, nr: 32, kc: 512, nc: 256}, kstep: 1,
		tile: dotTileRef(12, 32), toBF16: toBF16Generic, packPairs: packPairsGeneric,
	})
	// amxEmulated is the AMX blocking (32×32, 16 pairs per step).
	amxEmulated = withDot("amx-emulated", genericTier, &dotKernel{
		name: "go", gemmShape: gemmShape{mr: 32, nr: 32, kc: 512, nc: 256}, kstep: 16,
		tile: dotTileRef(32, 32), toBF16: toBF16Generic, packPairs: packPairsGeneric,
	})
)

// testTiers is every tier this machine can run (the dispatch table, plus tiers kept out of
// it that the CPU can still execute, such as AMX without -tags untested_tiers), then the
// emulation tiers.
func testTiers() []*cpuTier {
	ts := append(slices.Clone(available), hardwareOnlyTiers()...)
	return append(ts, sim512Tier, dotEmulated, amxEmulated)
}

// forEachTier runs f once per test tier, with that tier active.
func forEachTier(t *testing.T, f func(t *testing.T, tr *cpuTier)) {
	for _, tr := range testTiers() {
		t.Run(tr.name, func(t *testing.T) {
			defer useTier(tr)()
			f(t, tr)
		})
	}
}

// TestTierTable checks the dispatch against the CPU flags as Linux reports them
// (/proc/cpuinfo, read independently of golang.org/x/sys/cpu): the best tier the flags
// allow is the one in use, and the table ends with the generic tier.
func TestTierTable(t *testing.T) {
	if available[len(available)-1] != genericTier {
		t.Fatal("the tier table must end with the generic tier")
	}
	if env := os.Getenv(TierEnv); env != "" { // forced: check that choice, not the CPU's
		want, err := chooseTier(available, env)
		info := Tier()
		t.Logf("%s=%q: tier %v", TierEnv, env, info)
		if active.name != want.name || active.int8 != want.int8 || (err == nil) != (info.Err == nil) || info.Forced != (err == nil) {
			t.Fatalf("%s=%q: tier %v, want %s with int8 %s (error %v)", TierEnv, env, info, want.name, want.int8.name, err)
		}
		t.Skipf("%s is set: the choice from the CPU flags is not in use", TierEnv)
	}
	if active != available[0] {
		t.Fatalf("active tier %s, want the best one %s", active.name, available[0].name)
	}
	info := Tier()
	t.Logf("tier: %v; available: %v", info, info.Available)
	if info.Name != active.name || !strings.HasPrefix(info.String(), active.name+" (gemm ") {
		t.Fatalf("Tier() = %+v", info)
	}
	if ks := int8Available(); active.int8 != ks[0] || ks[len(ks)-1] != int8Generic {
		t.Fatalf("tier %s runs int8 kernel %s, want the best available %s", active.name, active.int8.name, ks[0].name)
	}
	if BF16Arithmetic() != (info.BF16 != "") {
		t.Fatal("BF16Arithmetic disagrees with Tier().BF16")
	}
	cpuinfo, err := os.ReadFile("/proc/cpuinfo")
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" || err != nil {
		t.Skipf("no /proc/cpuinfo on %s/%s to check the choice against", runtime.GOOS, runtime.GOARCH)
	}
	flags, vendor := map[string]bool{}, ""
	for _, line := range strings.Split(string(cpuinfo), "\n") {
		name, value, ok := strings.Cut(line, ":")
		switch name = strings.TrimSpace(name); {
		case ok && name == "vendor_id" && vendor == "":
			vendor = strings.TrimSpace(value)
		case ok && name == "flags":
			for _, f := range strings.Fields(value) {
				flags[f] = true
			}
		}
		if vendor != "" && len(flags) > 0 {
			break
		}
	}
	want := "generic"
	switch {
	case purego:
	case flags["avx512f"] && flags["avx512_bf16"] && vendor == "AuthenticAMD" && !(untestedTiers && flags["amx_bf16"]):
		want = "avx512-bf16"
	case flags["avx512f"] && !(untestedTiers && flags["amx_bf16"]):
		want = "avx512"
	case flags["avx512f"]:
		want = "amx" // unless the kernel refuses the tile permission
	case flags["avx2"] && flags["fma"] && flags["f16c"]:
		want = "avx2"
	}
	if info.Name != want && !(want == "amx" && info.Name == "avx512-bf16") {
		t.Fatalf("tier %s in use, want %s for %s with avx2=%v avx512f=%v avx512_bf16=%v amx_bf16=%v",
			info.Name, want, vendor, flags["avx2"], flags["avx512f"], flags["avx512_bf16"], flags["amx_bf16"])
	}
}

// TestChooseTier: GORERANK_TIER picks a tier of the table by name (case and spaces aside), with
// the int8 kernel of the same name where there is one; a name the table lacks is refused with
// an error and the best tier runs.
func TestChooseTier(t *testing.T) {
	if tr, err := chooseTier(available, ""); tr != available[0] || err != nil {
		t.Fatalf("unset: %s, %v", tr.name, err)
	}
	for _, want := range available {
		tr, err := chooseTier(available, " "+strings.ToUpper(want.name))
		if err != nil || tr.name != want.name || !tr.forced {
			t.Fatalf("%s: got %s (forced %v), %v", want.name, tr.name, tr.forced, err)
		}
		wantInt8 := want.int8
		for _, k := range int8Available() {
			if k.name == want.name {
				wantInt8 = k
			}
		}
		if tr.int8 != wantInt8 || tr.f32.isa != want.f32.isa || tr.dot != want.dot {
			t.Fatalf("%s: int8 %s gemm %s, want int8 %s gemm %s", want.name, tr.int8.name, tr.f32.isa, wantInt8.name, want.f32.isa)
		}
		if s := (TierInfo{Name: tr.name, Forced: true}).String(); !strings.HasSuffix(s, "; forced by GORERANK_TIER") {
			t.Errorf("String() = %q", s)
		}
	}
	if tr, err := chooseTier([]*cpuTier{genericTier}, "avx2"); tr != genericTier || err == nil ||
		!strings.Contains(err.Error(), `GORERANK_TIER="avx2"`) || !strings.Contains(err.Error(), "running generic") {
		t.Fatalf("refused: %s, %v", tr.name, err)
	}
	if tr, err := chooseTier(available, "avx9"); tr != available[0] || err == nil {
		t.Fatalf("unknown name: %s, %v", tr.name, err)
	} else if s := (TierInfo{Name: tr.name, Err: err}).String(); !strings.Contains(s, "avx9") {
		t.Errorf("String() = %q does not carry the refusal", s)
	}
}
