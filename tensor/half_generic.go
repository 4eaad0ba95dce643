//go:build !amd64 || !gc || purego

package tensor

// lowpTiers lists the usable tiers, best first. Without assembly only the portable one.
func lowpTiers() []*lowpTier { return []*lowpTier{genericTier} }
