package tensor

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestBF16DotEncoding checks every VDPBF16PS that _gen wrote as BYTE directives into
// gemm_amd64.s (Go's assembler has no mnemonic for it): each line carries its operands in a
// comment, and its bytes must match the EVEX form EVEX.512.F3.0F38.W0 52 /r, re-derived here
// field by field and pinned by five encodings that GNU as 2.40 printed for the same operands.
func TestBF16DotEncoding(t *testing.T) {
	// GNU as: vdpbf16ps %zmm<src2>, %zmm<src1>, %zmm<dst> (AT&T order, as Go's).
	pinned := map[[3]int]string{
		{24, 26, 0}:  "62922E40 52C0",
		{25, 26, 1}:  "62922E40 52C9",
		{24, 27, 2}:  "62922640 52D0",
		{31, 17, 23}: "62827640 52FF",
		{8, 9, 10}:   "62523648 52D0",
	}
	enc := func(src2, src1, dst int) []byte {
		inv := func(v, bit int) byte { return byte(^v>>bit) & 1 }
		return []byte{0x62,
			inv(dst, 3)<<7 | inv(src2, 4)<<6 | inv(src2, 3)<<5 | inv(dst, 4)<<4 | 2, // R X B R' 0 map=0F38
			byte(^src1&15)<<3 | 1<<2 | 2, // W0 vvvv 1 pp=F3
			2<<5 | inv(src1, 4)<<3,       // z=0 L'L=512 b=0 V' aaa=0
			0x52, 0xC0 | byte(dst&7)<<3 | byte(src2&7)}
	}
	for ops, want := range pinned {
		w := strings.ReplaceAll(want, " ", "")
		if got := fmt.Sprintf("%X", enc(ops[0], ops[1], ops[2])); got != w {
			t.Fatalf("VDPBF16PS Z%d, Z%d, Z%d: derived %s, GNU as %s", ops[0], ops[1], ops[2], got, w)
		}
	}
	src, err := os.ReadFile("gemm_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`((?:BYTE \$0x[0-9A-F]{2};? ?)+)// VDPBF16PS Z(\d+), Z(\d+), Z(\d+)`)
	byteRe := regexp.MustCompile(`\$0x([0-9A-F]{2})`)
	lines := line.FindAllStringSubmatch(string(src), -1)
	if len(lines) < 24 {
		t.Fatalf("found %d VDPBF16PS lines in gemm_amd64.s, want at least 24 (one per accumulator)", len(lines))
	}
	for _, l := range lines {
		var got []byte
		for _, b := range byteRe.FindAllStringSubmatch(l[1], -1) {
			v, _ := strconv.ParseUint(b[1], 16, 8)
			got = append(got, byte(v))
		}
		src2, _ := strconv.Atoi(l[2])
		src1, _ := strconv.Atoi(l[3])
		dst, _ := strconv.Atoi(l[4])
		if want := enc(src2, src1, dst); string(got) != string(want) {
			t.Errorf("VDPBF16PS Z%d, Z%d, Z%d: bytes % X, want % X", src2, src1, dst, got, want)
		}
	}
}
