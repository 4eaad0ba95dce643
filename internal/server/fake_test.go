package server

import (
	"errors"
	"hash/fnv"
	"strings"
	"sync"
	"unicode"

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

func (f *fakeEngine) EncodePair(q, d string, o tokenizer.Options) (*tokenizer.Encoding, error) {
	qe, _ := f.Encode(q, tokenizer.Options{NoSpecial: true})
	de, _ := f.Encode(d, tokenizer.Options{NoSpecial: true})
	a, b := qe.IDs, de.IDs
	truncated := false
	if o.MaxLength > 0 {
		budget := o.MaxLength - 4
		for len(a)+len(b) > budget {
			truncated = true
			if o.Strategy == tokenizer.OnlySecond || len(b) >= len(a) {
				if len(b) == 0 {
					return nil, errors.New("fake: cannot truncate")
				}
				b = b[:len(b)-1]
			} else {
				a = a[:len(a)-1]
			}
		}
	}
	ids := f.JoinPair(a, b)
	e := &tokenizer.Encoding{IDs: ids, Truncated: truncated}
	for i := range ids {
		e.Tokens = append(e.Tokens, "t")
		seq := 0
		switch {
		case ids[i] < 10:
			seq = -1
		case i > len(a)+2:
			seq = 1
		}
		e.SequenceIDs = append(e.SequenceIDs, seq)
		e.ByteOffsets = append(e.ByteOffsets, [2]int{0, 1})
	}
	return e, nil
}

func (f *fakeEngine) JoinPair(q, d []int32) []int32 {
	out := []int32{fakeBOS}
	out = append(out, q...)
	out = append(out, fakeEOS, fakeEOS)
	out = append(out, d...)
	return append(out, fakeEOS)
}

func (f *fakeEngine) PairSpecials() int { return 4 }

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
	if f.panics {
		panic("fake engine exploded")
	}
	if f.fail != nil {
		return f.fail
	}
	for i, s := range seqs {
		logits[i] = fakeLogit(s)
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
