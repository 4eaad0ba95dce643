// Package jsonin holds the checks every door applies to JSON input beyond what
// encoding/json does.
//
// encoding/json decodes a lone UTF-16 surrogate escape ("\ud800" with no low surrogate after
// it, or a low surrogate alone) to U+FFFD without a word, so a text a client sent would be
// scored or embedded as something else. HF's tokenizers (Python strings through PyO3) reject
// such a string, and so does every gorerank door: the server, and the CLI's JSON Lines input.
// (A Go string cannot hold a surrogate as valid UTF-8, so the library's own UTF-8 check
// already refuses one.)
package jsonin

import "fmt"

// SurrogateError reports a lone surrogate escape at byte Offset of the JSON text.
type SurrogateError struct {
	Offset int
	Code   rune
}

func (e *SurrogateError) Error() string {
	return fmt.Sprintf(`invalid string at byte %d: \u%04x is a lone UTF-16 surrogate, not a character`, e.Offset, e.Code)
}

// CheckSurrogates returns a *SurrogateError for the first lone surrogate escape in the
// string literals of b, which must be valid JSON (json.Valid). It reads b once and allocates
// nothing.
func CheckSurrogates(b []byte) error {
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !inString {
			if c == '"' {
				inString = true
			}
			continue
		}
		switch c {
		case '"':
			inString = false
		case '\\':
			if i+1 >= len(b) {
				return nil
			}
			if b[i+1] != 'u' {
				i++ // \" \\ \/ \b \f \n \r \t
				continue
			}
			r, ok := hex4(b, i+2)
			if !ok {
				return nil // not valid JSON: encoding/json reports it
			}
			switch {
			case r >= 0xDC00 && r <= 0xDFFF:
				return &SurrogateError{Offset: i, Code: r}
			case r >= 0xD800 && r <= 0xDBFF:
				lo, ok := rune(0), false
				if i+7 < len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
					lo, ok = hex4(b, i+8)
				}
				if !ok || lo < 0xDC00 || lo > 0xDFFF {
					return &SurrogateError{Offset: i, Code: r}
				}
				i += 11 // both escapes
			default:
				i += 5
			}
		}
	}
	return nil
}

// hex4 reads four hex digits at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}
