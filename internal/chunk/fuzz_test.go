package chunk

import (
	"errors"
	"testing"
	"unicode/utf8"
)

// FuzzSplit checks the guarantees on any input: no panic; invalid UTF-8 is a *UTF8Error;
// otherwise the chunks cover the text in order within MaxTokens, or a *UnsplittableError
// names a character that alone takes more than MaxTokens.
func FuzzSplit(f *testing.F) {
	tok := xlmr(f)
	for i, s := range corpus(f) {
		if i%10 == 0 {
			f.Add(s, uint16(8), uint16(3))
		}
	}
	f.Add(labourLaw, uint16(20), uint16(5))
	f.Add(markdown, uint16(30), uint16(10))
	f.Add("中", uint16(1), uint16(0))
	f.Add("a\xffb", uint16(4), uint16(1))
	f.Add("   \n\n  ", uint16(2), uint16(1))
	f.Fuzz(func(t *testing.T, text string, maxT, overlap uint16) {
		o := Options{MaxTokens: int(maxT%600) + 1}
		o.Overlap = int(overlap) % o.MaxTokens
		cs, err := Split(tok, text, o)
		if !utf8.ValidString(text) {
			var u *UTF8Error
			if !errors.As(err, &u) || u.Offset != firstInvalid(text) {
				t.Fatalf("invalid UTF-8: %v %v", cs, err)
			}
			return
		}
		var u *UnsplittableError
		if errors.As(err, &u) {
			piece := text[u.Start:u.End]
			if utf8.RuneCountInString(piece) != 1 || tokensAlone(t, tok, piece) <= o.MaxTokens {
				t.Fatalf("%v: %q", err, piece)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		check(t, tok, text, o, cs)
	})
}
