//go:build unix

package weights

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps the whole file read-only. The mapping survives closing the descriptor;
// truncating the file while it is mapped makes later reads fault (SIGBUS), as with any mmap.
func mapFile(path string) ([]byte, func() error, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("weights: %w", err)
	}
	defer f.Close()
	size, err := statSize(f)
	if err != nil {
		return nil, nil, err
	}
	data, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("weights: mmap %s: %w", path, err)
	}
	return data, func() error { return unix.Munmap(data) }, nil
}
