package weights

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"unsafe"

	"github.com/x448/float16"
)

// DType is an element type, spelled as in a safetensors header (a PyTorch storage type maps
// to one: FloatStorage is F32, HalfStorage F16, BFloat16Storage BF16, LongStorage I64, ...).
type DType string

// Element types. The header parser knows every standard safetensors dtype (so it can check
// byte lengths); conversion to float32 supports F32, F16 and BF16 only.
const (
	F32  DType = "F32"
	F16  DType = "F16"
	BF16 DType = "BF16"
	F64  DType = "F64"
	I64  DType = "I64"
	I32  DType = "I32"

	Bool   DType = "BOOL"
	U8     DType = "U8"
	I8     DType = "I8"
	U16    DType = "U16"
	I16    DType = "I16"
	U32    DType = "U32"
	U64    DType = "U64"
	C64    DType = "C64"
	F8E4M3 DType = "F8_E4M3"
	F8E5M2 DType = "F8_E5M2"
	F8E8M0 DType = "F8_E8M0"
	F6E2M3 DType = "F6_E2M3"
	F6E3M2 DType = "F6_E3M2"
	F4     DType = "F4"
)

// dtypeBits is the element size in bits of every dtype the header parser accepts.
var dtypeBits = map[DType]int{
	Bool: 8, U8: 8, I8: 8, F8E4M3: 8, F8E5M2: 8, F8E8M0: 8,
	U16: 16, I16: 16, F16: 16, BF16: 16,
	U32: 32, I32: 32, F32: 32,
	U64: 64, I64: 64, F64: 64, C64: 64,
	F6E2M3: 6, F6E3M2: 6, F4: 4,
}

// Bits returns the element size in bits (4 and 6 for the sub-byte float formats), or 0 for
// a dtype this package does not know.
func (d DType) Bits() int { return dtypeBits[d] }

// Size returns the element size in bytes, or 0 for an unknown or sub-byte dtype.
func (d DType) Size() int {
	b := dtypeBits[d]
	if b%8 != 0 {
		return 0
	}
	return b / 8
}

// Tensor is one named tensor. Data is the raw little-endian row-major bytes; for a tensor
// read from a File (safetensors or PyTorch) it aliases the memory map and is valid until the
// File is closed.
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// ErrNotFound is returned (wrapped, naming the key) when a tensor is absent.
var ErrNotFound = errors.New("weights: tensor not found")

// ErrFormat is matched (errors.Is) by every *FormatError.
var ErrFormat = errors.New("weights: invalid checkpoint")

// ErrDType is returned (wrapped, naming the tensor and dtype) when a tensor's dtype cannot be
// converted to what the caller asked for, or is not a known safetensors dtype.
var ErrDType = errors.New("weights: unsupported dtype")

// FormatError reports a malformed safetensors file or index, or a malformed or refused
// PyTorch checkpoint. errors.Is(err, ErrFormat) holds.
type FormatError struct {
	Format string // what was being read: "safetensors" (also when empty) or TorchFormat
	Path   string // file the problem was found in; may be empty for an in-memory buffer
	Msg    string // what is wrong, e.g. "header length exceeds file size"
}

func (e *FormatError) Error() string {
	format := e.Format
	if format == "" {
		format = "safetensors"
	}
	if e.Path == "" {
		return "weights: invalid " + format + ": " + e.Msg
	}
	return "weights: invalid " + format + ": " + e.Path + ": " + e.Msg
}

// Is makes errors.Is(err, ErrFormat) true for every *FormatError.
func (e *FormatError) Is(target error) bool { return target == ErrFormat }

// numel multiplies dims with overflow and sign checks.
func numel(shape []int) (int64, bool) {
	n := uint64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			return 0, false
		}
		n = lo
	}
	return int64(n), true
}

// byteLen is the number of bytes a tensor of this dtype and shape occupies; ok is false for
// an unknown dtype, a negative dim, an overflow or a sub-byte total that is not whole bytes.
func byteLen(d DType, shape []int) (int64, bool) {
	b := dtypeBits[d]
	if b == 0 {
		return 0, false
	}
	n, ok := numel(shape)
	if !ok {
		return 0, false
	}
	hi, lo := bits.Mul64(uint64(n), uint64(b))
	if hi != 0 || lo > math.MaxInt64 || lo%8 != 0 {
		return 0, false
	}
	return int64(lo / 8), true
}

// Numel is the number of elements (product of Shape; 1 for a scalar). It is -1 when the
// shape has a negative dim or the product overflows.
func (t *Tensor) Numel() int {
	n, ok := numel(t.Shape)
	if !ok || n > math.MaxInt {
		return -1
	}
	return int(n)
}

// check verifies that Data holds exactly Shape × dtype size bytes of a dtype in want.
func (t *Tensor) check(to string, want ...DType) (int, error) {
	okType := false
	for _, d := range want {
		if t.DType == d {
			okType = true
		}
	}
	if !okType {
		return 0, fmt.Errorf("tensor %q: cannot convert dtype %s to %s: %w", t.Name, t.DType, to, ErrDType)
	}
	n := t.Numel()
	if bl, ok := byteLen(t.DType, t.Shape); !ok || n < 0 || bl != int64(len(t.Data)) {
		return 0, fmt.Errorf("weights: tensor %q: %d data bytes do not match shape %v of %s", t.Name, len(t.Data), t.Shape, t.DType)
	}
	return n, nil
}

var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// Aligned reports whether the tensor's data starts on a DataAlign-byte boundary in memory
// (true for an empty tensor): what a 64-byte vector kernel reading it in place wants. The
// files Write produces give that to every tensor whose size is a multiple of DataAlign.
func (t *Tensor) Aligned() bool {
	return len(t.Data) == 0 || uintptr(unsafe.Pointer(&t.Data[0]))%DataAlign == 0
}

// aliasable reports whether b can be viewed in place as elements of the given alignment.
func aliasable(b []byte, align uintptr) bool {
	return littleEndian && len(b) > 0 && uintptr(unsafe.Pointer(&b[0]))%align == 0
}

// Float32 returns the tensor's values as float32: F32 on a little-endian host aliases Data
// (no copy, read-only); F16 and BF16 are converted into a new slice; any other dtype is an
// error naming it. (An F32 tensor whose Data is not 4-byte aligned is copied.)
func (t *Tensor) Float32() ([]float32, error) {
	n, err := t.check("float32", F32, F16, BF16)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return []float32{}, nil
	}
	switch t.DType {
	case F32:
		if aliasable(t.Data, 4) {
			return unsafe.Slice((*float32)(unsafe.Pointer(&t.Data[0])), n), nil
		}
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
		}
		return out, nil
	case F16:
		out := make([]float32, n)
		for i := range out {
			out[i] = float16.Frombits(binary.LittleEndian.Uint16(t.Data[2*i:])).Float32()
		}
		return out, nil
	default: // BF16
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(t.Data[2*i:])) << 16)
		}
		return out, nil
	}
}

// Uint16 returns the raw bits of an F16 or BF16 tensor, aliasing Data on a little-endian
// host (no copy, read-only; copied when Data is not 2-byte aligned). Other dtypes are an
// error. This is how half-precision weights reach nn.NewLinearHalf without widening.
func (t *Tensor) Uint16() ([]uint16, error) {
	n, err := t.check("uint16 bits", F16, BF16)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return []uint16{}, nil
	}
	if aliasable(t.Data, 2) {
		return unsafe.Slice((*uint16)(unsafe.Pointer(&t.Data[0])), n), nil
	}
	out := make([]uint16, n)
	for i := range out {
		out[i] = binary.LittleEndian.Uint16(t.Data[2*i:])
	}
	return out, nil
}

// Int8 returns the values of an I8 tensor, aliasing Data (no copy, read-only; bytes need no
// alignment or byte order). Other dtypes are an error wrapping ErrDType. This is how the
// weights of an int8 checkpoint reach tensor.Int8Weights without a copy.
func (t *Tensor) Int8() ([]int8, error) {
	n, err := t.check("int8", I8)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return []int8{}, nil
	}
	return unsafe.Slice((*int8)(unsafe.Pointer(&t.Data[0])), n), nil
}

// Float64 returns the values of an F64, F32, F16 or BF16 tensor as a new float64 slice.
func (t *Tensor) Float64() ([]float64, error) {
	n, err := t.check("float64", F64, F32, F16, BF16)
	if err != nil {
		return nil, err
	}
	out := make([]float64, n)
	if t.DType == F64 {
		for i := range out {
			out[i] = math.Float64frombits(binary.LittleEndian.Uint64(t.Data[8*i:]))
		}
		return out, nil
	}
	f, err := t.Float32()
	if err != nil {
		return nil, err
	}
	for i, v := range f {
		out[i] = float64(v)
	}
	return out, nil
}

// Int64 returns the values of an I64 or I32 tensor as a new int64 slice.
func (t *Tensor) Int64() ([]int64, error) {
	n, err := t.check("int64", I64, I32)
	if err != nil {
		return nil, err
	}
	out := make([]int64, n)
	for i := range out {
		if t.DType == I64 {
			out[i] = int64(binary.LittleEndian.Uint64(t.Data[8*i:]))
		} else {
			out[i] = int64(int32(binary.LittleEndian.Uint32(t.Data[4*i:])))
		}
	}
	return out, nil
}
