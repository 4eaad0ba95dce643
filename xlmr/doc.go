// Package xlmr is the XLM-RoBERTa cross-encoder (XLMRobertaForSequenceClassification).
package xlmr
