package weights

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
)

// MaxHeaderSize caps the JSON header length (100 MiB, as the reference implementation does);
// a length field above it, or above the file size, is rejected before anything is allocated.
const MaxHeaderSize = 100 << 20

// entry is one tensor of a parsed header. begin and end are relative to the data region.
type entry struct {
	name       string
	dtype      DType
	shape      []int
	begin, end int64
}

// header is a parsed and validated safetensors header.
type header struct {
	metadata  map[string]string
	entries   []entry        // in header order
	index     map[string]int // name -> entries index
	dataStart int64          // 8 + header length
}

// rawEntry is one tensor entry as JSON spells it.
type rawEntry struct {
	DType   *string `json:"dtype"`
	Shape   []int64 `json:"shape"`
	Offsets []int64 `json:"data_offsets"`
}

// parseFile parses and validates the header of a whole safetensors file image b. Nothing it
// allocates is larger than b itself.
func parseFile(path string, b []byte) (*header, error) {
	bad := func(format string, a ...any) error {
		return &FormatError{Path: path, Msg: fmt.Sprintf(format, a...)}
	}
	if len(b) < 8 {
		return nil, bad("file is %d bytes, shorter than the 8-byte header length", len(b))
	}
	n := binary.LittleEndian.Uint64(b)
	size := uint64(len(b))
	switch {
	case n > size-8:
		return nil, bad("header length %d exceeds file size %d", n, size)
	case n > MaxHeaderSize:
		return nil, bad("header length %d exceeds the %d-byte limit", n, MaxHeaderSize)
	case n < 2:
		return nil, bad("header length %d is too short for a JSON object", n)
	}
	h, err := parseHeaderJSON(path, b[8:8+n], int64(size-8-n))
	if err != nil {
		return nil, err
	}
	h.dataStart = int64(8 + n)
	return h, nil
}

// parseHeaderJSON parses the JSON header text js and checks its tensors against a data
// region of dataLen bytes.
func parseHeaderJSON(path string, js []byte, dataLen int64) (*header, error) {
	bad := func(format string, a ...any) error {
		return &FormatError{Path: path, Msg: fmt.Sprintf(format, a...)}
	}
	if js[0] != '{' {
		return nil, bad("header does not start with '{'")
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	if _, err := dec.Token(); err != nil { // '{'
		return nil, bad("header JSON: %v", jsonErr(err))
	}
	h := &header{index: map[string]int{}}
	sawMeta := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, bad("header JSON: %v", jsonErr(err))
		}
		name, ok := tok.(string)
		if !ok {
			return nil, bad("header JSON: expected a key, got %v", tok)
		}
		if name == "__metadata__" {
			if sawMeta {
				return nil, bad("duplicate __metadata__")
			}
			sawMeta = true
			var md map[string]string
			if err := dec.Decode(&md); err != nil {
				return nil, bad("__metadata__ is not an object of strings: %v", err)
			}
			h.metadata = md
			continue
		}
		if _, dup := h.index[name]; dup {
			return nil, bad("duplicate tensor name %q", name)
		}
		var r rawEntry
		if err := dec.Decode(&r); err != nil {
			return nil, bad("tensor %q: %v", name, jsonErr(err))
		}
		e, err := checkEntry(name, &r)
		if err != nil {
			return nil, bad("%v", err)
		}
		h.index[name] = len(h.entries)
		h.entries = append(h.entries, e)
	}
	if _, err := dec.Token(); err != nil { // '}'
		return nil, bad("header JSON: %v", jsonErr(err))
	}
	for _, c := range js[dec.InputOffset():] {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return nil, bad("header JSON: unexpected data after the closing '}'")
		}
	}
	if err := checkLayout(h.entries, dataLen); err != nil {
		return nil, bad("%v", err)
	}
	return h, nil
}

// checkEntry validates one tensor entry on its own (dtype, shape, offsets, byte length).
func checkEntry(name string, r *rawEntry) (entry, error) {
	e := entry{name: name}
	switch {
	case name == "":
		return e, fmt.Errorf("empty tensor name")
	case r.DType == nil:
		return e, fmt.Errorf("tensor %q: missing dtype", name)
	case r.Shape == nil:
		return e, fmt.Errorf("tensor %q: missing shape", name)
	case len(r.Offsets) != 2:
		return e, fmt.Errorf("tensor %q: data_offsets must be [begin, end], got %d numbers", name, len(r.Offsets))
	}
	e.dtype = DType(*r.DType)
	if dtypeBits[e.dtype] == 0 {
		return e, fmt.Errorf("tensor %q: unknown dtype %q", name, *r.DType)
	}
	e.shape = make([]int, len(r.Shape))
	for i, d := range r.Shape {
		if d < 0 {
			return e, fmt.Errorf("tensor %q: negative dimension %d in shape %v", name, d, r.Shape)
		}
		if d > math.MaxInt {
			return e, fmt.Errorf("tensor %q: dimension %d too large", name, d)
		}
		e.shape[i] = int(d)
	}
	e.begin, e.end = r.Offsets[0], r.Offsets[1]
	if e.begin < 0 || e.end < e.begin {
		return e, fmt.Errorf("tensor %q: bad data_offsets [%d, %d]", name, e.begin, e.end)
	}
	want, ok := byteLen(e.dtype, e.shape)
	if !ok {
		return e, fmt.Errorf("tensor %q: shape %v of %s overflows or is not a whole number of bytes", name, r.Shape, e.dtype)
	}
	if want != e.end-e.begin {
		return e, fmt.Errorf("tensor %q: shape %v of %s needs %d bytes, data_offsets [%d, %d] give %d",
			name, r.Shape, e.dtype, want, e.begin, e.end, e.end-e.begin)
	}
	return e, nil
}

// checkLayout verifies that the tensors tile the data region exactly: sorted by offset
// they start at 0, each begins where the previous ended, and the last ends at dataLen.
func checkLayout(entries []entry, dataLen int64) error {
	order := make([]int, len(entries))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		ea, eb := &entries[a], &entries[b]
		if ea.begin != eb.begin {
			return cmpInt64(ea.begin, eb.begin)
		}
		return cmpInt64(ea.end, eb.end)
	})
	var pos int64
	for _, i := range order {
		e := &entries[i]
		if e.begin > pos {
			return fmt.Errorf("tensor %q: gap in data region: bytes [%d, %d) belong to no tensor", e.name, pos, e.begin)
		}
		if e.begin < pos {
			return fmt.Errorf("tensor %q: data_offsets [%d, %d] overlap another tensor", e.name, e.begin, e.end)
		}
		if e.end > dataLen {
			return fmt.Errorf("tensor %q: data_offsets [%d, %d] run past the %d-byte data region", e.name, e.begin, e.end, dataLen)
		}
		pos = e.end
	}
	if pos != dataLen {
		return fmt.Errorf("data region is %d bytes but the tensors cover %d", dataLen, pos)
	}
	return nil
}

// jsonErr turns the decoder's bare EOF into a readable message.
func jsonErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("unexpected end of header JSON")
	}
	return err
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
