// Package nn holds the neural-network building blocks of the XLM-RoBERTa forward pass.
package nn
