package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// maxLineBytes bounds one input line (a document of several megabytes is still accepted).
const maxLineBytes = 64 << 20

// lineReader reads lines of at most maxLineBytes; a longer line is skipped (its error is
// returned by next with the line).
type lineReader struct {
	r   *bufio.Reader
	buf []byte
	n   int // lines read
}

// next returns the next line (without its newline), io.EOF at the end, or a per-line
// error (the line was too long) that does not stop the reading.
func (lr *lineReader) next() ([]byte, error) {
	lr.buf = lr.buf[:0]
	tooLong := false
	for {
		frag, err := lr.r.ReadSlice('\n')
		if !tooLong {
			if len(lr.buf)+len(frag) > maxLineBytes+1 {
				tooLong, lr.buf = true, lr.buf[:0]
			} else {
				lr.buf = append(lr.buf, frag...)
			}
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF && len(lr.buf) == 0 && !tooLong:
			return nil, io.EOF
		case err != nil && err != io.EOF:
			return nil, err
		}
		lr.n++
		if tooLong {
			return nil, lineError{fmt.Errorf("longer than %d bytes", maxLineBytes)}
		}
		return bytes.TrimSuffix(lr.buf, []byte("\n")), nil
	}
}

// lineError is a problem with one input line; reading goes on.
type lineError struct{ err error }

func (e lineError) Error() string { return e.err.Error() }

// chunker is a JSON Lines run of rerank score or rerank embed, for streamChunks: P is a read
// line waiting for the model.
type chunker[P streamLine] struct {
	name     string // the input, for messages
	cmd      string // the subcommand, for messages on stderr
	failFast bool
	stderr   io.Writer
	out      *bufio.Writer // flushed after each chunk
	// A chunk is run once its lines may hold maxTokens tokens or hold maxInputs model
	// inputs.
	maxTokens, maxInputs int
	// prepare parses line n (b, or the reader's lineError err for a line too long): the
	// pending line (holding its error, if any), a bound on its tokens and its model inputs.
	// A line with an error still gets its output line (an {"error": ...}).
	prepare func(n int, b []byte, err error) (p P, tokens, inputs int)
	// run runs a chunk through the library (policy, tokenization, the model), leaving in each
	// line its results or its error.
	run func(chunk []P) error
	// write writes a line's output line, in order.
	write func(p P) error
	// written is called once a chunk's lines are written and flushed.
	written func()
}

// streamLine is a line of a chunk: its number (1-based) and its error (parse, policy), nil
// once it has results.
type streamLine interface {
	number() int
	lineErr() error
}

// streamChunks is the JSON Lines loop rerank score and rerank embed share: lines are read and
// parsed one at a time into a chunk until it reaches the chunker's bounds, then the chunk is
// run (one library call: its lines' forward passes are shared) and written, so memory is
// bounded by a chunk whatever the input. A bad line is reported on stderr and written as an
// {"error": ...} line; with failFast the lines before it are written and the run ends with
// its error instead (a line that does not parse ends the run as soon as it is read). A read
// error other than a line too long ends the run.
func streamChunks[P streamLine](r io.Reader, c chunker[P]) error {
	lr := &lineReader{r: bufio.NewReaderSize(r, 64<<10)}
	var chunk []P
	tokens, inputs := 0, 0
	flush := func() error {
		if err := c.run(chunk); err != nil {
			return err
		}
		for _, p := range chunk {
			if err := p.lineErr(); err != nil {
				if c.failFast {
					if ferr := c.out.Flush(); ferr != nil {
						return fmt.Errorf("writing output: %w", ferr)
					}
					return fmt.Errorf("%s: line %d: %v", c.name, p.number(), err)
				}
				fmt.Fprintf(c.stderr, "rerank %s: %s: line %d: %v\n", c.cmd, c.name, p.number(), err)
			}
			if err := c.write(p); err != nil {
				return fmt.Errorf("writing output: %w", err)
			}
		}
		if err := c.out.Flush(); err != nil {
			return fmt.Errorf("writing output: %w", err)
		}
		c.written()
		clear(chunk)
		chunk, tokens, inputs = chunk[:0], 0, 0
		return nil
	}
	for {
		b, err := lr.next()
		if err == io.EOF {
			break
		}
		var le lineError
		if err != nil && !errors.As(err, &le) {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		p, nt, ni := c.prepare(lr.n, b, err)
		chunk = append(chunk, p)
		tokens, inputs = tokens+nt, inputs+ni
		if tokens >= c.maxTokens || inputs >= c.maxInputs || (c.failFast && p.lineErr() != nil) {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// streamFlags are the JSON Lines mode flags of score and embed.
type streamFlags struct {
	progress string
	failFast bool
}

func (f *streamFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.progress, "progress", "auto", "JSON Lines mode: progress line and throughput summary on stderr: `MODE` auto (when stderr is a terminal), always or never")
	fs.BoolVar(&f.failFast, "fail-fast", false, "JSON Lines mode: stop at the first bad line (exit 1) instead of writing an {\"error\": ...} line for it and going on")
}

// progressFlag reads a --progress value: auto (a progress line when stderr is a terminal),
// always or never.
func progressFlag(e *env, v string) (bool, error) {
	switch v {
	case "auto":
		return isTerminal(e.stderr), nil
	case "always":
		return true, nil
	case "never":
		return false, nil
	}
	return false, fmt.Errorf("--progress %q: want auto, always or never", v)
}

// openLines opens a JSON Lines input (a file, or stdin for "-") and, when count is set (a
// progress line will show), counts its lines: 0 when unknown (stdin).
func openLines(e *env, name string, count bool) (in io.Reader, lines int, closeIn func(), err error) {
	in, closeIn, err = openInput(e, name)
	if err != nil {
		return nil, 0, nil, err
	}
	if count {
		lines = countLines(name)
	}
	return in, lines, closeIn, nil
}

// countLines counts the lines of a regular file (for the progress bar); 0 when unknown.
func countLines(name string) int {
	if name == "-" {
		return 0
	}
	f, err := os.Open(name)
	if err != nil {
		return 0
	}
	defer f.Close()
	n, last := 0, byte('\n')
	buf := make([]byte, 1<<20)
	for {
		k, err := f.Read(buf)
		n += bytes.Count(buf[:k], []byte{'\n'})
		if k > 0 {
			last = buf[k-1]
		}
		if err != nil {
			break
		}
	}
	if last != '\n' {
		n++
	}
	return n
}

// openInput opens a file, or stdin for "-".
func openInput(e *env, name string) (io.Reader, func(), error) {
	if name == "-" {
		return e.stdin, func() {}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

// finishStream ends a JSON Lines run of rerank CMD: it stops the progress meter m (nil:
// none) and gives the exit status, saying why on stderr: the stream's error, no input lines,
// or how many lines failed (each already written as an {"error": ...} line).
func finishStream(e *env, cmd, input string, m *meter, st streamStats, err error) int {
	if m != nil {
		m.end()
	}
	switch {
	case err != nil:
		fmt.Fprintf(e.stderr, "rerank %s: %v\n", cmd, err)
		return exitFailure
	case st.lines == 0:
		fmt.Fprintf(e.stderr, "rerank %s: %s: no input lines\n", cmd, input)
		return exitFailure
	}
	if m != nil {
		m.summary()
	}
	if st.failed > 0 {
		fmt.Fprintf(e.stderr, "rerank %s: %d of %d %s failed\n", cmd, st.failed, st.lines, plural(st.lines, "line"))
		return exitFailure
	}
	return exitOK
}
