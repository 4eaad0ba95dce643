//go:build amd64 && gc && !purego

#include "textflag.h"

// AMX instructions, which Go's assembler (Go 1.26) does not know, as raw bytes.
// Each macro is named INSTR_operands; amx_encoding_test.go re-derives every byte from
// the Intel SDM encoding (VEX.128.<pp>.0F38.W0 <op> /r) and compares. The operand
// registers are fixed: tile rows are addressed as (base)(index*1) with the row stride
// in the index register, as TILELOADD/TILESTORED require (SIB addressing).
// binutils 2.40 `objdump -D -b binary -m i386:x86-64` decodes them as named here.

#define LDTILECFG_AX          BYTE $0xC4; BYTE $0xE2; BYTE $0x78; BYTE $0x49; BYTE $0x00
#define TILERELEASE           BYTE $0xC4; BYTE $0xE2; BYTE $0x78; BYTE $0x49; BYTE $0xC0
#define TILEZERO_T0           BYTE $0xC4; BYTE $0xE2; BYTE $0x7B; BYTE $0x49; BYTE $0xC0
#define TILEZERO_T1           BYTE $0xC4; BYTE $0xE2; BYTE $0x7B; BYTE $0x49; BYTE $0xC8
#define TILEZERO_T2           BYTE $0xC4; BYTE $0xE2; BYTE $0x7B; BYTE $0x49; BYTE $0xD0
#define TILEZERO_T3           BYTE $0xC4; BYTE $0xE2; BYTE $0x7B; BYTE $0x49; BYTE $0xD8
#define TILELOADD_T4_SI_DX    BYTE $0xC4; BYTE $0xE2; BYTE $0x7B; BYTE $0x4B; BYTE $0x24; BYTE $0x16
#define TILELOADD_T5_CX_DX    BYTE $0xC4; BYTE $0xE2; BYTE $0x7B; BYTE $0x4B; BYTE $0x2C; BYTE $0x11
#define TILELOADD_T6_DI_BX    BYTE $0xC4; BYTE $0xE2; BYTE $0x7B; BYTE $0x4B; BYTE $0x34; BYTE $0x1F
#define TILELOADD_T7_AX_BX    BYTE $0xC4; BYTE $0xE2; BYTE $0x7B; BYTE $0x4B; BYTE $0x3C; BYTE $0x18
#define TDPBF16PS_T0_T4_T6    BYTE $0xC4; BYTE $0xE2; BYTE $0x4A; BYTE $0x5C; BYTE $0xC4
#define TDPBF16PS_T1_T4_T7    BYTE $0xC4; BYTE $0xE2; BYTE $0x42; BYTE $0x5C; BYTE $0xCC
#define TDPBF16PS_T2_T5_T6    BYTE $0xC4; BYTE $0xE2; BYTE $0x4A; BYTE $0x5C; BYTE $0xD5
#define TDPBF16PS_T3_T5_T7    BYTE $0xC4; BYTE $0xE2; BYTE $0x42; BYTE $0x5C; BYTE $0xDD
#define TILESTORED_SI_DX_T0   BYTE $0xC4; BYTE $0xE2; BYTE $0x7A; BYTE $0x4B; BYTE $0x04; BYTE $0x16
#define TILESTORED_CX_DX_T1   BYTE $0xC4; BYTE $0xE2; BYTE $0x7A; BYTE $0x4B; BYTE $0x0C; BYTE $0x11
#define TILESTORED_SI_DX_T2   BYTE $0xC4; BYTE $0xE2; BYTE $0x7A; BYTE $0x4B; BYTE $0x14; BYTE $0x16
#define TILESTORED_CX_DX_T3   BYTE $0xC4; BYTE $0xE2; BYTE $0x7A; BYTE $0x4B; BYTE $0x1C; BYTE $0x11

// func amxTiles2x2(cfg *[64]byte, a *uint16, lda int, b *uint32, ldb int, kblocks int, c *float32, ldc int)
//
// c (32,32) = a (32, 32·kblocks) BF16 rows · b, b being 16·kblocks rows of 32 BF16 pairs.
// Strides lda, ldb, ldc are in bytes. Tiles: T4/T5 = rows 0-15/16-31 of a, T6/T7 =
// columns 0-15/16-31 of b, T0..T3 = the four 16×16 float32 blocks of c. The tile
// configuration lives and dies within this call: the goroutine cannot move to another
// thread inside assembly (no preemption point), so no other code sees the tile state.
TEXT ·amxTiles2x2(SB), NOSPLIT, $0-64
	MOVQ cfg+0(FP), AX
	LDTILECFG_AX
	TILEZERO_T0
	TILEZERO_T1
	TILEZERO_T2
	TILEZERO_T3
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), DX
	MOVQ DX, CX
	SHLQ $4, CX
	ADDQ SI, CX          // CX = row 16 of a
	MOVQ b+24(FP), DI
	MOVQ ldb+32(FP), BX
	LEAQ 64(DI), AX      // AX = column 16 of b
	MOVQ BX, R8
	SHLQ $4, R8          // 16 rows of b per k block
	MOVQ kblocks+40(FP), R9

kloop:
	TILELOADD_T4_SI_DX
	TILELOADD_T5_CX_DX
	TILELOADD_T6_DI_BX
	TILELOADD_T7_AX_BX
	TDPBF16PS_T0_T4_T6
	TDPBF16PS_T1_T4_T7
	TDPBF16PS_T2_T5_T6
	TDPBF16PS_T3_T5_T7
	ADDQ $64, SI
	ADDQ $64, CX
	ADDQ R8, DI
	ADDQ R8, AX
	DECQ R9
	JNZ  kloop

	MOVQ c+48(FP), SI
	MOVQ ldc+56(FP), DX
	LEAQ 64(SI), CX
	TILESTORED_SI_DX_T0
	TILESTORED_CX_DX_T1
	MOVQ DX, R8
	SHLQ $4, R8
	ADDQ R8, SI
	ADDQ R8, CX
	TILESTORED_SI_DX_T2
	TILESTORED_CX_DX_T3
	TILERELEASE
	RET
