package tensor

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"testing"
)

// TestInt8VEXEncodings re-derives every byte macro of int8_amd64.s from the Intel SDM form of
// the AVX-VNNI dot product
//
//	VPDPBUSD ymm1, ymm2, ymm3/m256   VEX.256.66.0F38.W0 50 /r
//
// (three-byte VEX: C4, R̄X̄B̄ + map 0F38, W·v̄v̄v̄v̄·L·pp with vvvv = ymm2, L = 1, pp = 01 (66);
// ModRM 11:reg=ymm1:rm=ymm3; R̄/B̄ clear for ymm8–15), and checks the bytes against them.
// objdump -d on a test binary prints them as "{vex} vpdpbusd %ymm12,%ymm8,%ymm0".
func TestInt8VEXEncodings(t *testing.T) {
	src, err := os.ReadFile("int8_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	encode := func(dst, s1, s2 int) []byte {
		b1 := byte(0x40 | 0x02) // X̄ set, map 0F38
		if dst < 8 {
			b1 |= 0x80
		}
		if s2 < 8 {
			b1 |= 0x20
		}
		b2 := byte(^s1&15)<<3 | 1<<2 | 1
		return []byte{0xC4, b1, b2, 0x50, byte(0xC0 | (dst&7)<<3 | s2&7)}
	}
	def := regexp.MustCompile(`(?m)^#define VPDPBUSD_Y(\d+)_Y(\d+)_Y(\d+)\s+(.*)$`)
	byteRe := regexp.MustCompile(`BYTE \$0x([0-9A-Fa-f]{2})`)
	defs := def.FindAllStringSubmatch(string(src), -1)
	if len(defs) != 8 {
		t.Fatalf("found %d VPDPBUSD macros, want 8", len(defs))
	}
	for _, d := range defs {
		var got []byte
		for _, b := range byteRe.FindAllStringSubmatch(d[4], -1) {
			v, _ := strconv.ParseUint(b[1], 16, 8)
			got = append(got, byte(v))
		}
		r1, _ := strconv.Atoi(d[1])
		r2, _ := strconv.Atoi(d[2])
		r3, _ := strconv.Atoi(d[3])
		if want := encode(r1, r2, r3); string(got) != string(want) {
			t.Errorf("VPDPBUSD Y%d, Y%d, Y%d: bytes % X, want % X", r1, r2, r3, got, want)
		}
	}
}

// TestAssemblyGenerated checks that gemm_amd64.s and int8_amd64.s are what the generator
// writes now (an edit to either by hand, or to _gen without regenerating, fails here).
func TestAssemblyGenerated(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the generator")
	}
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		t.Skipf("no go tool at %s to run the generator", goTool)
	}
	dir := t.TempDir()
	gemm, int8s := filepath.Join(dir, "gemm_amd64.s"), filepath.Join(dir, "int8_amd64.s")
	if b, err := exec.Command(goTool, "run", "./_gen", "-out", gemm, "-int8out", int8s).CombinedOutput(); err != nil {
		t.Fatalf("generator: %v\n%s", err, b)
	}
	for _, f := range []string{gemm, int8s} {
		want, _ := os.ReadFile(f)
		got, err := os.ReadFile(filepath.Base(f))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s differs from the generator's output: run go run ./_gen (%v)", filepath.Base(f), err)
		}
	}
}
