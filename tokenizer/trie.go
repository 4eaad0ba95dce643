package tokenizer

import (
	"slices"
	"sort"
	"strings"
)

// pieceTrie is a byte trie over the vocabulary pieces, stored as one array of nodes in
// breadth-first order so that the children of a node are contiguous and sorted by label.
// Nodes with many children also get a 256-entry direct table. It is built without
// sorting the pieces (insertion into a first-child/next-sibling trie, then one BFS).
//
// Memory: 16 bytes per node (~1.1M nodes for the XLM-R vocabulary) plus 1 KiB per dense node.
type pieceTrie struct {
	nodes []trieNode
	dense []uint32 // dense tables, 256 entries each: child node index, 0 = none
}

type trieNode struct {
	first uint32 // index of the first child
	id    int32  // piece id ending here, -1 if none
	dense int32  // index of this node's dense table, -1 if none
	n     uint16 // number of children
	label byte   // byte leading to this node
}

const denseMin = 12 // nodes with at least this many children get a direct table

// buildTrie builds the trie from the pieces sorted by bytes: each node is a range of the
// sorted pieces sharing a prefix, expanded breadth-first, so children come out contiguous
// and in label order and memory is read sequentially. A repeated piece maps to its last
// id (as HF's token-to-id map does).
func buildTrie(v *vocabTable) *pieceTrie {
	order := sortPieces(v)

	type rng struct{ lo, hi, depth int32 }
	t := &pieceTrie{nodes: make([]trieNode, 1, v.len()*4)}
	queue := make([]rng, 1, v.len()*4)
	queue[0] = rng{0, int32(len(order)), 0}
	for qi := 0; qi < len(queue); qi++ {
		r := queue[qi]
		nd := trieNode{id: -1, dense: -1, label: t.nodes[qi].label, first: uint32(len(t.nodes))}
		lo, hi, d := r.lo, r.hi, r.depth
		for lo < hi && int32(len(v.piece(order[lo]))) == d {
			nd.id = order[lo] // duplicates are sorted by id: the last one wins
			lo++
		}
		for lo < hi {
			c := v.piece(order[lo])[d]
			j := lo + 1
			for j < hi && v.piece(order[j])[d] == c {
				j++
			}
			t.nodes = append(t.nodes, trieNode{label: c})
			queue = append(queue, rng{lo, j, d + 1})
			nd.n++
			lo = j
		}
		if nd.n >= denseMin {
			nd.dense = int32(len(t.dense) / 256)
			t.dense = append(t.dense, make([]uint32, 256)...)
			tab := t.dense[len(t.dense)-256:]
			for j := nd.first; j < nd.first+uint32(nd.n); j++ {
				tab[t.nodes[j].label] = j
			}
		}
		t.nodes[qi] = nd
	}
	t.nodes = slices.Clip(t.nodes)
	return t
}

// child returns the child of node x with label c, or 0.
func (t *pieceTrie) child(x uint32, c byte) uint32 {
	nd := &t.nodes[x]
	if nd.dense >= 0 {
		return t.dense[int(nd.dense)*256+int(c)]
	}
	kids := t.nodes[nd.first : nd.first+uint32(nd.n)]
	if len(kids) > 4 {
		j := sort.Search(len(kids), func(i int) bool { return kids[i].label >= c })
		if j < len(kids) && kids[j].label == c {
			return nd.first + uint32(j)
		}
		return 0
	}
	for j := range kids {
		if kids[j].label == c {
			return nd.first + uint32(j)
		}
		if kids[j].label > c {
			return 0
		}
	}
	return 0
}

// lookup returns the id of the piece equal to s, or -1.
func (t *pieceTrie) lookup(s string) int32 {
	if s == "" {
		return -1
	}
	x := uint32(0)
	for i := 0; i < len(s); i++ {
		x = t.child(x, s[i])
		if x == 0 {
			return -1
		}
	}
	return t.nodes[x].id
}

// sortPieces returns the ids of the non-empty pieces sorted by bytes, equal pieces by id:
// an LSD radix sort on the first 8 bytes, then a stable sort of the runs of longer pieces
// that share those 8 bytes.
func sortPieces(v *vocabTable) []int32 {
	type item struct {
		key uint64 // first 8 bytes, big-endian, zero padded
		id  int32
	}
	items := make([]item, 0, v.len())
	for id := 0; id < v.len(); id++ {
		p := v.piece(int32(id))
		if p == "" {
			continue // an empty piece can never match
		}
		var k uint64
		for i := 0; i < 8; i++ {
			k <<= 8
			if i < len(p) {
				k |= uint64(p[i])
			}
		}
		items = append(items, item{k, int32(id)})
	}
	tmp := make([]item, len(items))
	for shift := uint(0); shift < 64 && len(items) > 0; shift += 8 { // (no pieces: nothing to sort)
		var count [257]int
		for _, it := range items {
			count[(it.key>>shift)&0xFF+1]++
		}
		if count[((items[0].key>>shift)&0xFF)+1] == len(items) {
			continue // every key has the same digit
		}
		for i := 1; i < 257; i++ {
			count[i] += count[i-1]
		}
		for _, it := range items {
			d := (it.key >> shift) & 0xFF
			tmp[count[d]] = it
			count[d]++
		}
		items, tmp = tmp, items
	}
	order := make([]int32, len(items))
	for i, it := range items {
		order[i] = it.id
	}
	for i := 0; i < len(items); {
		j := i + 1
		long := len(v.piece(items[i].id)) > 8
		for j < len(items) && items[j].key == items[i].key {
			long = long || len(v.piece(items[j].id)) > 8
			j++
		}
		if long && j-i > 1 {
			slices.SortFunc(order[i:j], func(x, y int32) int {
				if c := strings.Compare(v.piece(x), v.piece(y)); c != 0 {
					return c
				}
				return int(x - y)
			})
		}
		i = j
	}
	return order
}
