package mask

import (
	"errors"
	"fmt"
	"math/bits"
	"strings"
	"unicode/utf8"
)

// maxPathLen bounds a declared or granted path, in bytes.
const maxPathLen = 1024

// maxNodes bounds the automaton that one Rules or Scope compiles to: the
// number of distinct path prefixes, root included. A set of active nodes is
// a 128-bit set, which keeps the per-value state small.
const maxNodes = 128

// maxWildcardBytes bounds the total length of the wildcard keys (those with
// * or ?) in the paths of one Rules or Scope. Matching an object key of n
// bytes against a pattern of m bytes takes up to about m*n steps, so the
// limit bounds the matching work for one key to about maxWildcardBytes*n.
// Without it, 127 wildcard keys of 1023 bytes would cost about 130,000 steps
// per byte of every key in a response.
const maxWildcardBytes = 128

// maxIndexDigits is the longest array index a path may use; a longer run of
// digits is only an object key.
const maxIndexDigits = 9

// componentKind is the kind of one dot-separated part of a path.
type componentKind uint8

const (
	compKey      componentKind = iota // a literal object key
	compIndex                         // digits: an array index, or an object key
	compEvery                         // "#": every array element
	compWildcard                      // a key pattern with * or ?
)

// component is one parsed path part. key is unescaped.
type component struct {
	kind  componentKind
	key   string
	index int
}

// CheckPath checks that path uses only the gjson path features that masking
// and projection support: dot-separated keys, "\" escapes (as in "\."), "#"
// for every array element, array indexes and the wildcards "*" and "?" inside
// a key. The wildcard keys of one path may total at most 128 bytes
// (maxWildcardBytes). Every accepted path is a valid gjson path that selects
// the same values, with one exception: a trailing "#" selects every element,
// where gjson returns the array's length.
func CheckPath(path string) error {
	_, err := parsePath(path)
	return err
}

func parsePath(path string) ([]component, error) {
	if path == "" {
		return nil, errors.New("path is empty")
	}
	if len(path) > maxPathLen {
		return nil, fmt.Errorf("path is %d bytes long, the limit is %d", len(path), maxPathLen)
	}
	if !utf8.ValidString(path) {
		return nil, errors.New("path is not valid UTF-8")
	}
	for i := 0; i < len(path); i++ {
		switch path[i] {
		case '\\':
			i++
		case '|':
			return nil, errors.New("pipes (|) are not supported")
		}
	}
	var comps []component
	wildBytes := 0
	for start := 0; ; {
		c, next, err := parseComponent(path, start)
		if err != nil {
			return nil, err
		}
		if c.kind == compWildcard {
			wildBytes += len(c.key)
			if wildBytes > maxWildcardBytes {
				return nil, fmt.Errorf("the wildcard keys of the path total at least %d bytes, "+
					"the limit is %d: use fewer or shorter wildcard keys", wildBytes, maxWildcardBytes)
			}
		}
		comps = append(comps, c)
		if next >= len(path) {
			return comps, nil
		}
		start = next + 1 // past the dot
		if start == len(path) {
			return nil, errors.New("path ends with a dot: remove it, or escape a literal dot as \\.")
		}
	}
}

// parseComponent parses the component at path[start:] and returns the index
// of the dot that ends it, or len(path).
func parseComponent(path string, start int) (component, int, error) {
	switch path[start] {
	case '.':
		return component{}, 0, errors.New(`path has an empty key: escape a literal dot in a key as \.`)
	case '@':
		return component{}, 0, errors.New("modifiers like @reverse are not supported")
	case '!':
		return component{}, 0, errors.New("literals like !true are not supported")
	case '[', '{':
		return component{}, 0, errors.New("multipaths like [a,b] or {a,b} are not supported")
	}
	var key strings.Builder
	escaped, wild := false, false
	i := start
	for ; i < len(path) && path[i] != '.'; i++ {
		switch c := path[i]; c {
		case '\\':
			i++
			if i == len(path) {
				return component{}, 0, errors.New("path ends with a lone backslash")
			}
			escaped = true
			key.WriteByte(path[i])
		case '#':
			if i+1 < len(path) && (path[i+1] == '(' || path[i+1] == '[') {
				return component{}, 0, errors.New("queries like #(...) are not supported")
			}
			if i != start || (i+1 < len(path) && path[i+1] != '.') {
				return component{}, 0, errors.New(`"#" must be a whole key, or escaped as \#`)
			}
			key.WriteByte(c)
		case '*', '?':
			wild = true
			key.WriteByte(c)
		default:
			key.WriteByte(c)
		}
	}
	raw := path[start:i]
	k := key.String()
	switch {
	case raw == "#":
		return component{kind: compEvery, key: k}, i, nil
	case wild && escaped:
		// gjson strips the escapes before it matches a wildcard key, so an
		// escaped character would take on a meaning the writer did not intend.
		return component{}, 0, fmt.Errorf("key %q mixes wildcards with escaped characters, which gjson matches differently: drop the escapes", raw)
	case wild:
		return component{kind: compWildcard, key: k}, i, nil
	case !escaped && len(k) <= maxIndexDigits && allDigits(k):
		return component{kind: compIndex, key: k, index: atoi(k)}, i, nil
	}
	return component{kind: compKey, key: k}, i, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// nodeSet is a set of automaton node ids.
type nodeSet [maxNodes / 64]uint64

func (s *nodeSet) add(id int32) { s[id>>6] |= 1 << (id & 63) }

func (s *nodeSet) empty() bool { return s[0]|s[1] == 0 }

type keyEdge struct {
	key   string
	child int32
}

type indexEdge struct {
	index int
	child int32
}

// node is one path prefix. Edges lead to the prefixes one component longer.
type node struct {
	keys     []keyEdge
	keyIndex map[string]int32 // the keys edges as a map, when there are many
	wild     []keyEdge        // key is the pattern
	indexes  []indexEdge
	every    int32 // child for "#", or -1
	term     int   // class id for Rules, 1 for a granted Scope path; -1 if none
	// keyLens has bit n set when a key edge has length n, or bit 63 for
	// length 63 and above, so most keys that match no edge skip the scan.
	keyLens uint64
}

// keyMapThreshold is the number of key edges above which a map replaces the
// linear scan.
const keyMapThreshold = 8

// tree is a nondeterministic automaton over JSON paths: a trie of path
// components, run on a set of nodes because wildcards let one key follow
// several edges.
type tree struct {
	nodes []node
	words int     // how many words of a nodeSet are in use
	terms nodeSet // nodes with term >= 0
	// wildBytes is the total length of the wildcard edge keys, at most
	// maxWildcardBytes.
	wildBytes int
}

func newTree() *tree {
	return &tree{nodes: []node{{every: -1, term: -1}}}
}

// insert adds a path and returns its final node.
func (t *tree) insert(comps []component) (int32, error) {
	cur := int32(0)
	for _, c := range comps {
		var err error
		cur, err = t.child(cur, c)
		if err != nil {
			return 0, err
		}
	}
	return cur, nil
}

func (t *tree) child(parent int32, c component) (int32, error) {
	n := &t.nodes[parent]
	switch c.kind {
	case compWildcard:
		for _, e := range n.wild {
			if e.key == c.key {
				return e.child, nil
			}
		}
	case compEvery:
		if n.every >= 0 {
			return n.every, nil
		}
	default:
		for _, e := range n.keys {
			if e.key == c.key {
				return e.child, nil
			}
		}
	}
	if len(t.nodes) >= maxNodes {
		return 0, fmt.Errorf("the paths have more than %d distinct prefixes", maxNodes)
	}
	if c.kind == compWildcard {
		if t.wildBytes+len(c.key) > maxWildcardBytes {
			return 0, fmt.Errorf("with wildcard key %q the wildcard keys of these paths "+
				"total %d bytes, the limit is %d: use fewer or shorter wildcard keys",
				c.key, t.wildBytes+len(c.key), maxWildcardBytes)
		}
		t.wildBytes += len(c.key)
	}
	id := int32(len(t.nodes))
	t.nodes = append(t.nodes, node{every: -1, term: -1})
	n = &t.nodes[parent]
	switch c.kind {
	case compWildcard:
		n.wild = append(n.wild, keyEdge{c.key, id})
	case compEvery:
		// gjson reads "#" on an object as the key "#".
		n.every = id
		n.keys = append(n.keys, keyEdge{c.key, id})
	case compIndex:
		// gjson reads digits on an object as a key.
		n.indexes = append(n.indexes, indexEdge{c.index, id})
		n.keys = append(n.keys, keyEdge{c.key, id})
	default:
		n.keys = append(n.keys, keyEdge{c.key, id})
	}
	return id, nil
}

// finish builds the lookup maps and the term set once every path is in.
func (t *tree) finish() {
	t.words = (len(t.nodes) + 63) / 64
	for i := range t.nodes {
		n := &t.nodes[i]
		if n.term >= 0 {
			t.terms.add(int32(i))
		}
		for _, e := range n.keys {
			n.keyLens |= 1 << min(len(e.key), 63)
		}
		if len(n.keys) > keyMapThreshold {
			n.keyIndex = make(map[string]int32, len(n.keys))
			for _, e := range n.keys {
				n.keyIndex[e.key] = e.child
			}
		}
	}
}

// stepKey returns the nodes reached from the set from by the object key key.
func (t *tree) stepKey(from *nodeSet, key []byte) nodeSet {
	var to nodeSet
	for w := 0; w < t.words; w++ {
		for x := from[w]; x != 0; x &= x - 1 {
			n := &t.nodes[w<<6|bits.TrailingZeros64(x)]
			switch {
			case n.keyLens&(1<<min(len(key), 63)) == 0:
				// No key edge has this length.
			case n.keyIndex != nil:
				if c, ok := n.keyIndex[string(key)]; ok {
					to.add(c)
				}
			default:
				for i := range n.keys {
					if n.keys[i].key == string(key) {
						to.add(n.keys[i].child)
					}
				}
			}
			for i := range n.wild {
				if matchWildcard(n.wild[i].key, key) {
					to.add(n.wild[i].child)
				}
			}
		}
	}
	return to
}

// stepIndex returns the nodes reached from the set from by array element
// index.
func (t *tree) stepIndex(from *nodeSet, index int) nodeSet {
	var to nodeSet
	for w := 0; w < t.words; w++ {
		for x := from[w]; x != 0; x &= x - 1 {
			n := &t.nodes[w<<6|bits.TrailingZeros64(x)]
			if n.every >= 0 {
				to.add(n.every)
			}
			for i := range n.indexes {
				if n.indexes[i].index == index {
					to.add(n.indexes[i].child)
				}
			}
		}
	}
	return to
}

// matchWildcard reports whether key matches pattern, where "*" matches any
// run of characters and "?" exactly one character (rune), as gjson does.
func matchWildcard(pattern string, key []byte) bool {
	matched, _ := matchWildcardSteps(pattern, key)
	return matched
}

// matchWildcardSteps is matchWildcard that also returns the number of loop
// steps it took. It backtracks only to the last "*", and each backtrack moves
// that star's end one rune further into key, so the steps are at most
// (len(pattern)+1)*(len(key)+2).
func matchWildcardSteps(pattern string, key []byte) (matched bool, steps int) {
	p, k := 0, 0
	starP, starK := -1, 0
	for k < len(key) {
		steps++
		if p < len(pattern) {
			switch pattern[p] {
			case '*':
				starP, starK = p, k
				p++
				continue
			case '?':
				_, size := utf8.DecodeRune(key[k:])
				p++
				k += size
				continue
			default:
				if pattern[p] == key[k] {
					p++
					k++
					continue
				}
			}
		}
		if starP < 0 {
			return false, steps
		}
		// Let the last star absorb one more character (a whole rune).
		_, size := utf8.DecodeRune(key[starK:])
		starK += size
		p, k = starP+1, starK
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
		steps++
	}
	return p == len(pattern), steps
}
