package chunk

import (
	"math/rand/v2"
	"runtime"
	"testing"
)

// TestLargeUnbroken splits one line of base64 with no boundary of any level (8 MB, and
// 100 MB unless -short) and checks that the memory Split holds does not grow with the text:
// the live heap, measured after a GC every 64 blocks, stays within a bound set by MaxTokens
// and the block size, and so do the window and the boundary queue. It checks the work too:
// each byte is tokenized once in context and about once alone.
func TestLargeUnbroken(t *testing.T) {
	tok := xlmr(t)
	sizes := []int{8 << 20}
	if !testing.Short() {
		sizes = append(sizes, 100<<20)
	}
	r := rand.New(rand.NewPCG(13, 14))
	for _, n := range sizes {
		text := longLine(r, n)
		o := Options{MaxTokens: 512, Overlap: 32}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base, mallocs := ms.HeapAlloc, ms.Mallocs
		var peak uint64
		blocks := 0
		st := stats{onBlock: func() {
			if blocks++; blocks%64 == 0 {
				runtime.GC()
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapAlloc-min(ms.HeapAlloc, base))
			}
		}}
		cs, err := split(tok, text, o, &st)
		if err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&ms)
		mallocs = ms.Mallocs - mallocs
		checkSpans(t, tok, text, o, cs, false)
		result := uint64(cap(cs)) * 24 // the []Chunk Split returns
		t.Logf("%d MB: %d chunks, %d blocks; peak live heap %.1f MB (the result %.1f MB), window %d tokens, %d bounds; "+
			"tokenized %.2f× the text (%d retries); %d allocations (%.1f per chunk)",
			n>>20, len(cs), blocks, float64(peak)/(1<<20), float64(result)/(1<<20), st.maxToks, st.maxBnds,
			float64(st.encoded+st.counted)/float64(n), st.retries, mallocs, float64(mallocs)/float64(len(cs)))
		if limit := result + 32<<20; peak > limit {
			t.Errorf("%d MB: peak live heap %d bytes, want at most %d", n>>20, peak, limit)
		}
		if st.maxToks > 2*(o.MaxTokens+blockBytes) || st.maxBnds > 1<<16 {
			t.Errorf("%d MB: window %d tokens, %d bounds: not bounded by MaxTokens and the block", n>>20, st.maxToks, st.maxBnds)
		}
		if st.encoded != n || st.counted > n*12/10 {
			t.Errorf("%d MB: tokenized %d bytes in context and %d alone, want %d and at most 1.2×", n>>20, st.encoded, st.counted, n)
		}
		if mallocs > uint64(n/64) {
			t.Errorf("%d MB: %d allocations", n>>20, mallocs)
		}
	}
}
