package tokenizer

import (
	"encoding/json"
	"os"
	"runtime"
	"sync"
	"testing"
)

// corpus returns the benchmark texts: every single text and every pair's query and document.
func corpus(tb testing.TB) []string {
	tb.Helper()
	b, err := os.ReadFile(corpusPath)
	if err != nil {
		tb.Fatal(err)
	}
	var c struct {
		Singles []string    `json:"singles"`
		Pairs   [][2]string `json:"pairs"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		tb.Fatal(err)
	}
	texts := append([]string(nil), c.Singles...)
	for _, p := range c.Pairs {
		texts = append(texts, p[0], p[1])
	}
	return texts
}

// BenchmarkLoad measures Parse of the 17 MB, 250k-piece tokenizer.json (file already read).
func BenchmarkLoad(b *testing.B) {
	data, err := os.ReadFile(tokenizerPath)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	var heap uint64
	for i := 0; i < b.N; i++ {
		tk, err := Parse(data)
		if err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			heap = ms.HeapAlloc
			runtime.KeepAlive(tk)
		}
	}
	b.ReportMetric(float64(heap)/(1<<20), "live-MiB")
}

func benchEncode(b *testing.B, parallel bool) {
	tk := xlmr(b)
	texts := corpus(b)
	var bytes, toks int
	for _, s := range texts {
		e, err := tk.Encode(s, Options{NoSpecial: true})
		if err != nil {
			b.Fatal(err)
		}
		bytes += len(s)
		toks += len(e.IDs)
	}
	b.SetBytes(int64(bytes))
	b.ReportAllocs()
	b.ResetTimer()
	if parallel {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				for _, s := range texts {
					if _, err := tk.Encode(s, Options{NoSpecial: true}); err != nil {
						b.Error(err)
						return
					}
				}
			}
		})
	} else {
		for i := 0; i < b.N; i++ {
			for _, s := range texts {
				if _, err := tk.Encode(s, Options{NoSpecial: true}); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.ReportMetric(float64(toks)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}

// BenchmarkEncode encodes the whole multilingual corpus (one goroutine).
func BenchmarkEncode(b *testing.B) { benchEncode(b, false) }

// BenchmarkEncodeParallel encodes it from GOMAXPROCS goroutines.
func BenchmarkEncodeParallel(b *testing.B) { benchEncode(b, true) }

var _ sync.Mutex
