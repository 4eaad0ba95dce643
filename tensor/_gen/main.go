// Command _gen writes the assembly of package tensor: gemm_amd64.s, the register-blocked GEMM
// micro-kernels (float32 and BF16 pairs), one per CPU tier, from one template so that every
// tier has the same structure, with the packers and conversions; and int8_amd64.s, the int8
// dot-product tiles (int8.go).
//
//	cd tensor && go run ./_gen
//
// A kernel computes one MR×NR tile of C from a row-major, unpacked A block (MR rows, stride lda)
// and a packed B micro-panel (k rows of NR contiguous floats):
//
//	for i < MR, j < NR: c[i*ldc+j] = (add ? c[i*ldc+j] : 0) + Σ_p a[i*lda+p] * b[p*NR+j]
//
// The MR·NR/W accumulators stay in vector registers for the whole k loop; each step loads the NR
// floats of B once, broadcasts the MR floats of A one by one and issues MR·NR/W FMAs.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"os"
)

// kernel describes one tier's micro-kernel.
type kernel struct {
	name   string // Go name of the stub
	reg    string // vector register prefix: "Y" (AVX2) or "Z" (AVX-512)
	width  int    // floats per vector register
	mr     int    // rows of A / C per tile
	nv     int    // vectors of B per k step: NR = nv*width
	unroll int    // k steps per loop iteration
	// dot: the kernel multiplies BF16 pairs with VDPBF16PS (AVX512_BF16) instead of float32
	// FMAs. A k step is then one pair: a (i, p) is the 32-bit pair of row i's BF16 values
	// 2p, 2p+1 (lda counts pairs), b a row of NR pairs, and each accumulator lane adds both
	// products. The loop is the same, one 32-bit broadcast of A per row and step.
	dot bool
}

func (kn kernel) nr() int { return kn.nv * kn.width }

// acc is the accumulator register of row i, vector v.
func (kn kernel) acc(i, v int) string { return fmt.Sprintf("%s%d", kn.reg, i*kn.nv+v) }

// bvec is the register that holds vector v of the current B row.
func (kn kernel) bvec(v int) string { return fmt.Sprintf("%s%d", kn.reg, kn.mr*kn.nv+v) }

// bcast is a scratch register for the broadcast of A's element in row i.
func (kn kernel) bcast(i int) string { return fmt.Sprintf("%s%d", kn.reg, kn.mr*kn.nv+kn.nv+i%2) }

// Row pointers: rows come in groups of three off one base register, at +0, +lda, +2·lda.
var bases = []string{"AX", "R11", "R12", "R13"}

// arow is the memory operand of A's row i, displaced by off bytes.
func arow(i, off int) string {
	base := bases[i/3]
	switch i % 3 {
	case 0:
		return fmt.Sprintf("%d(%s)", off, base)
	case 1:
		return fmt.Sprintf("%d(%s)(R9*1)", off, base)
	default:
		return fmt.Sprintf("%d(%s)(R9*2)", off, base)
	}
}

func gen(w *bytes.Buffer, kn kernel) {
	p := func(format string, args ...any) { fmt.Fprintf(w, "\t"+format+"\n", args...) }
	nr := kn.nr()
	vbytes := kn.width * 4
	ngroups := (kn.mr + 2) / 3

	if kn.dot {
		fmt.Fprintf(w, "// func %s(k int, a *uint16, lda int, b *uint32, c *float32, ldc int, add int)\n", kn.name)
	} else {
		fmt.Fprintf(w, "// func %s(k int, a *float32, lda int, b *float32, c *float32, ldc int, add int)\n", kn.name)
	}
	fmt.Fprintf(w, "// MR=%d NR=%d, %s registers.\n", kn.mr, nr, kn.reg)
	fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-56\n", kn.name)
	p("MOVQ k+0(FP), CX")
	p("MOVQ a+8(FP), AX")
	p("MOVQ lda+16(FP), R9")
	p("SHLQ $2, R9")
	p("LEAQ (R9)(R9*2), R10")
	for g := 1; g < ngroups; g++ {
		p("LEAQ (%s)(R10*1), %s", bases[g-1], bases[g])
	}
	p("MOVQ b+24(FP), BX")
	// Prefetch the C tile (first and last byte of each row): with add it is read at the end,
	// usually from L3, and the k loop hides that latency.
	p("MOVQ c+32(FP), DI")
	p("MOVQ ldc+40(FP), SI")
	p("SHLQ $2, SI")
	for i := 0; i < kn.mr; i++ {
		p("PREFETCHT0 (DI)")
		p("PREFETCHT0 %d(DI)", nr*4-1)
		if i < kn.mr-1 {
			p("ADDQ SI, DI")
		}
	}
	for i := 0; i < kn.mr; i++ {
		for v := 0; v < kn.nv; v++ {
			r := kn.acc(i, v)
			p("VXORPS %s, %s, %s", r, r, r)
		}
	}

	step := func(s int) {
		for v := 0; v < kn.nv; v++ {
			p("VMOVUPS %d(BX), %s", (s*nr+v*kn.width)*4, kn.bvec(v))
		}
		for l := 0; l < nr*4; l += 64 {
			p("PREFETCHT0 %d(BX)", s*nr*4+l+pfDist)
		}
		for i := 0; i < kn.mr; i++ {
			p("VBROADCASTSS %s, %s", arow(i, s*4), kn.bcast(i))
			for v := 0; v < kn.nv; v++ {
				if kn.dot {
					p("%s // VDPBF16PS %s, %s, %s", vdpbf16ps(regNum(kn.acc(i, v)), regNum(kn.bcast(i)), regNum(kn.bvec(v))),
						kn.bvec(v), kn.bcast(i), kn.acc(i, v))
				} else {
					p("VFMADD231PS %s, %s, %s", kn.bvec(v), kn.bcast(i), kn.acc(i, v))
				}
			}
		}
	}
	advance := func(steps int) {
		for g := 0; g < ngroups; g++ {
			p("ADDQ $%d, %s", steps*4, bases[g])
		}
		p("ADDQ $%d, BX", steps*nr*4)
	}

	p("CMPQ CX, $%d", kn.unroll)
	p("JLT tail")
	fmt.Fprintf(w, "loop:\n")
	for s := 0; s < kn.unroll; s++ {
		step(s)
	}
	advance(kn.unroll)
	p("SUBQ $%d, CX", kn.unroll)
	p("CMPQ CX, $%d", kn.unroll)
	p("JGE loop")
	fmt.Fprintf(w, "tail:\n")
	p("TESTQ CX, CX")
	p("JEQ store")
	fmt.Fprintf(w, "tail1:\n")
	step(0)
	advance(1)
	p("DECQ CX")
	p("JNZ tail1")

	fmt.Fprintf(w, "store:\n")
	p("MOVQ c+32(FP), DI")
	p("MOVQ ldc+40(FP), SI")
	p("SHLQ $2, SI")
	p("MOVQ add+48(FP), DX")
	p("TESTQ DX, DX")
	p("JEQ overwrite")
	for i := 0; i < kn.mr; i++ {
		for v := 0; v < kn.nv; v++ {
			p("VADDPS %d(DI), %s, %s", v*vbytes, kn.acc(i, v), kn.acc(i, v))
			p("VMOVUPS %s, %d(DI)", kn.acc(i, v), v*vbytes)
		}
		if i < kn.mr-1 {
			p("ADDQ SI, DI")
		}
	}
	p("VZEROUPPER")
	p("RET")
	fmt.Fprintf(w, "overwrite:\n")
	for i := 0; i < kn.mr; i++ {
		for v := 0; v < kn.nv; v++ {
			p("VMOVUPS %s, %d(DI)", kn.acc(i, v), v*vbytes)
		}
		if i < kn.mr-1 {
			p("ADDQ SI, DI")
		}
	}
	p("VZEROUPPER")
	p("RET")
	fmt.Fprintln(w)
}

// packSrc says what genPack reads: how a source row is loaded into 8 float32 lanes of a Y
// register, the element size, and the name and Go signature of the packer.
type packSrc struct {
	name  string
	shift int // log2 of the source element size in bytes (ldb scale)
	step  int // source bytes per 8 columns of k
	load  func(mem, y string) []string
	sig   string
}

var packSrcs = []packSrc{
	// float32 weights: op(b) = bᵀ panels of the float32 GEMM.
	{name: "packNT8AVX", shift: 2, step: 32, sig: "k8 int, b *float32, ldb int, dst *float32, ldd int",
		load: func(m, y string) []string { return []string{fmt.Sprintf("VMOVUPS %s, %s", m, y)} }},
	// F16 weights widened exactly (F16C).
	{name: "packF16x8AVX", shift: 1, step: 16, sig: "k8 int, b *uint16, ldb int, dst *float32, ldd int",
		load: func(m, y string) []string { return []string{fmt.Sprintf("VCVTPH2PS %s, %s", m, y)} }},
	// BF16 weights widened exactly (a 16-bit shift).
	{name: "packBF16x8AVX", shift: 1, step: 16, sig: "k8 int, b *uint16, ldb int, dst *float32, ldd int",
		load: func(m, y string) []string {
			return []string{fmt.Sprintf("VPMOVZXWD %s, %s", m, y), fmt.Sprintf("VPSLLD $16, %s, %s", y, y)}
		}},
	// BF16 weights as pairs: element p of a row is the 32-bit pair (2p, 2p+1), moved as is.
	{name: "packPairs8AVX", shift: 1, step: 32, sig: "k8 int, b *uint16, ldb int, dst *uint32, ldd int",
		load: func(m, y string) []string { return []string{fmt.Sprintf("VMOVUPS %s, %s", m, y)} }},
}

// genPack writes one packer: 8 rows of b (stride ldb elements) × 8·k8 32-bit columns,
// transposed 8×8 at a time into 8 columns of dst (row stride ldd 32-bit elements):
//
//	for r < 8, p < 8*k8: dst[p*ldd+r] = load(b[r*ldb+p])
//
// with p counting float32 / F16 / BF16 elements, or BF16 pairs for packPairs8AVX.
func genPack(w *bytes.Buffer, ps packSrc) {
	p := func(format string, args ...any) { fmt.Fprintf(w, "\t"+format+"\n", args...) }
	fmt.Fprintf(w, "// func %s(%s)\n", ps.name, ps.sig)
	fmt.Fprintf(w, "TEXT ·%s(SB), NOSPLIT, $0-40\n", ps.name)
	p("MOVQ k8+0(FP), CX")
	p("MOVQ b+8(FP), SI")
	p("MOVQ ldb+16(FP), R8")
	p("SHLQ $%d, R8", ps.shift)
	p("LEAQ (R8)(R8*2), R9")
	p("LEAQ (SI)(R9*1), R10")  // row 3
	p("LEAQ (R10)(R9*1), R11") // row 6
	p("MOVQ dst+24(FP), DI")
	p("MOVQ ldd+32(FP), DX")
	p("SHLQ $2, DX")
	p("LEAQ (DX)(DX*2), BX") // 3·ldd
	p("TESTQ CX, CX")
	p("JEQ done")
	fmt.Fprintf(w, "loop:\n")
	rows := []string{"(SI)", "(SI)(R8*1)", "(SI)(R8*2)", "(R10)", "(R10)(R8*1)", "(R10)(R8*2)", "(R11)", "(R11)(R8*1)"}
	for r, m := range rows {
		for _, ins := range ps.load(m, fmt.Sprintf("Y%d", r)) {
			p("%s", ins)
		}
	}
	// t(2i) = unpcklps(r(2i), r(2i+1)), t(2i+1) = unpckhps(...): Y8..Y15.
	for i := 0; i < 4; i++ {
		p("VUNPCKLPS Y%d, Y%d, Y%d", 2*i+1, 2*i, 8+2*i)
		p("VUNPCKHPS Y%d, Y%d, Y%d", 2*i+1, 2*i, 9+2*i)
	}
	// s: rows 0-3 from t8..t11 into Y0..Y3, rows 4-7 from t12..t15 into Y4..Y7.
	for h := 0; h < 2; h++ {
		t := 8 + 4*h
		s := 4 * h
		p("VSHUFPS $0x44, Y%d, Y%d, Y%d", t+2, t, s+0)   // col 0 | 4
		p("VSHUFPS $0xEE, Y%d, Y%d, Y%d", t+2, t, s+1)   // col 1 | 5
		p("VSHUFPS $0x44, Y%d, Y%d, Y%d", t+3, t+1, s+2) // col 2 | 6
		p("VSHUFPS $0xEE, Y%d, Y%d, Y%d", t+3, t+1, s+3) // col 3 | 7
	}
	// column c (0..3) = low halves of Y(c), Y(4+c); column c+4 = high halves.
	outs := []string{"(DI)", "(DI)(DX*1)", "(DI)(DX*2)", "(DI)(BX*1)", "(R12)", "(R12)(DX*1)", "(R12)(DX*2)", "(R12)(BX*1)"}
	p("LEAQ (DI)(DX*4), R12")
	for c := 0; c < 4; c++ {
		p("VPERM2F128 $0x20, Y%d, Y%d, Y%d", 4+c, c, 8+c)
		p("VPERM2F128 $0x31, Y%d, Y%d, Y%d", 4+c, c, 12+c)
		p("VMOVUPS Y%d, %s", 8+c, outs[c])
		p("VMOVUPS Y%d, %s", 12+c, outs[c+4])
	}
	p("ADDQ $%d, SI", ps.step)
	p("ADDQ $%d, R10", ps.step)
	p("ADDQ $%d, R11", ps.step)
	p("LEAQ (R12)(DX*4), DI")
	p("DECQ CX")
	p("JNZ loop")
	fmt.Fprintf(w, "done:\n")
	p("VZEROUPPER")
	p("RET")
	fmt.Fprintln(w)
}

// regNum is the number of a vector register name such as "Z17".
func regNum(r string) int {
	var n int
	if _, err := fmt.Sscanf(r[1:], "%d", &n); err != nil {
		log.Fatalf("bad register %q", r)
	}
	return n
}

// vdpbf16ps encodes VDPBF16PS zmm(dst), zmm(src1), zmm(src2) (Intel operand order: dst += the
// pairwise BF16 dot products of src1 and src2), which Go's assembler does not know, as BYTE
// directives: EVEX.512.F3.0F38.W0 52 /r with register operands only (SDM vol. 2, "VDPBF16PS";
// EVEX layout in 2.7.1). TestBF16DotEncoding checks the bytes against GNU as.
func vdpbf16ps(dst, src1, src2 int) string {
	inv := func(v, bit int) int { return (^v >> bit) & 1 }
	p0 := inv(dst, 3)<<7 | inv(src2, 4)<<6 | inv(src2, 3)<<5 | inv(dst, 4)<<4 | 0b010 // R X B R' 0 mmm=0F38
	p1 := 0<<7 | (^src1&15)<<3 | 1<<2 | 0b10                                          // W=0 vvvv 1 pp=F3
	p2 := 0<<7 | 0b10<<5 | 0<<4 | inv(src1, 4)<<3 | 0                                 // z L'L=512 b V' aaa
	modrm := 0xC0 | (dst&7)<<3 | (src2 & 7)
	return fmt.Sprintf("BYTE $0x62; BYTE $0x%02X; BYTE $0x%02X; BYTE $0x%02X; BYTE $0x52; BYTE $0x%02X", p0, p1, p2, modrm)
}

// genPackNN writes packNN<nr>AVX: k rows of nr contiguous floats, row stride ldb, into a
// packed k×nr panel.
func genPackNN(w *bytes.Buffer, nr int) {
	p := func(format string, args ...any) { fmt.Fprintf(w, "\t"+format+"\n", args...) }
	fmt.Fprintf(w, "// func packNN%dAVX(k int, b *float32, ldb int, dst *float32)\n", nr)
	fmt.Fprintf(w, "TEXT ·packNN%dAVX(SB), NOSPLIT, $0-32\n", nr)
	p("MOVQ k+0(FP), CX")
	p("MOVQ b+8(FP), SI")
	p("MOVQ ldb+16(FP), R8")
	p("SHLQ $2, R8")
	p("MOVQ dst+24(FP), DI")
	p("TESTQ CX, CX")
	p("JEQ done")
	fmt.Fprintf(w, "loop:\n")
	for v := 0; v < nr/8; v++ {
		p("VMOVUPS %d(SI), Y%d", 32*v, v)
	}
	for v := 0; v < nr/8; v++ {
		p("VMOVUPS Y%d, %d(DI)", v, 32*v)
	}
	p("ADDQ R8, SI")
	p("ADDQ $%d, DI", nr*4)
	p("DECQ CX")
	p("JNZ loop")
	fmt.Fprintf(w, "done:\n")
	p("VZEROUPPER")
	p("RET")
	fmt.Fprintln(w)
}

// Software prefetch distances, in bytes ahead of the load that uses the line.
//
// pfDist is the float32/BF16 kernels' distance along the packed B panels. With few rows of A
// (one 16-token query: 16 rows) the first row block streams every weight from memory and the
// hardware prefetchers alone left the FMA units waiting: on an AMD Zen 5 (2 threads, one
// 16-token text through bge-m3) 4096 bytes ahead took the avx512 kernel from 15-18 to
// 21-22 texts/s and the avx2 one from 11-13 to 13-14; 1024 and 2048 gained less, 8192 no
// more; 8×128 moved +2%. One line is prefetched per 64 bytes of B a step loads.
//
// i8pf is the int8 tiles' distance along each weight row they read: 1024 bytes gave +7% on
// the avx2 tile at 1×16 and nothing measurable at 8×128 (2048 and 4096 gained less).
const (
	pfDist = 4096
	i8pf   = 1024
)

func main() {
	out := flag.String("out", "gemm_amd64.s", "output file of the float32 and BF16 kernels")
	int8Out := flag.String("int8out", "int8_amd64.s", "output file of the int8 kernels")
	flag.Parse()
	var w bytes.Buffer
	fmt.Fprintf(&w, "// Code generated by go run ./_gen. DO NOT EDIT.\n\n")
	fmt.Fprintf(&w, "//go:build amd64 && gc && !purego\n\n#include \"textflag.h\"\n\n")
	for _, kn := range []kernel{
		{name: "gemmKernelAVX2", reg: "Y", width: 8, mr: 6, nv: 2, unroll: 4},
		{name: "gemmKernelAVX2x4", reg: "Y", width: 8, mr: 4, nv: 2, unroll: 4},
		{name: "gemmKernelAVX2x2", reg: "Y", width: 8, mr: 2, nv: 2, unroll: 4},
		{name: "gemmKernelAVX512", reg: "Z", width: 16, mr: 12, nv: 2, unroll: 4},
		{name: "gemmKernelAVX512x8", reg: "Z", width: 16, mr: 8, nv: 2, unroll: 4},
		{name: "gemmKernelAVX512x4", reg: "Z", width: 16, mr: 4, nv: 2, unroll: 4},
		{name: "gemmKernelBF16AVX512", reg: "Z", width: 16, mr: 12, nv: 2, unroll: 4, dot: true},
	} {
		if kn.mr*kn.nv+kn.nv+2 > map[string]int{"Y": 16, "Z": 32}[kn.reg] {
			log.Fatalf("%s: too many registers", kn.name)
		}
		gen(&w, kn)
	}
	for _, ps := range packSrcs {
		genPack(&w, ps)
	}
	genPackNN(&w, 16)
	genPackNN(&w, 32)
	w.WriteString(roundBF16AVX2)
	w.WriteString(toBF16AVX512)
	w.WriteString(cpuVendor)
	if err := os.WriteFile(*out, w.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*int8Out, genInt8(), 0o644); err != nil {
		log.Fatal(err)
	}
}
