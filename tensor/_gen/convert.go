package main

// The element-wise conversions, written by hand (they have no tiers to share a template
// with) and emitted into the same file as the kernels.

// roundBF16AVX2 rounds 8 float32 at a time to BF16, nearest even, NaN quieted, and leaves
// them widened: dst[i] = BF16ToFloat32(Float32ToBF16(src[i])). n is a multiple of 8.
// Y9..Y14 hold the constants; per 8 values: Y1 = rounded, Y4 = quieted NaN, Y3 = is-NaN mask.
const roundBF16AVX2 = `// func roundBF16AVX2(dst, src *float32, n int)
TEXT ·roundBF16AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
	JZ rounddone
	MOVL $1, AX
	VMOVD AX, X14
	VPBROADCASTD X14, Y14
	MOVL $0x7fff, AX
	VMOVD AX, X13
	VPBROADCASTD X13, Y13
	MOVL $0xffff0000, AX
	VMOVD AX, X12
	VPBROADCASTD X12, Y12
	MOVL $0x7fffffff, AX
	VMOVD AX, X11
	VPBROADCASTD X11, Y11
	MOVL $0x7f800000, AX
	VMOVD AX, X10
	VPBROADCASTD X10, Y10
	MOVL $0x00400000, AX
	VMOVD AX, X9
	VPBROADCASTD X9, Y9
roundloop:
	VMOVDQU (SI), Y0
	VPSRLD $16, Y0, Y1
	VPAND Y14, Y1, Y1
	VPADDD Y13, Y1, Y1
	VPADDD Y0, Y1, Y1
	VPAND Y12, Y1, Y1
	VPAND Y11, Y0, Y2
	VPCMPGTD Y10, Y2, Y3
	VPOR Y9, Y0, Y4
	VPAND Y12, Y4, Y4
	VPBLENDVB Y3, Y4, Y1, Y1
	VMOVDQU Y1, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ roundloop
rounddone:
	VZEROUPPER
	RET

`

// toBF16AVX512 is the same rounding with BF16 bits as the result, 16 values at a time:
// dst[i] = Float32ToBF16(src[i]). n is a multiple of 16. Z9..Z14 hold the constants; K1
// marks the NaN lanes, which get the quiet bit instead of the rounding increment.
const toBF16AVX512 = `// func toBF16AVX512(dst *uint16, src *float32, n int)
TEXT ·toBF16AVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $4, CX
	JZ cvtdone
	MOVL $1, AX
	VPBROADCASTD AX, Z14
	MOVL $0x7fff, AX
	VPBROADCASTD AX, Z13
	MOVL $0x7fffffff, AX
	VPBROADCASTD AX, Z11
	MOVL $0x7f800000, AX
	VPBROADCASTD AX, Z10
	MOVL $0x00400000, AX
	VPBROADCASTD AX, Z9
cvtloop:
	VMOVDQU32 (SI), Z0
	VPSRLD $16, Z0, Z1
	VPANDD Z14, Z1, Z1
	VPADDD Z13, Z1, Z1
	VPADDD Z0, Z1, Z1
	VPANDD Z11, Z0, Z2
	VPCMPUD $6, Z10, Z2, K1
	VPORD Z9, Z0, K1, Z1
	VPSRLD $16, Z1, Z1
	VPMOVDW Z1, Y1
	VMOVDQU Y1, (DI)
	ADDQ $64, SI
	ADDQ $32, DI
	DECQ CX
	JNZ cvtloop
cvtdone:
	VZEROUPPER
	RET

`

// cpuVendor returns the CPU vendor string of CPUID leaf 0 ("GenuineIntel", "AuthenticAMD")
// as its three registers, for the one tier decision that flags cannot make (tier_amd64.go).
const cpuVendor = `// func cpuVendor() (ebx, edx, ecx uint32)
TEXT ·cpuVendor(SB), NOSPLIT, $0-12
	XORL AX, AX
	XORL CX, CX
	CPUID
	MOVL BX, ebx+0(FP)
	MOVL DX, edx+4(FP)
	MOVL CX, ecx+8(FP)
	RET

`
