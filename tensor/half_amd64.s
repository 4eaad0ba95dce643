//go:build amd64 && gc && !purego

#include "textflag.h"

// func widenF16F16C(dst *float32, src *uint16, n int)
TEXT ·widenF16F16C(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
	JZ   f16done

f16loop:
	VCVTPH2PS (SI), Y0
	VMOVUPS   Y0, (DI)
	ADDQ      $16, SI
	ADDQ      $32, DI
	DECQ      CX
	JNZ       f16loop

f16done:
	VZEROUPPER
	RET

// func widenBF16Shift(dst *float32, src *uint16, n int)
TEXT ·widenBF16Shift(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
	JZ   bf16done

bf16loop:
	VPMOVZXWD (SI), Y0
	VPSLLD    $16, Y0, Y0
	VMOVUPS   Y0, (DI)
	ADDQ      $16, SI
	ADDQ      $32, DI
	DECQ      CX
	JNZ       bf16loop

bf16done:
	VZEROUPPER
	RET

// STOREROW stores (or accumulates into) one 16-wide row of c at R9 and steps R9 by ldc.
#define STOREROW(lo, hi) \
	VMOVUPS lo, (R9)    \
	VMOVUPS hi, 32(R9)  \
	ADDQ    R8, R9

#define ACCROW(lo, hi)      \
	VADDPS  (R9), lo, lo    \
	VADDPS  32(R9), hi, hi  \
	VMOVUPS lo, (R9)        \
	VMOVUPS hi, 32(R9)      \
	ADDQ    R8, R9

// func kernel6x16FMA(kc int, a *float32, lda int, b, c *float32, ldc int, acc bool)
// Y4..Y15 hold the 6x16 tile (two registers per row), Y0/Y1 a row of b, Y2/Y3 broadcasts
// of a. Rows 0-2 of a are read through SI, rows 3-5 through R10 = SI + 3·lda.
TEXT ·kernel6x16FMA(SB), NOSPLIT, $0-49
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R11
	SHLQ $2, R11
	LEAQ (R11)(R11*2), R10
	ADDQ SI, R10
	MOVQ b+24(FP), DI
	MOVQ c+32(FP), R9
	MOVQ ldc+40(FP), R8
	SHLQ $2, R8
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15

kloop:
	VMOVUPS      (DI), Y0
	VMOVUPS      32(DI), Y1
	VBROADCASTSS (SI), Y2
	VBROADCASTSS (SI)(R11*1), Y3
	VFMADD231PS  Y0, Y2, Y4
	VFMADD231PS  Y1, Y2, Y5
	VFMADD231PS  Y0, Y3, Y6
	VFMADD231PS  Y1, Y3, Y7
	VBROADCASTSS (SI)(R11*2), Y2
	VBROADCASTSS (R10), Y3
	VFMADD231PS  Y0, Y2, Y8
	VFMADD231PS  Y1, Y2, Y9
	VFMADD231PS  Y0, Y3, Y10
	VFMADD231PS  Y1, Y3, Y11
	VBROADCASTSS (R10)(R11*1), Y2
	VBROADCASTSS (R10)(R11*2), Y3
	VFMADD231PS  Y0, Y2, Y12
	VFMADD231PS  Y1, Y2, Y13
	VFMADD231PS  Y0, Y3, Y14
	VFMADD231PS  Y1, Y3, Y15
	ADDQ         $4, SI
	ADDQ         $4, R10
	ADDQ         $64, DI
	DECQ         CX
	JNZ          kloop

	MOVBLZX acc+48(FP), AX
	TESTQ   AX, AX
	JNZ     accumulate
	STOREROW(Y4, Y5)
	STOREROW(Y6, Y7)
	STOREROW(Y8, Y9)
	STOREROW(Y10, Y11)
	STOREROW(Y12, Y13)
	STOREROW(Y14, Y15)
	VZEROUPPER
	RET

accumulate:
	ACCROW(Y4, Y5)
	ACCROW(Y6, Y7)
	ACCROW(Y8, Y9)
	ACCROW(Y10, Y11)
	ACCROW(Y12, Y13)
	ACCROW(Y14, Y15)
	VZEROUPPER
	RET

// func roundBF16AVX2(dst, src *float32, n int)
// Y9..Y14 hold the constants; per 8 values: Y1 = rounded, Y4 = quieted NaN, Y3 = is-NaN mask.
TEXT ·roundBF16AVX2(SB), NOSPLIT, $0-24
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         n+16(FP), CX
	SHRQ         $3, CX
	JZ           rounddone
	MOVL         $1, AX
	VMOVD        AX, X14
	VPBROADCASTD X14, Y14
	MOVL         $0x7fff, AX
	VMOVD        AX, X13
	VPBROADCASTD X13, Y13
	MOVL         $0xffff0000, AX
	VMOVD        AX, X12
	VPBROADCASTD X12, Y12
	MOVL         $0x7fffffff, AX
	VMOVD        AX, X11
	VPBROADCASTD X11, Y11
	MOVL         $0x7f800000, AX
	VMOVD        AX, X10
	VPBROADCASTD X10, Y10
	MOVL         $0x00400000, AX
	VMOVD        AX, X9
	VPBROADCASTD X9, Y9

roundloop:
	VMOVDQU   (SI), Y0
	VPSRLD    $16, Y0, Y1
	VPAND     Y14, Y1, Y1
	VPADDD    Y13, Y1, Y1
	VPADDD    Y0, Y1, Y1
	VPAND     Y12, Y1, Y1
	VPAND     Y11, Y0, Y2
	VPCMPGTD  Y10, Y2, Y3
	VPOR      Y9, Y0, Y4
	VPAND     Y12, Y4, Y4
	VPBLENDVB Y3, Y4, Y1, Y1
	VMOVDQU   Y1, (DI)
	ADDQ      $32, SI
	ADDQ      $32, DI
	DECQ      CX
	JNZ       roundloop

rounddone:
	VZEROUPPER
	RET
