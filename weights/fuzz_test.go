package weights

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// realHeader returns the JSON header of a fixture file and the size of its data region.
func realHeader(tb testing.TB, path string) ([]byte, int64) {
	raw, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(raw)
	return raw[8 : 8+n], int64(len(raw)) - 8 - int64(n)
}

// FuzzParseHeader feeds arbitrary header text and data sizes to the parser. It must never
// panic, and whatever it accepts must satisfy the layout invariants and survive a
// write/parse round trip unchanged.
func FuzzParseHeader(f *testing.F) {
	for _, p := range []string{"model.safetensors", "model-bf16.safetensors", "goldens.safetensors"} {
		js, n := realHeader(f, tiny+p)
		f.Add(js, n)
	}
	f.Add([]byte(`{"__metadata__":{"a":"b"},"x":{"dtype":"F4","shape":[2,3],"data_offsets":[0,3]}}`), int64(3))
	f.Add([]byte(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}`), int64(4))
	f.Add([]byte(`{"q":{"dtype":"I8","shape":[4,5],"data_offsets":[0,20]},"s":{"dtype":"F32","shape":[4],"data_offsets":[20,36]}}`), int64(36))
	f.Add([]byte(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"I64","shape":[],"data_offsets":[0,8]}}  `), int64(8))
	f.Fuzz(func(t *testing.T, js []byte, dataLen int64) {
		if len(js) == 0 || dataLen < 0 {
			return
		}
		h, err := parseHeaderJSON("fuzz", js, dataLen)
		if err != nil {
			return
		}
		var covered int64
		infos := make([]TensorInfo, 0, len(h.entries))
		for _, e := range h.entries {
			if e.begin < 0 || e.end < e.begin || e.end > dataLen {
				t.Fatalf("accepted out-of-range entry %+v (data %d)", e, dataLen)
			}
			if n, ok := byteLen(e.dtype, e.shape); !ok || n != e.end-e.begin {
				t.Fatalf("accepted entry with wrong byte length %+v", e)
			}
			covered += e.end - e.begin
			infos = append(infos, TensorInfo{e.name, e.dtype, e.shape})
		}
		if covered != dataLen {
			t.Fatalf("accepted entries covering %d of %d bytes", covered, dataLen)
		}
		// Round trip: re-encode in offset order, parse again, same tensors.
		slices.SortStableFunc(infos, func(a, b TensorInfo) int {
			ea, eb := h.entries[h.index[a.Name]], h.entries[h.index[b.Name]]
			return cmpInt64(ea.begin*2+boolInt(ea.end > ea.begin), eb.begin*2+boolInt(eb.end > eb.begin))
		})
		enc, total, err := encodeHeader(infos, h.metadata)
		if err != nil {
			t.Fatalf("re-encode accepted header: %v", err)
		}
		if total != dataLen {
			t.Fatalf("re-encoded data size %d, want %d", total, dataLen)
		}
		h2, err := parseHeaderJSON("fuzz2", enc, total)
		if err != nil {
			t.Fatalf("re-parse: %v\n%s", err, enc)
		}
		if len(h2.entries) != len(h.entries) || len(h2.metadata) != len(h.metadata) {
			t.Fatalf("round trip changed the header")
		}
		for _, e := range h.entries {
			e2 := h2.entries[h2.index[e.name]]
			if e2.dtype != e.dtype || !slices.Equal(e2.shape, e.shape) {
				t.Fatalf("round trip changed %q", e.name)
			}
		}
	})
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// Hostile length fields and shapes must be rejected without allocating more than the
// (small) file itself.
func TestHostileAllocation(t *testing.T) {
	for _, img := range [][]byte{
		binary.LittleEndian.AppendUint64(nil, 1<<62),
		append(binary.LittleEndian.AppendUint64(nil, 1<<40), bytes.Repeat([]byte{'{'}, 64)...),
		build(`{"a":{"dtype":"F32","shape":[9223372036854775807,9223372036854775807],"data_offsets":[0,9223372036854775807]}}`, 0),
		build(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,9223372036854775807]}}`, 0),
	} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := parseFile("hostile", img)
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Errorf("hostile image accepted: %q", img)
		}
		if d := after.TotalAlloc - before.TotalAlloc; d > 64<<10 {
			t.Errorf("parsing a %d-byte hostile image allocated %d bytes", len(img), d)
		}
	}
}

// FuzzParseFile feeds whole file images (length field included) to the parser: no panic,
// and every accepted tensor lies inside the image.
func FuzzParseFile(f *testing.F) {
	f.Add(build(`{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 8))
	f.Add(build(`{"a":{"dtype":"BF16","shape":[1,3],"data_offsets":[0,6]},"b":{"dtype":"I64","shape":[],"data_offsets":[6,14]}}`, 14))
	f.Add(build(`{"w":{"dtype":"I8","shape":[2,3],"data_offsets":[0,6]},"w_scale":{"dtype":"F32","shape":[2],"data_offsets":[6,14]}}`, 14))
	f.Add(build(`{"w":{"dtype":"I8","shape":[3,3],"data_offsets":[0,6]}}`, 6))
	f.Add(binary.LittleEndian.AppendUint64(nil, 1<<62))
	f.Fuzz(func(t *testing.T, img []byte) {
		h, err := parseFile("fuzz", img)
		if err != nil {
			return
		}
		for _, e := range h.entries {
			if h.dataStart+e.end > int64(len(img)) || e.begin > e.end {
				t.Fatalf("accepted entry outside the image: %+v", e)
			}
		}
	})
}

// FuzzParseTorch feeds PyTorch checkpoints to the reader. An input that starts like a zip
// is parsed as a whole file; anything else is taken as a data.pkl and wrapped in an archive
// whose storage records have the sizes its persistent ids ask for (up to 64 KiB), so that
// mutations of the pickle reach the unpickler instead of failing the zip's CRC-32. Nothing
// may panic, every error is a *FormatError, and every accepted tensor lies inside the image.
func FuzzParseTorch(f *testing.F) {
	for _, p := range []string{m3Heads + "sparse_linear.pt", m3Heads + "colbert_linear.pt", torchFixtures + "views.pt", torchFixtures + "protocol4.pt"} {
		img, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(img)
	}
	pkl, err := os.ReadFile(m3Heads + "pytorch_model.data.pkl")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(pkl)
	for _, p := range []string{m3Heads + "sparse_linear.pt", m3Heads + "colbert_linear.pt", torchFixtures + "module.pt",
		torchFixtures + "dtypes.pt", torchFixtures + "views.pt", torchFixtures + "params.pt", torchFixtures + "protocol4.pt", torchFixtures + "transposed.pt"} {
		f.Add(dataPkl(f, p))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		img := b
		if !bytes.HasPrefix(b, []byte(zipMagic)) {
			_, storages, err := unpickle(b)
			if err != nil {
				return
			}
			recs := map[string][]byte{}
			total := int64(0)
			for k, s := range storages {
				if s.numel > 1<<16 || total+s.numel*int64(s.dtype.Size()) > 1<<16 {
					return
				}
				total += s.numel * int64(s.dtype.Size())
				recs[k] = bytes.Repeat([]byte{0x3c}, int(s.numel)*s.dtype.Size())
			}
			img = torchZip(t, b, recs)
		}
		h, err := parseTorch("fuzz", img)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error is not a FormatError: %v", err)
			}
			return
		}
		checkEntriesInside(t, h, len(img))
	})
}

// dataPkl returns the data.pkl record of a torch.save file.
func dataPkl(tb testing.TB, path string) []byte {
	zr, err := zip.OpenReader(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, "/data.pkl") {
			r, err := f.Open()
			if err != nil {
				tb.Fatal(err)
			}
			defer r.Close()
			b, err := io.ReadAll(r)
			if err != nil {
				tb.Fatal(err)
			}
			return b
		}
	}
	tb.Fatalf("%s has no data.pkl", path)
	return nil
}
