package ragwork

import (
	"testing"

	"github.com/gorerank/gorerank/tokenizer"
)

func loadTokenizer(t *testing.T) *tokenizer.Tokenizer {
	t.Helper()
	tok, err := tokenizer.Load("../../testdata/tokenizer/tokenizer.json")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestPairDocuments: every document makes a pair of exactly the asked length with Query, the
// same seed gives the same texts, and a length the query alone fills is an error.
func TestPairDocuments(t *testing.T) {
	tok := loadTokenizer(t)
	for _, n := range []int{24, 64, 128, 511} {
		docs, err := PairDocuments(tok, 1, 3, n)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := PairDocuments(tok, 1, 3, n)
		for i, d := range docs {
			enc, err := tok.EncodePair(Query, d, tokenizer.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(enc.IDs) != n {
				t.Errorf("%d tokens asked, pair %d has %d", n, i, len(enc.IDs))
			}
			if again[i] != d {
				t.Errorf("seed 1 gave two different documents %d", i)
			}
		}
		if n == 128 && docs[0] == docs[1] {
			t.Error("documents of one call are all the same")
		}
	}
	if _, err := PairDocuments(tok, 1, 1, 10); err == nil {
		t.Error("10 tokens: no error, though the query alone is longer")
	}
}

// TestTexts: every text is exactly the asked length alone, special tokens included, and
// the same seed gives the same texts.
func TestTexts(t *testing.T) {
	tok := loadTokenizer(t)
	for _, n := range []int{3, 16, 128, 512} {
		texts, err := Texts(tok, 1, 4, n)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := Texts(tok, 1, 4, n)
		for i, s := range texts {
			enc, err := tok.Encode(s, tokenizer.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(enc.IDs) != n {
				t.Errorf("%d tokens asked, text %d has %d", n, i, len(enc.IDs))
			}
			if again[i] != s {
				t.Errorf("seed 1 gave two different texts %d", i)
			}
		}
		if n == 128 && texts[0] == texts[1] {
			t.Error("texts of one call are all the same")
		}
	}
	if _, err := Texts(tok, 1, 1, 2); err == nil {
		t.Error("2 tokens: no error, though <s> </s> alone are 2")
	}
}

// TestDocuments: the rag documents have their target lengths.
func TestDocuments(t *testing.T) {
	tok := loadTokenizer(t)
	docs, err := Documents(tok, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != Docs {
		t.Fatalf("%d documents", len(docs))
	}
	seen := map[int]int{}
	for _, d := range docs {
		enc, err := tok.Encode(d, tokenizer.Options{NoSpecial: true})
		if err != nil {
			t.Fatal(err)
		}
		seen[len(enc.IDs)]++
	}
	want := map[int]int{}
	for _, l := range DocLens {
		want[l]++
	}
	for l, c := range want {
		// grown a few words at a time: a document may pass its target by up to 3 tokens
		got := 0
		for k := l; k <= l+3; k++ {
			got += seen[k]
		}
		if got < c {
			t.Errorf("%d documents of %d tokens wanted, %d found within +3", c, l, got)
		}
	}
}
