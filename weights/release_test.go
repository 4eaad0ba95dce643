package weights

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Release must drop the tensor's pages from the resident set (checked in /proc/self/statm
// on Linux) and leave its data readable and unchanged.
func TestRelease(t *testing.T) {
	const size = 64 << 20
	data := bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 8}, size/8)
	want := slices.Clone(data[:4096])
	path := filepath.Join(t.TempDir(), "model.safetensors")
	if err := WriteFile(path, []Tensor{{Name: "w", DType: F32, Shape: []int{size / 4}, Data: data}}, nil); err != nil {
		t.Fatal(err)
	}
	ck, err := OpenFiles(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	w, err := ck.Tensor("w")
	if err != nil {
		t.Fatal(err)
	}
	var sum int
	for i := 0; i < len(w.Data); i += 4096 {
		sum += int(w.Data[i]) // touch every page
	}
	before := residentBytes(t)
	t.Logf("touched %d pages (checksum %d)", len(w.Data)/4096, sum)
	ck.Release(w)
	after := residentBytes(t)
	if runtime.GOOS == "linux" && before-after < size/2 {
		t.Errorf("resident set went from %d to %d MiB after releasing a %d MiB tensor", before>>20, after>>20, size>>20)
	}
	for i := 0; i < len(w.Data); i += 4096 {
		if !bytes.Equal(w.Data[i:i+4096], want) {
			t.Fatalf("data changed after Release at byte %d", i)
		}
	}
	ck.Release(&Tensor{Data: make([]byte, 1<<20)}) // not in the map: ignored
	ck.Release(nil)
}

// residentBytes is the process's resident set size from /proc/self/statm (0 elsewhere).
func residentBytes(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	pages, err := strconv.Atoi(f[1])
	if err != nil {
		t.Fatal(err)
	}
	return pages * os.Getpagesize()
}
