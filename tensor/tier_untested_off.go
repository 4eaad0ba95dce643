//go:build !untested_tiers

package tensor

// untestedTiers: tiers whose kernels have not yet passed their tests on a CPU that has the
// instructions join the dispatch only in builds with -tags untested_tiers (see tierTable).
// Today that is the AMX tier. This file and its twin are the only readers of the tag.
const untestedTiers = false
