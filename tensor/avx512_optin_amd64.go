//go:build amd64 && gc && !purego && gemm_avx512

package tensor

// avx512OptIn: built with -tags gemm_avx512, the AVX-512 GEMM tier is used where the CPU has it.
const avx512OptIn = true
