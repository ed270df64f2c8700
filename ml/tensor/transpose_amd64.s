//go:build !noasm

#include "textflag.h"

// The packing transposes (see transposeFunc), kc8 blocks of 8 columns.

// func transpose8AVX2(dst *float32, ldd int, src *float32, lds, kc8 int)
// Each iteration loads an 8x8 block (8 rows lds apart, 8 consecutive
// columns), transposes it with unpacks, shuffles and lane permutes, and
// stores its 8 columns ldd apart.
TEXT ·transpose8AVX2(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ ldd+8(FP), R10
	SHLQ $2, R10
	LEAQ (R10)(R10*2), R11
	LEAQ (DI)(R10*4), R12
	MOVQ src+16(FP), SI
	MOVQ lds+24(FP), DX
	SHLQ $2, DX
	LEAQ (DX)(DX*2), R9
	LEAQ (SI)(DX*4), R8
	MOVQ kc8+32(FP), CX
	MOVQ R10, R13
	SHLQ $3, R13

t8_loop:
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(DX*1), Y1
	VMOVUPS (SI)(DX*2), Y2
	VMOVUPS (SI)(R9*1), Y3
	VMOVUPS (R8), Y4
	VMOVUPS (R8)(DX*1), Y5
	VMOVUPS (R8)(DX*2), Y6
	VMOVUPS (R8)(R9*1), Y7
	VUNPCKLPS Y1, Y0, Y8
	VUNPCKHPS Y1, Y0, Y9
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15
	VSHUFPS $0x44, Y10, Y8, Y0
	VSHUFPS $0xee, Y10, Y8, Y1
	VSHUFPS $0x44, Y11, Y9, Y2
	VSHUFPS $0xee, Y11, Y9, Y3
	VSHUFPS $0x44, Y14, Y12, Y4
	VSHUFPS $0xee, Y14, Y12, Y5
	VSHUFPS $0x44, Y15, Y13, Y6
	VSHUFPS $0xee, Y15, Y13, Y7
	VPERM2F128 $0x20, Y4, Y0, Y8
	VPERM2F128 $0x20, Y5, Y1, Y9
	VPERM2F128 $0x20, Y6, Y2, Y10
	VPERM2F128 $0x20, Y7, Y3, Y11
	VPERM2F128 $0x31, Y4, Y0, Y12
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x31, Y6, Y2, Y14
	VPERM2F128 $0x31, Y7, Y3, Y15
	VMOVUPS Y8, (DI)
	VMOVUPS Y9, (DI)(R10*1)
	VMOVUPS Y10, (DI)(R10*2)
	VMOVUPS Y11, (DI)(R11*1)
	VMOVUPS Y12, (R12)
	VMOVUPS Y13, (R12)(R10*1)
	VMOVUPS Y14, (R12)(R10*2)
	VMOVUPS Y15, (R12)(R11*1)
	ADDQ $32, SI
	ADDQ $32, R8
	ADDQ R13, DI
	ADDQ R13, R12
	DECQ CX
	JNZ  t8_loop
	VZEROUPPER
	RET

// func transpose4AVX2(dst *float32, ldd int, src *float32, lds, kc8 int)
// Each iteration loads a 4x8 block; the unpacks and shuffles transpose its
// two 4x4 halves in the two 128-bit lanes, which are stored as columns
// 0-3 and 4-7.
TEXT ·transpose4AVX2(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ ldd+8(FP), R10
	SHLQ $2, R10
	LEAQ (R10)(R10*2), R11
	LEAQ (DI)(R10*4), R12
	MOVQ src+16(FP), SI
	MOVQ lds+24(FP), DX
	SHLQ $2, DX
	LEAQ (DX)(DX*2), R9
	MOVQ kc8+32(FP), CX
	MOVQ R10, R13
	SHLQ $3, R13

t4_loop:
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(DX*1), Y1
	VMOVUPS (SI)(DX*2), Y2
	VMOVUPS (SI)(R9*1), Y3
	VUNPCKLPS Y1, Y0, Y8
	VUNPCKHPS Y1, Y0, Y9
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VSHUFPS $0x44, Y10, Y8, Y0
	VSHUFPS $0xee, Y10, Y8, Y1
	VSHUFPS $0x44, Y11, Y9, Y2
	VSHUFPS $0xee, Y11, Y9, Y3
	VMOVUPS X0, (DI)
	VMOVUPS X1, (DI)(R10*1)
	VMOVUPS X2, (DI)(R10*2)
	VMOVUPS X3, (DI)(R11*1)
	VEXTRACTF128 $1, Y0, (R12)
	VEXTRACTF128 $1, Y1, (R12)(R10*1)
	VEXTRACTF128 $1, Y2, (R12)(R10*2)
	VEXTRACTF128 $1, Y3, (R12)(R11*1)
	ADDQ $32, SI
	ADDQ R13, DI
	ADDQ R13, R12
	DECQ CX
	JNZ  t4_loop
	VZEROUPPER
	RET
