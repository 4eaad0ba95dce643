//go:build untested_tiers

package tensor

// untestedTiers: built with -tags untested_tiers, tiers not yet validated on hardware join
// the dispatch where the CPU has them (see tier_untested_off.go).
const untestedTiers = true
