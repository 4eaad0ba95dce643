package server

import (
	"container/list"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"sync"
	"unsafe"

	"github.com/gorerank/gorerank"
	"github.com/gorerank/gorerank/xlmr"
)

// The response cache: one LRU for every route that runs a model. Rerank routes keep a
// pair's logit, embedding routes a text's outputs. It is bounded in bytes (--cache-bytes:
// keys, values and bookkeeping, what the entries hold in memory) and in entries
// (--cache-size); either at 0 turns it off. Embeddings differ in size by four orders of
// magnitude (a dense vector is 4 KiB, the ColBERT output of an 8192-token text 32 MiB) and
// cost the same forward pass, so an entry over 1/cacheEntryShare of the byte budget is not
// cached: those are the outputs that are cheap to recompute for what they would hold.

// cacheKey is a SHA-256 prefix of everything that decides an answer: 16 bytes per entry
// whatever the size of the texts.
type cacheKey [16]byte

// cacheValue is what running the model on one pair or one text produced. A value is shared
// by every hit: nothing may modify it once put.
type cacheValue struct {
	logit     float32         // rerank
	emb       *xlmr.Embedding // embeddings: the outputs asked for, nothing more (nil for rerank)
	tokens    int32           // tokens fed to the model (all windows)
	truncated bool
}

// cacheEntryOverhead is what an entry holds beside its embedding: the list element, the
// entry and its value, the map slot (TestCacheBytesAccounted measures the heap per entry:
// ~140 bytes over 20,000 entries; the map's load varies as it grows).
const cacheEntryOverhead = 200

// cacheEntryShare: an entry over 1/cacheEntryShare of the byte budget is not cached (with
// the default 16 MiB, 256 KiB: the ColBERT output of about 60 tokens of bge-m3, while a
// dense vector takes 4.3 KiB).
const cacheEntryShare = 64

// size is the bytes an entry of v holds.
func (v *cacheValue) size() int64 {
	n := int64(cacheEntryOverhead)
	if e := v.emb; e != nil {
		n += int64(unsafe.Sizeof(*e))
		const sliceHeader, mapHeader, mapSlot = 24, 48, 24 // a map slot: key, value and control byte at Go's load factor, rounded up
		n += int64(4*cap(e.Dense)) + sliceHeader*int64(cap(e.ColBERT))
		for _, row := range e.ColBERT {
			n += int64(4 * cap(row))
		}
		if e.Sparse != nil {
			n += mapHeader + mapSlot*int64(len(e.Sparse))
		}
	}
	return n
}

// lru is a bounded, mutex-guarded least-recently-used map. A nil *lru is a disabled cache.
type lru struct {
	mu         sync.Mutex
	maxEntries int
	maxBytes   int64
	bytes      int64 // held by the entries (cacheValue.size)
	ll         *list.List
	items      map[cacheKey]*list.Element
}

type lruEntry struct {
	key  cacheKey
	val  cacheValue
	size int64
}

// newLRU returns a cache of at most maxEntries entries and maxBytes bytes, or nil (off)
// when either is 0.
func newLRU(maxEntries int, maxBytes int64) *lru {
	if maxEntries <= 0 || maxBytes <= 0 {
		return nil
	}
	return &lru{maxEntries: maxEntries, maxBytes: maxBytes, ll: list.New(), items: make(map[cacheKey]*list.Element)}
}

func (c *lru) get(k cacheKey) (cacheValue, bool) {
	if c == nil {
		return cacheValue{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[k]
	if !ok {
		return cacheValue{}, false
	}
	c.ll.MoveToFront(e)
	return e.Value.(*lruEntry).val, true
}

// put stores v under k unless v is over 1/cacheEntryShare of the byte budget, then evicts
// the least recently used entries until both bounds hold.
func (c *lru) put(k cacheKey, v cacheValue) {
	if c == nil {
		return
	}
	size := v.size()
	if size > c.maxBytes/cacheEntryShare {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		le := e.Value.(*lruEntry)
		c.bytes += size - le.size
		le.val, le.size = v, size
		c.ll.MoveToFront(e)
	} else {
		c.items[k] = c.ll.PushFront(&lruEntry{key: k, val: v, size: size})
		c.bytes += size
	}
	for c.ll.Len() > c.maxEntries || c.bytes > c.maxBytes {
		last := c.ll.Remove(c.ll.Back()).(*lruEntry)
		delete(c.items, last.key)
		c.bytes -= last.size
	}
}

// stats returns the number of entries and the bytes they hold.
func (c *lru) stats() (entries int, bytes int64) {
	if c == nil {
		return 0, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len(), c.bytes
}

// keyHash hashes a tuple: strings and id lists length-prefixed, so that no two different
// tuples share an encoding, and the kind of answer first, so that no rerank key equals an
// embedding key.
type keyHash struct {
	h hash.Hash
	n [8]byte
}

func newKeyHash(kind string) *keyHash {
	k := &keyHash{h: sha256.New()}
	k.str(kind)
	return k
}

func (k *keyHash) int(v int) {
	binary.LittleEndian.PutUint64(k.n[:], uint64(v))
	k.h.Write(k.n[:])
}

func (k *keyHash) str(s string) {
	k.int(len(s))
	k.h.Write([]byte(s))
}

func (k *keyHash) ids(ids []int32) {
	k.int(len(ids))
	for _, id := range ids {
		binary.LittleEndian.PutUint32(k.n[:4], uint32(id))
		k.h.Write(k.n[:4])
	}
}

func (k *keyHash) bool(b bool) {
	v := 0
	if b {
		v = 1
	}
	k.int(v)
}

func (k *keyHash) sum() cacheKey {
	var c cacheKey
	copy(c[:], k.h.Sum(nil))
	return c
}

// rerankKey is the key of a pair's logit: the model, the texts and the checked score
// options (every field but Progress; TestCacheKeysCoverOptions counts the fields).
func rerankKey(model, query, doc string, o gorerank.ScoreOptions) cacheKey {
	k := newKeyHash("rerank")
	k.str(model)
	k.str(query)
	k.str(doc)
	k.str(string(o.Truncation))
	for _, v := range []int{o.MaxLength, o.MaxDocTokens, o.WindowOverlap, o.MaxWindows} {
		k.int(v)
	}
	k.bool(o.Strict)
	k.bool(o.Left)
	return k.sum()
}

// embedKey is the key of a text's embedding: the model, the text (or, for OpenAI's token
// id inputs, the ids: a separate kind of input) and every field of the checked embedding
// options (outputs, max length, truncation and its side). TEI's "normalize" is not in it: it
// changes no output (false is refused for the dense output; sparse and ColBERT ignore it).
func embedKey(model string, in *embedInput, i int, o gorerank.EmbedOptions) cacheKey {
	k := newKeyHash("embed")
	k.str(model)
	if in.texts != nil {
		k.str("text")
		k.str(in.texts[i])
	} else {
		k.str("ids")
		k.ids(in.ids[i])
	}
	k.int(int(o.Outputs))
	k.int(o.MaxLength)
	k.bool(o.Truncate)
	k.bool(o.Left)
	return k.sum()
}

// cachedEmbedding is the part of e that a request for the outputs want holds: a batch
// shared with other requests may have computed more.
func cachedEmbedding(e *xlmr.Embedding, want xlmr.Outputs) *xlmr.Embedding {
	c := &xlmr.Embedding{Outputs: want}
	if want&xlmr.OutputDense != 0 {
		c.Dense = e.Dense
	}
	if want&xlmr.OutputSparse != 0 {
		c.Sparse = e.Sparse
	}
	if want&xlmr.OutputColBERT != 0 {
		c.ColBERT = e.ColBERT
	}
	return c
}
