//go:build amd64 && gc && !purego && !gemm_avx512

package tensor

// avx512OptIn: the AVX-512 micro-kernel has so far been checked only through its blocking
// (the sim512 test tier runs the same driver with a Go tile kernel), never executed on an
// AVX-512 CPU. A wrong instruction there would give wrong scores silently, so the tier stays
// out of dispatch unless the build asks for it with -tags gemm_avx512, after
// `go test -tags gemm_avx512 ./tensor` has passed on such a machine. AVX-512 CPUs run the
// AVX2 tier meanwhile.
const avx512OptIn = false
