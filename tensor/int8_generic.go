//go:build !amd64 || !gc || purego

package tensor

// int8Kernels lists the int8 tiers this build can run, best first: without assembly only the
// portable one.
func int8Kernels() []*int8Tier { return []*int8Tier{int8Generic} }

// int8Dequant: dst[j] = float32(acc[j]-comp[j])·(sa·sw[j]) + b[j].
func int8Dequant(dst []float32, acc, comp []int32, sa float32, sw, b []float32) {
	int8DequantGeneric(dst, acc, comp, sa, sw, b)
}
