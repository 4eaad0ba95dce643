package tokenizer

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"testing"
)

const (
	tokenizerPath = "../testdata/tokenizer/tokenizer.json"
	singlesPath   = "../testdata/tokenizer/tokenizer_singles.jsonl"
	pairsPath     = "../testdata/tokenizer/tokenizer_pairs.jsonl"
	corpusPath    = "../testdata/tokenizer/tokenizer_corpus.json"
)

var (
	sharedOnce sync.Once
	sharedTok  *Tokenizer
	sharedErr  error
)

// xlmr loads the XLM-R tokenizer once for all tests and benchmarks.
func xlmr(tb testing.TB) *Tokenizer {
	tb.Helper()
	sharedOnce.Do(func() { sharedTok, sharedErr = Load(tokenizerPath) })
	if sharedErr != nil {
		tb.Fatalf("load %s: %v", tokenizerPath, sharedErr)
	}
	return sharedTok
}

// readJSONL decodes every line of path into a new T.
func readJSONL[T any](tb testing.TB, path string) []T {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatalf("golden file: %v", err)
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			tb.Fatalf("%s line %d: %v", path, len(out)+1, err)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	if len(out) == 0 {
		tb.Fatalf("%s: no cases", path)
	}
	return out
}

// diffIDs describes the first divergence of two id lists, printing both from there.
func diffIDs(got, want []int32) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	if i == len(got) && i == len(want) {
		return ""
	}
	tail := func(x []int32) []int32 {
		if len(x)-i > 40 {
			return x[i : i+40]
		}
		return x[i:]
	}
	return fmt.Sprintf("first divergence at %d (len got %d, want %d)\n  got  %v\n  want %v", i, len(got), len(want), tail(got), tail(want))
}

type singleCase struct {
	ID           string   `json:"id"`
	Text         string   `json:"text"`
	IDs          []int32  `json:"ids"`
	Tokens       []string `json:"tokens"`
	Offsets      [][2]int `json:"offsets"`
	IDsNoSpecial []int32  `json:"ids_no_special"`
}

func TestGoldenSingles(t *testing.T) {
	tok := xlmr(t)
	cases := readJSONL[singleCase](t, singlesPath)
	pass := 0
	for _, c := range cases {
		e, err := tok.Encode(c.Text, Options{})
		if err != nil {
			t.Errorf("%s %q: %v", c.ID, c.Text, err)
			continue
		}
		ok := true
		if d := diffIDs(e.IDs, c.IDs); d != "" {
			t.Errorf("%s %q: ids: %s\n  tokens %q\n  want   %q", c.ID, c.Text, d, e.Tokens, c.Tokens)
			ok = false
		} else {
			for i := range c.Tokens {
				if e.Tokens[i] != c.Tokens[i] {
					t.Errorf("%s %q: token %d = %q, want %q", c.ID, c.Text, i, e.Tokens[i], c.Tokens[i])
					ok = false
					break
				}
			}
			for i := range c.Offsets {
				if e.Offsets[i] != c.Offsets[i] {
					t.Errorf("%s %q: offsets differ from token %d (%q): got %v, want %v", c.ID, c.Text, i, c.Tokens[i], e.Offsets[i:], c.Offsets[i:])
					ok = false
					break
				}
			}
		}
		ns, err := tok.Encode(c.Text, Options{NoSpecial: true})
		if err != nil {
			t.Errorf("%s no special: %v", c.ID, err)
			continue
		}
		if d := diffIDs(ns.IDs, c.IDsNoSpecial); d != "" {
			t.Errorf("%s %q: ids_no_special: %s", c.ID, c.Text, d)
			ok = false
		}
		if ok {
			pass++
		}
	}
	t.Logf("singles: %d/%d identical (ids, tokens, offsets, ids_no_special)", pass, len(cases))
}

type pairVariant struct {
	IDs           []int32 `json:"ids"`
	AttentionMask []int32 `json:"attention_mask"`
	TypeIDs       []int32 `json:"type_ids"`
	Error         string  `json:"error"`
}

type pairCase struct {
	ID       string                 `json:"id"`
	Query    string                 `json:"query"`
	Document string                 `json:"document"`
	QueryLen int                    `json:"query_len_no_special"`
	DocLen   int                    `json:"document_len_no_special"`
	Variants map[string]pairVariant `json:"-"`
}

func (p *pairCase) UnmarshalJSON(b []byte) error {
	type plain pairCase
	if err := json.Unmarshal(b, (*plain)(p)); err != nil {
		return err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return err
	}
	p.Variants = map[string]pairVariant{}
	for _, k := range []string{"full", "longest_first_512", "longest_first_64", "only_second_512", "only_second_64"} {
		r, ok := all[k]
		if !ok {
			return fmt.Errorf("pair %s: missing %s", p.ID, k)
		}
		var v pairVariant
		if err := json.Unmarshal(r, &v); err != nil {
			return err
		}
		p.Variants[k] = v
	}
	return nil
}

func TestGoldenPairs(t *testing.T) {
	tok := xlmr(t)
	cases := readJSONL[pairCase](t, pairsPath)
	variants := []struct {
		name string
		o    Options
	}{
		{"full", Options{}},
		{"longest_first_512", Options{MaxLength: 512, Strategy: LongestFirst}},
		{"longest_first_64", Options{MaxLength: 64}},
		{"only_second_512", Options{MaxLength: 512, Strategy: OnlySecond}},
		{"only_second_64", Options{MaxLength: 64, Strategy: OnlySecond}},
	}
	pass := map[string]int{}
	errCases := 0
	for _, c := range cases {
		for _, v := range variants {
			want := c.Variants[v.name]
			e, err := tok.EncodePair(c.Query, c.Document, v.o)
			if want.Error != "" {
				errCases++
				if err == nil || err.Error() != want.Error {
					t.Errorf("%s %s: error %v, want %q", c.ID, v.name, err, want.Error)
					continue
				}
				pass[v.name]++
				continue
			}
			if err != nil {
				t.Errorf("%s %s: %v", c.ID, v.name, err)
				continue
			}
			if d := diffIDs(e.IDs, want.IDs); d != "" {
				t.Errorf("%s %s (q %q, d %.60q): %s", c.ID, v.name, c.Query, c.Document, d)
				continue
			}
			if d := diffIDs(e.AttentionMask, want.AttentionMask); d != "" {
				t.Errorf("%s %s: attention mask: %s", c.ID, v.name, d)
				continue
			}
			if want.TypeIDs != nil {
				if d := diffIDs(e.TypeIDs, want.TypeIDs); d != "" {
					t.Errorf("%s %s: type ids: %s", c.ID, v.name, d)
					continue
				}
			}
			if v.name == "full" {
				// Sequence lengths agree with the golden counts.
				var nq, nd int
				for _, s := range e.SequenceIDs {
					switch s {
					case 0:
						nq++
					case 1:
						nd++
					}
				}
				if nq != c.QueryLen || nd != c.DocLen {
					t.Errorf("%s: sequence lengths %d/%d, want %d/%d", c.ID, nq, nd, c.QueryLen, c.DocLen)
					continue
				}
			}
			pass[v.name]++
		}
	}
	for _, v := range variants {
		t.Logf("pairs %-17s %d/%d identical", v.name, pass[v.name], len(cases))
	}
	t.Logf("error cases checked: %d", errCases)
}
