package jsonin

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCheckSurrogates(t *testing.T) {
	for _, c := range []struct {
		in   string
		lone int // offset of the lone escape, or -1
	}{
		{`{"query": "plain"}`, -1},
		{`{"query": "\ud83d\ude00 pair"}`, -1},
		{`{"query": "\uD83D\uDE00"}`, -1},
		{`{"query": "\u00e9\u4e2d"}`, -1},
		{`{"query": "\\ud800 escaped backslash"}`, -1},
		{`{"query": "a\"\ud800"}`, 14},
		{`{"query": "\ud800"}`, 11},
		{`{"query": "\ud800x"}`, 11},
		{`{"query": "\ud800\u0041"}`, 11},
		{`{"query": "\udc00"}`, 11},
		{`{"query": "\ud83d\ude00\ude00"}`, 23},
		{`["ok", "\udbff"]`, 8},
		{`{"\ud800": 1}`, 2},
		{`"\ud800`, 1},
	} {
		err := CheckSurrogates([]byte(c.in))
		var se *SurrogateError
		switch {
		case c.lone < 0 && err != nil:
			t.Errorf("%s: %v", c.in, err)
		case c.lone >= 0 && (!errors.As(err, &se) || se.Offset != c.lone):
			t.Errorf("%s: %v, want a lone surrogate at %d", c.in, err, c.lone)
		}
	}
}

// What the check accepts decodes without U+FFFD from a surrogate; what it refuses is what
// encoding/json would have turned into U+FFFD.
func FuzzCheckSurrogates(f *testing.F) {
	for _, s := range []string{`"\ud800"`, `"\ud83d\ude00"`, `["\udc00x", "a"]`, `{"a\\u": "\uD800\uDC00"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if !json.Valid([]byte(in)) || !utf8.ValidString(in) { // the doors refuse invalid UTF-8 first
			CheckSurrogates([]byte(in)) // must not panic
			return
		}
		err := CheckSurrogates([]byte(in))
		var v any
		if json.Unmarshal([]byte(in), &v) != nil {
			return
		}
		// with no lone surrogate, every U+FFFD in the decoded value was sent as such
		sent := strings.Count(in, "\ufffd") + strings.Count(strings.ToLower(in), `\ufffd`)
		got := countFFFD(v)
		if err == nil && got > sent {
			t.Errorf("%q: accepted, decodes with %d U+FFFD from %d sent", in, got, sent)
		}
		if err != nil && got == sent && !strings.Contains(in, `\\`) {
			t.Errorf("%q: refused (%v) but decodes without a replacement", in, err)
		}
	})
}

func countFFFD(v any) int {
	n := 0
	switch x := v.(type) {
	case string:
		for _, r := range x {
			if r == utf8.RuneError {
				n++
			}
		}
	case []any:
		for _, e := range x {
			n += countFFFD(e)
		}
	case map[string]any:
		for k, e := range x {
			n += countFFFD(k) + countFFFD(e)
		}
	}
	return n
}
