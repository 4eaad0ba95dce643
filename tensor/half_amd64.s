//go:build amd64 && gc && !purego

#include "textflag.h"

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

// TRANSPOSE8 transposes the 8x8 float32 block in Y0..Y7 (row r = Yr) and stores
// column q at q·64(DI), i.e. one 8-float half of dst row p+q of a [kc][16] sliver.
#define TRANSPOSE8 \
	VUNPCKLPS  Y1, Y0, Y8          \
	VUNPCKHPS  Y1, Y0, Y9          \
	VUNPCKLPS  Y3, Y2, Y10         \
	VUNPCKHPS  Y3, Y2, Y11         \
	VUNPCKLPS  Y5, Y4, Y12         \
	VUNPCKHPS  Y5, Y4, Y13         \
	VUNPCKLPS  Y7, Y6, Y14         \
	VUNPCKHPS  Y7, Y6, Y15         \
	VSHUFPS    $0x44, Y10, Y8, Y0  \
	VSHUFPS    $0xEE, Y10, Y8, Y1  \
	VSHUFPS    $0x44, Y11, Y9, Y2  \
	VSHUFPS    $0xEE, Y11, Y9, Y3  \
	VSHUFPS    $0x44, Y14, Y12, Y4 \
	VSHUFPS    $0xEE, Y14, Y12, Y5 \
	VSHUFPS    $0x44, Y15, Y13, Y6 \
	VSHUFPS    $0xEE, Y15, Y13, Y7 \
	VPERM2F128 $0x20, Y4, Y0, Y8   \
	VPERM2F128 $0x20, Y5, Y1, Y9   \
	VPERM2F128 $0x20, Y6, Y2, Y10  \
	VPERM2F128 $0x20, Y7, Y3, Y11  \
	VPERM2F128 $0x31, Y4, Y0, Y12  \
	VPERM2F128 $0x31, Y5, Y1, Y13  \
	VPERM2F128 $0x31, Y6, Y2, Y14  \
	VPERM2F128 $0x31, Y7, Y3, Y15  \
	VMOVUPS    Y8, (DI)            \
	VMOVUPS    Y9, 64(DI)          \
	VMOVUPS    Y10, 128(DI)        \
	VMOVUPS    Y11, 192(DI)        \
	VMOVUPS    Y12, 256(DI)        \
	VMOVUPS    Y13, 320(DI)        \
	VMOVUPS    Y14, 384(DI)        \
	VMOVUPS    Y15, 448(DI)

// Row addressing for packing: rows 0-2 via SI, 3-5 via R9 = SI+3·ldb, 6-7 via R10 = SI+6·ldb.
// Expects DI = dst, SI = src, R8 = ldb, CX = kc; leaves CX = kc/8 and the flags of that shift.
#define PACKSETUP \
	SHLQ $1, R8          \
	LEAQ (R8)(R8*2), R9  \
	LEAQ (R9)(R9*1), R10 \
	ADDQ SI, R9          \
	ADDQ SI, R10         \
	SHRQ $3, CX

// func packF16x8(dst *float32, src *uint16, ldb, kc int)
TEXT ·packF16x8(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ldb+16(FP), R8
	MOVQ kc+24(FP), CX
	PACKSETUP
	JZ   pf16done

pf16loop:
	VCVTPH2PS (SI), Y0
	VCVTPH2PS (SI)(R8*1), Y1
	VCVTPH2PS (SI)(R8*2), Y2
	VCVTPH2PS (R9), Y3
	VCVTPH2PS (R9)(R8*1), Y4
	VCVTPH2PS (R9)(R8*2), Y5
	VCVTPH2PS (R10), Y6
	VCVTPH2PS (R10)(R8*1), Y7
	TRANSPOSE8
	ADDQ      $16, SI
	ADDQ      $16, R9
	ADDQ      $16, R10
	ADDQ      $512, DI
	DECQ      CX
	JNZ       pf16loop

pf16done:
	VZEROUPPER
	RET

#define BF16ROW(addr, reg) \
	VPMOVZXWD addr, reg      \
	VPSLLD    $16, reg, reg

// func packBF16x8(dst *float32, src *uint16, ldb, kc int)
TEXT ·packBF16x8(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ldb+16(FP), R8
	MOVQ kc+24(FP), CX
	PACKSETUP
	JZ   pbf16done

pbf16loop:
	BF16ROW((SI), Y0)
	BF16ROW((SI)(R8*1), Y1)
	BF16ROW((SI)(R8*2), Y2)
	BF16ROW((R9), Y3)
	BF16ROW((R9)(R8*1), Y4)
	BF16ROW((R9)(R8*2), Y5)
	BF16ROW((R10), Y6)
	BF16ROW((R10)(R8*1), Y7)
	TRANSPOSE8
	ADDQ $16, SI
	ADDQ $16, R9
	ADDQ $16, R10
	ADDQ $512, DI
	DECQ CX
	JNZ  pbf16loop

pbf16done:
	VZEROUPPER
	RET
