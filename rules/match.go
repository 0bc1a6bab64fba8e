package rules

import (
	"bytes"
	"encoding/binary"
	"sort"
)

// MaxMatchLen bounds the message length the matcher looks at. Longer
// messages are reported as too long and left unclassified: no known SSH
// or VPN message comes near it, and the bound keeps matching time flat.
const MaxMatchLen = 8 << 10

// index dispatches a message to the few templates that can match it.
// A template is filed under every literal text a matching message can
// start with (through leading optional and choice parts), cut to at most
// four bytes; failing that, under every text it can end with; failing
// that, in a short list tried for every message.
type index struct {
	prefix   map[uint32][]*Template // by a four-byte start
	suffix   map[uint32][]*Template // by a four-byte end
	short    []shortKey             // shorter starts and ends, compared directly
	floating []*Template
}

// shortKey files a template under a start or end of one to three bytes.
type shortKey struct {
	text    string
	fromEnd bool
	t       *Template
}

// keyOf packs up to four bytes into a map key.
func keyOf(b []byte) uint32 {
	switch len(b) {
	case 4:
		return binary.LittleEndian.Uint32(b)
	case 3:
		return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
	case 2:
		return uint32(b[0]) | uint32(b[1])<<8
	case 1:
		return uint32(b[0])
	}
	return 0
}

func isTrailingBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func buildIndex(entries []*Entry) index {
	ix := index{prefix: map[uint32][]*Template{}, suffix: map[uint32][]*Template{}}
	file := func(keys []string, fromEnd bool, t *Template) {
		for _, k := range keys {
			switch {
			case len(k) < 4:
				ix.short = append(ix.short, shortKey{k, fromEnd, t})
			case fromEnd:
				ix.suffix[keyOf([]byte(k))] = append(ix.suffix[keyOf([]byte(k))], t)
			default:
				ix.prefix[keyOf([]byte(k))] = append(ix.prefix[keyOf([]byte(k))], t)
			}
		}
	}
	for _, e := range entries {
		for _, t := range e.Templates {
			starts, okStart := literalEnds(t.nodes, false)
			ends, okEnd := literalEnds(t.nodes, true)
			switch {
			case okStart && (!okEnd || shortest(starts) >= shortest(ends)):
				file(starts, false, t)
			case okEnd:
				file(ends, true, t)
			default:
				ix.floating = append(ix.floating, t)
			}
		}
	}
	for _, b := range ix.prefix {
		sortBucket(b)
	}
	for _, b := range ix.suffix {
		sortBucket(b)
	}
	sortBucket(ix.floating)
	return ix
}

func shortest(keys []string) int {
	n := 4
	for _, k := range keys {
		n = min(n, len(k))
	}
	return n
}

// literalEnds lists the literal texts (cut to four bytes) that every
// message matching seq starts with, or ends with when fromEnd is set.
// It reports false when some matching message starts (ends) with a
// capture, or when the alternatives are too many to be worth filing.
func literalEnds(seq []node, fromEnd bool) ([]string, bool) {
	var out []string
	ok := true
	var walk func(seq []node, acc string)
	walk = func(seq []node, acc string) {
		if !ok {
			return
		}
		if len(acc) >= 4 || len(seq) == 0 {
			if acc == "" {
				ok = false
				return
			}
			if len(acc) > 4 {
				if fromEnd {
					acc = acc[len(acc)-4:]
				} else {
					acc = acc[:4]
				}
			}
			if !containsString(out, acc) {
				out = append(out, acc)
			}
			ok = len(out) <= 16
			return
		}
		i, rest := 0, seq[1:]
		if fromEnd {
			i, rest = len(seq)-1, seq[:len(seq)-1]
		}
		join := func(part []node) []node {
			if fromEnd {
				return append(append([]node(nil), rest...), part...)
			}
			return append(append([]node(nil), part...), rest...)
		}
		switch n := seq[i]; n.kind {
		case nodeLit:
			if fromEnd {
				walk(rest, n.lit+acc)
			} else {
				walk(rest, acc+n.lit)
			}
		case nodeCap:
			walk(nil, acc)
		case nodeOpt:
			walk(join(n.alts[0]), acc)
			walk(rest, acc)
		case nodeAlt:
			for _, a := range n.alts {
				walk(join(a), acc)
			}
		}
	}
	walk(seq, "")
	return out, ok
}

// sortBucket orders templates best-possible first, so that the matcher
// can stop once no remaining template could beat the best match.
func sortBucket(b []*Template) {
	sort.SliceStable(b, func(i, j int) bool { return b[i].rank(b[i].maxScore) > b[j].rank(b[j].maxScore) })
}

// rank orders matches: any full template beats any host-elided variant,
// then more literal bytes win (DESIGN.md §5, "most specific wins").
func (t *Template) rank(score int) int {
	if t.Elided {
		return score
	}
	return score + 1<<20
}

// Capture is one captured value: a byte range of the matched message,
// and what it is.
type Capture struct {
	Var        *Var   // the capture, or nil for a group
	Group      *Group // the optional or choice part, or nil for a capture
	Start, End int    // offsets into the message given to Match
}

// Result is the outcome of matching one message.
type Result struct {
	Entry    *Entry    // nil when nothing matched
	Template *Template // the wording that matched
	Preauth  bool      // the message ended in " [preauth]"
	TooLong  bool      // the message exceeded MaxMatchLen and was not matched
	Length   int       // the part of the message that was matched

	caps  [MaxCaptures]Capture
	ncaps int
	rank  int
}

// Captures returns the captured values in template order. Optional
// parts that did not match are left out.
func (r *Result) Captures() []Capture { return r.caps[:r.ncaps] }

// Code returns the entry's code, or Unclassified.
func (r *Result) Code() string {
	if r.Entry == nil {
		return Unclassified
	}
	return r.Entry.Code
}

// Matcher classifies messages against a catalog. It keeps scratch space
// between calls so that matching does not allocate; a Matcher is not
// safe for concurrent use, so give each goroutine its own.
type Matcher struct {
	cat *Catalog
	vm  vm
	// needle[i] caches whether the current message holds the catalog's
	// needle i: valid when needleGen[i] == gen.
	needleGen []uint32
	needleHit []bool
	gen       uint32
}

// NewMatcher returns a Matcher for c.
func (c *Catalog) NewMatcher() *Matcher {
	return &Matcher{
		cat:       c,
		vm:        vm{stack: make([]frame, 0, 64)},
		needleGen: make([]uint32, len(c.needles)),
		needleHit: make([]bool, len(c.needles)),
	}
}

const preauthSuffix = " [preauth]"

// Match classifies msg and reports whether an entry matched. Trailing
// blanks are ignored, and a trailing " [preauth]" is reported in
// r.Preauth rather than matched. Capture offsets index msg.
func (m *Matcher) Match(msg []byte, r *Result) bool {
	*r = Result{}
	for len(msg) > 0 && isTrailingBlank(msg[len(msg)-1]) {
		msg = msg[:len(msg)-1]
	}
	if bytes.HasSuffix(msg, []byte(preauthSuffix)) {
		r.Preauth = true
		msg = bytes.TrimRight(msg[:len(msg)-len(preauthSuffix)], " ")
	}
	r.Length = len(msg)
	if m.gen++; m.gen == 0 {
		clear(m.needleGen)
		m.gen = 1
	}
	if len(msg) > MaxMatchLen {
		r.TooLong = true
		return false
	}
	ix := &m.cat.index
	if len(msg) >= 4 {
		if b, ok := ix.prefix[keyOf(msg[:4])]; ok {
			m.try(b, msg, r)
		}
		if b, ok := ix.suffix[keyOf(msg[len(msg)-4:])]; ok {
			m.try(b, msg, r)
		}
	}
	for i := range ix.short {
		k := &ix.short[i]
		if len(msg) < len(k.text) {
			continue
		}
		if k.fromEnd && string(msg[len(msg)-len(k.text):]) == k.text || !k.fromEnd && string(msg[:len(k.text)]) == k.text {
			m.tryOne(k.t, msg, r)
		}
	}
	m.try(ix.floating, msg, r)
	return r.Entry != nil
}

// try runs the templates of one bucket, best-possible first.
func (m *Matcher) try(bucket []*Template, msg []byte, r *Result) {
	for _, t := range bucket {
		if t.rank(t.maxScore) <= r.rank {
			return
		}
		m.tryOne(t, msg, r)
	}
}

// tryOne runs one template and keeps its match if it ranks higher.
func (m *Matcher) tryOne(t *Template, msg []byte, r *Result) {
	if t.rank(t.maxScore) <= r.rank {
		return
	}
	if len(t.prefix) > len(msg) || string(msg[:len(t.prefix)]) != t.prefix {
		return
	}
	if len(t.suffix) > len(msg) || string(msg[len(msg)-len(t.suffix):]) != t.suffix {
		return
	}
	if !m.hasNeedles(msg, t.needles) {
		return
	}
	score, ok := m.vm.run(&t.prog, len(t.slots), msg)
	if !ok || t.rank(score) <= r.rank {
		return
	}
	r.Entry, r.Template, r.rank = t.Entry, t, t.rank(score)
	r.ncaps = 0
	for k, s := range t.slots {
		start, end := m.vm.caps[2*k], m.vm.caps[2*k+1]
		if start < 0 || end < 0 {
			continue
		}
		r.caps[r.ncaps] = Capture{Var: s.v, Group: s.group, Start: int(start), End: int(end)}
		r.ncaps++
	}
}

// hasNeedles reports whether msg holds every needle of a template.
func (m *Matcher) hasNeedles(msg []byte, ids []int) bool {
	for _, id := range ids {
		if m.needleGen[id] != m.gen {
			m.needleGen[id] = m.gen
			m.needleHit[id] = bytes.Contains(msg, m.cat.needles[id])
		}
		if !m.needleHit[id] {
			return false
		}
	}
	return true
}
