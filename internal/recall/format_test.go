package recall

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gorerank/gorerank/tensor"
)

// TestRowLayout pins the byte layout of each format.
func TestRowLayout(t *testing.T) {
	vec := []float32{1, -0.5, 0.25}
	cases := []struct {
		f    Format
		want []byte
		dec  []float32
	}{
		{F32, []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0xbf, 0, 0, 0x80, 0x3e}, vec},
		{F16, []byte{0x00, 0x3c, 0x00, 0xb8, 0x00, 0x34}, vec},
		// scale 1/127 = 0x3c010204, then round(v·127): 127, -63.5 → -64 (half to even), 31.75 → 32
		{Int8, []byte{0x04, 0x02, 0x01, 0x3c, 127, 0xc0, 32},
			[]float32{float32(1.0/127) * 127, float32(1.0/127) * -64, float32(1.0/127) * 32}},
	}
	for _, c := range cases {
		enc := make([]byte, RowBytes(c.f, 3))
		if err := EncodeRow(enc, vec, c.f); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc, c.want) {
			t.Errorf("%s: % x, want % x", c.f, enc, c.want)
		}
		dec := make([]float32, 3)
		if err := DecodeRow(dec, enc, c.f); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(dec, c.dec) {
			t.Errorf("%s: decoded %v, want %v", c.f, dec, c.dec)
		}
	}
}

// TestInt8MatchesTensor: the Int8 encoding is tensor.QuantizeInt8's, bit for bit.
func TestInt8MatchesTensor(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for range 50 {
		v := unitVec(r, 1+r.IntN(300))
		enc := make([]byte, RowBytes(Int8, len(v)))
		EncodeRow(enc, v, Int8)
		q, s := make([]int8, len(v)), make([]float32, 1)
		tensor.QuantizeInt8(q, s, v, 1, len(v))
		if math.Float32bits(s[0]) != uint32(enc[0])|uint32(enc[1])<<8|uint32(enc[2])<<16|uint32(enc[3])<<24 ||
			!slices.Equal(q, int8s(enc[4:])) {
			t.Fatalf("Int8 encoding differs from QuantizeInt8")
		}
	}
}

// TestEncodeIdempotent: encoding the decoded values gives the same bytes, so an index reloaded
// from Vector (or DecodeRow) values stores what it stored.
func TestEncodeIdempotent(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	for _, f := range formats {
		for range 100 {
			v := unitVec(r, 1+r.IntN(100))
			if r.IntN(4) == 0 {
				clear(v)
			}
			a, b := make([]byte, RowBytes(f, len(v))), make([]byte, RowBytes(f, len(v)))
			EncodeRow(a, v, f)
			dec := make([]float32, len(v))
			if err := DecodeRow(dec, a, f); err != nil {
				t.Fatal(err)
			}
			EncodeRow(b, dec, f)
			if !bytes.Equal(a, b) {
				t.Fatalf("%s: re-encoding changed the row", f)
			}
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	for _, f := range formats {
		enc := make([]byte, RowBytes(f, 2))
		if err := EncodeRow(enc, []float32{1, float32(math.NaN())}, f); !errors.Is(err, ErrNotFinite) {
			t.Errorf("%s NaN: %v", f, err)
		}
		if err := EncodeRow(enc, []float32{float32(math.Inf(-1)), 1}, f); !errors.Is(err, ErrNotFinite) {
			t.Errorf("%s -Inf: %v", f, err)
		}
	}
	enc := make([]byte, 4)
	if err := EncodeRow(enc, []float32{65519, 1}, F16); err != nil {
		t.Errorf("65519 rounds to 65504: %v", err)
	}
	if err := EncodeRow(enc, []float32{65520, 1}, F16); !errors.Is(err, ErrRange) {
		t.Errorf("65520 overflows: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Errorf("EncodeRow with a short dst did not panic")
		}
	}()
	EncodeRow(make([]byte, 3), []float32{1}, F32)
}

func TestDecodeErrors(t *testing.T) {
	var re *RowError
	cases := []struct {
		f   Format
		src []byte
		off int
	}{
		{F32, []byte{0, 0, 0x80, 0x3f, 0, 0, 0xc0, 0x7f}, 4}, // NaN
		{F16, []byte{0, 0x3c, 0, 0x7c}, 2},                   // +Inf
		{Int8, []byte{0, 0, 0xc0, 0x7f, 1, 2}, 0},            // NaN scale
		{Int8, []byte{0, 0, 0x80, 0xbf, 1, 2}, 0},            // negative scale
		{Int8, []byte{0, 0, 0x80, 0x3f, 1, 0x80}, 5},         // -128
	}
	for _, c := range cases {
		err := DecodeRow(make([]float32, 2), c.src, c.f)
		if !errors.As(err, &re) || re.Offset != c.off {
			t.Errorf("%s % x: %v, want a RowError at %d", c.f, c.src, err, c.off)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for _, f := range formats {
		if g, err := ParseFormat(f.String()); g != f || err != nil {
			t.Errorf("ParseFormat(%q) = %v, %v", f.String(), g, err)
		}
	}
	if _, err := ParseFormat("bf16"); err == nil {
		t.Errorf("bf16 parsed")
	}
	if RowBytes(F32, 1024) != 4096 || RowBytes(F16, 1024) != 2048 || RowBytes(Int8, 1024) != 1028 {
		t.Errorf("RowBytes")
	}
}

// FuzzDecodeRow: any bytes either decode to finite values that an index stores as they are
// (AppendEncoded, then Vector gives them back, and re-encoding gives the bytes back), or are
// refused by both DecodeRow and AppendEncoded.
func FuzzDecodeRow(f *testing.F) {
	f.Add(uint8(1), []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0xbf})
	f.Add(uint8(2), []byte{0x00, 0x3c, 0x00, 0xb8})
	f.Add(uint8(3), []byte{0x04, 0x02, 0x01, 0x3c, 127, 0xc0})
	f.Add(uint8(3), []byte{0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, fb uint8, src []byte) {
		fm := Format(fb%3 + 1)
		dim := len(src) / 2
		if fm == F32 {
			dim = len(src) / 4
		}
		if fm == Int8 {
			dim = len(src) - 4
		}
		if dim < 1 {
			return
		}
		src = src[:RowBytes(fm, dim)]
		dec := make([]float32, dim)
		derr := DecodeRow(dec, src, fm)
		d := NewDense(fm, dim)
		_, aerr := d.AppendEncoded(src)
		if (derr == nil) != (aerr == nil) {
			t.Fatalf("DecodeRow: %v, AppendEncoded: %v", derr, aerr)
		}
		if derr != nil {
			return
		}
		got := make([]float32, dim)
		d.Vector(got, 0)
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(dec[i]) || !finite(got[i]) {
				t.Fatalf("value %d: stored %v, decoded %v", i, got[i], dec[i])
			}
		}
		// Scores stay finite-bounded: a search over the row works.
		q := make([]float32, dim)
		q[0] = 1
		if _, err := d.Search(t.Context(), q, 1, nil); err != nil {
			t.Fatal(err)
		}
		if fm != Int8 { // Int8 rows that QuantizeInt8 would not write (a scale that is not max/127) re-encode otherwise
			re := make([]byte, len(src))
			if err := EncodeRow(re, dec, fm); err != nil || !bytes.Equal(re, src) {
				t.Fatalf("re-encode: %v % x, want % x", err, re, src)
			}
		}
	})
}
