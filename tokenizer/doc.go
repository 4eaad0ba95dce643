// Package tokenizer reads HF tokenizer.json files of the SentencePiece Unigram family
// (XLM-RoBERTa, BAAI/bge-reranker-v2-m3, bge-m3) and encodes texts and (query, document)
// pairs exactly as the HF tokenizers Rust crate does: same ids, tokens and offsets on every
// golden case of testdata/tokenizer (see tokenizer/README.md).
//
// It is not a general HF tokenizers port: it implements only the components these models
// use, and any other component is an *UnsupportedError naming it.
//
//   - added tokens, split out of the raw text first (leftmost-longest match), with
//     special, lstrip, rstrip, single_word and normalized (normalized ones are matched in
//     the normalized text);
//   - normalizers Sequence, Precompiled (SentencePiece charsmap), Strip, Replace (string or
//     regex), NFC, NFD, NFKC, NFKD, Lowercase;
//   - pre-tokenizers Metaspace (prepend_scheme layout and the older add_prefix_space
//     layout), WhitespaceSplit, Sequence;
//   - model Unigram (Viterbi, unk_id, consecutive unknown characters fused into one <unk>,
//     byte_fallback);
//   - post-processors TemplateProcessing and RobertaProcessing (trim_offsets is accepted
//     and ignored: it only matters for byte-level BPE tokens); decoder Metaspace.
//
// The spec is the behaviour of HF tokenizers 0.22; /work/shared/golden/README.md §1 (in the
// repository: the golden kit's README) lists the points that are easy to get wrong. Those
// that this package reproduces on purpose:
//
//   - Precompiled works grapheme by grapheme: a grapheme shorter than 6 bytes is replaced
//     whole by the entry of the shortest trie key that prefixes it; longer graphemes are
//     mapped character by character.
//   - Alignments follow HF's NormalizedString rules, including their oddities: a character
//     that replaces several (é from e+U+0301) is aligned to the first one only, an inserted
//     character takes the alignment of the character before it, and the "▁" that replaces a
//     run of spaces is aligned to the last space.
//   - Truncation is HF's truncate_encodings (longest_first, only_first, only_second;
//     direction right or left; stride 0), with HF's error messages.
//
// Offsets. Encoding.Offsets are [start, end) in Unicode code points of the text the token
// came from (the query or the document of a pair); ByteOffsets are the same in bytes.
// Special tokens added by the template have [0, 0].
//
// Invalid UTF-8. Each byte that is not part of a valid UTF-8 sequence is read as U+FFFD,
// as Go's range loop decodes it (one code point per bad byte, so code-point offsets count
// the bad bytes one each), and ByteOffsets point back into the original bytes. With the
// XLM-R charsmap U+FFFD normalizes to a space.
//
// Implementation. Nothing of github.com/nlpodyssey/gotokenizers is used: it has no Unigram,
// Metaspace or Precompiled, and its NormalizedString keeps rune slices and allocates per
// operation, where this package keeps one byte buffer with a per-byte alignment and reuses
// it. Grapheme clusters come from github.com/rivo/uniseg (Unicode 15.0), NFC/NFD/NFKC/NFKD
// from golang.org/x/text/unicode/norm. The vocabulary (250,002 pieces for XLM-R) is one
// string plus offsets and a byte trie laid out breadth-first (children contiguous and
// sorted, 256-entry tables for wide nodes), built from a radix sort of the pieces; the
// 17 MB JSON is scanned once by a small validating scanner, the vocabulary parsed in place.
// Approximations outside the golden set: NFx alignments are per normalization segment;
// Lowercase maps character by character (Rust char::to_lowercase); Replace regexes use Go
// RE2 syntax (a pattern RE2 cannot compile is a load error); the file's "truncation" and
// "padding" sections are ignored (truncation is per call, via Options).
//
// Concurrency and allocation. A Tokenizer is immutable after Load/Parse and safe for
// concurrent use; per-call working memory comes from a sync.Pool. Encode and EncodePair
// allocate the returned Encoding (one slice per field) and a string per unknown token.
package tokenizer
