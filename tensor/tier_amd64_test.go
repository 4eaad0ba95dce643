//go:build amd64 && gc && !purego

package tensor

import "golang.org/x/sys/cpu"

const purego = false

// hardwareOnlyTiers are tiers outside the dispatch table that this CPU can still run: the
// AMX tier without -tags untested_tiers, wherever AMX is usable, so that its tests run on the
// first AMX machine whatever the build.
// The same holds for the avx512-bf16 tier on CPUs where it is correct but not faster
// (bf16DotFast).
func hardwareOnlyTiers() []*cpuTier {
	var ts []*cpuTier
	x := &cpu.X86
	if !untestedTiers && x.HasAVX512F && x.HasAMXTile && x.HasAMXBF16 && amxRequest() == nil {
		ts = append(ts, amxTier)
	}
	if x.HasAVX512F && x.HasAVX512BF16 && !bf16DotFast() {
		ts = append(ts, avx512BF16Tier)
	}
	return ts
}
