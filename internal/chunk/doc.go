// Package chunk splits a document into chunks of at most a given number of tokens, as the
// model's tokenizer counts them, at the best boundaries that fit, for the knowledge base
// (issue #19: documents are split into chunks, embedded, recalled, reranked). A chunk is a
// pair of byte offsets into the text; the package never copies the text.
//
// It is not a sentence segmenter or a Markdown parser: boundaries are found by a few
// punctuation and white-space rules, good enough to keep sentences and paragraphs whole.
//
// # Boundaries
//
// From best to worst:
//
//  1. the end of the text;
//  2. a paragraph break: a blank line (two line breaks or more, \f, U+2029), or a line break
//     before a Markdown heading ("## Title");
//  3. a line break;
//  4. a sentence end: . ! ? … followed by white space (closing quotes and brackets may come
//     between); 。！？；｡ and ।॥؟۔։።။ with or without white space after;
//  5. a clause: , ; : ، ؛ followed by white space; ，、：､ with or without;
//  6. white space;
//  7. a token boundary of the tokenization of the text (a long word, a base64 blob, Chinese
//     without punctuation).
//
// A list number ("12. " at the start of a line) does not end a sentence, and the break after a
// heading line counts as white space only, so that a heading goes with what follows it.
//
// # Choice
//
// A chunk starts at a character that is not white space. Among the boundaries where it may
// end within MaxTokens, those that give it at least a quarter of the room (of the room after
// the overlap) are candidates; the chunk ends at the last candidate of the best level. So a
// chunk is as many whole paragraphs as fit, else as many whole lines, else sentences, and so
// on down to token boundaries, and a short heading or paragraph is not left alone in a chunk
// when what follows does not fit. Where no boundary is a candidate the chunk ends at the last
// token boundary that fits, else at the best boundary that fits. Chunks do not end with white
// space.
//
// With Overlap > 0 the next chunk starts inside the previous one, at the start of the best
// boundary (same order, same quarter rule, earliest first) whose text to the end of the
// previous chunk alone is at most Overlap tokens; token boundaries only where the previous
// chunk itself ended at one. If nothing fits, or the previous chunk ends before a Markdown
// heading, the chunks do not overlap.
//
// # Guarantees
//
// For text valid UTF-8 and Options valid, Split returns chunks such that:
//
//   - text[c.Start:c.End] neither starts nor ends with white space (unicode.IsSpace), and
//     both offsets are on rune boundaries;
//   - c.Tokens is the number of tokens of text[c.Start:c.End] alone, no special tokens, as
//     tokenizer.AppendIDs counts them (the scoring pipeline's count; the same as Encode's for
//     any chunk under 64 KB), and c.Tokens ≤ MaxTokens;
//   - Start and End both increase strictly from chunk to chunk; every byte that is not white
//     space is in at least one chunk;
//   - a chunk overlaps the one before only if Overlap > 0, and then text[next.Start:prev.End]
//     alone is at most Overlap tokens;
//
// or an error: *UTF8Error, ErrOptions, *UnsplittableError (a character alone takes more than
// MaxTokens tokens, e.g. MaxTokens 1 and "中", which is "▁", "中"), or the tokenizer's.
//
// # How it counts
//
// The tokenization of a piece alone can differ from its part of the whole text's: alone it
// gets a leading "▁" (one more token before Chinese), and a cut inside a word changes the
// word's pieces. So the chunk ends are chosen from estimates and every chunk is counted
// again alone. The estimates come from the tokenization of the text in context, made a block
// (32 KB, cut after white space where there is some) at a time as the chunks move forward;
// the tokens before the current chunk are forgotten. A chunk that starts after a character
// other than white space reserves one token for the "▁". When the count alone is over
// MaxTokens, the end is chosen again with the estimate lowered by the excess (and 1, 2, 4, ...
// more tokens on each further try); in the tests this happens to about one chunk in a
// thousand. The overlap is counted alone too, and a later start tried when it is over.
//
// Costs: each byte is tokenized once in context and once alone (plus the overlaps: about
// 2 + 2·Overlap/MaxTokens tokenizations a byte in all), so Split runs at about half the
// tokenizer's speed; boundaries are scanned once. Memory beyond the text and the returned
// []Chunk is O(MaxTokens + block): a 100 MB line without a boundary is split holding a few MB.
// A window never looks more than max(128 KB, 64·MaxTokens) bytes ahead, so text that
// tokenizes to almost nothing (a long run of zero-width characters) makes chunks of that many
// bytes at most. Allocation is the tokenizer's (one Encode a block, one AppendIDs a chunk);
// the chunker reuses its buffers.
package chunk
