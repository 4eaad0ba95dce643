//go:build !amd64 || !gc || purego

package tensor

// int8Kernels lists the int8 tiers this build can run, best first: without assembly only the
// portable one.
func int8Kernels() []*int8Tier { return []*int8Tier{int8Generic} }
