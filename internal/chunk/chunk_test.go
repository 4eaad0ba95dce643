package chunk

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gorerank/gorerank/tokenizer"
)

func TestOptions(t *testing.T) {
	tok := xlmr(t)
	for _, o := range []Options{{}, {MaxTokens: -1}, {MaxTokens: 4, Overlap: 4}, {MaxTokens: 4, Overlap: 5}, {MaxTokens: 4, Overlap: -1}} {
		if _, err := Split(tok, "text", o); !errors.Is(err, ErrOptions) {
			t.Errorf("%+v: err %v, want ErrOptions", o, err)
		}
	}
	for _, o := range []Options{{MaxTokens: 1}, {MaxTokens: 4, Overlap: 3}, {MaxTokens: 1 << 62, Overlap: 1 << 61}} {
		if _, err := Split(tok, "text", o); err != nil {
			t.Errorf("%+v: %v", o, err)
		}
	}
}

func TestInvalidUTF8(t *testing.T) {
	tok := xlmr(t)
	for _, tc := range []struct {
		text string
		off  int
	}{{"\xff", 0}, {"abc\xe4\xb8", 3}, {"中文\x80 text", 6}} {
		_, err := Split(tok, tc.text, Options{MaxTokens: 8})
		var u *UTF8Error
		if !errors.As(err, &u) || u.Offset != tc.off {
			t.Errorf("%q: err %v, want *UTF8Error at %d", tc.text, err, tc.off)
		}
	}
}

func TestBlank(t *testing.T) {
	tok := xlmr(t)
	for _, s := range []string{"", " ", "\n\n\t \r\n", "\u3000\u00a0\u2029 ", strings.Repeat(" \n", 100000)} {
		cs, err := Split(tok, s, Options{MaxTokens: 8, Overlap: 2})
		if err != nil || len(cs) != 0 {
			t.Errorf("%q: %v %v, want no chunks", clip(s), cs, err)
		}
	}
}

func TestUnsplittable(t *testing.T) {
	tok := xlmr(t)
	for _, tc := range []struct {
		text string
		max  int
	}{{"中", 1}, {"ab 中", 1}, {"ﷺ", 3}, {"x ﷺ y", 3}} {
		cs, err := Split(tok, tc.text, Options{MaxTokens: tc.max})
		var u *UnsplittableError
		if !errors.As(err, &u) {
			t.Errorf("%q max %d: %v %v, want *UnsplittableError", tc.text, tc.max, cs, err)
			continue
		}
		piece := tc.text[u.Start:u.End]
		if utf8.RuneCountInString(piece) != 1 || tokensAlone(t, tok, piece) != u.Tokens || u.Tokens <= tc.max || u.MaxTokens != tc.max {
			t.Errorf("%q: %v: %q", tc.text, err, piece)
		}
	}
	// One more token is enough.
	for _, s := range []string{"中", "ab 中", "ﷺ", "x ﷺ y"} {
		o := Options{MaxTokens: 5}
		cs, err := Split(tok, s, o)
		if err != nil {
			t.Fatal(err)
		}
		check(t, tok, s, o, cs)
	}
}

// TestCorpus checks the guarantees on every golden text (many languages and scripts) alone,
// and on the corpus joined into documents, over a range of options.
func TestCorpus(t *testing.T) {
	tok := xlmr(t)
	texts := corpus(t)
	opts := []Options{{MaxTokens: 2}, {MaxTokens: 3, Overlap: 1}, {MaxTokens: 8}, {MaxTokens: 8, Overlap: 7},
		{MaxTokens: 16, Overlap: 4}, {MaxTokens: 64}, {MaxTokens: 64, Overlap: 32}, {MaxTokens: 512, Overlap: 100}}
	for _, o := range opts {
		for _, s := range texts {
			run(t, tok, s, o)
		}
	}
	for _, sep := range []string{"\n\n", "\n", " ", ""} {
		doc := strings.Join(texts, sep)
		for _, o := range []Options{{MaxTokens: 16, Overlap: 4}, {MaxTokens: 64}, {MaxTokens: 512, Overlap: 100}} {
			run(t, tok, doc, o)
		}
		run(t, tok, doc[:strings.Index(doc[30000:], sep)+30000], Options{MaxTokens: 8, Overlap: 7})
	}
}

// run splits text, checks the guarantees and returns the chunks; with a MaxTokens below the
// tokens of a character, *UnsplittableError is accepted if it tells the truth.
func run(t *testing.T, tok *tokenizer.Tokenizer, text string, o Options) []Chunk {
	t.Helper()
	cs, err := Split(tok, text, o)
	var u *UnsplittableError
	if errors.As(err, &u) {
		piece := text[u.Start:u.End]
		if utf8.RuneCountInString(piece) != 1 || tokensAlone(t, tok, piece) <= o.MaxTokens {
			t.Fatalf("%q %+v: %v: %q", clip(text), o, err, piece)
		}
		return nil
	}
	if err != nil {
		t.Fatalf("%q %+v: %v", clip(text), o, err)
	}
	check(t, tok, text, o, cs)
	return cs
}

// randomText builds a text of about n bytes from words of many scripts, punctuation of
// every level, white space of every kind, and characters the tokenizer treats oddly
// (combining marks, zero-width space, ﷺ which is 4 tokens, <mask>, emoji sequences).
func randomText(r *rand.Rand, n int) string {
	words := []string{"the", "quick", "brown", "fox", "Straße", "naïve", "Привет", "мир", "北京", "是", "中国的首都",
		"劳动者", "東京", "ですね", "ラーメン", "القاهرة", "مصر", "हिन्दी", "भाषा", "한국어", "ไทย", "12345", "3.14",
		"e\u0301", "\u200b", "ﷺ", "<mask>", "👨\u200d👩\u200d👧", "🍕", "https://example.com/a?b=c", "x_y", "AAAAAAAAAAAA"}
	seps := []string{" ", " ", " ", "", "", ", ", ". ", "! ", "? ", "; ", ": ", "\n", "\n\n", "\r\n", "\t", "。", "，",
		"、", "！", "？", "；", "：", "…", "… ", " । ", "؟ ", "۔", "\u3000", "\u00a0", "\n# ", "\n- ", "」", ".\"\n"}
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(words[r.IntN(len(words))])
		b.WriteString(seps[r.IntN(len(seps))])
	}
	return b.String()
}

// TestRandom checks the guarantees on random texts with many MaxTokens and Overlap values,
// with the default block and with tiny blocks (every word cut between blocks).
func TestRandom(t *testing.T) {
	tok := xlmr(t)
	r := rand.New(rand.NewPCG(1, 2))
	maxes := []int{1, 2, 3, 5, 8, 13, 32, 64, 100, 512}
	for _, bb := range []int{blockBytes, 7, 100} {
		t.Run(fmt.Sprintf("block%d", bb), func(t *testing.T) {
			defer func(n int) { blockBytes = n }(blockBytes)
			blockBytes = bb
			for i := 0; i < 300; i++ {
				text := randomText(r, r.IntN(3000))
				m := maxes[r.IntN(len(maxes))]
				o := Options{MaxTokens: m, Overlap: r.IntN(m)}
				if r.IntN(3) == 0 {
					o.Overlap = 0
				}
				run(t, tok, text, o)
			}
		})
	}
}

// TestOracle compares Split with splitNaive, which counts every candidate alone: the same
// chunks on most documents, and never noticeably more chunks.
func TestOracle(t *testing.T) {
	tok := xlmr(t)
	texts := corpus(t)
	r := rand.New(rand.NewPCG(3, 4))
	same, total, nFast, nNaive := 0, 0, 0, 0
	for i := 0; i < 40; i++ {
		k := r.IntN(len(texts) - 4)
		doc := strings.Join(texts[k:k+4], []string{"\n\n", "\n", " "}[i%3])
		for _, o := range []Options{{MaxTokens: 12}, {MaxTokens: 16, Overlap: 5}, {MaxTokens: 40, Overlap: 10}} {
			cs := run(t, tok, doc, o)
			ns, err := splitNaive(t, tok, doc, o)
			if err != nil {
				t.Fatal(err)
			}
			total++
			nFast += len(cs)
			nNaive += len(ns)
			if fmt.Sprint(cs) == fmt.Sprint(ns) {
				same++
			} else if len(cs) > len(ns)+max(1, len(ns)/10) {
				t.Errorf("%q %+v: %d chunks, the oracle %d", clip(doc), o, len(cs), len(ns))
			}
		}
	}
	t.Logf("same chunks as the oracle on %d of %d documents; %d chunks in all, the oracle %d", same, total, nFast, nNaive)
	if same < total*3/4 {
		t.Errorf("same chunks as the oracle on only %d of %d documents", same, total)
	}
}

// The first articles of a labour law, one line: sentences end with 。 and no space.
const labourLaw = "第一条 为了保护劳动者的合法权益，调整劳动关系，建立和维护适应社会主义市场经济的劳动制度，促进经济发展和社会进步，根据宪法，制定本法。" +
	"第二条 在中华人民共和国境内的企业、个体经济组织（以下统称用人单位）和与之形成劳动关系的劳动者，适用本法。国家机关、事业组织、社会团体和与之建立劳动合同关系的劳动者，依照本法执行。" +
	"第三条 劳动者享有平等就业和选择职业的权利、取得劳动报酬的权利、休息休假的权利、获得劳动安全卫生保护的权利、接受职业技能培训的权利、享受社会保险和福利的权利、提请劳动争议处理的权利以及法律规定的其他劳动权利。劳动者应当完成劳动任务，提高职业技能，执行劳动安全卫生规程，遵守劳动纪律和职业道德。" +
	"第四条 用人单位应当依法建立和完善规章制度，保障劳动者享有劳动权利和履行劳动义务。" +
	"第五条 国家采取各种措施，促进劳动就业，发展职业教育，制定劳动标准，调节社会收入，完善社会保险，协调劳动关系，逐步提高劳动者的生活水平。" +
	"第三十六条 国家实行劳动者每日工作时间不超过八小时、平均每周工作时间不超过四十四小时的工时制度。" +
	"第三十八条 用人单位应当保证劳动者每周至少休息一日。" +
	"第四十一条 用人单位由于生产经营需要，经与工会和劳动者协商后可以延长工作时间，一般每日不得超过一小时；因特殊原因需要延长工作时间的，在保障劳动者身体健康的条件下延长工作时间每日不得超过三小时，但是每月不得超过三十六小时。"

// TestChineseSentences: with room for the longest sentence, every chunk ends with a
// sentence (。 or ；) and the next sentence would not fit.
func TestChineseSentences(t *testing.T) {
	tok := xlmr(t)
	for _, m := range []int{80, 128, 200} {
		o := Options{MaxTokens: m}
		cs := run(t, tok, labourLaw, o)
		for i, c := range cs {
			s := labourLaw[c.Start:c.End]
			if !strings.HasSuffix(s, "。") && !strings.HasSuffix(s, "；") {
				t.Errorf("max %d chunk %d %q does not end a sentence", m, i, s)
			}
			if i+1 < len(cs) {
				next := c.End + strings.IndexAny(labourLaw[c.End:], "。；") + len("。")
				if n := tokensAlone(t, tok, labourLaw[c.Start:next]); n <= m-1 {
					t.Errorf("max %d chunk %d (%d tokens) + the next sentence = %d tokens: fits", m, i, c.Tokens, n)
				}
			}
		}
		if m == 80 {
			for _, c := range cs {
				t.Logf("%d %s", c.Tokens, labourLaw[c.Start:c.End])
			}
		}
	}
	// With less room, clauses (，、) and then token boundaries.
	for _, m := range []int{3, 10, 20} {
		for _, ov := range []int{0, 1, m / 2, m - 1} {
			run(t, tok, labourLaw, Options{MaxTokens: m, Overlap: ov})
		}
	}
}

const markdown = `# Chunking

Documents are split into chunks before they are embedded. Each chunk holds at most a
given number of tokens.

## Boundaries

The splitter prefers, in order:

- a blank line between paragraphs;
- a line break;
- the end of a sentence;
- a clause, then a space.

## Overlap

1. The next chunk may repeat the end of the previous one.
2. The repeated part is at most Overlap tokens.
3. It starts at a sentence where one fits.

### Notes

Offsets are in bytes. The chunk text is text[Start:End].
`

// TestMarkdown: sections fit, so chunks are whole sections or paragraphs; no chunk cuts a
// line; headings start chunks.
func TestMarkdown(t *testing.T) {
	tok := xlmr(t)
	for _, m := range []int{40, 60, 100} {
		o := Options{MaxTokens: m}
		cs := run(t, tok, markdown, o)
		for i, c := range cs {
			if c.End < len(markdown) && markdown[c.End] != '\n' {
				t.Errorf("max %d chunk %d %q cuts a line", m, i, markdown[c.Start:c.End])
			}
			if i > 0 && markdown[c.Start-1] != '\n' {
				t.Errorf("max %d chunk %d %q starts inside a line", m, i, markdown[c.Start:c.End])
			}
		}
		var heads int
		for _, c := range cs {
			if markdown[c.Start] == '#' {
				heads++
			}
		}
		if heads < min(len(cs), 3) {
			t.Errorf("max %d: %d of %d chunks start with a heading", m, heads, len(cs))
		}
		if m == 60 {
			for _, c := range cs {
				t.Logf("%d %q", c.Tokens, markdown[c.Start:c.End])
			}
		}
	}
}

// TestSentencePacking: English sentences are packed greedily: each chunk ends a sentence and
// the next sentence would not fit.
func TestSentencePacking(t *testing.T) {
	tok := xlmr(t)
	r := rand.New(rand.NewPCG(5, 6))
	text := englishText(r, 20000, false)
	for _, m := range []int{64, 128, 256} {
		o := Options{MaxTokens: m}
		cs := run(t, tok, text, o)
		for i, c := range cs[:len(cs)-1] {
			if text[c.End-1] != '.' {
				t.Fatalf("max %d chunk %d %q does not end a sentence", m, i, clip(text[c.Start:c.End]))
			}
			next := c.End + 1 + strings.Index(text[c.End+1:], ".") + 1
			if n := tokensAlone(t, tok, text[c.Start:next]); n <= m {
				t.Fatalf("max %d chunk %d (%d tokens) + the next sentence = %d tokens: fits", m, i, c.Tokens, n)
			}
		}
	}
}

// TestOverlapSentences: with short sentences, every chunk after the first starts a sentence
// and repeats at most Overlap tokens.
func TestOverlapSentences(t *testing.T) {
	tok := xlmr(t)
	r := rand.New(rand.NewPCG(7, 8))
	text := englishText(r, 20000, false)
	for _, o := range []Options{{MaxTokens: 128, Overlap: 32}, {MaxTokens: 256, Overlap: 64}} {
		cs := run(t, tok, text, o)
		overlapping, sentences := 0, 0
		for i, c := range cs[1:] {
			prev := cs[i]
			if c.Start < prev.End {
				overlapping++
			}
			if text[c.Start-2] == '.' {
				sentences++
				continue
			}
			// not at a sentence: the sentence it starts in is more than Overlap tokens
			// to the end of the chunk before
			ss := strings.LastIndex(text[:c.Start], ". ") + 2
			if n := tokensAlone(t, tok, text[ss:prev.End]); ss > prev.Start && n <= o.Overlap {
				t.Errorf("%+v chunk %d %q starts inside a sentence, whose %d tokens to the end of the chunk before fit",
					o, i+1, clip(text[c.Start:c.End]), n)
			}
		}
		if overlapping < (len(cs)-1)*9/10 || sentences < (len(cs)-1)/2 {
			t.Errorf("%+v: of %d chunks, %d overlap the one before, %d start at a sentence", o, len(cs)-1, overlapping, sentences)
		}
	}
}

// englishText is n bytes or so of English-like sentences of 5 to 30 words from a small
// vocabulary, with commas; in paragraphs of 2 to 8 sentences with paras.
func englishText(r *rand.Rand, n int, paras bool) string {
	words := strings.Fields(`the of and to in is was that for it with as his on be at by this had not are but
		from or have an they which one you were her all she there would their we him been has when who will
		more no if out so said what up its about into than them can only other new some could time these two
		may then do first any my now such like our over man me even most made after also did many before must
		through back years where much your way well down should because each just those people how too little
		state good very make world still own see men work long get here between both life being under never
		day same another know while last might us great old year off come since against go came right used
		take three chunk token embedding retrieval reranker document knowledge base sentence paragraph`)
	var b strings.Builder
	for b.Len() < n {
		for range 2 + r.IntN(7) {
			k := 5 + r.IntN(26)
			for j := range k {
				w := words[r.IntN(len(words))]
				if j == 0 {
					w = strings.ToUpper(w[:1]) + w[1:]
				}
				b.WriteString(w)
				switch {
				case j == k-1:
					b.WriteString(". ")
				case r.IntN(12) == 0:
					b.WriteString(", ")
				default:
					b.WriteByte(' ')
				}
			}
		}
		if paras {
			b.WriteString("\n\n")
		}
	}
	return b.String()
}

// TestGiantWord: a word with no boundary is cut between tokens, and the chunks hold nearly
// MaxTokens each.
func TestGiantWord(t *testing.T) {
	tok := xlmr(t)
	r := rand.New(rand.NewPCG(9, 10))
	word := longLine(r, 300<<10)
	total := tokensAlone(t, tok, word[:60<<10]) * 5 // about: AppendIDs cuts a word every 64 KB
	for _, o := range []Options{{MaxTokens: 512}, {MaxTokens: 100, Overlap: 20}} {
		cs := run(t, tok, word, o)
		sum := 0
		for _, c := range cs {
			sum += c.Tokens
		}
		per := o.MaxTokens - o.Overlap
		if len(cs) > total/per*11/10+1 {
			t.Errorf("%+v: %d chunks for about %d tokens", o, len(cs), total)
		}
	}
	// a giant word between sentences
	text := "A short sentence. " + word[:50000] + " Another sentence."
	run(t, tok, text, Options{MaxTokens: 256, Overlap: 64})
}

// longLine is n bytes of base64 (no boundary of any level: one line, one word).
func longLine(r *rand.Rand, n int) string {
	raw := make([]byte, n*3/4+3)
	for i := range raw {
		raw[i] = byte(r.Uint32())
	}
	return base64.StdEncoding.EncodeToString(raw)[:n]
}

// TestGraphemes: chunks of text without boundaries are cut between tokens, but not before a
// combining mark (NFD é, whose token covers the e only) or inside an emoji sequence.
func TestGraphemes(t *testing.T) {
	tok := xlmr(t)
	for _, unit := range []string{"cafe\u0301", "e\u0301", "👨\u200d👩\u200d👧", "👍🏽", "नमस्ते"} {
		text := strings.Repeat(unit, 300)
		for _, o := range []Options{{MaxTokens: 8}, {MaxTokens: 20, Overlap: 6}} {
			cs := run(t, tok, text, o)
			for i, c := range cs {
				if !graphemeCut(text, c.Start) || !graphemeCut(text, c.End) {
					t.Fatalf("%q %+v: chunk %d %+v %q cuts a grapheme", unit, o, i, c, text[c.Start:c.End])
				}
			}
			if sum := tokensAlone(t, tok, text); len(cs) > 2*sum/(o.MaxTokens-o.Overlap)+2 {
				t.Errorf("%q %+v: %d chunks for %d tokens", unit, o, len(cs), sum)
			}
		}
	}
}
