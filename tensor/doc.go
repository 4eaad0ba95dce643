// Package tensor holds the float32 kernels of gorerank.
package tensor
