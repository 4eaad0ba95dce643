//go:build !amd64 || !gc || purego

package tensor

// tierTable lists the tiers this build can run: without assembly only the generic one.
func tierTable() []*cpuTier { return []*cpuTier{genericTier} }

// int8Available lists the int8 kernels this build can run, best first: the portable one.
func int8Available() []*int8Kernel { return []*int8Kernel{int8Generic} }
