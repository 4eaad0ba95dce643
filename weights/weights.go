package weights

import (
	"errors"
	"io"
)

// DType is a safetensors element type, spelled as in the file header.
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
)

// Tensor is one named tensor. Data is the raw little-endian bytes; for a tensor read from
// a File it aliases the memory map and is valid until the File is closed.
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// ErrNotFound is returned (wrapped, naming the key) when a tensor is absent.
var ErrNotFound = errors.New("weights: tensor not found")

// Float32 returns the tensor's values as float32: F32 on a little-endian host aliases Data
// (no copy, read-only); F16 and BF16 are converted into a new slice; any other dtype is an
// error naming it.
func (t *Tensor) Float32() ([]float32, error) { panic("weights: not implemented") }

// Checkpoint is a set of safetensors files opened together (one file or a sharded index).
type Checkpoint struct{}

// OpenCheckpoint opens dir/model.safetensors, or the shards named by
// dir/model.safetensors.index.json.
func OpenCheckpoint(dir string) (*Checkpoint, error) { panic("weights: not implemented") }

// OpenFiles opens the given safetensors files as one checkpoint (duplicate names are an error).
func OpenFiles(paths ...string) (*Checkpoint, error) { panic("weights: not implemented") }

// Tensor returns the named tensor, or an error wrapping ErrNotFound that names the key.
func (c *Checkpoint) Tensor(name string) (*Tensor, error) { panic("weights: not implemented") }

// Names returns every tensor name, sorted.
func (c *Checkpoint) Names() []string { panic("weights: not implemented") }

// Close unmaps every file. Tensors obtained from the checkpoint must not be used afterwards.
func (c *Checkpoint) Close() error { panic("weights: not implemented") }

// Write writes tensors (in the given order) and metadata as a safetensors stream.
func Write(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	panic("weights: not implemented")
}

// WriteFile is Write to a new file at path.
func WriteFile(path string, tensors []Tensor, metadata map[string]string) error {
	panic("weights: not implemented")
}
