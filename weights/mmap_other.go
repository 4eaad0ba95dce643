//go:build !unix

package weights

import (
	"fmt"
	"io"
	"os"
)

// mapFile reads the whole file into memory: the fallback where mmap is unavailable.
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
	data := make([]byte, size)
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, nil, false, fmt.Errorf("weights: read %s: %w", path, err)
	}
	return data, func() error { return nil }, false, nil
}

// dontNeed: files read into memory have no pages to give back.
func dontNeed([]byte) {}
