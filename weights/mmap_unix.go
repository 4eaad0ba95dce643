//go:build unix

package weights

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mapFile maps the whole file read-only. The mapping survives closing the descriptor;
// truncating the file while it is mapped makes later reads fault (SIGBUS), as with any mmap.
func mapFile(path string) ([]byte, func() error, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, false, fmt.Errorf("weights: %w", err)
	}
	defer f.Close()
	size, err := statSize(f)
	if err != nil {
		return nil, nil, false, err
	}
	data, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, false, fmt.Errorf("weights: mmap %s: %w", path, err)
	}
	return data, func() error { return unix.Munmap(data) }, true, nil
}

// dontNeed drops the whole pages inside b from the resident set (madvise MADV_DONTNEED on a
// read-only shared file mapping: they are read back from the file on the next access).
func dontNeed(b []byte) {
	page := uintptr(os.Getpagesize())
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	lo := (p + page - 1) &^ (page - 1)
	hi := (p + uintptr(len(b))) &^ (page - 1)
	if hi <= lo {
		return
	}
	_ = unix.Madvise(b[lo-p:hi-p], unix.MADV_DONTNEED) // advice only: an error changes nothing
}
