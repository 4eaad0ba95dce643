package tokenizer

import (
	"fmt"
	"unicode/utf8"
)

// unkPenalty is subtracted from the lowest vocabulary score to score an unknown character.
const unkPenalty = 10.0

// unigram is the SentencePiece Unigram model: Viterbi segmentation over the vocabulary.
type unigram struct {
	vocab        *vocabTable
	trie         *pieceTrie
	unkID        int32 // -1: none
	unkScore     float64
	byteFallback bool
	byteIDs      [256]int32 // ids of <0x00>..<0xFF> (byte_fallback), -1 if missing
	fuseUnk      bool
}

func newUnigram(v *vocabTable, unkID *int, byteFallback bool) (*unigram, error) {
	if v.len() == 0 {
		return nil, formatErr("model.vocab: empty vocabulary")
	}
	u := &unigram{vocab: v, unkID: -1, byteFallback: byteFallback, fuseUnk: true}
	if unkID != nil {
		if *unkID < 0 || *unkID >= v.len() {
			return nil, formatErr("model.unk_id %d outside the vocabulary of %d pieces", *unkID, v.len())
		}
		u.unkID = int32(*unkID)
	}
	minScore := v.scores[0]
	for _, s := range v.scores {
		if s < minScore {
			minScore = s
		}
	}
	u.unkScore = minScore - unkPenalty
	u.trie = buildTrie(v)
	for b := range u.byteIDs {
		u.byteIDs[b] = -1
		if byteFallback {
			u.byteIDs[b] = u.trie.lookup(fmt.Sprintf("<0x%02X>", b))
		}
	}
	return u, nil
}

// token is one model output inside a pre-tokenized split: [s,e) bytes of the split.
type token struct {
	id    int32
	text  string
	s, e  int32
	added bool // an added token (not produced by the model)
}

// viterbi scratch, one per in-flight encode.
type lattice struct {
	score []float64
	start []int32 // -1: unreached
	id    []int32
	path  []int32 // end positions, backwards
}

// encode appends the tokens of the split s (a pre-tokenized word) to out. It follows HF's
// optimized Unigram: best path ending at each byte position, ties kept by the first
// candidate (pieces in order of start position, then length); characters with no
// single-character piece get <unk> with score min-10; consecutive unknowns fuse.
func (u *unigram) encode(out []token, s []byte, lat *lattice) ([]token, error) {
	n := len(s)
	if n == 0 {
		return out, nil
	}
	if cap(lat.score) < n+1 {
		lat.score = make([]float64, n+1)
		lat.start = make([]int32, n+1)
		lat.id = make([]int32, n+1)
	}
	score, start, id := lat.score[:n+1], lat.start[:n+1], lat.id[:n+1]
	for i := range start {
		start[i] = -1
	}
	score[0] = 0
	start[0] = 0
	nodes := u.trie.nodes
	for i := 0; i < n; {
		_, mblen := utf8.DecodeRune(s[i:])
		base := score[i]
		single := false
		x := uint32(0)
		for j := i; j < n; j++ {
			x = u.trie.child(x, s[j])
			if x == 0 {
				break
			}
			pid := nodes[x].id
			if pid < 0 {
				continue
			}
			end := j + 1
			cand := base + u.vocab.scores[pid]
			if start[end] < 0 || cand > score[end] {
				score[end], start[end], id[end] = cand, int32(i), pid
			}
			if end-i == mblen {
				single = true
			}
		}
		if !single {
			end := i + mblen
			cand := base + u.unkScore
			if start[end] < 0 || cand > score[end] {
				score[end], start[end], id[end] = cand, int32(i), u.unkID
			}
		}
		i += mblen
	}
	// Backtrack.
	path := lat.path[:0]
	for e := n; e > 0; e = int(start[e]) {
		path = append(path, int32(e))
	}
	lat.path = path
	unkRun := int32(-1) // end of the pending run of unknowns, -1 if none
	for k := len(path) - 1; k >= 0; k-- {
		e := path[k]
		b := start[e]
		if u.fuseUnk && u.unkID >= 0 && id[e] == u.unkID {
			if unkRun < 0 {
				unkRun = b // start of the run
			}
			if k > 0 && id[path[k-1]] == u.unkID {
				continue
			}
			var err error
			out, err = u.emitUnknown(out, s, unkRun, e)
			if err != nil {
				return out, err
			}
			unkRun = -1
			continue
		}
		pid := id[e]
		if pid < 0 {
			// Only reachable without an unk id: HF fails the same way.
			var err error
			out, err = u.emitUnknown(out, s, b, e)
			if err != nil {
				return out, err
			}
			continue
		}
		out = append(out, token{id: pid, text: u.vocab.piece(pid), s: b, e: e})
	}
	return out, nil
}

// ErrNoUnk is returned when a text has a character the vocabulary cannot cover and the
// model has no unk_id (HF: "Encountered an unknown token but `unk_id` is missing").
var ErrNoUnk = fmt.Errorf("tokenizer: unknown character and the model has no unk_id")

// emitUnknown emits s[b:e] which the Viterbi path covers with <unk>: the piece if the whole
// string happens to be one, else its bytes with byte_fallback, else <unk> with the text.
func (u *unigram) emitUnknown(out []token, s []byte, b, e int32) ([]token, error) {
	text := string(s[b:e])
	if pid := u.trie.lookup(text); pid >= 0 {
		return append(out, token{id: pid, text: u.vocab.piece(pid), s: b, e: e}), nil
	}
	if u.byteFallback {
		ok := true
		for i := b; i < e; i++ {
			if u.byteIDs[s[i]] < 0 {
				ok = false
				break
			}
		}
		if ok {
			for i := b; i < e; i++ {
				pid := u.byteIDs[s[i]]
				out = append(out, token{id: pid, text: u.vocab.piece(pid), s: b, e: e})
			}
			return out, nil
		}
	}
	if u.unkID < 0 {
		return out, ErrNoUnk
	}
	return append(out, token{id: u.unkID, text: text, s: b, e: e}), nil
}
