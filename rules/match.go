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

// index dispatches a message to the few templates that can match it:
// by its first four bytes when the template starts with at least four
// literal bytes, else by its last four bytes, else to a short list tried
// for every line.
type index struct {
	prefix   map[uint32][]*Template
	suffix   map[uint32][]*Template
	floating []*Template
}

func key4(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }

func buildIndex(entries []*Entry) index {
	ix := index{prefix: map[uint32][]*Template{}, suffix: map[uint32][]*Template{}}
	for _, e := range entries {
		for _, t := range e.Templates {
			switch {
			case len(t.prefix) >= 4:
				k := key4([]byte(t.prefix))
				ix.prefix[k] = append(ix.prefix[k], t)
			case len(t.suffix) >= 4:
				k := key4([]byte(t.suffix[len(t.suffix)-4:]))
				ix.suffix[k] = append(ix.suffix[k], t)
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
}

// NewMatcher returns a Matcher for c.
func (c *Catalog) NewMatcher() *Matcher {
	return &Matcher{cat: c, vm: vm{stack: make([]frame, 0, 64)}}
}

const preauthSuffix = " [preauth]"

// Match classifies msg and reports whether an entry matched. Trailing
// blanks are ignored, and a trailing " [preauth]" is reported in
// r.Preauth rather than matched. Capture offsets index msg.
func (m *Matcher) Match(msg []byte, r *Result) bool {
	*r = Result{}
	msg = bytes.TrimRight(msg, " \t\r\n")
	if bytes.HasSuffix(msg, []byte(preauthSuffix)) {
		r.Preauth = true
		msg = bytes.TrimRight(msg[:len(msg)-len(preauthSuffix)], " ")
	}
	r.Length = len(msg)
	if len(msg) > MaxMatchLen {
		r.TooLong = true
		return false
	}
	ix := &m.cat.index
	if len(msg) >= 4 {
		if b, ok := ix.prefix[key4(msg)]; ok {
			m.try(b, msg, r)
		}
		if b, ok := ix.suffix[key4(msg[len(msg)-4:])]; ok {
			m.try(b, msg, r)
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
		if len(t.prefix) > len(msg) || string(msg[:len(t.prefix)]) != t.prefix {
			continue
		}
		if len(t.suffix) > len(msg) || string(msg[len(msg)-len(t.suffix):]) != t.suffix {
			continue
		}
		score, ok := m.vm.run(&t.prog, len(t.slots), msg)
		if !ok || t.rank(score) <= r.rank {
			continue
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
}
