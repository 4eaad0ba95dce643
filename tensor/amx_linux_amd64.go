//go:build amd64 && gc && !purego

package tensor

import (
	"fmt"
	"sync"
	"syscall"
)

// Linux hands out the AMX tile data registers (XTILEDATA, 8 KiB per thread) only to
// processes that ask: arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA). The
// permission is per process and covers threads started later; it can be refused,
// e.g. when a thread's signal stack is too small for the larger signal frame (Go's
// signal stacks are 32 KiB, enough).
const (
	archReqXcompPerm  = 0x1023
	xfeatureXtiledata = 18
)

var amxPerm struct {
	once sync.Once
	err  error
}

// amxRequest asks the kernel once for the tile data permission.
func amxRequest() error {
	amxPerm.once.Do(func() {
		if _, _, e := syscall.RawSyscall(syscall.SYS_ARCH_PRCTL, archReqXcompPerm, xfeatureXtiledata, 0); e != 0 {
			amxPerm.err = fmt.Errorf("tensor: arch_prctl(ARCH_REQ_XCOMP_PERM, XTILEDATA): %w", e)
		}
	})
	return amxPerm.err
}
