package server

import (
	"hash/fnv"
	"math"
	"slices"
	"strings"
	"sync"
	"unicode"

	"github.com/gorerank/gorerank"
	"github.com/gorerank/gorerank/tokenizer"
)

// fakeEngine tokenizes on white space (one id per word, 10 + hash) and scores a pair by how
// many of the query's words occur in the document. The pair template is XLM-R's:
// <s>=0 q </s>=2 </s>=2 d </s>=2.
type fakeEngine struct {
	mu      sync.Mutex
	batches [][]int // sequence lengths of every batch scored
	calls   int
	gate    chan struct{} // when non-nil, each Score waits for it to be closed
	started chan struct{} // when non-nil, Score sends on it when it starts
	fail    error
	panics  bool
	poison  string // non-empty: fail (or panic) only on a batch holding this word
	nan     bool   // every logit is NaN
}

const (
	fakeBOS = 0
	fakeEOS = 2
)

func wordID(w string) int32 {
	h := fnv.New32a()
	h.Write([]byte(strings.ToLower(w)))
	return 10 + int32(h.Sum32()%100000)
}

func (f *fakeEngine) Encode(text string, o tokenizer.Options) (*tokenizer.Encoding, error) {
	e := &tokenizer.Encoding{}
	add := func(id int32, tok string, seq int, off [2]int) {
		e.IDs = append(e.IDs, id)
		e.Tokens = append(e.Tokens, tok)
		e.SequenceIDs = append(e.SequenceIDs, seq)
		e.ByteOffsets = append(e.ByteOffsets, off)
	}
	if !o.NoSpecial {
		add(fakeBOS, "<s>", -1, [2]int{})
	}
	start := -1
	flush := func(end int) {
		if start >= 0 {
			w := text[start:end]
			add(wordID(w), "▁"+w, 0, [2]int{start, end})
			start = -1
		}
	}
	for i, r := range text {
		if unicode.IsSpace(r) {
			flush(i)
		} else if start < 0 {
			start = i
		}
	}
	flush(len(text))
	if !o.NoSpecial {
		add(fakeEOS, "</s>", -1, [2]int{})
	}
	if o.MaxLength > 0 && len(e.IDs) > o.MaxLength {
		e.Truncated = true
		e.IDs = e.IDs[:o.MaxLength]
		e.Tokens = e.Tokens[:o.MaxLength]
		e.SequenceIDs = e.SequenceIDs[:o.MaxLength]
		e.ByteOffsets = e.ByteOffsets[:o.MaxLength]
	}
	return e, nil
}

// AppendIDs implements gorerank.IDEncoder: one id per white-space separated word.
func (f *fakeEngine) AppendIDs(dst []int32, text string, limit int, left bool) ([]int32, bool, error) {
	e, _ := f.Encode(text, tokenizer.Options{NoSpecial: true})
	ids, more := e.IDs, false
	if limit > 0 && len(ids) > limit {
		more = true
		if left {
			ids = ids[len(ids)-limit-1:]
		} else {
			ids = ids[:limit+1]
		}
	}
	return append(dst, ids...), more, nil
}

// Pipeline implements [Engine] with the library's pipeline over the white-space tokenizer
// and XLM-R's template.
func (f *fakeEngine) Pipeline() *gorerank.Pipeline {
	return gorerank.NewPipeline(f, gorerank.Template{Prefix: []int32{fakeBOS}, Middle: []int32{fakeEOS, fakeEOS}, Suffix: []int32{fakeEOS}}, f.Info().MaxTokens)
}

func (f *fakeEngine) Token(id int32) string {
	switch id {
	case fakeBOS:
		return "<s>"
	case fakeEOS:
		return "</s>"
	}
	return "t"
}

func (f *fakeEngine) Score(seqs [][]int32, logits []float32) error {
	if f.started != nil {
		f.started <- struct{}{}
	}
	if f.gate != nil {
		<-f.gate
	}
	f.mu.Lock()
	f.calls++
	lens := make([]int, len(seqs))
	for i, s := range seqs {
		lens[i] = len(s)
	}
	f.batches = append(f.batches, lens)
	f.mu.Unlock()
	poisoned := f.poison == ""
	for _, s := range seqs {
		poisoned = poisoned || slices.Contains(s, wordID(f.poison))
	}
	if f.panics && poisoned {
		panic("fake engine exploded")
	}
	if f.fail != nil && poisoned {
		return f.fail
	}
	for i, s := range seqs {
		logits[i] = fakeLogit(s)
		if f.nan {
			logits[i] = float32(math.NaN())
		}
	}
	return nil
}

// fakeLogit counts the distinct query ids that occur in the document, minus 2.
func fakeLogit(s []int32) float32 {
	// s = 0 q.. 2 2 d.. 2
	k := 1
	q := map[int32]bool{}
	for ; k < len(s) && s[k] != fakeEOS; k++ {
		q[s[k]] = true
	}
	k += 2
	n := 0
	for ; k < len(s)-1; k++ {
		if q[s[k]] {
			n++
			delete(q, s[k])
		}
	}
	return float32(n) - 2
}

func (f *fakeEngine) Info() ModelInfo {
	return ModelInfo{ID: "fake/reranker", Path: "/nowhere", DType: "float32", Type: "fake", MaxTokens: 8192}
}

func (f *fakeEngine) snapshot() (calls int, batches [][]int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, append([][]int(nil), f.batches...)
}
