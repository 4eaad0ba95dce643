package kb

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/gorerank/gorerank/internal/jsonin"
)

// Reading documents from files: the one place that decides what a file becomes. Plain text
// (.txt, .text) and Markdown (.md, .markdown, .mdx, .rst) are one document each, its id the
// path as given; JSON Lines (.jsonl, .ndjson, and "-" for stdin) hold one document a line:
//
//	{"id": "policy-7", "text": "...", "metadata": {"lang": "zh"}}
//	{"id": "policy-7", "text": "...", "chunks": [{"start": 0, "end": 812, "dense": [...],
//	 "sparse": {"indices": [...], "values": [...]}}, ...]}
//
// the second form carrying chunks already embedded (what kb export writes). Folders are
// walked in name order, hidden files and folders (".git") left out. What cannot be a
// document is reported with its reason, never half-read: a binary file, a file larger than
// the limit, an unsupported format, a bad JSON line.

// SourceError is why a file or a line was not read as a document.
type SourceError struct {
	Path string // the file ("-": stdin)
	Line int    // the JSON line, 1-based; 0 for a whole file
	Err  error
}

func (e *SourceError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.Path, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Path, e.Err)
}

func (e *SourceError) Unwrap() error { return e.Err }

// textExts are read as one document each; jsonlExts as JSON Lines.
var (
	textExts  = []string{".txt", ".text", ".md", ".markdown", ".mdx", ".rst"}
	jsonlExts = []string{".jsonl", ".ndjson"}
)

// ReadSources reads documents from paths (files, folders, "-" for JSON Lines on stdin) and
// calls fn with each, in order; bad calls with each file or line that is not one (a
// *SourceError), and reading goes on. maxBytes bounds a document's text (a file, or a JSON
// line's text). fn's error stops the reading and is returned.
func ReadSources(ctx context.Context, paths []string, stdin io.Reader, maxBytes int, fn func(Document) error, bad func(*SourceError)) error {
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == "-" {
			if err := readJSONL(ctx, "-", stdin, maxBytes, fn, bad); err != nil {
				return err
			}
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			bad(&SourceError{Path: p, Err: err})
			continue
		}
		if !st.IsDir() {
			if err := readFile(ctx, p, st, maxBytes, fn, bad); err != nil {
				return err
			}
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				bad(&SourceError{Path: path, Err: err})
				if d != nil && d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if path != p && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if d.IsDir() || !d.Type().IsRegular() {
				return nil
			}
			st, err := d.Info()
			if err != nil {
				bad(&SourceError{Path: path, Err: err})
				return nil
			}
			return readFile(ctx, path, st, maxBytes, fn, bad)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func readFile(ctx context.Context, path string, st fs.FileInfo, maxBytes int, fn func(Document) error, bad func(*SourceError)) error {
	ext := strings.ToLower(filepath.Ext(path))
	isJSONL := slices.Contains(jsonlExts, ext)
	switch {
	case isJSONL:
		f, err := os.Open(path)
		if err != nil {
			bad(&SourceError{Path: path, Err: err})
			return nil
		}
		defer f.Close()
		return readJSONL(ctx, path, f, maxBytes, fn, bad)
	case !slices.Contains(textExts, ext):
		bad(&SourceError{Path: path, Err: fmt.Errorf("unsupported format %q: kb add reads %s and %s (convert other formats to text first)",
			ext, strings.Join(textExts, " "), strings.Join(jsonlExts, " "))})
		return nil
	case st.Size() > int64(maxBytes):
		bad(&SourceError{Path: path, Err: fmt.Errorf("%d bytes, more than the %d a document may have (--max-doc-bytes)", st.Size(), maxBytes)})
		return nil
	case st.Size() == 0:
		bad(&SourceError{Path: path, Err: errors.New("empty file")})
		return nil
	}
	b, err := readLimited(path, maxBytes)
	if err != nil {
		bad(&SourceError{Path: path, Err: err})
		return nil
	}
	if looksBinary(b) {
		bad(&SourceError{Path: path, Err: errors.New("a binary file (it holds NUL bytes)")})
		return nil
	}
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark is not text
	return fn(Document{ID: path, Text: string(b)})
}

// readLimited reads a file of at most maxBytes (a file that grew past it since its stat is
// refused, not cut).
func readLimited(path string, maxBytes int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(maxBytes)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxBytes {
		return nil, fmt.Errorf("more than the %d bytes a document may have (--max-doc-bytes)", maxBytes)
	}
	return b, nil
}

// looksBinary: text files do not hold NUL bytes; binary formats nearly always do early.
func looksBinary(b []byte) bool {
	return bytes.IndexByte(b[:min(len(b), 8000)], 0) >= 0
}

// jsonDoc is one JSON line of a document.
type jsonDoc struct {
	ID       json.RawMessage `json:"id"`
	Text     *string         `json:"text"`
	Metadata map[string]any  `json:"metadata"`
	Chunks   []jsonChunk     `json:"chunks"`
}

type jsonChunk struct {
	// Chunk, Tokens and Text are what kb export --documents writes beside the range; Text,
	// when there, must be the text's range.
	Chunk  int       `json:"chunk"`
	Tokens int       `json:"tokens"`
	Text   *string   `json:"text"`
	Start  int       `json:"start"`
	End    int       `json:"end"`
	Dense  []float32 `json:"dense"`
	Sparse *struct {
		Indices []int32   `json:"indices"`
		Values  []float32 `json:"values"`
	} `json:"sparse"`
}

// readJSONL reads one document a line. A line longer than the limit allows (the text's
// maxBytes, plus room for JSON escapes, metadata and vectors) is skipped without being
// held in memory.
func readJSONL(ctx context.Context, path string, r io.Reader, maxBytes int, fn func(Document) error, bad func(*SourceError)) error {
	maxLine := 8*maxBytes + 1<<20
	br := bufio.NewReaderSize(r, 1<<16)
	var line []byte
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		var tooLong bool
		var err error
		line, tooLong, err = readLine(br, line[:0], maxLine)
		if err != nil && err != io.EOF {
			bad(&SourceError{Path: path, Line: n, Err: err})
			return nil
		}
		eof := err == io.EOF
		switch {
		case tooLong:
			bad(&SourceError{Path: path, Line: n, Err: fmt.Errorf("the line is longer than %d bytes", maxLine)})
		case len(bytes.TrimSpace(line)) == 0:
			// blank lines separate nothing
		default:
			doc, err := parseJSONDoc(line, maxBytes)
			if err != nil {
				bad(&SourceError{Path: path, Line: n, Err: err})
			} else if err := fn(doc); err != nil {
				return err
			}
		}
		if eof {
			return nil
		}
	}
}

// readLine appends the next line (without its newline) to dst; a line over max bytes is
// read to its end and dropped (tooLong).
func readLine(br *bufio.Reader, dst []byte, max int) (line []byte, tooLong bool, err error) {
	for {
		frag, err := br.ReadSlice('\n')
		if !tooLong {
			if len(dst)+len(frag) > max+1 {
				tooLong, dst = true, dst[:0]
			} else {
				dst = append(dst, frag...)
			}
		}
		switch err {
		case bufio.ErrBufferFull:
			continue
		case nil:
			return bytes.TrimSuffix(bytes.TrimSuffix(dst, []byte("\n")), []byte("\r")), tooLong, nil
		default:
			return dst, tooLong, err
		}
	}
}

// ParseDocument reads one document object, a JSON line of kb add (see ReadSources) or an
// item of the server's POST /v1/documents: {"id", "text", "metadata", "chunks"}, no other key;
// the id a string or a number (its JSON text); the text at most maxBytes.
func ParseDocument(line []byte, maxBytes int) (Document, error) { return parseJSONDoc(line, maxBytes) }

// parseJSONDoc reads one JSON line into a Document.
func parseJSONDoc(line []byte, maxBytes int) (Document, error) {
	if !utf8.Valid(line) {
		return Document{}, errors.New("the line is not valid UTF-8")
	}
	if err := jsonin.CheckSurrogates(line); err != nil {
		return Document{}, err
	}
	var jd jsonDoc
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&jd); err != nil {
		return Document{}, fmt.Errorf("not a document object {\"id\", \"text\", \"metadata\", \"chunks\"}: %v", err)
	}
	if dec.More() {
		return Document{}, errors.New("more than one JSON value on the line")
	}
	var d Document
	switch {
	case len(jd.ID) == 0 || string(jd.ID) == "null":
		return d, errors.New(`"id" is missing`)
	case jd.ID[0] == '"':
		if err := json.Unmarshal(jd.ID, &d.ID); err != nil {
			return d, fmt.Errorf(`"id": %v`, err)
		}
	case jd.ID[0] == '-' || (jd.ID[0] >= '0' && jd.ID[0] <= '9'):
		d.ID = string(jd.ID) // a number: its JSON text
	default:
		return d, errors.New(`"id" must be a string or a number`)
	}
	if jd.Text == nil {
		return d, errors.New(`"text" is missing`)
	}
	if len(*jd.Text) > maxBytes {
		return d, fmt.Errorf("the text is %d bytes, more than the %d a document may have (--max-doc-bytes)", len(*jd.Text), maxBytes)
	}
	d.Text, d.Metadata = *jd.Text, jd.Metadata
	if jd.Chunks != nil {
		d.Chunks = make([]EmbeddedChunk, len(jd.Chunks))
		for i, c := range jd.Chunks {
			ec := EmbeddedChunk{Start: c.Start, End: c.End, Tokens: c.Tokens, Dense: c.Dense}
			if c.Text != nil && (c.Start < 0 || c.Start > c.End || c.End > len(d.Text) || d.Text[c.Start:c.End] != *c.Text) {
				return d, fmt.Errorf("chunk %d: its \"text\" is not the document's text from %d to %d", i, c.Start, c.End)
			}
			if c.Sparse == nil {
				return d, fmt.Errorf("chunk %d: \"sparse\" is missing: a knowledge base indexes dense and sparse vectors", i)
			}
			ec.SparseIndices, ec.SparseValues = c.Sparse.Indices, c.Sparse.Values
			d.Chunks[i] = ec
		}
	}
	return d, nil
}
