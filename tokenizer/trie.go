package tokenizer

import "sort"

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

// buildTrie inserts every piece; a repeated piece maps to its last id (as HF's
// token-to-id map does).
func buildTrie(v *vocabTable) *pieceTrie {
	// Phase 1: first-child / next-sibling trie.
	type bnode struct {
		child, next uint32 // 0 = none (node 0 is the root, never a child)
		id          int32
		label       byte
		nkids       uint16
	}
	b := make([]bnode, 1, len(v.pieces)+1)
	b[0].id = -1
	for id := 0; id < v.len(); id++ {
		p := v.piece(int32(id))
		if p == "" {
			continue // an empty piece can never match
		}
		cur := uint32(0)
		for i := 0; i < len(p); i++ {
			c := p[i]
			k := b[cur].child
			prev := uint32(0)
			for k != 0 && b[k].label < c {
				prev, k = k, b[k].next
			}
			if k == 0 || b[k].label != c {
				nk := uint32(len(b))
				b = append(b, bnode{next: k, id: -1, label: c})
				if prev == 0 {
					b[cur].child = nk
				} else {
					b[prev].next = nk
				}
				b[cur].nkids++
				k = nk
			}
			cur = k
		}
		b[cur].id = int32(id)
	}
	// Phase 2: breadth-first layout; siblings are already sorted by label.
	t := &pieceTrie{nodes: make([]trieNode, 1, len(b))}
	t.nodes[0] = trieNode{id: b[0].id, dense: -1}
	queue := make([]uint32, 1, len(b)) // queue[i] = builder index of t.nodes[i]
	for i := 0; i < len(queue); i++ {
		bn := &b[queue[i]]
		t.nodes[i].first = uint32(len(t.nodes))
		t.nodes[i].n = bn.nkids
		for k := bn.child; k != 0; k = b[k].next {
			queue = append(queue, k)
			t.nodes = append(t.nodes, trieNode{id: b[k].id, dense: -1, label: b[k].label})
		}
		if bn.nkids >= denseMin {
			t.nodes[i].dense = int32(len(t.dense) / 256)
			tab := make([]uint32, 256)
			for j := t.nodes[i].first; j < t.nodes[i].first+uint32(bn.nkids); j++ {
				tab[t.nodes[j].label] = j
			}
			t.dense = append(t.dense, tab...)
		}
	}
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
