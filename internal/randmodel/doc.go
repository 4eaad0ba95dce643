// Package randmodel writes random-weight checkpoints of any config, for tests and benchmarks
// of models that are too large to ship, of both kinds package xlmr runs: the reranker
// (XLMRobertaForSequenceClassification; also a config that names no architecture) and the
// bge-m3 embedder (XLMRobertaModel).
//
// The keys and shapes are those of xlmr's key table (xlmr.NewKeys), which are those of the
// real Hugging Face checkpoints: for a reranker roberta.embeddings.*, roberta.encoder.layer.N.*,
// classifier.* (no pooler, no position_ids buffer); for an embedder BAAI/bge-m3's layout,
// embeddings.*, encoder.layer.N.*, pooler.dense.* in the main file and the side files
// sparse_linear (weight, bias) and colbert_linear (weight, bias). Each file's tensors are
// sorted by name, with __metadata__ {"format":"pt"}. Everything is written as safetensors:
// bge-m3 publishes pytorch_model.bin and the side files as torch.save zips, which package
// weights reads but does not write (xlmr.Load reads either). WriteDir writes a whole folder.
// Values:
//
//   - embedding tables and linear weights ~ N(0, std²), std = initializer_range (0.02 when
//     the config has none);
//   - linear biases ~ N(0, std²) (small, but not zero, so a dropped bias shows up in tests);
//   - LayerNorm weights 1 + N(0, std²), LayerNorm biases N(0, std²).
//
// Every chunk of 65,536 values of every tensor is drawn from its own ChaCha8 stream seeded
// from (seed, tensor name, chunk number; a side file's tensors are named "FILE:key"): a
// tensor's values do not depend on the other tensors or on the number of threads (chunks are
// drawn in parallel, GOMAXPROCS goroutines), and the F16 and BF16 files of a seed are the F32 file rounded to nearest even. The file is
// streamed: the header is computed first and the data written chunk by chunk in order, so a
// multi-gigabyte checkpoint needs only a few megabytes of memory.
package randmodel
