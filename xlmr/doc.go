// Package xlmr runs XLM-RoBERTa encoders of two kinds over one forward pass: the cross-encoder
// reranker (HF XLMRobertaForSequenceClassification with one label, e.g.
// BAAI/bge-reranker-v2-m3) and the bge-m3 embedder (HF XLMRobertaModel plus FlagEmbedding's
// sparse and ColBERT heads, BAAI/bge-m3). It decodes and validates config.json, loads the
// weights by explicit key, and runs an unpadded, packed-batch forward pass.
//
// Files, one job each:
//
//   - config.go: Config mirrors config.json; Validate rejects what this package cannot run and
//     nothing the config states is a constant in the code (eps, heads, pad id, sizes).
//   - keys.go: the checkpoint key table, the one place that spells every key with its shape
//     for both kinds (Keys, NewKeys). Load, QuantizeCheckpoint and internal/randmodel all read
//     it. The kind comes from config.json's architectures (*ForSequenceClassification:
//     Reranker, XLMRobertaModel: Embedder) or, when it names none, from the keys
//     (classifier.out_proj.weight present or not). The reranker's encoder keys start with
//     "roberta."; an embedder's do when its keys do (a base model saved from a task model)
//     and not otherwise (bge-m3's pytorch_model.bin).
//   - model.go: Load. Weight structs mirror the table; each tensor is read by its key,
//     checked for dtype and shape, and tensors the table does not know are reported
//     (LoadReport.Unused; those it knows and skips, bge-m3's pooler, in LoadReport.Skipped).
//     Weights come from safetensors or a PyTorch zip (package weights). An embedder also
//     reads the side files sparse_linear and colbert_linear (.safetensors, else .pt) beside
//     the model when they are there; without them it is a plain CLS-pooling embedder.
//   - forward.go: the encoder. All tokens of all sequences are packed into one (N,H) matrix
//     for the linear layers; attention runs per sequence and head with a fused, tiled
//     online-softmax kernel (nn.Attention) that never holds more than a tile of scores.
//     Position ids are pad_token_id+1, +2, … (a pad id in the input gets pad_token_id and is
//     not counted, as HF's create_position_ids_from_input_ids); token type 0. Every token
//     attends to every token of its sequence.
//   - heads.go: what each kind computes from the last hidden states h (T,H). Forward: the
//     reranker's classifier on h[0], one logit per sequence (Sigmoid gives the CrossEncoder
//     score). Embed: bge-m3's outputs, chosen per call (Outputs): dense h[0]/‖h[0]‖; sparse
//     relu(sparse_linear(h)) per token, the largest per token id, special ids and zeros
//     dropped; ColBERT colbert_linear(h[1:]), each row normalised. DenseScore, LexicalScore,
//     ColBERTScore and Score compare two embeddings as FlagEmbedding's compute_score does.
//     When the head reads only h[0] (the classifier, the dense output) the last layer runs
//     for token 0 only.
//   - quantize.go: QuantizeCheckpoint, an int8 copy of either kind.
//
// Conventions: row-major; Linear weights are (out,in), y = x·Wᵀ + b; activations are
// (tokens, hidden). A Model is read-only and safe for concurrent use; a Scratch belongs to
// one goroutine at a time and makes Forward and Embed allocation-free in steady state (Embed
// also reuses the Embeddings passed back to it). The numerical kernels live in packages nn
// and tensor; the model code only calls them, so a faster kernel replaces a slower one
// without touching this package.
//
// What it is not: the tokenizer (package tokenizer), batching and scoring policy (the root
// package), or a general XLM-R: only num_labels == 1 rerankers, CLS-pooling embedders
// (a sentence-transformers 1_Pooling/config.json asking for mean pooling is refused), absolute
// positions and the erf GELU.
package xlmr
