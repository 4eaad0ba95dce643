//go:build unix

package tokenizer

import (
	"syscall"
	"time"
)

// cpuTime is the user+system CPU time of the process so far (all threads): on a shared
// machine it is steadier than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
