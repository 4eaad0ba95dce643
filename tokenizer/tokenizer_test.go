package tokenizer

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/rivo/uniseg"
)

// TestTrieMatchesVocab checks the trie against a plain map of every piece (last id wins)
// and the prefix walk against a naive scan.
func TestTrieMatchesVocab(t *testing.T) {
	tk := xlmr(t)
	v, tr := tk.model.vocab, tk.model.trie
	want := map[string]int32{}
	for id := 0; id < v.len(); id++ {
		want[v.piece(int32(id))] = int32(id)
	}
	for p, id := range want {
		if p == "" {
			continue
		}
		if got := tr.lookup(p); got != id {
			t.Fatalf("lookup(%q) = %d, want %d", p, got, id)
		}
	}
	for _, s := range []string{"▁Hello", "▁internationalization", "北京是中国的首都", "▁", "xyz\x00"} {
		var got, naive []int32
		x := uint32(0)
		for j := 0; j < len(s); j++ {
			if x = tr.child(x, s[j]); x == 0 {
				break
			}
			if id := tr.nodes[x].id; id >= 0 {
				got = append(got, id)
			}
		}
		for j := 1; j <= len(s); j++ {
			if id, ok := want[s[:j]]; ok {
				naive = append(naive, id)
			}
		}
		if len(got) != len(naive) {
			t.Fatalf("prefixes of %q: %v, naive %v", s, got, naive)
		}
		for i := range got {
			if got[i] != naive[i] {
				t.Fatalf("prefixes of %q: %v, naive %v", s, got, naive)
			}
		}
	}
}

func TestSpecialCases(t *testing.T) {
	tk := xlmr(t)
	e, err := tk.Encode("", Options{})
	if err != nil || len(e.IDs) != 2 || e.IDs[0] != 0 || e.IDs[1] != 2 {
		t.Fatalf("empty: %v %v", e, err)
	}
	e, err = tk.EncodePair("Hello", "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.Tokens; strings.Join(got, " ") != "<s> ▁Hello </s> </s> </s>" {
		t.Fatalf("empty document: %q", got)
	}
	// SequenceIDs, TypeIDs and mask are parallel to IDs.
	e, _ = tk.EncodePair("a b", "c d e", Options{})
	if len(e.SequenceIDs) != len(e.IDs) || len(e.TypeIDs) != len(e.IDs) || len(e.AttentionMask) != len(e.IDs) || len(e.ByteOffsets) != len(e.IDs) {
		t.Fatal("encoding fields differ in length")
	}
	if e.SequenceIDs[0] != -1 || e.SequenceIDs[1] != 0 || e.SequenceIDs[len(e.IDs)-2] != 1 {
		t.Fatalf("sequence ids %v", e.SequenceIDs)
	}
}

func TestTruncation(t *testing.T) {
	tk := xlmr(t)
	q := strings.Repeat("the ", 10) // 10 tokens
	d := strings.Repeat("and ", 30) // 30 tokens
	cases := []struct {
		o        Options
		nq, nd   int
		err      error
		truncate bool
	}{
		{Options{}, 10, 30, nil, false},
		{Options{MaxLength: 100}, 10, 30, nil, false},
		{Options{MaxLength: 24}, 10, 10, nil, true}, // B=20: both to 10
		{Options{MaxLength: 20}, 8, 8, nil, true},   // B=16: both halves
		{Options{MaxLength: 24, Strategy: OnlySecond}, 10, 10, nil, true},
		{Options{MaxLength: 14, Strategy: OnlySecond}, 0, 0, ErrSequenceTooShort, false},
		{Options{MaxLength: 40, Strategy: OnlyFirst}, 6, 30, nil, true},
		{Options{MaxLength: 34, Strategy: OnlyFirst}, 0, 0, ErrSequenceTooShort, false},
		{Options{MaxLength: 4}, 0, 0, nil, true},
		{Options{MaxLength: 3}, 0, 0, ErrOptions, false},
		{Options{MaxLength: 24, NoSpecial: true}, 10, 14, nil, true},
		{Options{Strategy: "bogus"}, 0, 0, ErrOptions, false},
	}
	for _, c := range cases {
		e, err := tk.EncodePair(q, d, c.o)
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("%+v: err %v, want %v", c.o, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%+v: %v", c.o, err)
			continue
		}
		var nq, nd int
		for _, s := range e.SequenceIDs {
			switch s {
			case 0:
				nq++
			case 1:
				nd++
			}
		}
		if nq != c.nq || nd != c.nd || e.Truncated != c.truncate {
			t.Errorf("%+v: lengths %d/%d truncated %v, want %d/%d %v", c.o, nq, nd, e.Truncated, c.nq, c.nd, c.truncate)
		}
	}
	// Left truncation keeps the end.
	e, err := tk.Encode("one two three four five six", Options{MaxLength: 4, Left: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(e.Tokens, " "); got != "<s> ▁five ▁six </s>" {
		t.Errorf("left truncation: %q", got)
	}
	// only_second on a single text: HF's error, only when truncation is needed.
	if _, err := tk.Encode("one two three four five six", Options{MaxLength: 4, Strategy: OnlySecond}); !errors.Is(err, ErrSecondSequenceNotProvided) {
		t.Errorf("only_second single: %v", err)
	}
	if _, err := tk.Encode("one", Options{MaxLength: 4, Strategy: OnlySecond}); err != nil {
		t.Errorf("only_second single that fits: %v", err)
	}
}

func TestDecode(t *testing.T) {
	tk := xlmr(t)
	text := "Hello world, the <mask> is here."
	e, err := tk.Encode(text, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := tk.Decode(e.IDs, true); got != "Hello world, the is here." {
		t.Errorf("Decode skip special = %q", got)
	}
	if got := tk.Decode(e.IDs, false); got != "<s> Hello world, the<mask> is here.</s>" {
		t.Errorf("Decode = %q", got)
	}
	if got := tk.Decode([]int32{-1, 1 << 30, 35378}, false); got != "Hello" {
		t.Errorf("Decode with bad ids = %q", got)
	}
}

func TestInvalidUTF8(t *testing.T) {
	tk := xlmr(t)
	text := "ab\xffc\xe4\xb8"
	e, err := tk.Encode(text, Options{NoSpecial: true})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := tk.Encode("ab\uFFFDc\uFFFD\uFFFD", Options{NoSpecial: true})
	if err != nil {
		t.Fatal(err)
	}
	if d := diffIDs(e.IDs, ref.IDs); d != "" {
		t.Fatalf("invalid bytes should encode as U+FFFD each: %s", d)
	}
	for i := range e.Offsets {
		if e.Offsets[i] != ref.Offsets[i] {
			t.Fatalf("code point offsets %v, want %v", e.Offsets, ref.Offsets)
		}
	}
	// U+FFFD normalizes to a space here: "é\xffc" -> "▁é", "▁c" where ▁ is the bad byte.
	e, err = tk.Encode("é\xffc", Options{NoSpecial: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.IDs) != 2 || e.Offsets[1] != [2]int{1, 3} || e.ByteOffsets[1] != [2]int{2, 4} {
		t.Fatalf("tokens %q offsets %v bytes %v", e.Tokens, e.Offsets, e.ByteOffsets)
	}
}

func TestConcurrent(t *testing.T) {
	tk := xlmr(t)
	texts := corpus(t)[:60]
	want := make([][]int32, len(texts))
	for i, s := range texts {
		e, err := tk.EncodePair(s, s, Options{MaxLength: 64})
		if err != nil {
			t.Fatal(err)
		}
		want[i] = e.IDs
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := len(texts) - 1; i >= 0; i-- {
				e, err := tk.EncodePair(texts[i], texts[i], Options{MaxLength: 64})
				if err != nil {
					t.Error(err)
					return
				}
				if d := diffIDs(e.IDs, want[i]); d != "" {
					t.Error(d)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// tinyJSON is a small tokenizer.json with every supported component, for the parser
// and fuzz tests.
func tinyJSON(t testing.TB) []byte {
	full, err := os.ReadFile(tokenizerPath)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Normalizer struct {
			Normalizers []struct {
				Charsmap string `json:"precompiled_charsmap"`
			} `json:"normalizers"`
		} `json:"normalizer"`
	}
	// Decoding only the charsmap keeps this fast enough for a test.
	i := strings.Index(string(full), `"model"`)
	head := string(full[:i]) + `"x":0}`
	if err := json.Unmarshal([]byte(head), &f); err != nil {
		t.Fatal(err)
	}
	cm := f.Normalizer.Normalizers[0].Charsmap
	return []byte(`{"version":"1.0","added_tokens":[
 {"id":0,"content":"<s>","special":true},{"id":1,"content":"</s>","special":true},
 {"id":2,"content":"<unk>","special":true},{"id":9,"content":"<m>","lstrip":true,"rstrip":true,"special":true},
 {"id":10,"content":"hi","single_word":true,"normalized":true}],
"normalizer":{"type":"Sequence","normalizers":[{"type":"Precompiled","precompiled_charsmap":"` + cm + `"},
 {"type":"Strip","strip_left":true,"strip_right":true},{"type":"Replace","pattern":{"String":"x"},"content":"ks"},
 {"type":"Replace","pattern":{"Regex":" {2,}"},"content":"▁"},{"type":"NFKD"},{"type":"NFC"},{"type":"Lowercase"}]},
"pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"WhitespaceSplit"},{"type":"Metaspace","replacement":"▁","add_prefix_space":true}]},
"post_processor":{"type":"RobertaProcessing","sep":["</s>",1],"cls":["<s>",0],"trim_offsets":false,"add_prefix_space":true},
"decoder":{"type":"Metaspace","replacement":"▁","prepend_scheme":"first","split":true},
"model":{"type":"Unigram","unk_id":2,"byte_fallback":false,"vocab":[["<s>",0],["</s>",0],["<unk>",0],["▁",-2],["a",-3],["b",-3],["▁ab",-1.5],["ks",-2.5],["é",-4],["<m>",0],["hi",-1]]}}`)
}

func TestTinyTokenizer(t *testing.T) {
	tk, err := Parse(tinyJSON(t))
	if err != nil {
		t.Fatal(err)
	}
	e, err := tk.EncodePair("  AB x <m> hi ", "ÉZ", Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(e.Tokens, "|")
	want := "<s>|▁ab|▁|ks| <m> |hi|</s>|</s>|▁|é|z|</s>"
	if got != want {
		t.Fatalf("tokens %q, want %q", got, want)
	}
	if e.IDs[len(e.IDs)-2] != 2 { // "z" is unknown
		t.Fatalf("ids %v", e.IDs)
	}
}

func TestParseErrors(t *testing.T) {
	good := string(tinyJSON(t))
	cases := map[string]string{
		"bad json":        `{"model": `,
		"not utf8":        "{\"model\":\xff}",
		"no model":        `{"added_tokens":[]}`,
		"bpe":             `{"model":{"type":"BPE","vocab":{"a":0},"merges":[]}}`,
		"vocab not pairs": `{"model":{"type":"Unigram","vocab":[["a"]]}}`,
		"unk out":         `{"model":{"type":"Unigram","unk_id":5,"vocab":[["a",0]]}}`,
		"normalizer":      strings.Replace(good, `{"type":"NFC"}`, `{"type":"BertNormalizer"}`, 1),
		"pretok":          strings.Replace(good, `{"type":"WhitespaceSplit"}`, `{"type":"ByteLevel"}`, 1),
		"charsmap base64": strings.Replace(good, `"precompiled_charsmap":"`, `"precompiled_charsmap":"!!`, 1),
		"charsmap short":  good[:strings.Index(good, `"precompiled_charsmap":"`)+len(`"precompiled_charsmap":"`)] + `AAAA"}]}}`,
		"added id":        strings.Replace(good, `{"id":9,`, `{"id":99999,`, 1),
		"template":        `{"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<x>","type_id":0}}],"pair":[],"special_tokens":{}},"model":{"type":"Unigram","vocab":[["a",0]]}}`,
		"decoder":         strings.Replace(good, `"decoder":{"type":"Metaspace"`, `"decoder":{"type":"ByteLevel"`, 1),
	}
	for name, c := range cases {
		_, err := Parse([]byte(c))
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		var fe *FormatError
		var ue *UnsupportedError
		if !errors.As(err, &fe) && !errors.As(err, &ue) {
			t.Errorf("%s: error %v is neither FormatError nor UnsupportedError", name, err)
		}
	}
}

func TestCharsmapCorrupt(t *testing.T) {
	tk := xlmr(t)
	var good []byte
	for _, n := range tk.norm.(seqNormalizer) {
		if p, ok := n.(precompiled); ok {
			good = make([]byte, 4+4*len(p.m.units)+len(p.m.blob))
			copy(good[4+4*len(p.m.units):], p.m.blob)
			good[0], good[1], good[2], good[3] = byte(4*len(p.m.units)), byte(4*len(p.m.units)>>8), byte(4*len(p.m.units)>>16), byte(4*len(p.m.units)>>24)
			for i, u := range p.m.units {
				good[4+4*i], good[5+4*i], good[6+4*i], good[7+4*i] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
			}
		}
	}
	if _, err := parseCharsmap(good); err != nil {
		t.Fatalf("re-encoded charsmap: %v", err)
	}
	// Truncated blob: replacement offsets point outside.
	if _, err := parseCharsmap(good[:len(good)-len(good)/4]); err == nil {
		t.Error("truncated charsmap: no error")
	}
	// Trie size larger than the data.
	bad := append([]byte(nil), good...)
	bad[3] = 0x7f
	if _, err := parseCharsmap(bad); err == nil {
		t.Error("oversized trie: no error")
	}
	_ = base64.StdEncoding
}

// FuzzEncode: arbitrary bytes (invalid UTF-8 included) never panic, give ids inside the
// vocabulary and offsets inside the text.
func FuzzEncode(f *testing.F) {
	for _, s := range []string{"", "Hello world", "a<mask>b", "ｶﾞ\u200d👨‍👩‍👧", "\xff\xfe<s>", "e\u0301\u0301", "  x  "} {
		f.Add(s, "doc "+s, 16)
	}
	tk := xlmr(f)
	f.Fuzz(func(t *testing.T, a, b string, max int) {
		if max < 0 || max > 600 {
			max = 0
		}
		e, err := tk.EncodePair(a, b, Options{MaxLength: max})
		if err != nil {
			if max > 0 && max < 4 && errors.Is(err, ErrOptions) {
				return
			}
			t.Fatal(err)
		}
		if max > 0 && len(e.IDs) > max {
			t.Fatalf("%d ids > max %d", len(e.IDs), max)
		}
		for i, id := range e.IDs {
			if id < 0 || int(id) >= tk.VocabSize() {
				t.Fatalf("id %d out of range", id)
			}
			text := a
			if e.SequenceIDs[i] == 1 {
				text = b
			}
			o, bo := e.Offsets[i], e.ByteOffsets[i]
			if o[0] < 0 || o[0] > o[1] || o[1] > utf8.RuneCountInString(text) || bo[0] > bo[1] || bo[1] > len(text) {
				t.Fatalf("token %d %q: offsets %v bytes %v outside %q", i, e.Tokens[i], o, bo, text)
			}
		}
	})
}

// FuzzParse: malformed tokenizer.json never panics.
func FuzzParse(f *testing.F) {
	good := tinyJSON(f)
	f.Add(good)
	f.Add(good[:len(good)/2])
	// Without the 237 KB charsmap the fuzzer mutates the structure much faster.
	s := string(good)
	i := strings.Index(s, `{"type":"Precompiled"`)
	j := strings.Index(s, `{"type":"Strip"`)
	f.Add([]byte(s[:i] + s[j:]))
	f.Add([]byte(`{"model":{"type":"Unigram","unk_id":0,"vocab":[["a",-1e308],["\u00e9",1]]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tk, err := Parse(data)
		if err != nil {
			return
		}
		e, err := tk.EncodePair("Hello wörld <m> x", "ab  ÉZ", Options{MaxLength: 8})
		if err == nil {
			for _, id := range e.IDs {
				if id < 0 || int(id) >= tk.VocabSize() {
					t.Fatalf("id %d out of range", id)
				}
			}
			_ = tk.Decode(e.IDs, false)
		}
	})
}

// FuzzCharsmap: arbitrary charsmap bytes are rejected or give a map that normalizes
// anything without panicking.
func FuzzCharsmap(f *testing.F) {
	f.Add([]byte{4, 0, 0, 0, 0, 2, 0, 0, 'a', 0})
	f.Add([]byte{8, 0, 0, 0, 0, 4, 0, 0, 0x61, 0x01, 0, 0, 'x', 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseCharsmap(data)
		if err != nil {
			return
		}
		var n normString
		var tr transformer
		for _, s := range []string{"abc", "\x00\x01 é\u0301 ﬁ ｶﾞ", string(data)} {
			n.reset(validUTF8(s), 0)
			m.normalize(&n, &tr)
			if !utf8.Valid(n.s) || len(n.s) != len(n.align) {
				t.Fatalf("bad normalization of %q: %q", s, n.s)
			}
		}
	})
}

// TestNextGrapheme checks the fast grapheme path against uniseg alone.
func TestNextGrapheme(t *testing.T) {
	texts := corpus(t)
	rng := uint32(1)
	pick := func(n int) int { rng = rng*1664525 + 1013904223; return int(rng>>8) % n }
	tricky := []rune{'\r', '\n', 'a', 'é', 0x301, 0x200D, 0x1F468, 0x1F1FA, 0x1F1F8, 0xA9, 0xFE0F, 'ｶ', 0xFF9E, 0x915, 0x94D, 0x937,
		0x1100, 0x1161, 0x11A8, 0xAC00, 'ж', 0x483, 'の', 0x3099, '中', 0x302A, 0x600, 0xE33, ' ', 0x3000}
	for k := 0; k < 3000; k++ {
		var sb strings.Builder
		for n := pick(20); n > 0; n-- {
			sb.WriteRune(tricky[pick(len(tricky))])
		}
		texts = append(texts, sb.String())
	}
	for _, s := range texts {
		b := []byte(validUTF8(s))
		var fast, slow []int
		state := -1
		for i := 0; i < len(b); {
			i, state = nextGrapheme(b, i, state)
			fast = append(fast, i)
		}
		state = -1
		for i, rest := 0, b; len(rest) > 0; {
			var g []byte
			g, rest, _, state = uniseg.FirstGraphemeCluster(rest, state)
			i += len(g)
			slow = append(slow, i)
		}
		if fmt.Sprint(fast) != fmt.Sprint(slow) {
			t.Fatalf("%+q: boundaries %v, uniseg %v", s, fast, slow)
		}
	}
}

// TestPrependFirst: with prepend_scheme "first" only the piece at the start of the text
// gets the "▁" (HF checks that the piece's original offset is 0).
func TestPrependFirst(t *testing.T) {
	js := strings.Replace(string(tinyJSON(t)), `"replacement":"▁","add_prefix_space":true}`, `"replacement":"▁","prepend_scheme":"first"}`, 1)
	tk, err := Parse([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	e, err := tk.Encode("ab ab", Options{NoSpecial: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(e.Tokens, "|"); got != "▁ab|a|b" {
		t.Fatalf("tokens %q", got)
	}
	if e.Offsets[1] != [2]int{3, 4} {
		t.Fatalf("offsets %v", e.Offsets)
	}
	if got := tk.Decode(e.IDs, false); got != "abab" { // the space was dropped by WhitespaceSplit
		t.Fatalf("decode %q", got)
	}
}

// TestByteFallback: an unknown character becomes its UTF-8 byte pieces when all exist,
// each with the offsets of the character; otherwise <unk>.
func TestByteFallback(t *testing.T) {
	js := `{"pre_tokenizer":{"type":"Metaspace","replacement":"▁","prepend_scheme":"never","split":true},
"model":{"type":"Unigram","unk_id":0,"byte_fallback":true,"vocab":[["<unk>",0],["a",-1],["<0xC3>",-5],["<0xA9>",-5]]}}`
	tk, err := Parse([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	e, err := tk.Encode("aéa∂", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(e.Tokens, "|"); got != "a|<0xC3>|<0xA9>|a|∂" {
		t.Fatalf("tokens %q", got)
	}
	if e.IDs[4] != 0 || e.Offsets[1] != [2]int{1, 2} || e.Offsets[2] != [2]int{1, 2} {
		t.Fatalf("ids %v offsets %v", e.IDs, e.Offsets)
	}
}

// TestTemplatesAndUnk: the single and pair templates and the unknown id, as the
// post-processor and model.unk_id state them (XLM-R's file and the tiny RobertaProcessing
// one), and Encode agrees with the single template.
func TestTemplatesAndUnk(t *testing.T) {
	tiny, err := Parse(tinyJSON(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name              string
		tk                *Tokenizer
		single, pair, unk string
	}{
		{"xlmr", xlmr(t), "[0] [2]", "[0] [2 2] [2]", "3"},
		{"tiny", tiny, "[0] [1]", "[0] [1 1] [1]", "2"},
	} {
		p, s, ok := c.tk.SingleTemplate()
		if got := fmt.Sprint(p, " ", s); !ok || got != c.single {
			t.Errorf("%s: SingleTemplate %s %v, want %s", c.name, got, ok, c.single)
		}
		pp, pm, ps, ok := c.tk.PairTemplate()
		if got := fmt.Sprint(pp, " ", pm, " ", ps); !ok || got != c.pair {
			t.Errorf("%s: PairTemplate %s %v, want %s", c.name, got, ok, c.pair)
		}
		if id, ok := c.tk.UnkID(); !ok || fmt.Sprint(id) != c.unk {
			t.Errorf("%s: UnkID %d %v, want %s", c.name, id, ok, c.unk)
		}
		e, err := c.tk.Encode("ab", Options{})
		if err != nil {
			t.Fatal(err)
		}
		if e.IDs[0] != p[0] || e.IDs[len(e.IDs)-1] != s[0] {
			t.Errorf("%s: Encode gives %v, the single template %v A %v", c.name, e.IDs, p, s)
		}
	}
	noUnk, err := Parse([]byte(`{"model":{"type":"Unigram","vocab":[["a",0]]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := noUnk.UnkID(); ok {
		t.Error("a model without unk_id has an UnkID")
	}
	if p, s, ok := noUnk.SingleTemplate(); !ok || len(p)+len(s) != 0 {
		t.Errorf("no post-processor: SingleTemplate %v %v %v, want empty and ok", p, s, ok)
	}
}
