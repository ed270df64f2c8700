//go:build !noasm

#include "textflag.h"

// The AVX2+FMA vector kernels. Each processes 8 lanes at a time (dot 32)
// and its last n%8 elements with VMASKMOVPS, which neither reads nor writes
// the masked-off lanes, so no kernel touches memory past n. The pure-Go
// twins are in vec_go.go; expf and erff there document the algorithms.

// CONST8 defines an 8-lane vector of one 32-bit pattern, so that it can be
// an FMA's memory operand.
#define CONST8(name, bits) \
	DATA name<>+0(SB)/4, $bits; \
	DATA name<>+4(SB)/4, $bits; \
	DATA name<>+8(SB)/4, $bits; \
	DATA name<>+12(SB)/4, $bits; \
	DATA name<>+16(SB)/4, $bits; \
	DATA name<>+20(SB)/4, $bits; \
	DATA name<>+24(SB)/4, $bits; \
	DATA name<>+28(SB)/4, $bits; \
	GLOBL name<>(SB), RODATA|NOPTR, $32

CONST8(cLog2e, 0x3fb8aa3b)
CONST8(cLn2Hi, 0x3f318000)
CONST8(cLn2Lo, 0xb95e8083)
CONST8(cP0, 0x39506967)
CONST8(cP1, 0x3ab743ce)
CONST8(cP2, 0x3c088908)
CONST8(cP3, 0x3d2aa9c1)
CONST8(cP4, 0x3e2aaaaa)
CONST8(cP5, 0x3f000000)
CONST8(cMaxArg, 0x42b17218)
CONST8(cMinArg, 0xc2aeac50)
CONST8(cMaxN, 0x42fe0000)
CONST8(cOne, 0x3f800000)
CONST8(cHalf, 0x3f000000)
CONST8(cInf, 0x7f800000)
CONST8(cNegInf, 0xff800000)
CONST8(cBias, 0x0000007f)
CONST8(cRsqrt2, 0x3f3504f3)
CONST8(cErfP, 0x3ea7ba05)
CONST8(cA1, 0x3e827906)
CONST8(cA2, 0xbe91a98e)
CONST8(cA3, 0x3fb5f0e3)
CONST8(cA4, 0xbfba00e3)
CONST8(cA5, 0x3f87dc22)
CONST8(cAbs, 0x7fffffff)
CONST8(cSign, 0x80000000)

// tailmask<>+4*(8-t) holds a VMASKMOVPS mask for the first t lanes.
DATA tailmask<>+0(SB)/4, $0xffffffff
DATA tailmask<>+4(SB)/4, $0xffffffff
DATA tailmask<>+8(SB)/4, $0xffffffff
DATA tailmask<>+12(SB)/4, $0xffffffff
DATA tailmask<>+16(SB)/4, $0xffffffff
DATA tailmask<>+20(SB)/4, $0xffffffff
DATA tailmask<>+24(SB)/4, $0xffffffff
DATA tailmask<>+28(SB)/4, $0xffffffff
DATA tailmask<>+32(SB)/4, $0
DATA tailmask<>+36(SB)/4, $0
DATA tailmask<>+40(SB)/4, $0
DATA tailmask<>+44(SB)/4, $0
DATA tailmask<>+48(SB)/4, $0
DATA tailmask<>+52(SB)/4, $0
DATA tailmask<>+56(SB)/4, $0
DATA tailmask<>+60(SB)/4, $0
GLOBL tailmask<>(SB), RODATA|NOPTR, $64

// TAILMASK loads into mask the lane mask for the first cnt (1..7) lanes.
// It clobbers R8 and R9.
#define TAILMASK(cnt, mask) \
	LEAQ tailmask<>(SB), R8; \
	MOVQ $8, R9; \
	SUBQ cnt, R9; \
	VMOVUPS (R8)(R9*4), mask

// EXP sets out to exp(x) lane by lane (see expf), using n and r as
// scratch; x is preserved.
#define EXP(x, n, r, out) \
	VMULPS cLog2e<>(SB), x, n; \
	VROUNDPS $0, n, n; \
	VMINPS cMaxN<>(SB), n, n; \
	VMOVAPS x, r; \
	VFNMADD231PS cLn2Hi<>(SB), n, r; \
	VFNMADD231PS cLn2Lo<>(SB), n, r; \
	VMOVUPS cP0<>(SB), out; \
	VFMADD213PS cP1<>(SB), r, out; \
	VFMADD213PS cP2<>(SB), r, out; \
	VFMADD213PS cP3<>(SB), r, out; \
	VFMADD213PS cP4<>(SB), r, out; \
	VFMADD213PS cP5<>(SB), r, out; \
	VFMADD213PS cOne<>(SB), r, out; \
	VFMADD213PS cOne<>(SB), r, out; \
	VCVTPS2DQ n, n; \
	VPADDD cBias<>(SB), n, n; \
	VPSLLD $23, n, n; \
	VMULPS n, out, out; \
	VCMPPS $0x1e, cMaxArg<>(SB), x, n; \
	VBLENDVPS n, cInf<>(SB), out, out; \
	VCMPPS $0x11, cMinArg<>(SB), x, n; \
	VANDNPS out, n, out

// GELU sets out to gelu(x) lane by lane (see geluf), using Y1-Y9 as
// scratch (out may be one of them; x must not be).
#define GELU(x, out) \
	VMULPS cRsqrt2<>(SB), x, Y1; \
	VANDPS cAbs<>(SB), Y1, Y2; \
	VMOVUPS cErfP<>(SB), Y3; \
	VFMADD213PS cOne<>(SB), Y2, Y3; \
	VMOVUPS cOne<>(SB), Y4; \
	VDIVPS Y3, Y4, Y4; \
	VMOVUPS cA5<>(SB), Y5; \
	VFMADD213PS cA4<>(SB), Y4, Y5; \
	VFMADD213PS cA3<>(SB), Y4, Y5; \
	VFMADD213PS cA2<>(SB), Y4, Y5; \
	VFMADD213PS cA1<>(SB), Y4, Y5; \
	VMULPS Y4, Y5, Y5; \
	VMULPS Y2, Y2, Y6; \
	VXORPS cSign<>(SB), Y6, Y6; \
	EXP(Y6, Y7, Y8, Y9); \
	VFNMADD213PS cOne<>(SB), Y9, Y5; \
	VANDPS cSign<>(SB), Y1, Y1; \
	VXORPS Y1, Y5, Y5; \
	VMOVUPS cHalf<>(SB), Y3; \
	VFMADD213PS Y3, Y3, Y5; \
	VMULPS Y5, x, out

// HSUM adds the 8 lanes of y (whose low half is x) into its lane 0,
// clobbering tmp.
#define HSUM(y, x, tmp) \
	VEXTRACTF128 $1, y, tmp; \
	VADDPS tmp, x, x; \
	VHADDPS x, x, x; \
	VHADDPS x, x, x

// func dotAVX2(x, y *float32, n int) float32
TEXT ·dotAVX2(SB), NOSPLIT, $0-28
	MOVQ x+0(FP), SI
	MOVQ y+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	MOVQ CX, DX
	SHRQ $5, DX
	JZ   dot_8

dot_32:
	VMOVUPS (SI), Y4
	VMOVUPS 32(SI), Y5
	VMOVUPS 64(SI), Y6
	VMOVUPS 96(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ $128, SI
	ADDQ $128, DI
	DECQ DX
	JNZ  dot_32

dot_8:
	MOVQ CX, DX
	ANDQ $31, DX
	SHRQ $3, DX
	JZ   dot_tail

dot_8loop:
	VMOVUPS (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ DX
	JNZ  dot_8loop

dot_tail:
	ANDQ $7, CX
	JZ   dot_sum
	TAILMASK(CX, Y8)
	VMASKMOVPS (SI), Y8, Y4
	VMASKMOVPS (DI), Y8, Y5
	VFMADD231PS Y5, Y4, Y1

dot_sum:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	HSUM(Y0, X0, X1)
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func axpyAVX2(alpha float32, x, y *float32, n int)
TEXT ·axpyAVX2(SB), NOSPLIT, $0-32
	VBROADCASTSS alpha+0(FP), Y0
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DI
	MOVQ n+24(FP), CX
	MOVQ CX, DX
	SHRQ $3, DX
	JZ   axpy_tail

axpy_8:
	VMOVUPS (DI), Y1
	VFMADD231PS (SI), Y0, Y1
	VMOVUPS Y1, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ DX
	JNZ  axpy_8

axpy_tail:
	ANDQ $7, CX
	JZ   axpy_done
	TAILMASK(CX, Y8)
	VMASKMOVPS (SI), Y8, Y2
	VMASKMOVPS (DI), Y8, Y1
	VFMADD231PS Y2, Y0, Y1
	VMASKMOVPS Y1, Y8, (DI)

axpy_done:
	VZEROUPPER
	RET

// func addAVX2(dst, x *float32, n int)
TEXT ·addAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ CX, DX
	SHRQ $3, DX
	JZ   add_tail

add_8:
	VMOVUPS (DI), Y1
	VADDPS (SI), Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ DX
	JNZ  add_8

add_tail:
	ANDQ $7, CX
	JZ   add_done
	TAILMASK(CX, Y8)
	VMASKMOVPS (SI), Y8, Y2
	VMASKMOVPS (DI), Y8, Y1
	VADDPS Y2, Y1, Y1
	VMASKMOVPS Y1, Y8, (DI)

add_done:
	VZEROUPPER
	RET

// func scaleAVX2(alpha float32, x *float32, n int)
TEXT ·scaleAVX2(SB), NOSPLIT, $0-24
	VBROADCASTSS alpha+0(FP), Y0
	MOVQ x+8(FP), DI
	MOVQ n+16(FP), CX
	MOVQ CX, DX
	SHRQ $3, DX
	JZ   scale_tail

scale_8:
	VMULPS (DI), Y0, Y1
	VMOVUPS Y1, (DI)
	ADDQ $32, DI
	DECQ DX
	JNZ  scale_8

scale_tail:
	ANDQ $7, CX
	JZ   scale_done
	TAILMASK(CX, Y8)
	VMASKMOVPS (DI), Y8, Y1
	VMULPS Y1, Y0, Y1
	VMASKMOVPS Y1, Y8, (DI)

scale_done:
	VZEROUPPER
	RET

// func maxAVX2(x *float32, n int) float32
TEXT ·maxAVX2(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VMOVUPS cNegInf<>(SB), Y0
	VMOVUPS Y0, Y1
	MOVQ CX, DX
	SHRQ $4, DX
	JZ   max_8

max_16:
	VMAXPS (SI), Y0, Y0
	VMAXPS 32(SI), Y1, Y1
	ADDQ $64, SI
	DECQ DX
	JNZ  max_16

max_8:
	TESTQ $8, CX
	JZ    max_tail
	VMAXPS (SI), Y0, Y0
	ADDQ  $32, SI

max_tail:
	ANDQ $7, CX
	JZ   max_reduce
	TAILMASK(CX, Y8)
	VMASKMOVPS (SI), Y8, Y2

	// Y1 = mask ? max(Y1, x) : Y1: the masked-off lanes loaded as 0.
	VMAXPS Y2, Y1, Y3
	VBLENDVPS Y8, Y3, Y1, Y1

max_reduce:
	VMAXPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0x4e, X0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0xb1, X0, X1
	VMAXPS X1, X0, X0
	VMOVSS X0, ret+16(FP)
	VZEROUPPER
	RET

// func expSumAVX2(x *float32, n int, shift float32) float32
TEXT ·expSumAVX2(SB), NOSPLIT, $0-28
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), CX
	VBROADCASTSS shift+16(FP), Y10
	VXORPS Y11, Y11, Y11
	MOVQ CX, DX
	SHRQ $3, DX
	JZ   expsum_tail

expsum_8:
	VMOVUPS (DI), Y0
	VSUBPS Y10, Y0, Y0
	EXP(Y0, Y1, Y2, Y3)
	VMOVUPS Y3, (DI)
	VADDPS Y3, Y11, Y11
	ADDQ $32, DI
	DECQ DX
	JNZ  expsum_8

expsum_tail:
	ANDQ $7, CX
	JZ   expsum_sum
	TAILMASK(CX, Y8)
	VMASKMOVPS (DI), Y8, Y0
	VSUBPS Y10, Y0, Y0
	EXP(Y0, Y1, Y2, Y3)
	VMASKMOVPS Y3, Y8, (DI)
	VANDPS Y8, Y3, Y3
	VADDPS Y3, Y11, Y11

expsum_sum:
	HSUM(Y11, X11, X1)
	VMOVSS X11, ret+24(FP)
	VZEROUPPER
	RET

// func expAVX2(dst, x *float32, n int)
TEXT ·expAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ CX, DX
	SHRQ $3, DX
	JZ   exp_tail

exp_8:
	VMOVUPS (SI), Y0
	EXP(Y0, Y1, Y2, Y3)
	VMOVUPS Y3, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ DX
	JNZ  exp_8

exp_tail:
	ANDQ $7, CX
	JZ   exp_done
	TAILMASK(CX, Y8)
	VMASKMOVPS (SI), Y8, Y0
	EXP(Y0, Y1, Y2, Y3)
	VMASKMOVPS Y3, Y8, (DI)

exp_done:
	VZEROUPPER
	RET

// func geluAVX2(dst, x *float32, n int)
TEXT ·geluAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ CX, DX
	SHRQ $3, DX
	JZ   gelu_tail

gelu_8:
	VMOVUPS (SI), Y0
	GELU(Y0, Y10)
	VMOVUPS Y10, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ DX
	JNZ  gelu_8

gelu_tail:
	ANDQ $7, CX
	JZ   gelu_done
	TAILMASK(CX, Y8)
	VMASKMOVPS (SI), Y8, Y0
	VMOVUPS Y8, Y11
	GELU(Y0, Y10)
	VMASKMOVPS Y10, Y11, (DI)

gelu_done:
	VZEROUPPER
	RET

// func layerNormAVX2(dst, x, gamma, beta *float32, n int, nf, eps float64)
// One row: mean and variance accumulated in float64 (two passes over x,
// four lanes of float64 per 128-bit load), then
// dst = float32((x-mean)*rstd)*gamma + beta. nf is float64(n).
TEXT ·layerNormAVX2(SB), NOSPLIT, $0-56
	MOVQ x+8(FP), SI
	MOVQ n+32(FP), CX

	// Pass 1: Y0 + Y1 = sum(x).
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	XORQ   AX, AX
	MOVQ   CX, DX
	SHRQ   $3, DX
	JZ     ln_sum_reduce

ln_sum8:
	VCVTPS2PD (SI)(AX*4), Y2
	VCVTPS2PD 16(SI)(AX*4), Y3
	VADDPD    Y2, Y0, Y0
	VADDPD    Y3, Y1, Y1
	ADDQ      $8, AX
	DECQ      DX
	JNZ       ln_sum8

ln_sum_reduce:
	VADDPD       Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPD       X1, X0, X0
	VHADDPD      X0, X0, X0
	CMPQ         AX, CX
	JGE          ln_mean

ln_sum1:
	VCVTSS2SD (SI)(AX*4), X2, X2
	VADDSD    X2, X0, X0
	INCQ      AX
	CMPQ      AX, CX
	JLT       ln_sum1

ln_mean:
	VMOVSD       nf+40(FP), X7
	VDIVSD       X7, X0, X0
	VBROADCASTSD X0, Y4

	// Pass 2: Y0 + Y1 = sum((x-mean)^2).
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	XORQ   AX, AX
	MOVQ   CX, DX
	SHRQ   $3, DX
	JZ     ln_var_reduce

ln_var8:
	VCVTPS2PD   (SI)(AX*4), Y2
	VCVTPS2PD   16(SI)(AX*4), Y3
	VSUBPD      Y4, Y2, Y2
	VSUBPD      Y4, Y3, Y3
	VFMADD231PD Y2, Y2, Y0
	VFMADD231PD Y3, Y3, Y1
	ADDQ        $8, AX
	DECQ        DX
	JNZ         ln_var8

ln_var_reduce:
	VADDPD       Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPD       X1, X0, X0
	VHADDPD      X0, X0, X0
	CMPQ         AX, CX
	JGE          ln_rstd

ln_var1:
	VCVTSS2SD   (SI)(AX*4), X2, X2
	VSUBSD      X4, X2, X2
	VFMADD231SD X2, X2, X0
	INCQ        AX
	CMPQ        AX, CX
	JLT         ln_var1

ln_rstd:
	// rstd = 1 / sqrt(sq/n + eps)
	VDIVSD       X7, X0, X0
	VADDSD       eps+48(FP), X0, X0
	VSQRTSD      X0, X0, X0
	MOVQ         $0x3ff0000000000000, R10
	VMOVQ        R10, X1
	VDIVSD       X0, X1, X1
	VBROADCASTSD X1, Y5

	// Pass 3: dst = float32((x-mean)*rstd)*gamma + beta.
	MOVQ dst+0(FP), DI
	MOVQ gamma+16(FP), R8
	MOVQ beta+24(FP), R9
	XORQ AX, AX
	MOVQ CX, DX
	SHRQ $3, DX
	JZ   ln_out_tail

ln_out8:
	VCVTPS2PD   (SI)(AX*4), Y2
	VCVTPS2PD   16(SI)(AX*4), Y3
	VSUBPD      Y4, Y2, Y2
	VSUBPD      Y4, Y3, Y3
	VMULPD      Y5, Y2, Y2
	VMULPD      Y5, Y3, Y3
	VCVTPD2PSY  Y2, X2
	VCVTPD2PSY  Y3, X3
	VINSERTF128 $1, X3, Y2, Y2
	VMOVUPS     (R8)(AX*4), Y6
	VFMADD213PS (R9)(AX*4), Y6, Y2
	VMOVUPS     Y2, (DI)(AX*4)
	ADDQ        $8, AX
	DECQ        DX
	JNZ         ln_out8

ln_out_tail:
	CMPQ AX, CX
	JGE  ln_done

ln_out1:
	VCVTSS2SD   (SI)(AX*4), X2, X2
	VSUBSD      X4, X2, X2
	VMULSD      X5, X2, X2
	VCVTSD2SS   X2, X2, X2
	VMOVSS      (R8)(AX*4), X6
	VFMADD213SS (R9)(AX*4), X6, X2
	VMOVSS      X2, (DI)(AX*4)
	INCQ        AX
	CMPQ        AX, CX
	JLT         ln_out1

ln_done:
	VZEROUPPER
	RET
