package tokenizer

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// A small validating JSON scanner. tokenizer.json is ~17 MB, almost all of it the Unigram
// vocabulary; encoding/json would spend most of the load time on it. The scanner locates
// the members of the top-level object and of "model" without decoding them; the small
// components are then decoded with encoding/json and the vocabulary with parseVocab.

const maxJSONDepth = 512

type jsonScanner struct {
	b   []byte
	pos int
}

func (s *jsonScanner) err(msg string) error {
	return formatErr("JSON at byte %d: %s", s.pos, msg)
}

func (s *jsonScanner) ws() {
	for s.pos < len(s.b) {
		switch s.b[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// skipString skips a string starting at s.pos (which must be '"'); it reports whether the
// string contains escapes.
func (s *jsonScanner) skipString() (escaped bool, err error) {
	if s.pos >= len(s.b) || s.b[s.pos] != '"' {
		return false, s.err("expected string")
	}
	s.pos++
	for s.pos < len(s.b) {
		c := s.b[s.pos]
		switch {
		case c == '"':
			s.pos++
			return escaped, nil
		case c == '\\':
			escaped = true
			if s.pos+1 >= len(s.b) {
				return false, s.err("truncated escape")
			}
			switch s.b[s.pos+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.pos += 2
			case 'u':
				if s.pos+6 > len(s.b) {
					return false, s.err("truncated \\u escape")
				}
				for _, h := range s.b[s.pos+2 : s.pos+6] {
					if !isHex(h) {
						return false, s.err("bad \\u escape")
					}
				}
				s.pos += 6
			default:
				return false, s.err("bad escape")
			}
		case c < 0x20:
			return false, s.err("control character in string")
		default:
			s.pos++
		}
	}
	return false, s.err("unterminated string")
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (s *jsonScanner) skipNumber() error {
	start := s.pos
	if s.pos < len(s.b) && s.b[s.pos] == '-' {
		s.pos++
	}
	switch {
	case s.pos < len(s.b) && s.b[s.pos] == '0':
		s.pos++
	case s.pos < len(s.b) && s.b[s.pos] >= '1' && s.b[s.pos] <= '9':
		for s.pos < len(s.b) && isDigit(s.b[s.pos]) {
			s.pos++
		}
	default:
		s.pos = start
		return s.err("bad number")
	}
	if s.pos < len(s.b) && s.b[s.pos] == '.' {
		s.pos++
		if s.pos >= len(s.b) || !isDigit(s.b[s.pos]) {
			return s.err("bad number fraction")
		}
		for s.pos < len(s.b) && isDigit(s.b[s.pos]) {
			s.pos++
		}
	}
	if s.pos < len(s.b) && (s.b[s.pos] == 'e' || s.b[s.pos] == 'E') {
		s.pos++
		if s.pos < len(s.b) && (s.b[s.pos] == '+' || s.b[s.pos] == '-') {
			s.pos++
		}
		if s.pos >= len(s.b) || !isDigit(s.b[s.pos]) {
			return s.err("bad number exponent")
		}
		for s.pos < len(s.b) && isDigit(s.b[s.pos]) {
			s.pos++
		}
	}
	return nil
}

// skipValue skips one JSON value (after leading whitespace).
func (s *jsonScanner) skipValue(depth int) error {
	if depth > maxJSONDepth {
		return s.err("nesting too deep")
	}
	s.ws()
	if s.pos >= len(s.b) {
		return s.err("unexpected end of input")
	}
	switch c := s.b[s.pos]; {
	case c == '"':
		_, err := s.skipString()
		return err
	case c == '{':
		s.pos++
		s.ws()
		if s.pos < len(s.b) && s.b[s.pos] == '}' {
			s.pos++
			return nil
		}
		for {
			s.ws()
			if _, err := s.skipString(); err != nil {
				return err
			}
			s.ws()
			if s.pos >= len(s.b) || s.b[s.pos] != ':' {
				return s.err("expected ':'")
			}
			s.pos++
			if err := s.skipValue(depth + 1); err != nil {
				return err
			}
			s.ws()
			if s.pos >= len(s.b) {
				return s.err("unterminated object")
			}
			if s.b[s.pos] == '}' {
				s.pos++
				return nil
			}
			if s.b[s.pos] != ',' {
				return s.err("expected ',' or '}'")
			}
			s.pos++
		}
	case c == '[':
		s.pos++
		s.ws()
		if s.pos < len(s.b) && s.b[s.pos] == ']' {
			s.pos++
			return nil
		}
		for {
			if err := s.skipValue(depth + 1); err != nil {
				return err
			}
			s.ws()
			if s.pos >= len(s.b) {
				return s.err("unterminated array")
			}
			if s.b[s.pos] == ']' {
				s.pos++
				return nil
			}
			if s.b[s.pos] != ',' {
				return s.err("expected ',' or ']'")
			}
			s.pos++
		}
	case c == '-' || isDigit(c):
		return s.skipNumber()
	default:
		for _, lit := range []string{"true", "false", "null"} {
			if len(s.b)-s.pos >= len(lit) && string(s.b[s.pos:s.pos+len(lit)]) == lit {
				s.pos += len(lit)
				return nil
			}
		}
		return s.err("unexpected character")
	}
}

// objectMembers returns the raw values of the members of the JSON object b, by key. A
// repeated key keeps its last value, as encoding/json does. If special is not nil it is
// called for every key first; when it returns true it has consumed the value itself.
func objectMembers(b []byte, special func(key string, s *jsonScanner) (bool, error)) (map[string][]byte, error) {
	s := &jsonScanner{b: b}
	m, err := s.members(special)
	if err != nil {
		return nil, err
	}
	return m, s.end()
}

// members scans an object at s.pos (see objectMembers).
func (s *jsonScanner) members(special func(key string, s *jsonScanner) (bool, error)) (map[string][]byte, error) {
	b := s.b
	s.ws()
	if s.pos >= len(b) || b[s.pos] != '{' {
		return nil, s.err("expected an object")
	}
	s.pos++
	m := map[string][]byte{}
	s.ws()
	if s.pos < len(b) && b[s.pos] == '}' {
		s.pos++
		return m, nil
	}
	for {
		s.ws()
		ks := s.pos
		escaped, err := s.skipString()
		if err != nil {
			return nil, err
		}
		key := string(b[ks+1 : s.pos-1])
		if escaped {
			if err := json.Unmarshal(b[ks:s.pos], &key); err != nil {
				return nil, s.err("bad key")
			}
		}
		s.ws()
		if s.pos >= len(b) || b[s.pos] != ':' {
			return nil, s.err("expected ':'")
		}
		s.pos++
		s.ws()
		vs := s.pos
		done := false
		if special != nil {
			if done, err = special(key, s); err != nil {
				return nil, err
			}
		}
		if done {
			delete(m, key)
		} else {
			if err := s.skipValue(1); err != nil {
				return nil, err
			}
			m[key] = b[vs:s.pos]
		}
		s.ws()
		if s.pos >= len(b) {
			return nil, s.err("unterminated object")
		}
		if b[s.pos] == '}' {
			s.pos++
			return m, nil
		}
		if b[s.pos] != ',' {
			return nil, s.err("expected ',' or '}'")
		}
		s.pos++
	}
}

func (s *jsonScanner) end() error {
	s.ws()
	if s.pos != len(s.b) {
		return s.err("trailing data after JSON value")
	}
	return nil
}

// vocabTable is the Unigram vocabulary as parsed: all pieces in one string, piece i is
// pieces[off[i]:off[i+1]].
type vocabTable struct {
	pieces string
	off    []uint32
	scores []float64
}

func (v *vocabTable) len() int              { return len(v.scores) }
func (v *vocabTable) piece(id int32) string { return v.pieces[v.off[id]:v.off[id+1]] }

// parseVocab parses the Unigram "vocab" array at s.pos: [[piece, score], ...].
func (s *jsonScanner) parseVocab() (*vocabTable, error) {
	b := s.b
	s.ws()
	if s.pos >= len(b) || b[s.pos] != '[' {
		return nil, s.err("model.vocab: expected an array")
	}
	s.pos++
	// Capacity hints from the input size: an entry takes at least 8 bytes (["",0],).
	est := (len(b) - s.pos) / 32
	blob := make([]byte, 0, (len(b)-s.pos)/6)
	v := &vocabTable{off: make([]uint32, 1, est+1), scores: make([]float64, 0, est)}
	s.ws()
	if s.pos < len(b) && b[s.pos] == ']' {
		s.pos++
		return v, nil
	}
	for {
		s.ws()
		if s.pos >= len(b) || b[s.pos] != '[' {
			return nil, s.err("model.vocab: expected [piece, score]")
		}
		s.pos++
		s.ws()
		ks := s.pos
		escaped, err := s.skipString()
		if err != nil {
			return nil, err
		}
		if escaped {
			var piece string
			if err := json.Unmarshal(b[ks:s.pos], &piece); err != nil {
				return nil, s.err("model.vocab: bad piece string")
			}
			blob = append(blob, piece...)
		} else {
			blob = append(blob, b[ks+1:s.pos-1]...)
		}
		if len(blob) > 1<<31 {
			return nil, s.err("model.vocab: too large")
		}
		v.off = append(v.off, uint32(len(blob)))
		s.ws()
		if s.pos >= len(b) || b[s.pos] != ',' {
			return nil, s.err("model.vocab: expected ',' after piece")
		}
		s.pos++
		s.ws()
		ns := s.pos
		if err := s.skipNumber(); err != nil {
			return nil, err
		}
		f, err := strconv.ParseFloat(string(b[ns:s.pos]), 64)
		if err != nil {
			return nil, s.err("model.vocab: bad score")
		}
		v.scores = append(v.scores, f)
		s.ws()
		if s.pos >= len(b) || b[s.pos] != ']' {
			return nil, s.err("model.vocab: expected ']' after score")
		}
		s.pos++
		s.ws()
		if s.pos >= len(b) {
			return nil, s.err("model.vocab: unterminated array")
		}
		if b[s.pos] == ']' {
			s.pos++
			break
		}
		if b[s.pos] != ',' {
			return nil, s.err("model.vocab: expected ',' or ']'")
		}
		s.pos++
	}
	if !utf8.Valid(blob) {
		return nil, formatErr("model.vocab: piece is not valid UTF-8")
	}
	v.pieces = string(blob)
	return v, nil
}
