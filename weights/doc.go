// Package weights reads and writes safetensors checkpoints.
//
// A safetensors file is an 8-byte little-endian header length N, N bytes of JSON, then the
// raw tensor data. The JSON maps tensor names to {"dtype", "shape", "data_offsets":[begin,end]}
// (offsets relative to the end of the header) and may hold a "__metadata__" object of
// strings. The format is specified at https://github.com/huggingface/safetensors.
//
// Conventions:
//
//   - Reading memory-maps the whole file (golang.org/x/sys/unix on unix; elsewhere the file is
//     read into memory). A Tensor's Data aliases the mapping and is valid until its File or
//     Checkpoint is closed. Truncating a file while it is mapped makes reads fault.
//   - Data is little-endian and row-major. Float32 of an F32 tensor aliases the mapping on a
//     little-endian host (read-only, no copy); F16 and BF16 are widened into new slices.
//     Uint16 exposes F16/BF16 bits without widening, Int8 the bytes of an I8 tensor (int8
//     checkpoints) in place. Float64 and Int64 always copy.
//   - Headers are validated strictly before any tensor is handed out: the length field must
//     lie inside the file and below MaxHeaderSize, the JSON must be one well-formed object,
//     every dtype known, every dim non-negative, shape × element size (overflow-checked) must
//     equal the byte length, and the tensors must tile the data region exactly (no gaps, no
//     overlap, no trailing bytes). Names are unique. Problems are *FormatError values
//     ("weights: invalid safetensors: PATH: ...") matching errors.Is(err, ErrFormat); a
//     missing tensor wraps ErrNotFound; an impossible conversion wraps ErrDType.
//   - Nothing the parser allocates is larger than the file: a hostile length field is
//     rejected before it is used.
//   - A sharded checkpoint (model.safetensors.index.json) must agree exactly with its shards.
//   - Writing produces the same bytes for the same input: "__metadata__" first (keys sorted),
//     then the tensors, the header padded with spaces so that the data region starts on a
//     DataAlign (64-byte) boundary. Write lays out the tensors whose size is a multiple of 64
//     first (in the order given, then the others), so each of them, every weight matrix
//     among them, starts 64-byte aligned and vector kernels reading it in place from the map
//     never straddle cache lines (Tensor.Aligned tells; for int8 weights that is worth ~20%).
//     NewWriter streams tensors in the order given, so files larger than memory can be
//     written.
//
// What this package is not: it does not interpret tensors (that is the model's job) and it
// converts only F32, F16 and BF16 to float32 (I8 is exposed as int8, never converted).
package weights
