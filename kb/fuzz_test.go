package kb

import (
	"testing"
	"unicode/utf8"
)

// FuzzParseJSONDoc: any line becomes a document or an error, never a panic; a document's id
// and text are valid UTF-8 (no lone surrogate turned into U+FFFD), the text within the limit.
func FuzzParseJSONDoc(f *testing.F) {
	for _, s := range []string{
		`{"id": "a", "text": "hello", "metadata": {"k": [1, "v"]}}`,
		`{"id": 42, "text": "x"}`,
		`{"id": "a", "text": "abcdef", "chunks": [{"start": 0, "end": 3, "text": "abc", "dense": [1], "sparse": {"indices": [5], "values": [0.5]}}]}`,
		`{"id": "a", "text": "\ud800"}`, `{"id": null}`, `[1]`, `{"id": "a", "text": "b"} {}`, "\xff",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		d, err := parseJSONDoc(line, 1<<10)
		if err != nil {
			return
		}
		if len(d.Text) > 1<<10 || !utf8.ValidString(d.Text) || !utf8.ValidString(d.ID) {
			t.Fatalf("id %q, text %q passed", d.ID, d.Text)
		}
	})
}

// FuzzDecodeSparse: a stored sparse blob decodes or is reported, never panics.
func FuzzDecodeSparse(f *testing.F) {
	f.Add(encodeSparse([]int32{1, 7}, []float32{0.5, 0.25}))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		ids, ws, err := decodeSparse(nil, nil, b)
		if err == nil && len(ids) != len(ws) {
			t.Fatal("ids and weights differ in length")
		}
	})
}
