// Package weights reads checkpoints in two formats, safetensors and PyTorch's torch.save zip,
// and writes safetensors.
//
// A safetensors file is an 8-byte little-endian header length N, N bytes of JSON, then the
// raw tensor data. The JSON maps tensor names to {"dtype", "shape", "data_offsets":[begin,end]}
// (offsets relative to the end of the header) and may hold a "__metadata__" object of
// strings. The format is specified at https://github.com/huggingface/safetensors.
//
// A PyTorch checkpoint (pytorch_model.bin, *.pt, *.pth as torch.save writes them since torch
// 1.6) is a zip archive with one folder: data.pkl, the state dict pickled (protocol 2 by
// default), data/<key>, the raw little-endian bytes of each storage, stored uncompressed and
// 64-byte aligned, and version (byteorder too since torch 1.10). The pickle rebuilds each
// tensor with torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...), the
// storage being a persistent id ('storage', torch.FloatStorage, key, location, numel). The
// format is defined by torch/serialization.py; the pickle opcodes by Python's
// Lib/pickletools.py. Open tells the formats apart by content, not by file name.
//
// The unpickler is hand-written, and restricted: no maintained Go library offers a reader for
// torch zips that refuses what a state dict does not need. It runs only the opcodes a tensor
// state dict uses, resolves GLOBAL only for collections.OrderedDict, the tensor and parameter
// rebuilders and the torch.*Storage types (FloatStorage F32, HalfStorage F16, BFloat16Storage
// BF16, DoubleStorage F64, LongStorage I64, IntStorage I32, ShortStorage I16, CharStorage I8,
// ByteStorage U8, BoolStorage BOOL, ComplexFloatStorage C64), and never executes anything:
// every other opcode or global (os.system, builtins.eval, torch.storage._load_from_bytes, ...)
// is refused with an error naming its offset in data.pkl. The top level must be a dict of
// name to tensor (a plain dict, or an nn.Module's state_dict() OrderedDict, whose _metadata
// is dropped); a checkpoint that nests the state dict ({"model": ...}) is refused. Only
// contiguous (row-major) tensors are accepted, at any offset into their storage, and several
// may view one storage. The legacy pre-1.6 format and TorchScript archives are refused.
//
// Conventions:
//
//   - Reading memory-maps the whole file (golang.org/x/sys/unix on unix; elsewhere the file is
//     read into memory). A Tensor's Data aliases the mapping and is valid until its File or
//     Checkpoint is closed, in both formats (a torch record must therefore be stored, not
//     compressed: torch.save never compresses them). Truncating a file while it is mapped
//     makes reads fault.
//   - Data is little-endian and row-major. Float32 of an F32 tensor aliases the mapping on a
//     little-endian host (read-only, no copy); F16 and BF16 are widened into new slices.
//     Uint16 exposes F16/BF16 bits without widening, Int8 the bytes of an I8 tensor (int8
//     checkpoints) in place. Float64 and Int64 always copy.
//   - Headers are validated strictly before any tensor is handed out: the length field must
//     lie inside the file and below MaxHeaderSize, the JSON must be one well-formed object,
//     every dtype known, every dim non-negative, shape × element size (overflow-checked) must
//     equal the byte length, and the tensors must tile the data region exactly (no gaps, no
//     overlap, no trailing bytes). Names are unique. A torch checkpoint is validated as
//     strictly: data.pkl (at most MaxPickleSize, CRC-32 checked) must unpickle to a dict of
//     tensors, each storage record must hold exactly numel elements of its type, and every
//     tensor must lie inside its storage (storage records are not CRC-checked: that would
//     read every weight at open). Problems are *FormatError values ("weights: invalid
//     safetensors: PATH: ..." or "weights: invalid PyTorch checkpoint: PATH: data.pkl offset
//     19: GLOBAL: ...") matching errors.Is(err, ErrFormat); a missing tensor wraps ErrNotFound;
//     an impossible conversion wraps ErrDType.
//   - Nothing the parsers allocate is larger than the file: a hostile length field is
//     rejected before it is used, and the unpickler bounds its stack, memo and nesting depth.
//   - A sharded checkpoint (model.safetensors.index.json, pytorch_model.bin.index.json) must
//     agree exactly with its shards. OpenCheckpoint prefers safetensors to pytorch_model.bin.
//   - Writing produces the same bytes for the same input: "__metadata__" first (keys sorted),
//     then the tensors, the header padded with spaces so that the data region starts on a
//     DataAlign (64-byte) boundary. Write lays out the tensors whose size is a multiple of 64
//     first (in the order given, then the others), so each of them, every weight matrix
//     among them, starts 64-byte aligned and vector kernels reading it in place from the map
//     never straddle cache lines (Tensor.Aligned tells; for int8 weights that is worth ~20%).
//     NewWriter streams tensors in the order given, so files larger than memory can be
//     written.
//
// What this package is not: it does not interpret tensors (that is the model's job), it
// writes only safetensors, and it converts only F32, F16 and BF16 to float32 (I8 is exposed
// as int8, never converted).
package weights
