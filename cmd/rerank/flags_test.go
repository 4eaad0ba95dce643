package main

import (
	"flag"
	"slices"
	"strings"
	"testing"
)

// TestSplitArgs: flags (with their values) and positional arguments are told apart wherever
// they come; "--" ends the flags; "-" is positional; an unknown flag stays a flag.
func TestSplitArgs(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.String("query", "", "")
	fs.Bool("fail-fast", false, "")
	fs.Int("n", 0, "")
	for _, c := range []struct {
		args, flags, pos []string
	}{
		{[]string{"--query", "q", "a", "b"}, []string{"--query", "q"}, []string{"a", "b"}},
		{[]string{"a", "--query", "q", "b", "--n", "3"}, []string{"--query", "q", "--n", "3"}, []string{"a", "b"}},
		{[]string{"a", "--fail-fast", "b"}, []string{"--fail-fast"}, []string{"a", "b"}},
		{[]string{"a", "--n=3", "-query=x", "b"}, []string{"--n=3", "-query=x"}, []string{"a", "b"}},
		{[]string{"--query", "--", "a"}, []string{"--query", "--"}, []string{"a"}}, // "--" as a value
		{[]string{"a", "--", "--n", "3", "--"}, nil, []string{"a", "--n", "3", "--"}},
		{[]string{"-", "--n", "1"}, []string{"--n", "1"}, []string{"-"}},
		{[]string{"a", "--bogus", "b"}, []string{"--bogus"}, []string{"a", "b"}},
		{[]string{"a", "--query"}, []string{"--query"}, []string{"a"}}, // flag.Parse reports the missing value
	} {
		flags, pos := splitArgs(fs, c.args)
		if !slices.Equal(flags, c.flags) || !slices.Equal(pos, c.pos) {
			t.Errorf("%q: flags %q, positional %q; want %q, %q", c.args, flags, pos, c.flags, c.pos)
		}
	}
}

// TestFlagErrors: in every subcommand, a bad flag is one line and a pointer to --help (not
// the whole usage), exit 2; a flag after a positional argument is parsed (so the bad one is
// found there too); after "--" it is an argument.
func TestFlagErrors(t *testing.T) {
	for _, c := range commands {
		want := "rerank " + c.name + ": flag provided but not defined: -bogus\nRun 'rerank " + c.name + " --help' for usage.\n"
		for _, args := range [][]string{{"--bogus"}, {"x", "--bogus"}, {"x", "--bogus", "y"}} {
			code, stdout, stderr := runCmd("", append([]string{c.name}, args...)...)
			if code != exitUsage || stdout != "" || stderr != want {
				t.Errorf("%s %q: exit %d, stdout %q, stderr %q; want exit 2 and %q", c.name, args, code, stdout, stderr, want)
			}
		}
		if _, _, stderr := runCmd("", c.name, "--", "--bogus"); strings.Contains(stderr, "not defined") {
			t.Errorf("%s -- --bogus: %q: an argument after -- was taken for a flag", c.name, stderr)
		}
	}
	for _, c := range []struct{ args []string }{
		{[]string{"score", "--max-length", "x"}},
		{[]string{"score", "--model", "m", "--query", "q", "d", "--dtype", "int4"}},
		{[]string{"serve", "--port", "http"}},
		{[]string{"bench", "--model"}},
	} {
		code, _, stderr := runCmd("", c.args...)
		lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
		if code != exitUsage || len(lines) != 2 || !strings.HasPrefix(lines[0], "rerank "+c.args[0]+": ") || lines[1] != "Run 'rerank "+c.args[0]+" --help' for usage." {
			t.Errorf("%q: exit %d, stderr %q; want exit 2, one error line and the pointer to --help", c.args, code, stderr)
		}
	}
}
