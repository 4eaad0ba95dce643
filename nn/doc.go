// Package nn holds the neural-network building blocks of the XLM-RoBERTa forward pass:
// linear layers, layer normalisation, the erf GELU, tanh, embedding gathers, softmax and
// fused (flash-style) attention.
//
// Conventions, stated once:
//
//   - Everything is float32, row-major and dense unless a row stride (ld*) is given.
//     Activations are (tokens, features): row r of a (rows, n) matrix is x[r*n : (r+1)*n].
//   - Linear weights keep PyTorch's (Out, In) layout: y = x·Wᵀ + b. A Linear's Precision says
//     how its weight is stored and multiplied: float32, F16/BF16 bits, or Int8 (int8 weight and
//     one scale per output row; each input row quantized to int8 per call, int32 sums, the
//     bias added in the dequantization: tensor.MatMulNTInt8).
//   - Kernels are plain functions, destination first, sizes as ints; the first line of each
//     doc comment gives the shape contract. They never allocate. A slice that is too short
//     is a programmer bug and panics with an "nn: ..." message.
//   - Where a kernel says so, dst may alias an input (in-place use); otherwise it must not.
//   - Every fast kernel has a naive reference twin (suffix Ref) that accumulates in float64.
//     The references are the test oracles; they are slow and are not meant for production.
//   - Large calls of AddBiasGELU, LayerNorm, AddLayerNorm, Attention and AttentionPacked are
//     split into tasks run by the calling goroutine plus idle helpers of the module's one pool
//     (internal/workers, shared with package tensor; see parallel.go). Results do not depend on
//     the split. Small calls stay on the caller.
//   - CPU tiers: package tensor decides, once, which kernels run (tensor.Tier). Where its
//     tier has vector row kernels (tensor.Rows: AVX2+FMA and up), the body of each row of
//     GELU, softmax exp and max, the LayerNorm passes and the bias and residual adds runs in
//     them, 10–20× faster than the portable Go (vec.go), which every other platform and the
//     purego build use. Tests run both against the float64 references.
//   - GELU's erf: the portable tier evaluates a generated piecewise polynomial in float64
//     (error < 2e-8, nn/internal/erfgen); the AVX2 tier a rational u·P(u²)/Q(u²) in float32
//     (erf error 3.4e-7, GELU 1.04e-6 absolute for |z| ≤ 20; internal/erfgen/rational_erf.py;
//     the assembly is tensor/rows_amd64.s).
//     Softmax uses a float32 exp (relative error < 1e-7 portable, < 4e-7 vector). All of it
//     is well under the float32 noise of the surrounding matrix products.
//   - Attention tiles are AttentionTile (128) wide: at most 128×128 scores per head in flight.
//
// What this package is not: it has no tensor type, no autograd and no graph; the model
// (package xlmr) calls these functions in order on buffers it owns.
package nn
