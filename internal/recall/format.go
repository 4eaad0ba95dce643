package recall

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/gorerank/gorerank/tensor"
	"github.com/x448/float16"
)

// Format is how a Dense index stores its rows, and how a row is encoded for storage (RowBytes,
// EncodeRow, DecodeRow). The decoded value of a stored element is what every score is computed
// from (see the package documentation).
type Format uint8

const (
	// F32 stores IEEE binary32 values as given.
	F32 Format = iota + 1
	// F16 stores IEEE binary16 values, rounded to nearest even from float32; a value whose
	// magnitude rounds beyond 65504 is an error (ErrRange).
	F16
	// Int8 stores one float32 scale per row and int8 values in [-127,127], quantized as
	// tensor.QuantizeInt8 does (symmetric per row: scale = max|x|/127, q = round-half-even
	// of x·127/max); the decoded value is float32(scale·float32(q)). A row whose 127·scale
	// overflows float32 is an error (ErrRange).
	Int8
)

var formatNames = [...]string{F32: "f32", F16: "f16", Int8: "int8"}

// String is the format's name: "f32", "f16" or "int8".
func (f Format) String() string {
	if f.valid() {
		return formatNames[f]
	}
	return fmt.Sprintf("Format(%d)", uint8(f))
}

func (f Format) valid() bool { return f >= F32 && f <= Int8 }

// ParseFormat reads a format name as String writes it (case-insensitive; "float32", "fp16",
// "float16" and "i8" are accepted too).
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "f32", "float32", "fp32":
		return F32, nil
	case "f16", "float16", "fp16", "half":
		return F16, nil
	case "int8", "i8":
		return Int8, nil
	}
	return 0, fmt.Errorf("recall: unknown vector format %q (want f32, f16 or int8)", s)
}

// Errors. Every error of the package wraps one of these (errors.Is), or is a *RowError.
var (
	// ErrDimension: a vector or encoded row whose length does not match the index.
	ErrDimension = errors.New("recall: vector length does not match the dimension")
	// ErrNotFinite: a NaN or ±Inf value.
	ErrNotFinite = errors.New("recall: value is not finite")
	// ErrRange: a value outside what the format can hold (F16 beyond ±65504).
	ErrRange = errors.New("recall: value out of the format's range")
	// ErrRow: a row number outside the index, or a sparse row added twice.
	ErrRow = errors.New("recall: bad row number")
	// ErrSparse: an invalid sparse vector (token id outside the vocabulary, a repeated id,
	// a weight that is not a positive finite number, indices and values of different lengths).
	ErrSparse = errors.New("recall: invalid sparse vector")
)

// RowError reports an encoded row that does not decode to valid stored values: bytes read
// from storage that were not written by EncodeRow.
type RowError struct {
	Format Format
	Offset int    // byte offset in the row
	Reason string // what is wrong there
}

func (e *RowError) Error() string {
	return fmt.Sprintf("recall: invalid %s row: %s at byte %d", e.Format, e.Reason, e.Offset)
}

// RowBytes is the size of one encoded row of dim values:
//
//	F32   4·dim   dim × IEEE binary32, little-endian
//	F16   2·dim   dim × IEEE binary16, little-endian
//	Int8  4+dim   the scale (IEEE binary32, little-endian), then dim × int8 (two's complement)
//
// It panics on an invalid format or a negative dim (programmer bugs).
func RowBytes(f Format, dim int) int {
	if dim < 0 {
		panic("recall: RowBytes: negative dimension")
	}
	switch f {
	case F32:
		return 4 * dim
	case F16:
		return 2 * dim
	case Int8:
		return 4 + dim
	}
	panic("recall: RowBytes: invalid format " + f.String())
}

// EncodeRow writes vec in format f into dst (RowBytes(f, len(vec)) bytes; see RowBytes for the
// layout). It fails with ErrNotFinite on a NaN or ±Inf value and with ErrRange on an F16
// overflow (or an Int8 scale whose 127·scale overflows); dst is then unspecified. A dst of another length panics. No allocation.
func EncodeRow(dst []byte, vec []float32, f Format) error {
	if len(dst) != RowBytes(f, len(vec)) {
		panic(fmt.Sprintf("recall: EncodeRow: dst is %d bytes, a %s row of %d values is %d", len(dst), f, len(vec), RowBytes(f, len(vec))))
	}
	if err := checkFinite(vec); err != nil {
		return err
	}
	switch f {
	case F32:
		for i, v := range vec {
			binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
		}
	case F16:
		for i, v := range vec {
			h, err := toHalf(v, i)
			if err != nil {
				return err
			}
			binary.LittleEndian.PutUint16(dst[2*i:], h)
		}
	case Int8:
		q := int8s(dst[4:])
		var s [1]float32
		tensor.QuantizeInt8(q, s[:], vec, 1, len(vec))
		if err := checkScale(s[0]); err != nil {
			return err
		}
		binary.LittleEndian.PutUint32(dst, math.Float32bits(s[0]))
	}
	return nil
}

// DecodeRow reads a row that EncodeRow wrote into dst (len(dst) = dim values, src
// RowBytes(f, dim) bytes, else it panics): the stored values, as an index in format f scores
// them. Bytes that EncodeRow cannot have written (a NaN or infinite value or scale, a negative
// scale or one whose 127·scale overflows, an int8 value of -128) give a *RowError. No allocation.
func DecodeRow(dst []float32, src []byte, f Format) error {
	if len(src) != RowBytes(f, len(dst)) {
		panic(fmt.Sprintf("recall: DecodeRow: src is %d bytes, a %s row of %d values is %d", len(src), f, len(dst), RowBytes(f, len(dst))))
	}
	switch f {
	case F32:
		for i := range dst {
			v := math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
			if !finite(v) {
				return &RowError{F32, 4 * i, "value not finite"}
			}
			dst[i] = v
		}
	case F16:
		for i := range dst {
			h := binary.LittleEndian.Uint16(src[2*i:])
			if h&0x7c00 == 0x7c00 {
				return &RowError{F16, 2 * i, "value not finite"}
			}
			dst[i] = halfToFloat(h)
		}
	case Int8:
		s, err := decodeScale(src)
		if err != nil {
			return err
		}
		for i, b := range src[4:] {
			if b == 0x80 {
				return &RowError{Int8, 4 + i, "value -128"}
			}
			dst[i] = float32(s * float32(int8(b)))
		}
	}
	return nil
}

// decodeScale reads and checks the scale of an Int8 row.
func decodeScale(src []byte) (float32, error) {
	s := math.Float32frombits(binary.LittleEndian.Uint32(src))
	if !finite(s) || s < 0 || math.Signbit(float64(s)) || !finite(s*127) {
		return 0, &RowError{Int8, 0, "scale not a non-negative number with finite 127·scale"}
	}
	return s, nil
}

// checkScale refuses an Int8 scale whose largest decoded value, 127·scale, overflows float32
// (a row whose largest magnitude is within 2⁻¹⁷ of math.MaxFloat32).
func checkScale(s float32) error {
	if !finite(s * 127) {
		return fmt.Errorf("recall: int8 scale %g: 127·scale overflows float32: %w", s, ErrRange)
	}
	return nil
}

// toHalf rounds v (element i of a vector) to binary16, or fails when it overflows.
func toHalf(v float32, i int) (uint16, error) {
	h := float16.Fromfloat32(v).Bits()
	if h&0x7c00 == 0x7c00 {
		return 0, fmt.Errorf("recall: element %d (%g) overflows float16: %w", i, v, ErrRange)
	}
	return h, nil
}

// halfToFloat widens binary16 bits exactly.
func halfToFloat(h uint16) float32 { return float16.Frombits(h).Float32() }

func finite(v float32) bool { return v-v == 0 }

// checkFinite fails with ErrNotFinite, naming the first NaN or ±Inf element of v.
func checkFinite(v []float32) error {
	for i, x := range v {
		if !finite(x) {
			return fmt.Errorf("recall: element %d is %v: %w", i, x, ErrNotFinite)
		}
	}
	return nil
}
