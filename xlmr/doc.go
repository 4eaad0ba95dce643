// Package xlmr is the XLM-RoBERTa cross-encoder (HF XLMRobertaForSequenceClassification with
// one label, e.g. BAAI/bge-reranker-v2-m3): config decoding and validation, explicit weight
// loading from safetensors, and an unpadded, packed-batch forward pass.
//
// Conventions:
//
//   - Config mirrors config.json; Validate rejects what this package cannot run (see its doc)
//     and nothing the config states is a constant in the code (eps, heads, pad id, sizes).
//   - Weight structs mirror the checkpoint keys; Load reads each by its full key, checks dtype
//     and shape, and reports unused tensors (LoadReport, and the LoadOptions logger).
//   - Forward takes token-id sequences of different lengths with no padding. All tokens of all
//     sequences are packed into one (N,H) matrix for the linear layers; attention runs per
//     sequence and head with a fused, tiled online-softmax kernel (nn.Attention) that never
//     holds more than a tile of scores. Position ids are pad_token_id+1, +2, …; token type 0.
//   - The result is one logit per sequence; Sigmoid turns it into the CrossEncoder score.
//   - A Model is read-only and safe for concurrent use; a Scratch belongs to one goroutine at
//     a time and makes Forward allocation-free in steady state.
//   - The numerical kernels live in packages nn and tensor; the model code only calls them,
//     so a faster kernel replaces a slower one without touching this package.
//
// Only num_labels == 1 is supported: a reranker has one logit and multi-label heads are
// rejected at load with a clear error.
package xlmr
