package xlmr

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gorerank/gorerank/nn"
)

// benchModel writes a random checkpoint with bge-reranker-v2-m3's layer sizes (H 1024,
// I 4096, 16 heads) but few layers and a small vocabulary, and loads it at precision p.
func benchModel(b *testing.B, layers int, p nn.Precision) *Model {
	b.Helper()
	const V, H, I, P = 1000, 1024, 4096, 8194
	ts := randomTensors(rand.New(rand.NewPCG(1, 2)), V, H, I, P, layers, 0.03)
	cfg := smallConfig()
	cfg["vocab_size"], cfg["hidden_size"], cfg["intermediate_size"] = V, H, I
	cfg["num_attention_heads"], cfg["num_hidden_layers"], cfg["max_position_embeddings"] = 16, layers, P
	dir := b.TempDir()
	c, _ := json.Marshal(cfg)
	os.WriteFile(filepath.Join(dir, "config.json"), c, 0o644)
	os.WriteFile(filepath.Join(dir, "model.safetensors"), encodeSafetensors(ts), 0o644)
	m, err := Load(dir, LoadOptions{Precision: p})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	return m
}

// BenchmarkForwardFullWidth runs two full-width layers over 8 sequences of 128 tokens and
// reports the per-stage split (go test -bench FullWidth -benchtime 3x ./xlmr).
func BenchmarkForwardFullWidth(b *testing.B) { benchForwardFullWidth(b, nn.F32) }

// BenchmarkForwardFullWidthInt8 is BenchmarkForwardFullWidth at precision nn.Int8.
func BenchmarkForwardFullWidthInt8(b *testing.B) { benchForwardFullWidth(b, nn.Int8) }

func benchForwardFullWidth(b *testing.B, p nn.Precision) {
	m := benchModel(b, 2, p)
	seqs := make([][]int32, 8)
	for i := range seqs {
		seqs[i] = make([]int32, 128)
		for j := range seqs[i] {
			seqs[i][j] = int32(3 + (i*131+j*7)%990)
		}
	}
	s := m.NewScratch()
	logits := make([]float32, len(seqs))
	m.Forward(s, seqs, logits, nil)
	s.Timings = &Timings{}
	b.ResetTimer()
	for range b.N {
		if err := m.Forward(s, seqs, logits, nil); err != nil {
			b.Fatal(err)
		}
	}
	t := s.Timings
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
	b.ReportMetric(per(t.Attention), "attn-ms/op")
	b.ReportMetric(per(t.FFN), "ffn-ms/op")
	b.ReportMetric(per(t.Embeddings+t.Head), "other-ms/op")
}
