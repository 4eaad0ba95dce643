package recall

import (
	"cmp"
	"slices"
	"unsafe"
)

// Hit is one search result: a row and its score.
type Hit struct {
	Row   int
	Score float32
}

// better is the order of every result list: score descending, then row ascending.
func better(a, b Hit) bool {
	return a.Score > b.Score || (a.Score == b.Score && a.Row < b.Row)
}

// compareHits sorts hits best first (slices.SortFunc).
func compareHits(a, b Hit) int {
	if c := cmp.Compare(b.Score, a.Score); c != 0 {
		return c
	}
	return cmp.Compare(a.Row, b.Row)
}

// sortHits sorts hits best first, in place, without allocating.
func sortHits(h []Hit) { slices.SortFunc(h, compareHits) }

// topK keeps the k best hits seen: a binary heap with the worst of them at the root.
type topK struct {
	h []Hit
	k int
}

func (t *topK) reset(k int) {
	t.k = k
	if cap(t.h) < k {
		t.h = make([]Hit, 0, k)
	}
	t.h = t.h[:0]
}

func (t *topK) full() bool { return len(t.h) == t.k }

// worst is the hit a better one replaces (when full).
func (t *topK) worst() Hit { return t.h[0] }

// mayEnter says whether row, whose score is at most s, may enter the full heap: unless it
// scores below the worst hit, or ties it with a larger row. A NaN s (no bound) may enter.
func (t *topK) mayEnter(s float64, row int) bool {
	w := t.h[0]
	return !(s < float64(w.Score) || (s == float64(w.Score) && row > w.Row))
}

// push offers a hit.
func (t *topK) push(x Hit) {
	if len(t.h) < t.k {
		t.h = append(t.h, x)
		// sift up
		i := len(t.h) - 1
		for i > 0 {
			p := (i - 1) / 2
			if !better(t.h[p], t.h[i]) {
				break
			}
			t.h[p], t.h[i] = t.h[i], t.h[p]
			i = p
		}
		return
	}
	if t.k == 0 || !better(x, t.h[0]) {
		return
	}
	t.h[0] = x
	// sift down: the root must be worse than its children
	n, i := len(t.h), 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		c := l
		if r := l + 1; r < n && better(t.h[l], t.h[r]) {
			c = r
		}
		if !better(t.h[i], t.h[c]) {
			break
		}
		t.h[i], t.h[c] = t.h[c], t.h[i]
		i = c
	}
}

// mergeTop returns the k best of the given heaps' hits, best first, in a new slice.
// buf is scratch (returned grown, for reuse).
func mergeTop(heaps []*topK, k int, buf []Hit) ([]Hit, []Hit) {
	buf = buf[:0]
	for _, t := range heaps {
		buf = append(buf, t.h...)
	}
	sortHits(buf)
	out := make([]Hit, min(k, len(buf)))
	copy(out, buf)
	return out, buf
}

func int8s(b []byte) []int8 {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*int8)(unsafe.Pointer(&b[0])), len(b))
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
