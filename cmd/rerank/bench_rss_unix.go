//go:build unix

package main

import (
	"runtime"
	"syscall"
)

// rusageMaxRSS is getrusage's ru_maxrss in bytes (kilobytes on Linux and BSDs, bytes on Darwin).
func rusageMaxRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return -1
	}
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return int64(ru.Maxrss)
	}
	return int64(ru.Maxrss) << 10
}
