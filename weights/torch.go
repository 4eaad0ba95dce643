package weights

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// TorchFormat is the Format of a *FormatError about a PyTorch checkpoint.
const TorchFormat = "PyTorch checkpoint"

// zipMagic starts a zip local file header, and so every torch.save file since torch 1.6.
const zipMagic = "PK\x03\x04"

// isTorchZip tells a torch zip from a safetensors file by content: both may start with
// "PK\x03\x04" (a safetensors header of 67,324,752 bytes does), but a safetensors header
// then has '{' at byte 8, where a zip has its compression method (0 or 8).
func isTorchZip(b []byte) bool {
	return len(b) > 8 && string(b[:4]) == zipMagic && b[8] != '{'
}

// isLegacyTorch recognises the pre-1.6 torch.save format, a bare pickle that starts with the
// magic number 0x1950a86a20f9469cfc6c as a LONG1 (protocol 2).
func isLegacyTorch(b []byte) bool {
	return len(b) >= 3 && b[0] == opProto && b[1] == 2 && b[2] == opLong1
}

// parseTorch reads the zip archive that torch.save writes, b being the whole file: records
// <prefix>/data.pkl (the pickled state dict), <prefix>/data/<key> (the raw little-endian
// bytes of each storage), <prefix>/version and, since torch 1.10, <prefix>/byteorder. It
// returns a header whose entries are absolute offsets into b (dataStart 0). Records must be
// stored uncompressed (torch.save never compresses), so every tensor aliases b.
func parseTorch(path string, b []byte) (*header, error) {
	bad := func(format string, a ...any) error {
		return &FormatError{Format: TorchFormat, Path: path, Msg: fmt.Sprintf(format, a...)}
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) { // odd names are harmless: only exact names are looked up
		return nil, bad("zip: %v", err)
	}
	// The prefix is the archive name torch.save chose: the folder holding data.pkl.
	prefix := ""
	for _, f := range zr.File {
		if dir, ok := strings.CutSuffix(f.Name, "/data.pkl"); ok && dir != "" && !strings.Contains(dir, "/") {
			if prefix != "" && prefix != dir+"/" {
				return nil, bad("two archives in one file: %s and %s", strings.TrimSuffix(prefix, "/"), dir)
			}
			prefix = dir + "/"
		}
	}
	if prefix == "" {
		return nil, bad("no <archive>/data.pkl record: not a torch.save file")
	}
	records := map[string]*zip.File{}
	for _, f := range zr.File {
		name, ok := strings.CutPrefix(f.Name, prefix)
		if !ok {
			continue
		}
		if _, dup := records[name]; dup {
			return nil, bad("record %s appears twice", f.Name)
		}
		records[name] = f
	}
	if _, ok := records["constants.pkl"]; ok {
		return nil, bad("a TorchScript archive (torch.jit.save), not a torch.save state dict")
	}

	if f, ok := records["byteorder"]; ok {
		_, bo, err := storedRecord(b, f, 16, true)
		if err != nil {
			return nil, bad("%v", err)
		}
		if string(bo) != "little" {
			return nil, bad("byteorder is %s: only little-endian checkpoints are supported", quoteShort(string(bo)))
		}
	}
	f, ok := records["version"]
	if !ok {
		if f, ok = records[".data/version"]; !ok {
			return nil, bad("no version record")
		}
	}
	_, ver, err := storedRecord(b, f, 16, true)
	if err != nil {
		return nil, bad("%v", err)
	}
	if v, err := strconv.Atoi(strings.TrimSpace(string(ver))); err != nil || v < 1 {
		return nil, bad("version record %s is not a positive integer", quoteShort(string(ver)))
	}

	_, pkl, err := storedRecord(b, records["data.pkl"], MaxPickleSize, true)
	if err != nil {
		return nil, bad("%v", err)
	}
	root, storages, err := unpickle(pkl)
	if err != nil {
		return nil, bad("data.pkl %v", err)
	}
	sd, ok := root.(*pyDict)
	if !ok {
		return nil, bad("data.pkl holds a %s, not a state dict (a dict of tensors)", pyTypeName(root))
	}

	// Each storage is one stored record, exactly numel elements long.
	where := make(map[string]int64, len(storages))           // key -> offset of its bytes in b
	for _, key := range slices.Sorted(maps.Keys(storages)) { // sorted: the same file gives the same error
		s := storages[key]
		name := "data/" + key
		f, ok := records[name]
		if !ok {
			return nil, bad("storage %q: no record %s%s", key, prefix, name)
		}
		off, raw, err := storedRecord(b, f, int64(len(b)), false)
		if err != nil {
			return nil, bad("%v", err)
		}
		size := s.dtype.Size()
		if want := s.numel * int64(size); s.numel > int64(len(b))/int64(size) || want != int64(len(raw)) {
			return nil, bad("storage %q: %d elements of %s, but record %s holds %d bytes", key, s.numel, s.dtype, f.Name, len(raw))
		}
		where[key] = off
	}

	h := &header{index: make(map[string]int, len(sd.keys)), entries: make([]entry, 0, len(sd.keys))}
	for i, k := range sd.keys {
		name, ok := k.(string)
		if !ok {
			return nil, bad("state dict key of type %s (want str)", pyTypeName(k))
		}
		t, ok := sd.vals[i].(*pyTensor)
		if !ok {
			return nil, bad("state dict entry %q is a %s, not a tensor", name, pyTypeName(sd.vals[i]))
		}
		if name == "" {
			return nil, bad("empty tensor name")
		}
		// rebuildTensor checked that [offset, offset+numel) lies inside the storage, whose
		// record lies inside b.
		n, _ := numel(t.shape)
		size := int64(t.storage.dtype.Size())
		begin := where[t.storage.key] + t.offset*size
		h.index[name] = len(h.entries)
		h.entries = append(h.entries, entry{name: name, dtype: t.storage.dtype, shape: slices.Clone(t.shape), begin: begin, end: begin + n*size})
	}
	return h, nil
}

// storedRecord returns the offset in b and the bytes of an uncompressed record (aliasing b). A compressed or
// encrypted record, one longer than limit or one outside b is an error; with checkCRC the
// bytes must match the record's CRC-32. (Storages are not checksummed: that would read every
// weight at open, which the memory map exists to avoid.)
func storedRecord(b []byte, f *zip.File, limit int64, checkCRC bool) (int64, []byte, error) {
	if f.Flags&0x1 != 0 {
		return 0, nil, fmt.Errorf("record %s is encrypted", f.Name)
	}
	if f.Method != zip.Store {
		return 0, nil, fmt.Errorf("record %s is compressed (method %d): torch.save stores records uncompressed, and only stored records can be mapped", f.Name, f.Method)
	}
	if f.CompressedSize64 != f.UncompressedSize64 {
		return 0, nil, fmt.Errorf("record %s is stored but its sizes differ (%d, %d)", f.Name, f.CompressedSize64, f.UncompressedSize64)
	}
	if f.UncompressedSize64 > uint64(limit) {
		return 0, nil, fmt.Errorf("record %s is %d bytes, over the %d-byte limit", f.Name, f.UncompressedSize64, limit)
	}
	off, err := f.DataOffset()
	if err != nil {
		return 0, nil, fmt.Errorf("record %s: %v", f.Name, err)
	}
	if off < 0 || uint64(off) > uint64(len(b)) || f.UncompressedSize64 > uint64(len(b))-uint64(off) {
		return 0, nil, fmt.Errorf("record %s: %d bytes at offset %d run past the end of the %d-byte file", f.Name, f.UncompressedSize64, off, len(b))
	}
	raw := b[off : off+int64(f.UncompressedSize64) : off+int64(f.UncompressedSize64)]
	if checkCRC && crc32.ChecksumIEEE(raw) != f.CRC32 {
		return 0, nil, fmt.Errorf("record %s: CRC-32 mismatch", f.Name)
	}
	return off, raw, nil
}
