// Package tokenizer reads HF tokenizer.json files (XLM-R Unigram pipeline).
package tokenizer
