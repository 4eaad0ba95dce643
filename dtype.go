package gorerank

import (
	"fmt"
	"strings"

	"github.com/gorerank/gorerank/nn"
	"github.com/gorerank/gorerank/tensor"
)

// DType is how the model keeps its linear-layer weights (storage) and which arithmetic
// runs on them (compute). Everything else (embeddings, biases, LayerNorm) is float32.
// The zero value is F32. Parse reads the names every --dtype flag takes; String gives the
// canonical one.
type DType int

const (
	F32         DType = iota // f32: float32 weights, float32 arithmetic (default)
	F16                      // f16: F16 weights (half the memory), float32 arithmetic
	BF16                     // bf16: BF16 weights (half the memory); BF16 arithmetic where the CPU multiplies BF16 faster than float32 (tensor.BF16Arithmetic), float32 elsewhere
	BF16Compute              // bf16c: BF16 weights and activations, float32 accumulation
	Int8                     // int8: int8 weights (per output channel) and activations (per token), int32 accumulation
)

// dtypes is the one table of dtypes: adding one is adding a row (and, if wanted, a
// constant above naming its index).
var dtypes = []struct {
	name    string   // canonical, what String returns
	aliases []string // also accepted by Parse
	storage string   // element type of the stored weights
	compute string   // arithmetic of the matrix products
	prec    nn.Precision
	usage   string // a few words for flag help
}{
	F32:         {"f32", []string{"fp32", "float32"}, "f32", "f32", nn.F32, "float32; a 16-bit checkpoint is widened"},
	F16:         {"f16", []string{"fp16", "float16"}, "f16", "f32", nn.F16, "half the memory, float32 arithmetic"},
	BF16:        {"bf16", []string{"bfloat16"}, "bf16", "f32", nn.BF16, "half the memory, BF16 arithmetic where the CPU is faster at it"},
	BF16Compute: {"bf16c", []string{"bf16-compute"}, "bf16", "bf16", nn.BF16Compute, "BF16 weights and activations"},
	Int8:        {"int8", []string{"i8"}, "int8", "int8", nn.Int8, "int8 weights and activations, a quarter of the memory"},
}

// DTypes lists every dtype, in table order.
func DTypes() []DType {
	out := make([]DType, len(dtypes))
	for i := range out {
		out[i] = DType(i)
	}
	return out
}

// ParseDType reads a dtype name (canonical or alias, any case).
func ParseDType(s string) (DType, error) {
	l := strings.ToLower(strings.TrimSpace(s))
	for i, d := range dtypes {
		if l == d.name {
			return DType(i), nil
		}
		for _, a := range d.aliases {
			if l == a {
				return DType(i), nil
			}
		}
	}
	return 0, errorf(ErrOptions, "unknown dtype %q (want %s)", s, dtypeNames())
}

// DTypeUsage describes every dtype in one line, for the help of a --dtype flag.
func DTypeUsage() string {
	var parts []string
	for _, d := range dtypes {
		parts = append(parts, d.name+" ("+d.usage+")")
	}
	return strings.Join(parts, ", ")
}

func dtypeNames() string {
	var names []string
	for _, d := range dtypes {
		names = append(names, d.name)
	}
	return strings.Join(names, ", ")
}

func (d DType) valid() bool { return d >= 0 && int(d) < len(dtypes) }

// String is the canonical name (f32, f16, bf16, bf16c, int8).
func (d DType) String() string {
	if !d.valid() {
		return fmt.Sprintf("DType(%d)", int(d))
	}
	return dtypes[d].name
}

// Storage is the element type of the stored linear weights: f32, f16, bf16 or int8.
func (d DType) Storage() string {
	if !d.valid() {
		return ""
	}
	return dtypes[d].storage
}

// Compute is the element type of the matrix-product inputs: f32, bf16 or int8. For BF16 it
// depends on the CPU tier (tensor.Tier): bf16 where it has fast BF16 dot products.
func (d DType) Compute() string {
	if !d.valid() {
		return ""
	}
	if d == BF16 && tensor.BF16Arithmetic() {
		return "bf16"
	}
	return dtypes[d].compute
}

// Precision is the kernel setting the model is loaded with.
func (d DType) Precision() (nn.Precision, error) {
	if !d.valid() {
		return 0, errorf(ErrOptions, "unknown dtype %d", int(d))
	}
	return dtypes[d].prec, nil
}

// Set implements flag.Value, so a DType can be a flag: fs.Var(&d, "dtype", "...").
func (d *DType) Set(s string) error {
	v, err := ParseDType(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d DType) MarshalText() ([]byte, error) {
	if !d.valid() {
		return nil, errorf(ErrOptions, "unknown dtype %d", int(d))
	}
	return []byte(d.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *DType) UnmarshalText(b []byte) error { return d.Set(string(b)) }
