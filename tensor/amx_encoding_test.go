package tensor

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestAMXEncodings re-derives every AMX macro of amx_amd64.s from the Intel SDM forms
//
//	LDTILECFG m512           VEX.128.NP.0F38.W0 49 !(11):000:bbb
//	TILERELEASE              VEX.128.NP.0F38.W0 49 C0
//	TILEZERO tmm             VEX.128.F2.0F38.W0 49 11:rrr:000
//	TILELOADD tmm, sibmem    VEX.128.F2.0F38.W0 4B !(11):rrr:100
//	TILESTORED sibmem, tmm   VEX.128.F3.0F38.W0 4B !(11):rrr:100
//	TDPBF16PS tmm1,tmm2,tmm3 VEX.128.F3.0F38.W0 5C 11:rrr:bbb, vvvv = tmm3
//
// (three-byte VEX: C4, R̄X̄B̄ + map 0F38 = E2 for the low eight GPRs, W·v̄v̄v̄v̄·L·pp),
// and checks the bytes in the assembly against them. The macro name says the operands.
func TestAMXEncodings(t *testing.T) {
	src, err := os.ReadFile("amx_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	gpr := map[string]byte{"AX": 0, "CX": 1, "DX": 2, "BX": 3, "SI": 6, "DI": 7}
	tmm := func(s string) byte {
		n, err := strconv.Atoi(strings.TrimPrefix(s, "T"))
		if err != nil || n < 0 || n > 7 || !strings.HasPrefix(s, "T") {
			t.Fatalf("bad tile register %q", s)
		}
		return byte(n)
	}
	const np, p66, f3, f2 = 0, 1, 2, 3
	vex := func(pp, vvvv, op byte, rest ...byte) []byte {
		return append([]byte{0xC4, 0xE2, (^vvvv&15)<<3 | pp, op}, rest...)
	}
	encode := func(name string) []byte {
		f := strings.Split(name, "_")
		switch {
		case f[0] == "LDTILECFG" && len(f) == 2:
			return vex(np, 0, 0x49, gpr[f[1]])
		case f[0] == "TILERELEASE" && len(f) == 1:
			return vex(np, 0, 0x49, 0xC0)
		case f[0] == "TILEZERO" && len(f) == 2:
			return vex(f2, 0, 0x49, 0xC0|tmm(f[1])<<3)
		case f[0] == "TILELOADD" && len(f) == 4:
			return vex(f2, 0, 0x4B, tmm(f[1])<<3|4, gpr[f[3]]<<3|gpr[f[2]])
		case f[0] == "TILESTORED" && len(f) == 4:
			return vex(f3, 0, 0x4B, tmm(f[3])<<3|4, gpr[f[2]]<<3|gpr[f[1]])
		case f[0] == "TDPBF16PS" && len(f) == 4:
			return vex(f3, tmm(f[3]), 0x5C, 0xC0|tmm(f[1])<<3|tmm(f[2]))
		}
		t.Fatalf("unknown AMX macro %q", name)
		return nil
	}
	def := regexp.MustCompile(`(?m)^#define ((?:LDTILECFG|TILE|TDP)\w*)\s+(.*)$`)
	byteRe := regexp.MustCompile(`BYTE \$0x([0-9A-Fa-f]{2})`)
	defs := def.FindAllStringSubmatch(string(src), -1)
	if len(defs) < 18 {
		t.Fatalf("found %d AMX macros in amx_amd64.s, want at least 18", len(defs))
	}
	for _, d := range defs {
		var got []byte
		for _, b := range byteRe.FindAllStringSubmatch(d[2], -1) {
			v, _ := strconv.ParseUint(b[1], 16, 8)
			got = append(got, byte(v))
		}
		if want := encode(d[1]); string(got) != string(want) {
			t.Errorf("%s: bytes % X, want % X", d[1], got, want)
		}
	}
}
