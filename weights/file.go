package weights

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unsafe"
)

// File is one opened checkpoint file, safetensors or PyTorch zip: the whole file is
// memory-mapped (read into memory where mmap is unavailable) and its header (or pickled
// state dict) validated. Safe for concurrent reads.
type File struct {
	path  string
	data  []byte
	unmap func() error
	hdr   *header
	// mapped: data is a memory map of the file (else a copy read into memory).
	mapped bool
}

// Open maps and validates one checkpoint file: safetensors, or a PyTorch checkpoint as
// torch.save writes it (a zip archive: pytorch_model.bin, *.pt, *.pth). The format is told
// by content, not by name.
func Open(path string) (*File, error) {
	data, unmap, mapped, err := mapFile(path)
	if err != nil {
		return nil, err
	}
	var h *header
	switch {
	case isTorchZip(data):
		h, err = parseTorch(path, data)
	case isLegacyTorch(data):
		err = &FormatError{Format: TorchFormat, Path: path, Msg: "the legacy (before torch 1.6) torch.save format is not supported: load and save it again with a newer torch"}
	default:
		h, err = parseFile(path, data)
	}
	if err != nil {
		unmap()
		return nil, err
	}
	return &File{path: path, data: data, unmap: unmap, hdr: h, mapped: mapped}, nil
}

// statSize returns the size of an open file, checking it fits in memory.
func statSize(f *os.File) (int, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("weights: %w", err)
	}
	if !st.Mode().IsRegular() {
		return 0, fmt.Errorf("weights: %s: not a regular file", f.Name())
	}
	if st.Size() > math.MaxInt {
		return 0, &FormatError{Path: f.Name(), Msg: fmt.Sprintf("file of %d bytes does not fit in the address space", st.Size())}
	}
	if st.Size() < 8 {
		return 0, &FormatError{Path: f.Name(), Msg: fmt.Sprintf("file is %d bytes, shorter than the 8-byte header length", st.Size())}
	}
	return int(st.Size()), nil
}

// Path is the file's path as given to Open.
func (f *File) Path() string { return f.path }

// Metadata returns the header's __metadata__ map (nil when absent, and for a PyTorch
// checkpoint). Do not modify it.
func (f *File) Metadata() map[string]string { return f.hdr.metadata }

// Names returns every tensor name, sorted.
func (f *File) Names() []string {
	names := make([]string, len(f.hdr.entries))
	for i, e := range f.hdr.entries {
		names[i] = e.name
	}
	slices.Sort(names)
	return names
}

// Tensor returns the named tensor; its Data aliases the mapping. The error wraps
// ErrNotFound when the name is absent.
func (f *File) Tensor(name string) (*Tensor, error) {
	i, ok := f.hdr.index[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q in %s", ErrNotFound, name, f.path)
	}
	e := &f.hdr.entries[i]
	lo, hi := f.hdr.dataStart+e.begin, f.hdr.dataStart+e.end
	return &Tensor{Name: e.name, DType: e.dtype, Shape: slices.Clone(e.shape), Data: f.data[lo:hi:hi]}, nil
}

// Close releases the mapping. Tensors obtained from the file must not be used afterwards.
func (f *File) Close() error {
	if f.unmap == nil {
		return nil
	}
	err := f.unmap()
	f.unmap, f.data = nil, nil
	return err
}

// Checkpoint is a set of checkpoint files opened together (one file or a sharded index).
type Checkpoint struct {
	files []*File
	where map[string]*File
}

// The names OpenCheckpoint looks for, in this order: safetensors first, then the PyTorch
// checkpoint that older repositories (BAAI/bge-m3 among them) publish.
const (
	IndexFile       = "model.safetensors.index.json"
	SingleFile      = "model.safetensors"
	TorchIndexFile  = "pytorch_model.bin.index.json"
	TorchSingleFile = "pytorch_model.bin"
)

// OpenCheckpoint opens the checkpoint in dir: the shards named by model.safetensors.index.json,
// else model.safetensors, else the shards named by pytorch_model.bin.index.json, else
// pytorch_model.bin. With an index, every shard must hold exactly the tensors the weight_map
// assigns to it.
func OpenCheckpoint(dir string) (*Checkpoint, error) {
	for _, name := range []string{IndexFile, SingleFile, TorchIndexFile, TorchSingleFile} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if strings.HasSuffix(name, ".json") {
			return OpenIndex(p)
		}
		return OpenFiles(p)
	}
	return nil, fmt.Errorf("weights: %s: neither %s nor %s (nor %s, %s) found", dir, SingleFile, IndexFile, TorchSingleFile, TorchIndexFile)
}

// OpenPath opens the checkpoint that path names: a shard index (a name ending in .json, its
// shards next to it) or one checkpoint file (.safetensors, or a PyTorch .bin/.pt/.pth).
func OpenPath(path string) (*Checkpoint, error) {
	if strings.HasSuffix(path, ".json") {
		return OpenIndex(path)
	}
	return OpenFiles(path)
}

// OpenIndex opens the shards named by the weight_map of an index file (model.safetensors.index.json
// or pytorch_model.bin.index.json; shards are resolved next to it). Every shard must hold exactly the tensors the weight_map assigns to it.
func OpenIndex(idxPath string) (*Checkpoint, error) {
	dir := filepath.Dir(idxPath)
	raw, err := os.ReadFile(idxPath)
	if err != nil {
		return nil, fmt.Errorf("weights: %w", err)
	}
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, &FormatError{Path: idxPath, Msg: fmt.Sprintf("index JSON: %v", err)}
	}
	if len(idx.WeightMap) == 0 {
		return nil, &FormatError{Path: idxPath, Msg: "index has no weight_map entries"}
	}
	var shards []string
	for _, s := range idx.WeightMap {
		if s == "" || s != filepath.Base(s) || s == "." || s == ".." || strings.ContainsAny(s, `/\`) {
			return nil, &FormatError{Path: idxPath, Msg: fmt.Sprintf("shard name %q is not a plain file name", s)}
		}
		if !slices.Contains(shards, s) {
			shards = append(shards, s)
		}
	}
	slices.Sort(shards)
	paths := make([]string, len(shards))
	for i, s := range shards {
		paths[i] = filepath.Join(dir, s)
	}
	c, err := OpenFiles(paths...)
	if err != nil {
		return nil, err
	}
	for name, shard := range idx.WeightMap {
		f, ok := c.where[name]
		if !ok || filepath.Base(f.path) != shard {
			c.Close()
			return nil, &FormatError{Path: idxPath, Msg: fmt.Sprintf("weight_map puts %q in %s, which does not hold it", name, shard)}
		}
	}
	if len(c.where) != len(idx.WeightMap) {
		for name, f := range c.where {
			if _, ok := idx.WeightMap[name]; !ok {
				c.Close()
				return nil, &FormatError{Path: idxPath, Msg: fmt.Sprintf("tensor %q in %s is missing from weight_map", name, f.path)}
			}
		}
	}
	return c, nil
}

// OpenFiles opens the given files (safetensors or PyTorch, as Open) as one checkpoint
// (duplicate names are an error).
func OpenFiles(paths ...string) (*Checkpoint, error) {
	if len(paths) == 0 {
		return nil, errors.New("weights: OpenFiles: no files given")
	}
	c := &Checkpoint{where: map[string]*File{}}
	for _, p := range paths {
		f, err := Open(p)
		if err != nil {
			c.Close()
			return nil, err
		}
		c.files = append(c.files, f)
		for _, e := range f.hdr.entries {
			if g, dup := c.where[e.name]; dup {
				c.Close()
				return nil, &FormatError{Path: p, Msg: fmt.Sprintf("tensor %q is also in %s", e.name, g.path)}
			}
			c.where[e.name] = f
		}
	}
	return c, nil
}

// Tensor returns the named tensor, or an error wrapping ErrNotFound that names the key.
func (c *Checkpoint) Tensor(name string) (*Tensor, error) {
	f, ok := c.where[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	return f.Tensor(name)
}

// Names returns every tensor name, sorted.
func (c *Checkpoint) Names() []string {
	return slices.Sorted(maps.Keys(c.where))
}

// Files returns the opened files in the order they were opened (shards sorted by name).
func (c *Checkpoint) Files() []*File { return slices.Clone(c.files) }

// Metadata returns the __metadata__ of the first file (shards normally repeat it).
func (c *Checkpoint) Metadata() map[string]string {
	if len(c.files) == 0 {
		return nil
	}
	return c.files[0].Metadata()
}

// Close unmaps every file. Tensors obtained from the checkpoint must not be used afterwards.
func (c *Checkpoint) Close() error {
	var errs []error
	for _, f := range c.files {
		errs = append(errs, f.Close())
	}
	c.files, c.where = nil, map[string]*File{}
	return errors.Join(errs...)
}

// Release tells the operating system that t's mapped pages are not needed for now: they
// leave the process's resident set (the file stays in the page cache) and are read back
// transparently if t.Data is used again. Use it for tensors copied into another layout at
// load. It does nothing for tensors not in a memory map of this checkpoint, nor where files
// are read into memory; pages shared with a neighbouring tensor are kept.
func (c *Checkpoint) Release(t *Tensor) {
	if t == nil || len(t.Data) == 0 {
		return
	}
	for _, f := range c.files {
		if f.mapped && within(t.Data, f.data) {
			dontNeed(t.Data)
			return
		}
	}
}

// within says whether s lies inside m.
func within(s, m []byte) bool {
	if len(m) == 0 {
		return false
	}
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(m)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	return p >= lo && p+uintptr(len(s)) <= lo+uintptr(len(m))
}
