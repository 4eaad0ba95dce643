package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gorerank/gorerank/weights"
	"github.com/gorerank/gorerank/xlmr"
)

func TestGenRandomTiny(t *testing.T) {
	out := filepath.Join(t.TempDir(), "m")
	var stdout, stderr bytes.Buffer
	e := &env{stdout: &stdout, stderr: &stderr}
	code := run(e, []string{"gen-random", "--config", "../../testdata/tiny/config.json", "--dtype", "bf16",
		"--seed", "3", "--tokenizer", "../../testdata/tokenizer/tokenizer.json", "--out", out})
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "57 tensors") {
		t.Errorf("stdout: %s", stdout.String())
	}
	for _, f := range []string{"config.json", "tokenizer/tokenizer.json"} {
		want, err := os.ReadFile("../../testdata/tiny/" + f)
		if f == "tokenizer/tokenizer.json" {
			want, err = os.ReadFile("../../testdata/" + f)
		}
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(out, filepath.Base(f)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s not copied: %v", f, err)
		}
	}
	c, err := weights.OpenCheckpoint(out)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ref, err := weights.OpenCheckpoint("../../testdata/tiny")
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	if !slices.Equal(c.Names(), ref.Names()) {
		t.Fatalf("keys differ from the real checkpoint: %v", c.Names())
	}
	for _, n := range c.Names() {
		g, _ := c.Tensor(n)
		r, _ := ref.Tensor(n)
		if g.DType != weights.BF16 || !slices.Equal(g.Shape, r.Shape) {
			t.Errorf("%s: %s %v, want BF16 %v", n, g.DType, g.Shape, r.Shape)
		}
	}
}

// The engine loads every dtype gen-random writes and scores with it.
func TestGenRandomLoadsInEngine(t *testing.T) {
	for _, dt := range []string{"f32", "f16", "bf16"} {
		out := filepath.Join(t.TempDir(), dt)
		var stdout, stderr bytes.Buffer
		if code := run(&env{stdout: &stdout, stderr: &stderr}, []string{"gen-random", "--config",
			"../../testdata/tiny/config.json", "--dtype", dt, "--out", out}); code != exitOK {
			t.Fatalf("%s: exit %d: %s", dt, code, stderr.String())
		}
		if !strings.Contains(stderr.String(), "no tokenizer.json written") {
			t.Errorf("%s: no note about the missing tokenizer: %q", dt, stderr.String())
		}
		m, err := xlmr.Load(out, xlmr.LoadOptions{})
		if err != nil {
			t.Fatalf("%s: xlmr.Load: %v", dt, err)
		}
		if m.Report.DType != strings.ToUpper(dt) || len(m.Report.Unused) != 0 {
			t.Errorf("%s: report %+v", dt, m.Report)
		}
		logits := make([]float32, 2)
		seqs := [][]int32{{0, 100, 200, 2, 2, 300, 2}, {0, 5, 2}}
		if err := m.Forward(m.NewScratch(), seqs, logits, nil); err != nil {
			t.Fatalf("%s: forward: %v", dt, err)
		}
		for _, l := range logits {
			if math.IsNaN(float64(l)) || math.IsInf(float64(l), 0) || l == 0 {
				t.Errorf("%s: logits %v", dt, logits)
			}
		}
		m.Close()
	}
}

func TestGenRandomErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"hidden_size": 0}`), 0o644)
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--help"}, exitOK, "Example"},
		{[]string{"--bogus"}, exitUsage, "flag provided but not defined"},
		{[]string{"--config", "x"}, exitUsage, "required"},
		{[]string{"--config", "x", "--out", dir, "--dtype", "i4"}, exitUsage, "unknown dtype"},
		{[]string{"--config", "x", "--out", dir, "--dtype", "int8"}, exitUsage, "written as f32, f16 or bf16"},
		{[]string{"--config", "x", "--out", dir, "extra"}, exitUsage, "unexpected argument"},
		{[]string{"--config", filepath.Join(dir, "missing.json"), "--out", dir}, exitFailure, "no such file"},
		{[]string{"--config", bad, "--out", dir}, exitFailure, "hidden_size = 0"},
		{[]string{"--config", "../../testdata/tiny/config.json", "--out", dir, "--tokenizer", filepath.Join(dir, "nope.json")}, exitFailure, "no such file"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(&env{stdout: &stdout, stderr: &stderr}, append([]string{"gen-random"}, tc.args...))
		if code != tc.code || !strings.Contains(stderr.String(), tc.msg) {
			t.Errorf("%v: exit %d (want %d), stderr %q (want %q)", tc.args, code, tc.code, stderr.String(), tc.msg)
		}
	}
}
