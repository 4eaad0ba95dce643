//go:build !amd64 || !gc || purego

package tensor

// tierTable lists the tiers this build can run: without assembly only the generic one.
func tierTable() []*cpuTier { return []*cpuTier{genericTier} }
