//go:build amd64 && gc && !purego

#include "textflag.h"

// Row kernels of the AVX2+FMA tiers (rows_amd64.go): GELU, softmax exp, the adds and the
// LayerNorm passes; the portable forms are in package nn (vec.go). Constants are 8-lane replicated so that
// they can be memory operands; they are listed at the end, as written by
// nn/internal/erfgen/rational_erf.py.

// func addBiasGELUAVX2(dst, x, b *float32, n int)
// dst[i] = GELU(x[i] + b[i]) for i < n, n a multiple of 8:
//	z = x + b;  u = clamp(z/√2, ±4);  erf = clamp(u·P(u²)/Q(u²), ±1);  dst = z/2 + z/2·erf
TEXT ·addBiasGELUAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $3, CX
	JZ   gdone
	VMOVUPS invSqrt2<>(SB), Y15
	VMOVUPS four<>(SB), Y14
	VMOVUPS minusFour<>(SB), Y13
	VMOVUPS half<>(SB), Y12
	VMOVUPS one<>(SB), Y11
	VMOVUPS minusOne<>(SB), Y10

gloop:
	VMOVUPS (SI), Y0
	VADDPS  (DX), Y0, Y0           // z
	VMULPS  Y15, Y0, Y1            // u = z/√2
	VMINPS  Y1, Y14, Y1
	VMAXPS  Y1, Y13, Y1
	VMULPS  Y1, Y1, Y2             // t = u²
	VMOVUPS erfP5<>(SB), Y3
	VMOVUPS erfQ5<>(SB), Y4
	VFMADD213PS erfP4<>(SB), Y2, Y3
	VFMADD213PS erfQ4<>(SB), Y2, Y4
	VFMADD213PS erfP3<>(SB), Y2, Y3
	VFMADD213PS erfQ3<>(SB), Y2, Y4
	VFMADD213PS erfP2<>(SB), Y2, Y3
	VFMADD213PS erfQ2<>(SB), Y2, Y4
	VFMADD213PS erfP1<>(SB), Y2, Y3
	VFMADD213PS erfQ1<>(SB), Y2, Y4
	VFMADD213PS erfP0<>(SB), Y2, Y3
	VFMADD213PS Y11, Y2, Y4        // Q0 = 1
	VMULPS  Y1, Y3, Y3             // u·P
	VDIVPS  Y4, Y3, Y3             // erf ≈ u·P/Q
	VMINPS  Y11, Y3, Y3
	VMAXPS  Y10, Y3, Y3
	VMULPS  Y12, Y0, Y0            // z/2
	VFMADD213PS Y0, Y0, Y3         // z/2·erf + z/2
	VMOVUPS Y3, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	DECQ    CX
	JNZ     gloop

gdone:
	VZEROUPPER
	RET

// EXP computes Y0 = e^Y0 lane-wise (Y1, Y2 clobbered; Y6, Y7 hold expLo, expHi), as expf:
// Cody–Waite reduction x = n·ln2 + r (n = round(x·log2e), r = x - n·ln2hi - n·ln2lo), a
// degree-7 Taylor polynomial for e^r, and 2^n built in the exponent bits as (n<<23) +
// bits(1.0). x is clamped to [expLo, expHi] first (below e^-87.3 ≈ 1.2e-38 the result is
// that instead of 0); a NaN stays NaN.
#define EXP \
	VMAXPS  Y0, Y6, Y0                      \
	VMINPS  Y0, Y7, Y0                      \
	VMULPS  log2e<>(SB), Y0, Y1             \
	VROUNDPS $0, Y1, Y1                     \
	VFNMADD231PS ln2hi<>(SB), Y1, Y0        \
	VFNMADD231PS ln2lo<>(SB), Y1, Y0        \
	VMOVUPS expC7<>(SB), Y2                 \
	VFMADD213PS expC6<>(SB), Y0, Y2         \
	VFMADD213PS expC5<>(SB), Y0, Y2         \
	VFMADD213PS expC4<>(SB), Y0, Y2         \
	VFMADD213PS expC3<>(SB), Y0, Y2         \
	VFMADD213PS expC2<>(SB), Y0, Y2         \
	VFMADD213PS expC1<>(SB), Y0, Y2         \
	VFMADD213PS expC0<>(SB), Y0, Y2         \
	VCVTPS2DQ Y1, Y1                        \
	VPSLLD  $23, Y1, Y1                     \
	VPADDD  one<>(SB), Y1, Y1               \
	VMULPS  Y1, Y2, Y0

// func expSubSumAVX2(x *float32, n int, m float32) float32
// x[i] = e^(x[i] - m) for i < n, n a multiple of 8; returns Σ x[i] (8 partial sums added
// at the end).
TEXT ·expSubSumAVX2(SB), NOSPLIT, $0-28
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS m+16(FP), Y5
	VMOVUPS expLo<>(SB), Y6
	VMOVUPS expHi<>(SB), Y7
	VXORPS Y4, Y4, Y4
	SHRQ $3, CX
	JZ   edone

eloop:
	VMOVUPS (SI), Y0
	VSUBPS  Y5, Y0, Y0
	EXP
	VMOVUPS Y0, (SI)
	VADDPS  Y0, Y4, Y4
	ADDQ    $32, SI
	DECQ    CX
	JNZ     eloop

edone:
	VEXTRACTF128 $1, Y4, X1
	VADDPS  X1, X4, X4
	VMOVHLPS X4, X1, X1
	VADDPS  X1, X4, X4
	VPSHUFD $1, X4, X1
	VADDSS  X1, X4, X4
	VMOVSS  X4, ret+24(FP)
	VZEROUPPER
	RET

// func scaleMaxAVX2(x *float32, n int, s float32) float32
// x[i] *= s for i < n, n a multiple of 8 and at least 8; returns max x[i].
TEXT ·scaleMaxAVX2(SB), NOSPLIT, $0-28
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS s+16(FP), Y5
	SHRQ $3, CX
	VMULPS  (SI), Y5, Y4
	VMOVUPS Y4, (SI)
	ADDQ    $32, SI
	DECQ    CX
	JZ      mdone

mloop:
	VMULPS  (SI), Y5, Y0
	VMOVUPS Y0, (SI)
	VMAXPS  Y0, Y4, Y4
	ADDQ    $32, SI
	DECQ    CX
	JNZ     mloop

mdone:
	VEXTRACTF128 $1, Y4, X1
	VMAXPS  X1, X4, X4
	VMOVHLPS X4, X1, X1
	VMAXPS  X1, X4, X4
	VPSHUFD $1, X4, X1
	VMAXSS  X1, X4, X4
	VMOVSS  X4, ret+24(FP)
	VZEROUPPER
	RET

// func addAVX2(d, x, y *float32, n int)
// d[i] = x[i] + y[i] for i < n, n a multiple of 8.
TEXT ·addAVX2(SB), NOSPLIT, $0-32
	MOVQ d+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $3, CX
	JZ   adone

aloop:
	VMOVUPS (SI), Y0
	VADDPS  (DX), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	DECQ    CX
	JNZ     aloop

adone:
	VZEROUPPER
	RET

// func sumF64AVX2(x *float32, n int) float64
// Σ x[i] for i < n (n a multiple of 8), each value widened and added in float64.
TEXT ·sumF64AVX2(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	SHRQ $3, CX
	JZ   sdone

sloop:
	VCVTPS2PD (SI), Y0
	VCVTPS2PD 16(SI), Y1
	VADDPD  Y0, Y4, Y4
	VADDPD  Y1, Y5, Y5
	ADDQ    $32, SI
	DECQ    CX
	JNZ     sloop

sdone:
	VADDPD  Y5, Y4, Y4
	VEXTRACTF128 $1, Y4, X1
	VADDPD  X1, X4, X4
	VPERMILPD $1, X4, X1
	VADDSD  X1, X4, X4
	VMOVSD  X4, ret+16(FP)
	VZEROUPPER
	RET

// func sumSqDevF64AVX2(x *float32, n int, m float32) float64
// Σ (x[i]-m)² for i < n (n a multiple of 8): difference and square in float32, the sum in
// float64 (as layerNormRow).
TEXT ·sumSqDevF64AVX2(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS m+16(FP), Y6
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	SHRQ $3, CX
	JZ   qdone

qloop:
	VMOVUPS (SI), Y0
	VSUBPS  Y6, Y0, Y0
	VMULPS  Y0, Y0, Y0
	VCVTPS2PD X0, Y1
	VEXTRACTF128 $1, Y0, X2
	VCVTPS2PD X2, Y2
	VADDPD  Y1, Y4, Y4
	VADDPD  Y2, Y5, Y5
	ADDQ    $32, SI
	DECQ    CX
	JNZ     qloop

qdone:
	VADDPD  Y5, Y4, Y4
	VEXTRACTF128 $1, Y4, X1
	VADDPD  X1, X4, X4
	VPERMILPD $1, X4, X1
	VADDSD  X1, X4, X4
	VMOVSD  X4, ret+24(FP)
	VZEROUPPER
	RET

// func normAffineAVX2(d, x, w, b *float32, n int, m, inv float32)
// d[i] = (x[i]-m)·inv·w[i] + b[i] for i < n, n a multiple of 8.
TEXT ·normAffineAVX2(SB), NOSPLIT, $0-48
	MOVQ d+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ w+16(FP), R8
	MOVQ b+24(FP), DX
	MOVQ n+32(FP), CX
	VBROADCASTSS m+40(FP), Y6
	VBROADCASTSS inv+44(FP), Y7
	SHRQ $3, CX
	JZ   ndone

nloop:
	VMOVUPS (SI), Y0
	VSUBPS  Y6, Y0, Y0
	VMULPS  Y7, Y0, Y0
	VMULPS  (R8), Y0, Y0
	VADDPS  (DX), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, R8
	ADDQ    $32, DX
	ADDQ    $32, DI
	DECQ    CX
	JNZ     nloop

ndone:
	VZEROUPPER
	RET

DATA erfP0<>+0(SB)/4, $0x3f906eb9
DATA erfP0<>+4(SB)/4, $0x3f906eb9
DATA erfP0<>+8(SB)/4, $0x3f906eb9
DATA erfP0<>+12(SB)/4, $0x3f906eb9
DATA erfP0<>+16(SB)/4, $0x3f906eb9
DATA erfP0<>+20(SB)/4, $0x3f906eb9
DATA erfP0<>+24(SB)/4, $0x3f906eb9
DATA erfP0<>+28(SB)/4, $0x3f906eb9
GLOBL erfP0<>(SB), RODATA|NOPTR, $32  // 1.128378987312317
DATA erfP1<>+0(SB)/4, $0x3e48f53b
DATA erfP1<>+4(SB)/4, $0x3e48f53b
DATA erfP1<>+8(SB)/4, $0x3e48f53b
DATA erfP1<>+12(SB)/4, $0x3e48f53b
DATA erfP1<>+16(SB)/4, $0x3e48f53b
DATA erfP1<>+20(SB)/4, $0x3e48f53b
DATA erfP1<>+24(SB)/4, $0x3e48f53b
DATA erfP1<>+28(SB)/4, $0x3e48f53b
GLOBL erfP1<>(SB), RODATA|NOPTR, $32  // 0.19624797999858856
DATA erfP2<>+0(SB)/4, $0x3d5b001b
DATA erfP2<>+4(SB)/4, $0x3d5b001b
DATA erfP2<>+8(SB)/4, $0x3d5b001b
DATA erfP2<>+12(SB)/4, $0x3d5b001b
DATA erfP2<>+16(SB)/4, $0x3d5b001b
DATA erfP2<>+20(SB)/4, $0x3d5b001b
DATA erfP2<>+24(SB)/4, $0x3d5b001b
DATA erfP2<>+28(SB)/4, $0x3d5b001b
GLOBL erfP2<>(SB), RODATA|NOPTR, $32  // 0.05346689745783806
DATA erfP3<>+0(SB)/4, $0x3b832f79
DATA erfP3<>+4(SB)/4, $0x3b832f79
DATA erfP3<>+8(SB)/4, $0x3b832f79
DATA erfP3<>+12(SB)/4, $0x3b832f79
DATA erfP3<>+16(SB)/4, $0x3b832f79
DATA erfP3<>+20(SB)/4, $0x3b832f79
DATA erfP3<>+24(SB)/4, $0x3b832f79
DATA erfP3<>+28(SB)/4, $0x3b832f79
GLOBL erfP3<>(SB), RODATA|NOPTR, $32  // 0.004003461915999651
DATA erfP4<>+0(SB)/4, $0x39970083
DATA erfP4<>+4(SB)/4, $0x39970083
DATA erfP4<>+8(SB)/4, $0x39970083
DATA erfP4<>+12(SB)/4, $0x39970083
DATA erfP4<>+16(SB)/4, $0x39970083
DATA erfP4<>+20(SB)/4, $0x39970083
DATA erfP4<>+24(SB)/4, $0x39970083
DATA erfP4<>+28(SB)/4, $0x39970083
GLOBL erfP4<>(SB), RODATA|NOPTR, $32  // 0.00028801345615647733
DATA erfP5<>+0(SB)/4, $0x36048258
DATA erfP5<>+4(SB)/4, $0x36048258
DATA erfP5<>+8(SB)/4, $0x36048258
DATA erfP5<>+12(SB)/4, $0x36048258
DATA erfP5<>+16(SB)/4, $0x36048258
DATA erfP5<>+20(SB)/4, $0x36048258
DATA erfP5<>+24(SB)/4, $0x36048258
DATA erfP5<>+28(SB)/4, $0x36048258
GLOBL erfP5<>(SB), RODATA|NOPTR, $32  // 1.9745402823900804e-06
DATA erfQ0<>+0(SB)/4, $0x3f800000
DATA erfQ0<>+4(SB)/4, $0x3f800000
DATA erfQ0<>+8(SB)/4, $0x3f800000
DATA erfQ0<>+12(SB)/4, $0x3f800000
DATA erfQ0<>+16(SB)/4, $0x3f800000
DATA erfQ0<>+20(SB)/4, $0x3f800000
DATA erfQ0<>+24(SB)/4, $0x3f800000
DATA erfQ0<>+28(SB)/4, $0x3f800000
GLOBL erfQ0<>(SB), RODATA|NOPTR, $32  // 1.0
DATA erfQ1<>+0(SB)/4, $0x3f01db3a
DATA erfQ1<>+4(SB)/4, $0x3f01db3a
DATA erfQ1<>+8(SB)/4, $0x3f01db3a
DATA erfQ1<>+12(SB)/4, $0x3f01db3a
DATA erfQ1<>+16(SB)/4, $0x3f01db3a
DATA erfQ1<>+20(SB)/4, $0x3f01db3a
DATA erfQ1<>+24(SB)/4, $0x3f01db3a
DATA erfQ1<>+28(SB)/4, $0x3f01db3a
GLOBL erfQ1<>(SB), RODATA|NOPTR, $32  // 0.5072513818740845
DATA erfQ2<>+0(SB)/4, $0x3dee8ac2
DATA erfQ2<>+4(SB)/4, $0x3dee8ac2
DATA erfQ2<>+8(SB)/4, $0x3dee8ac2
DATA erfQ2<>+12(SB)/4, $0x3dee8ac2
DATA erfQ2<>+16(SB)/4, $0x3dee8ac2
DATA erfQ2<>+20(SB)/4, $0x3dee8ac2
DATA erfQ2<>+24(SB)/4, $0x3dee8ac2
DATA erfQ2<>+28(SB)/4, $0x3dee8ac2
GLOBL erfQ2<>(SB), RODATA|NOPTR, $32  // 0.11647559702396393
DATA erfQ3<>+0(SB)/4, $0x3c7d093d
DATA erfQ3<>+4(SB)/4, $0x3c7d093d
DATA erfQ3<>+8(SB)/4, $0x3c7d093d
DATA erfQ3<>+12(SB)/4, $0x3c7d093d
DATA erfQ3<>+16(SB)/4, $0x3c7d093d
DATA erfQ3<>+20(SB)/4, $0x3c7d093d
DATA erfQ3<>+24(SB)/4, $0x3c7d093d
DATA erfQ3<>+28(SB)/4, $0x3c7d093d
GLOBL erfQ3<>(SB), RODATA|NOPTR, $32  // 0.015444097109138966
DATA erfQ4<>+0(SB)/4, $0x3a9f6b39
DATA erfQ4<>+4(SB)/4, $0x3a9f6b39
DATA erfQ4<>+8(SB)/4, $0x3a9f6b39
DATA erfQ4<>+12(SB)/4, $0x3a9f6b39
DATA erfQ4<>+16(SB)/4, $0x3a9f6b39
DATA erfQ4<>+20(SB)/4, $0x3a9f6b39
DATA erfQ4<>+24(SB)/4, $0x3a9f6b39
DATA erfQ4<>+28(SB)/4, $0x3a9f6b39
GLOBL erfQ4<>(SB), RODATA|NOPTR, $32  // 0.0012162692146375775
DATA erfQ5<>+0(SB)/4, $0x381d2fef
DATA erfQ5<>+4(SB)/4, $0x381d2fef
DATA erfQ5<>+8(SB)/4, $0x381d2fef
DATA erfQ5<>+12(SB)/4, $0x381d2fef
DATA erfQ5<>+16(SB)/4, $0x381d2fef
DATA erfQ5<>+20(SB)/4, $0x381d2fef
DATA erfQ5<>+24(SB)/4, $0x381d2fef
DATA erfQ5<>+28(SB)/4, $0x381d2fef
GLOBL erfQ5<>(SB), RODATA|NOPTR, $32  // 3.7476358556887135e-05
DATA invSqrt2<>+0(SB)/4, $0x3f3504f3
DATA invSqrt2<>+4(SB)/4, $0x3f3504f3
DATA invSqrt2<>+8(SB)/4, $0x3f3504f3
DATA invSqrt2<>+12(SB)/4, $0x3f3504f3
DATA invSqrt2<>+16(SB)/4, $0x3f3504f3
DATA invSqrt2<>+20(SB)/4, $0x3f3504f3
DATA invSqrt2<>+24(SB)/4, $0x3f3504f3
DATA invSqrt2<>+28(SB)/4, $0x3f3504f3
GLOBL invSqrt2<>(SB), RODATA|NOPTR, $32  // 0.7071067690849304
DATA four<>+0(SB)/4, $0x40800000
DATA four<>+4(SB)/4, $0x40800000
DATA four<>+8(SB)/4, $0x40800000
DATA four<>+12(SB)/4, $0x40800000
DATA four<>+16(SB)/4, $0x40800000
DATA four<>+20(SB)/4, $0x40800000
DATA four<>+24(SB)/4, $0x40800000
DATA four<>+28(SB)/4, $0x40800000
GLOBL four<>(SB), RODATA|NOPTR, $32  // 4.0
DATA minusFour<>+0(SB)/4, $0xc0800000
DATA minusFour<>+4(SB)/4, $0xc0800000
DATA minusFour<>+8(SB)/4, $0xc0800000
DATA minusFour<>+12(SB)/4, $0xc0800000
DATA minusFour<>+16(SB)/4, $0xc0800000
DATA minusFour<>+20(SB)/4, $0xc0800000
DATA minusFour<>+24(SB)/4, $0xc0800000
DATA minusFour<>+28(SB)/4, $0xc0800000
GLOBL minusFour<>(SB), RODATA|NOPTR, $32  // -4.0
DATA half<>+0(SB)/4, $0x3f000000
DATA half<>+4(SB)/4, $0x3f000000
DATA half<>+8(SB)/4, $0x3f000000
DATA half<>+12(SB)/4, $0x3f000000
DATA half<>+16(SB)/4, $0x3f000000
DATA half<>+20(SB)/4, $0x3f000000
DATA half<>+24(SB)/4, $0x3f000000
DATA half<>+28(SB)/4, $0x3f000000
GLOBL half<>(SB), RODATA|NOPTR, $32  // 0.5
DATA one<>+0(SB)/4, $0x3f800000
DATA one<>+4(SB)/4, $0x3f800000
DATA one<>+8(SB)/4, $0x3f800000
DATA one<>+12(SB)/4, $0x3f800000
DATA one<>+16(SB)/4, $0x3f800000
DATA one<>+20(SB)/4, $0x3f800000
DATA one<>+24(SB)/4, $0x3f800000
DATA one<>+28(SB)/4, $0x3f800000
GLOBL one<>(SB), RODATA|NOPTR, $32  // 1.0
DATA minusOne<>+0(SB)/4, $0xbf800000
DATA minusOne<>+4(SB)/4, $0xbf800000
DATA minusOne<>+8(SB)/4, $0xbf800000
DATA minusOne<>+12(SB)/4, $0xbf800000
DATA minusOne<>+16(SB)/4, $0xbf800000
DATA minusOne<>+20(SB)/4, $0xbf800000
DATA minusOne<>+24(SB)/4, $0xbf800000
DATA minusOne<>+28(SB)/4, $0xbf800000
GLOBL minusOne<>(SB), RODATA|NOPTR, $32  // -1.0
DATA log2e<>+0(SB)/4, $0x3fb8aa3b
DATA log2e<>+4(SB)/4, $0x3fb8aa3b
DATA log2e<>+8(SB)/4, $0x3fb8aa3b
DATA log2e<>+12(SB)/4, $0x3fb8aa3b
DATA log2e<>+16(SB)/4, $0x3fb8aa3b
DATA log2e<>+20(SB)/4, $0x3fb8aa3b
DATA log2e<>+24(SB)/4, $0x3fb8aa3b
DATA log2e<>+28(SB)/4, $0x3fb8aa3b
GLOBL log2e<>(SB), RODATA|NOPTR, $32  // 1.4426950216293335
DATA ln2hi<>+0(SB)/4, $0x3f317200
DATA ln2hi<>+4(SB)/4, $0x3f317200
DATA ln2hi<>+8(SB)/4, $0x3f317200
DATA ln2hi<>+12(SB)/4, $0x3f317200
DATA ln2hi<>+16(SB)/4, $0x3f317200
DATA ln2hi<>+20(SB)/4, $0x3f317200
DATA ln2hi<>+24(SB)/4, $0x3f317200
DATA ln2hi<>+28(SB)/4, $0x3f317200
GLOBL ln2hi<>(SB), RODATA|NOPTR, $32  // 0.693145751953125
DATA ln2lo<>+0(SB)/4, $0x35bfbe8e
DATA ln2lo<>+4(SB)/4, $0x35bfbe8e
DATA ln2lo<>+8(SB)/4, $0x35bfbe8e
DATA ln2lo<>+12(SB)/4, $0x35bfbe8e
DATA ln2lo<>+16(SB)/4, $0x35bfbe8e
DATA ln2lo<>+20(SB)/4, $0x35bfbe8e
DATA ln2lo<>+24(SB)/4, $0x35bfbe8e
DATA ln2lo<>+28(SB)/4, $0x35bfbe8e
GLOBL ln2lo<>(SB), RODATA|NOPTR, $32  // 1.428606765330187e-06
DATA expLo<>+0(SB)/4, $0xc2aeac4f
DATA expLo<>+4(SB)/4, $0xc2aeac4f
DATA expLo<>+8(SB)/4, $0xc2aeac4f
DATA expLo<>+12(SB)/4, $0xc2aeac4f
DATA expLo<>+16(SB)/4, $0xc2aeac4f
DATA expLo<>+20(SB)/4, $0xc2aeac4f
DATA expLo<>+24(SB)/4, $0xc2aeac4f
DATA expLo<>+28(SB)/4, $0xc2aeac4f
GLOBL expLo<>(SB), RODATA|NOPTR, $32  // -87.33654022216797
DATA expHi<>+0(SB)/4, $0x42b0c09d
DATA expHi<>+4(SB)/4, $0x42b0c09d
DATA expHi<>+8(SB)/4, $0x42b0c09d
DATA expHi<>+12(SB)/4, $0x42b0c09d
DATA expHi<>+16(SB)/4, $0x42b0c09d
DATA expHi<>+20(SB)/4, $0x42b0c09d
DATA expHi<>+24(SB)/4, $0x42b0c09d
DATA expHi<>+28(SB)/4, $0x42b0c09d
GLOBL expHi<>(SB), RODATA|NOPTR, $32  // 88.3761978149414
DATA expC0<>+0(SB)/4, $0x3f800000
DATA expC0<>+4(SB)/4, $0x3f800000
DATA expC0<>+8(SB)/4, $0x3f800000
DATA expC0<>+12(SB)/4, $0x3f800000
DATA expC0<>+16(SB)/4, $0x3f800000
DATA expC0<>+20(SB)/4, $0x3f800000
DATA expC0<>+24(SB)/4, $0x3f800000
DATA expC0<>+28(SB)/4, $0x3f800000
GLOBL expC0<>(SB), RODATA|NOPTR, $32  // 1.0
DATA expC1<>+0(SB)/4, $0x3f800000
DATA expC1<>+4(SB)/4, $0x3f800000
DATA expC1<>+8(SB)/4, $0x3f800000
DATA expC1<>+12(SB)/4, $0x3f800000
DATA expC1<>+16(SB)/4, $0x3f800000
DATA expC1<>+20(SB)/4, $0x3f800000
DATA expC1<>+24(SB)/4, $0x3f800000
DATA expC1<>+28(SB)/4, $0x3f800000
GLOBL expC1<>(SB), RODATA|NOPTR, $32  // 1.0
DATA expC2<>+0(SB)/4, $0x3f000000
DATA expC2<>+4(SB)/4, $0x3f000000
DATA expC2<>+8(SB)/4, $0x3f000000
DATA expC2<>+12(SB)/4, $0x3f000000
DATA expC2<>+16(SB)/4, $0x3f000000
DATA expC2<>+20(SB)/4, $0x3f000000
DATA expC2<>+24(SB)/4, $0x3f000000
DATA expC2<>+28(SB)/4, $0x3f000000
GLOBL expC2<>(SB), RODATA|NOPTR, $32  // 0.5
DATA expC3<>+0(SB)/4, $0x3e2aaaab
DATA expC3<>+4(SB)/4, $0x3e2aaaab
DATA expC3<>+8(SB)/4, $0x3e2aaaab
DATA expC3<>+12(SB)/4, $0x3e2aaaab
DATA expC3<>+16(SB)/4, $0x3e2aaaab
DATA expC3<>+20(SB)/4, $0x3e2aaaab
DATA expC3<>+24(SB)/4, $0x3e2aaaab
DATA expC3<>+28(SB)/4, $0x3e2aaaab
GLOBL expC3<>(SB), RODATA|NOPTR, $32  // 0.1666666716337204
DATA expC4<>+0(SB)/4, $0x3d2aaaab
DATA expC4<>+4(SB)/4, $0x3d2aaaab
DATA expC4<>+8(SB)/4, $0x3d2aaaab
DATA expC4<>+12(SB)/4, $0x3d2aaaab
DATA expC4<>+16(SB)/4, $0x3d2aaaab
DATA expC4<>+20(SB)/4, $0x3d2aaaab
DATA expC4<>+24(SB)/4, $0x3d2aaaab
DATA expC4<>+28(SB)/4, $0x3d2aaaab
GLOBL expC4<>(SB), RODATA|NOPTR, $32  // 0.0416666679084301
DATA expC5<>+0(SB)/4, $0x3c088889
DATA expC5<>+4(SB)/4, $0x3c088889
DATA expC5<>+8(SB)/4, $0x3c088889
DATA expC5<>+12(SB)/4, $0x3c088889
DATA expC5<>+16(SB)/4, $0x3c088889
DATA expC5<>+20(SB)/4, $0x3c088889
DATA expC5<>+24(SB)/4, $0x3c088889
DATA expC5<>+28(SB)/4, $0x3c088889
GLOBL expC5<>(SB), RODATA|NOPTR, $32  // 0.008333333767950535
DATA expC6<>+0(SB)/4, $0x3ab60b61
DATA expC6<>+4(SB)/4, $0x3ab60b61
DATA expC6<>+8(SB)/4, $0x3ab60b61
DATA expC6<>+12(SB)/4, $0x3ab60b61
DATA expC6<>+16(SB)/4, $0x3ab60b61
DATA expC6<>+20(SB)/4, $0x3ab60b61
DATA expC6<>+24(SB)/4, $0x3ab60b61
DATA expC6<>+28(SB)/4, $0x3ab60b61
GLOBL expC6<>(SB), RODATA|NOPTR, $32  // 0.0013888889225199819
DATA expC7<>+0(SB)/4, $0x39500d01
DATA expC7<>+4(SB)/4, $0x39500d01
DATA expC7<>+8(SB)/4, $0x39500d01
DATA expC7<>+12(SB)/4, $0x39500d01
DATA expC7<>+16(SB)/4, $0x39500d01
DATA expC7<>+20(SB)/4, $0x39500d01
DATA expC7<>+24(SB)/4, $0x39500d01
DATA expC7<>+28(SB)/4, $0x39500d01
GLOBL expC7<>(SB), RODATA|NOPTR, $32  // 0.00019841270113829523
