package chunk

import (
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

// benchTexts are the benchmark inputs: a few MB of English paragraphs, of Chinese legal text
// (sentences ending with 。, articles one a line), and one line of base64 with no boundary.
func benchTexts() []struct{ name, text string } {
	r := rand.New(rand.NewPCG(11, 12))
	var zh strings.Builder
	for zh.Len() < 2<<20 {
		zh.WriteString(labourLaw)
		zh.WriteByte('\n')
	}
	return []struct{ name, text string }{
		{"english", englishText(r, 4<<20, true)},
		{"chinese", zh.String()},
		{"longline", longLine(r, 4<<20)},
	}
}

// BenchmarkSplit measures Split on each text with MaxTokens 512, without and with overlap;
// tok-MB/s is the bytes tokenized (in context and alone) per second, for comparison with
// BenchmarkAppendIDs.
func BenchmarkSplit(b *testing.B) {
	tok := xlmr(b)
	for _, bt := range benchTexts() {
		for _, o := range []Options{{MaxTokens: 512}, {MaxTokens: 512, Overlap: 64}} {
			name := bt.name + "/max512"
			if o.Overlap > 0 {
				name += "-overlap64"
			}
			b.Run(name, func(b *testing.B) {
				b.SetBytes(int64(len(bt.text)))
				b.ReportAllocs()
				var st stats
				var n int
				for b.Loop() {
					st = stats{}
					cs, err := split(tok, bt.text, o, &st)
					if err != nil {
						b.Fatal(err)
					}
					n = len(cs)
				}
				b.ReportMetric(float64(n), "chunks")
				b.ReportMetric(float64(st.encoded+st.counted)/float64(len(bt.text)), "tokenized/byte")
				b.ReportMetric(float64(st.retries), "retries")
			})
		}
	}
}

// BenchmarkAppendIDs is the tokenizer alone on the same texts: Split tokenizes each byte
// about twice (once in context, once alone), so it runs at about half this speed.
func BenchmarkAppendIDs(b *testing.B) {
	tok := xlmr(b)
	for _, bt := range benchTexts() {
		b.Run(bt.name, func(b *testing.B) {
			b.SetBytes(int64(len(bt.text)))
			var ids []int32
			for b.Loop() {
				var err error
				if ids, _, err = tok.AppendIDs(ids[:0], bt.text, 0, false); err != nil {
					b.Fatal(err)
				}
			}
			runtime.KeepAlive(ids)
		})
	}
}
