// Command rerank scores (query, document) pairs with an XLM-RoBERTa cross-encoder such as
// BAAI/bge-reranker-v2-m3, embeds texts with a bge-m3 embedder, serves the reranker over HTTP,
// and helps inspect and benchmark it.
//
// Exit codes: 0 success; 1 runtime failure (bad model files, bad input data, I/O);
// 2 usage error (unknown command or flag, missing argument).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// Exit codes shared by every subcommand.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// env is what a subcommand may touch; tests pass their own.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

type command struct {
	name, summary string
	run           func(e *env, args []string) int
}

// commands is the subcommand table; each subcommand lives in its own file.
var commands = []command{
	{"score", "score (query, document) pairs from JSON Lines or the command line", runScore},
	{"embed", "embed texts with a bge-m3 embedder: dense, sparse and ColBERT outputs", runEmbed},
	{"tokenize", "tokenize texts or pairs with a tokenizer.json", runTokenize},
	{"inspect", "dump per-layer hidden states and attentions, or diff two dumps", runInspect},
	{"kb", "build and search a knowledge base: chunk, embed, recall, rerank", runKB},
	{"serve", "run the HTTP rerank server", runServe},
	{"download", "download a model from the Hugging Face hub into the local cache", runDownload},
	{"gen-random", "write a random-weight checkpoint of any config", runGenRandom},
	{"quantize", "write an int8 copy of a checkpoint (for --dtype int8)", runQuantize},
	{"fidelity", "measure how reduced precisions move scores and rankings from float32", runFidelity},
	{"bench", "benchmark the forward pass", runBench},
	{"loadtest", "measure a running server's capacity on a rerank or embedding route", runLoadtest},
	{"version", "print the version", runVersion},
}

func main() {
	os.Exit(run(&env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}, os.Args[1:]))
}

func run(e *env, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(e.stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(e, args[1:])
		}
	}
	fmt.Fprintf(e.stderr, "rerank: unknown command %q\n\n", args[0])
	usage(e.stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: rerank <command> [flags]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run 'rerank <command> --help' for a command's flags and examples.

Exit status:
  0  success
  1  failure: bad model files, bad input data, I/O or network errors
  2  usage error: unknown command or flag, bad flag value, missing argument
`)
}

// parseFlags is how every subcommand reads its arguments, so that they all take them the
// same way. Flags may come before, between and after the positional arguments (rerank score
// --query q d1 d2 --dtype int8); "--" ends the flags, everything after it is positional.
// --help (-h) prints fs.Usage, the full usage, and gives exitOK; a bad flag (unknown, bad
// value, missing value) prints one line, the error, and where the usage is, and gives
// exitUsage. done reports that the caller should return code.
func parseFlags(fs *flag.FlagSet, e *env, args []string) (code int, done bool) {
	usage := fs.Usage
	fs.Usage = func() {} // flag calls it on every error; only --help shows it
	fs.SetOutput(io.Discard)
	flags, positional := splitArgs(fs, args)
	err := fs.Parse(flags)
	if err == nil { // sets fs.Args() to the positional arguments, parsing no flag
		err = fs.Parse(append([]string{"--"}, positional...))
	}
	fs.Usage = usage
	fs.SetOutput(e.stderr)
	switch {
	case err == nil:
		return 0, false
	case errors.Is(err, flag.ErrHelp):
		fs.Usage()
		return exitOK, true
	}
	fmt.Fprintf(e.stderr, "rerank %s: %v\nRun 'rerank %s --help' for usage.\n", fs.Name(), err, fs.Name())
	return exitUsage, true
}

// splitArgs separates the flags of args (each with its value when the flag takes one: the
// next argument unless written --name=value) from the positional arguments, keeping their
// order. Arguments after "--" are positional; "-" alone is positional (stdin). What is not
// a known flag stays among the flags, for flag.Parse to report.
func splitArgs(fs *flag.FlagSet, args []string) (flags, positional []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return flags, append(positional, args[i+1:]...)
		case len(a) < 2 || a[0] != '-':
			positional = append(positional, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		if strings.Contains(name, "=") {
			continue
		}
		f := fs.Lookup(name)
		if f == nil {
			continue
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			continue
		}
		if i+1 < len(args) {
			flags = append(flags, args[i+1])
			i++
		}
	}
	return flags, positional
}
