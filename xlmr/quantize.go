package xlmr

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"unsafe"

	"github.com/gorerank/gorerank/weights"
)

// QuantizeCheckpoint writes an int8 copy of the model in dir (either kind) to out (created if
// missing): out/model.safetensors, in which the weight (out,in) of every linear the key table
// marks Int8 (Module.Int8: the encoder's attention query/key/value/output, intermediate and
// output) becomes I8 plus <weight>_scale (out) F32 (per-row symmetric, tensor.QuantizeInt8:
// the same bits as Load with precision nn.Int8 computes from the original), every other tensor
// is copied unchanged, in the original order; copies of the embedder's side files
// (sparse_linear, colbert_linear), which stay float32; and copies of config.json and, when
// present, tokenizer.json, tokenizer_config.json, special_tokens_map.json,
// sentencepiece.bpe.model and 1_Pooling/config.json.
// Load(out, LoadOptions{Precision: nn.Int8}) then uses the int8 weights in place. It refuses to
// overwrite an existing out/model.safetensors or to read an int8 checkpoint.
func QuantizeCheckpoint(dir, out string) error {
	cfg, err := LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return err
	}
	dst := filepath.Join(out, "model.safetensors")
	if _, err := os.Stat(dst); err == nil {
		return fmt.Errorf("xlmr: quantize: %s exists; choose an empty output folder", dst)
	}
	ck, _, err := openWeights(dir, "")
	if err != nil {
		return err
	}
	defer ck.Close()
	keys, err := keysFor(cfg, ck.Names())
	if err != nil {
		return err
	}
	quant := map[string]Module{}
	for _, m := range keys.Modules() {
		if m.Int8 {
			quant[m.Weight()] = m
		}
	}
	var ts []weights.Tensor
	var errs []error
	for _, name := range ck.Names() {
		t, err := ck.Tensor(name)
		if err != nil {
			return err
		}
		l, ok := quant[name]
		if !ok {
			ts = append(ts, *t)
			continue
		}
		delete(quant, name)
		if t.DType == weights.I8 {
			return fmt.Errorf("xlmr: quantize: tensor %q is already I8", name)
		}
		if len(t.Shape) != 2 || t.Shape[0] != l.Out || t.Shape[1] != l.In {
			errs = append(errs, fmt.Errorf("xlmr: tensor %q has shape %v, config.json implies [%d %d]", name, t.Shape, l.Out, l.In))
			continue
		}
		switch t.DType {
		case weights.F32, weights.F16, weights.BF16:
		default:
			errs = append(errs, fmt.Errorf("xlmr: tensor %q has dtype %s; only F32, F16 and BF16 can be quantized", name, t.DType))
			continue
		}
		q, s, err := quantizeRows(t, l.Out, l.In)
		if err != nil {
			errs = append(errs, fmt.Errorf("xlmr: tensor %q: %w", name, err))
			continue
		}
		ts = append(ts,
			weights.Tensor{Name: name, DType: weights.I8, Shape: []int{l.Out, l.In}, Data: unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(q))), len(q))},
			weights.Tensor{Name: name + ScaleSuffix, DType: weights.F32, Shape: []int{l.Out}, Data: f32Bytes(s)})
	}
	for name := range quant {
		errs = append(errs, fmt.Errorf("xlmr: tensor %q is missing from the checkpoint: %w", name, weights.ErrNotFound))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("xlmr: quantize: %w", err)
	}
	md := map[string]string{"format": "pt", "gorerank.quantization": "int8: <linear>.weight I8 (per-row symmetric), <linear>.weight_scale F32"}
	if err := weights.WriteFile(dst, ts, md); err != nil {
		return fmt.Errorf("xlmr: quantize: %w", err)
	}
	files := []string{"config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "sentencepiece.bpe.model"}
	for _, base := range keys.Files() {
		if p := sidePath(dir, base); p != "" {
			files = append(files, filepath.Base(p))
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "1_Pooling", "config.json")); err == nil {
		if err := os.MkdirAll(filepath.Join(out, "1_Pooling"), 0o755); err != nil {
			return fmt.Errorf("xlmr: quantize: %w", err)
		}
		files = append(files, filepath.Join("1_Pooling", "config.json"))
	}
	for _, f := range files {
		if err := copyIfPresent(filepath.Join(out, f), filepath.Join(dir, f)); err != nil {
			return fmt.Errorf("xlmr: quantize: %w", err)
		}
	}
	return nil
}

// f32Bytes is the little-endian bytes of s.
func f32Bytes(s []float32) []byte {
	b := make([]byte, 0, 4*len(s))
	for _, v := range s {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

func copyIfPresent(dst, src string) error {
	in, err := os.Open(src)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	defer in.Close()
	o, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(o, in); err != nil {
		o.Close()
		return err
	}
	return o.Close()
}
