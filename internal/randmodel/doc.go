// Package randmodel writes random-weight XLMRobertaForSequenceClassification checkpoints of
// any config, for tests and benchmarks of models that are too large to ship.
//
// The checkpoint has exactly the keys and shapes of a real Hugging Face checkpoint
// (roberta.embeddings.*, roberta.encoder.layer.N.*, classifier.*; no pooler, no
// position_ids buffer), sorted by name, with __metadata__ {"format":"pt"}. Values:
//
//   - embedding tables and linear weights ~ N(0, std²), std = initializer_range (0.02 when
//     the config has none);
//   - linear biases ~ N(0, std²) (small, but not zero, so a dropped bias shows up in tests);
//   - LayerNorm weights 1 + N(0, std²), LayerNorm biases N(0, std²).
//
// Every chunk of 65,536 values of every tensor is drawn from its own ChaCha8 stream seeded
// from (seed, tensor name, chunk number): a tensor's values do not depend on the other
// tensors or on the number of threads (chunks are drawn in parallel, GOMAXPROCS goroutines),
// and the F16 and BF16 files of a seed are the F32 file rounded to nearest even. The file is
// streamed: the header is computed first and the data written chunk by chunk in order, so a
// multi-gigabyte checkpoint needs only a few megabytes of memory.
package randmodel
