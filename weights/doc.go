// Package weights reads and writes safetensors checkpoints.
package weights
