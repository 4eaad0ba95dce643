package server

import (
	"container/list"
	"crypto/sha256"
	"encoding/binary"
	"sync"

	"github.com/gorerank/gorerank"
)

// cacheKey is a SHA-256 prefix of (model, query, document, options): 16 bytes per entry
// whatever the size of the texts.
type cacheKey [16]byte

// cacheValue is what scoring a pair produced.
type cacheValue struct {
	logit     float32
	tokens    int32 // tokens fed to the model (all windows)
	truncated bool
}

// lru is a bounded, mutex-guarded least-recently-used map. A nil *lru is a disabled cache.
type lru struct {
	mu    sync.Mutex
	max   int
	ll    *list.List
	items map[cacheKey]*list.Element
}

type lruEntry struct {
	key cacheKey
	val cacheValue
}

func newLRU(max int) *lru {
	if max <= 0 {
		return nil
	}
	return &lru{max: max, ll: list.New(), items: make(map[cacheKey]*list.Element)}
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

func (c *lru) put(k cacheKey, v cacheValue) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		e.Value.(*lruEntry).val = v
		c.ll.MoveToFront(e)
		return
	}
	c.items[k] = c.ll.PushFront(&lruEntry{key: k, val: v})
	for c.ll.Len() > c.max {
		last := c.ll.Back()
		c.ll.Remove(last)
		delete(c.items, last.Value.(*lruEntry).key)
	}
}

func (c *lru) len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}

// makeKey hashes everything that changes a logit. Strings are length-prefixed so that no two
// different tuples share an encoding.
// makeKey hashes everything that decides a logit: the model, the texts and the checked
// score options (every field but Progress).
func makeKey(model, query, doc string, o gorerank.ScoreOptions) cacheKey {
	h := sha256.New()
	var n [8]byte
	for _, s := range []string{model, query, doc, string(o.Truncation)} {
		binary.LittleEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	for _, v := range []int{o.MaxLength, o.MaxDocTokens, o.WindowOverlap, o.MaxWindows} {
		binary.LittleEndian.PutUint64(n[:], uint64(v))
		h.Write(n[:])
	}
	h.Write([]byte{b2i(o.Strict), b2i(o.Left)})
	var k cacheKey
	copy(k[:], h.Sum(nil))
	return k
}

func b2i(b bool) byte {
	if b {
		return 1
	}
	return 0
}
