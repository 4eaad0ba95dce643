package tokenizer

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"

	"github.com/rivo/uniseg"
)

// charsmap is a SentencePiece precompiled normalization map: a darts-clone double-array
// trie whose leaves hold offsets into a blob of NUL-terminated replacement strings.
//
// Layout of the decoded bytes: uint32 little-endian trie size T in bytes, T bytes of
// trie units (uint32 little-endian each), then the replacement blob.
type charsmap struct {
	units []uint32
	blob  []byte
	ascii [128]int32 // for each ASCII byte: replacement offset into blob, or -1
}

// Unit accessors of the darts-clone format.
func unitHasLeaf(u uint32) bool  { return (u>>8)&1 == 1 }
func unitValue(u uint32) uint32  { return u & (1<<31 - 1) }
func unitLabel(u uint32) uint32  { return u & (1<<31 | 0xFF) }
func unitOffset(u uint32) uint32 { return (u >> 10) << ((u & (1 << 9)) >> 6) }

// parseCharsmap decodes and validates a precompiled charsmap. Every node reachable from the
// root is visited once, so a corrupt map (indices out of range, cycles, replacement
// offsets outside the blob, replacements that are not UTF-8) is an error here and lookups
// never read out of range later.
func parseCharsmap(data []byte) (*charsmap, error) {
	if len(data) < 4 {
		return nil, formatErr("precompiled_charsmap: %d bytes, need at least 4", len(data))
	}
	size := binary.LittleEndian.Uint32(data)
	if size%4 != 0 || uint64(size) > uint64(len(data)-4) {
		return nil, formatErr("precompiled_charsmap: trie size %d does not fit in %d bytes", size, len(data)-4)
	}
	if size == 0 {
		return nil, formatErr("precompiled_charsmap: empty trie")
	}
	m := &charsmap{units: make([]uint32, size/4), blob: data[4+size:]}
	for i := range m.units {
		m.units[i] = binary.LittleEndian.Uint32(data[4+4*i:])
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	for b := 0; b < 128; b++ {
		m.ascii[b] = -1
		if v, ok := m.lookup([]byte{byte(b)}); ok {
			m.ascii[b] = int32(v)
		}
	}
	return m, nil
}

// validate walks the whole trie. darts-clone shares common subtrees (the trie is a DAG),
// so each unit is validated once; the walk is bounded by 255 probes per unit. Lookups are
// bounded by the key length, so a cycle in a corrupt trie cannot make them loop.
func (m *charsmap) validate() error {
	n := uint32(len(m.units))
	seen := make([]bool, n)
	root := unitOffset(m.units[0])
	if root >= n {
		return formatErr("precompiled_charsmap: trie root points outside the trie")
	}
	stack := []uint32{root}
	seen[root] = true
	for len(stack) > 0 {
		base := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for c := uint32(1); c < 256; c++ {
			pos := base ^ c
			if pos >= n {
				continue
			}
			u := m.units[pos]
			if unitLabel(u) != c {
				continue
			}
			child := pos ^ unitOffset(u)
			if child >= n {
				return formatErr("precompiled_charsmap: trie unit %d points outside the trie", pos)
			}
			if unitHasLeaf(u) {
				if _, err := m.replacement(unitValue(m.units[child])); err != nil {
					return err
				}
			}
			if !seen[child] {
				seen[child] = true
				stack = append(stack, child)
			}
		}
	}
	return nil
}

// replacement returns the NUL-terminated string at offset v of the blob.
func (m *charsmap) replacement(v uint32) (string, error) {
	if uint64(v) >= uint64(len(m.blob)) {
		return "", formatErr("precompiled_charsmap: replacement offset %d outside %d-byte table", v, len(m.blob))
	}
	end := v
	for end < uint32(len(m.blob)) && m.blob[end] != 0 {
		end++
	}
	s := m.blob[v:end]
	if !utf8.Valid(s) {
		return "", formatErr("precompiled_charsmap: replacement at %d is not UTF-8", v)
	}
	return string(s), nil
}

// lookup returns the blob offset of the shortest key that is a prefix of key (the first
// result of darts-clone's common prefix search, which is what HF uses). Scanning stops at
// a NUL byte.
func (m *charsmap) lookup(key []byte) (uint32, bool) {
	n := uint32(len(m.units))
	pos := unitOffset(m.units[0])
	for _, c := range key {
		if c == 0 {
			return 0, false
		}
		pos ^= uint32(c)
		if pos >= n {
			return 0, false
		}
		u := m.units[pos]
		if unitLabel(u) != uint32(c) {
			return 0, false
		}
		pos ^= unitOffset(u)
		if pos >= n {
			return 0, false
		}
		if unitHasLeaf(u) {
			return unitValue(m.units[pos]), true
		}
	}
	return 0, false
}

// str returns the replacement at a blob offset known to be valid (validated at load).
func (m *charsmap) str(v uint32) []byte {
	end := v
	for end < uint32(len(m.blob)) && m.blob[end] != 0 {
		end++
	}
	return m.blob[v:end]
}

// normalize applies the map to n grapheme by grapheme, as HF's Precompiled normalizer
// does: a grapheme shorter than 6 bytes is replaced whole when the trie has a key that is
// a prefix of it; otherwise its characters are looked up one by one.
func (m *charsmap) normalize(n *normString, t *transformer) {
	s := n.s
	modified := false
	state := -1
	for i := 0; i < len(s); {
		b := s[i]
		var g []byte
		if b < utf8.RuneSelf && (i+1 == len(s) || s[i+1] < utf8.RuneSelf) && !(b == '\r' && i+1 < len(s) && s[i+1] == '\n') {
			// An ASCII character followed by ASCII (or the end) is a grapheme on its own.
			if v := m.ascii[b]; v >= 0 {
				t.replace(1, (m.str(uint32(v))))
				modified = true
			} else {
				t.keep(rune(b))
			}
			i++
			state = -1
			continue
		}
		g, _, _, state = uniseg.FirstGraphemeCluster(s[i:], state)
		i += len(g)
		if len(g) < 6 {
			if v, ok := m.lookup(g); ok {
				t.replace(utf8.RuneCount(g), (m.str(v)))
				modified = true
				continue
			}
		}
		for j := 0; j < len(g); {
			r, sz := utf8.DecodeRune(g[j:])
			if v, ok := m.lookup(g[j : j+sz]); ok {
				t.replace(1, (m.str(v)))
				modified = true
			} else {
				t.keep(r)
			}
			j += sz
		}
	}
	if modified {
		t.apply(n, 0)
	} else {
		t.ops = t.ops[:0]
	}
}

// FormatError reports a malformed tokenizer.json.
type FormatError struct{ Msg string }

func (e *FormatError) Error() string { return "tokenizer: invalid tokenizer.json: " + e.Msg }

func formatErr(format string, args ...any) error {
	return &FormatError{Msg: fmt.Sprintf(format, args...)}
}
