package rules

import (
	"encoding/binary"
	"hash/maphash"
	"math/bits"
)

// Log lines repeat: the same message comes again and again with other
// addresses, ports and pids. The shape cache remembers, for the shape
// of a message, which template won, so that a line of a known shape
// skips the search.
//
// The shape is the message with every number replaced by one '#'. It is
// made of runs of letters and digits: a run of digits is a number (22,
// the parts of 203.0.113.45); a run of digits and hex letters is one
// beside a colon (an IPv6 group) and a word elsewhere (a hash); a run
// with a letter beyond f is a word (ssh2, sha256, T1110). So ports,
// addresses and pids do not make shapes differ, while words stay as
// written. Numbers of hex letters and numbers of digits only are told
// apart, since a port admits only the latter.
//
// The cache is exact, not a guess. A template whose literals hold no
// number (see numberSensitive) matches two messages of one shape alike
// and with the same rank: every capture type admits all digits or none,
// so such a template cannot tell one number from another. A template with a
// number in its text (":11: ", "DPT=22") can: the ones a search met
// that could have outranked its winner are kept with the shape and
// tried again on each later line of it.
//
// Matching alike means taking the same path: the winner's captures
// start and end at the same places of the shape, so a later line of the
// shape gets them placed (see placement) rather than by running the
// template again, unless a capture ends where a digit may follow it.

// maxShape bounds the shapes that are cached; longer messages are
// searched every time.
const maxShape = 256

// shapeSlots is the size of the two-way cache, per Matcher: about 0.7 MB
// with the rechecks and placements beside it.
const shapeSlots = 4096

// Forms of a message a cached template matched, as MatchIn tries them.
const (
	formBody     uint8 = iota // after the level prefix
	formWhole                 // with the level prefix
	formFunction              // without the function prefix
	formSuffix                // without the ssh error suffix
	formBoth                  // without both
)

// maxRecheck bounds the number-sensitive templates kept with a shape; a
// shape that needs more is not cached.
const maxRecheck = 6

type shapeSlot struct {
	hash, check uint64
	fams        FamilySet
	level       Levels
	form        uint8
	used        bool
	recent      bool      // used more lately than the other slot of its pair
	runs        uint8     // the shape's numbers, up to 255
	length      uint16    // the shape's length
	nCheck      uint8     // templates to try again, in the slot's rechecks
	t           *Template // nil: no entry matches the shape
}

type shapeCache struct {
	slots []shapeSlot
	// rechecks[i] and placed[i] belong to slots[i]; kept apart so that
	// a slot is small and a lookup reads one cache line.
	rechecks [][maxRecheck]*Template
	placed   []placement
	// The shape of the message being matched, and its hashes.
	cur      [maxShape + 8]byte
	n        int
	firstNum int // where in the message its first number starts
	lastNum  int // where in the message its last number ends
	// Where each number of the message starts and ends.
	runStart, runEnd [maxShape/2 + 1]int32
	nRuns            int
	hash, check      uint64
	ok               bool
	// The number-sensitive templates the current search met in the body
	// form, with the best rank they could have reached; and whether it
	// met any in another form (which makes the shape uncacheable).
	sens      [maxRecheck]*Template
	nSens     int
	sensBest  int
	sensOther bool
}

func newShapeCache() *shapeCache {
	return &shapeCache{
		slots:    make([]shapeSlot, shapeSlots),
		rechecks: make([][maxRecheck]*Template, shapeSlots),
		placed:   make([]placement, shapeSlots),
	}
}

// Two hashes of independent random seeds name a shape: 128 bits, so
// that two shapes in one process share both with a chance of about
// n²/2¹²⁸ (no input can aim at it, the seeds being secret), far below
// that of a memory error. A slot also keeps the shape's length and
// number of numbers, and placed captures are checked to lie within the
// message, so that even then no capture could point outside it.
var shapeSeed, checkSeed = maphash.MakeSeed(), maphash.MakeSeed()

// shapeOf computes the shape of msg into s.cur and its hashes. A shape
// is never longer than its message, since '#' stands for a whole number.
//
// It works on runs of letters and digits: a run with a digit and a
// letter beyond f is a word (ssh2, a base64 key) and stays as written; a
// run of digits is a number; a run of digits and hex letters is a number
// beside a colon (an IPv6 group) and a word elsewhere (a hash). The text
// between runs with digits is skipped eight bytes at a time and copied
// whole.
func (s *shapeCache) shapeOf(msg []byte) {
	if len(msg) > maxShape {
		s.ok = false
		return
	}
	n, from := 0, 0 // from: where the text not yet copied starts
	s.firstNum, s.lastNum, s.nRuns = len(msg), 0, 0
	var marks uint64 // where the numbers are in the shape, and which hold hex letters
	for i := nextDigit(msg, 0); i < len(msg); i = nextDigit(msg, i) {
		var kinds uint8
		k := i
		for k > from && alnum[msg[k-1]] != 0 {
			k--
			kinds |= alnum[msg[k]]
		}
		j := i
		for ; j < len(msg) && alnum[msg[j]] != 0; j++ {
			kinds |= alnum[msg[j]]
		}
		i = j
		if !isNumber(msg, k, j, kinds) {
			continue // a word
		}
		if k-from == 1 {
			s.cur[n] = msg[from] // the dot of an address: no call
			n++
		} else {
			n += copy(s.cur[n:], msg[from:k])
		}
		s.cur[n] = '#'
		marks = (marks^(uint64(n)<<1|uint64(kinds&hexLetter)>>1))*0x100000001b3 + 1
		n++
		from = j
		s.firstNum = min(s.firstNum, k)
		s.lastNum = j
		s.runStart[s.nRuns], s.runEnd[s.nRuns] = int32(k), int32(j)
		s.nRuns++
	}
	n += copy(s.cur[n:], msg[from:])
	s.n, s.ok = n, true
	// The marks follow the shape into its hashes: a '#' of the message
	// is not a number, and a number of digits is not one with hex letters
	// (a port admits only the first).
	binary.LittleEndian.PutUint64(s.cur[n:], marks)
	s.hash = maphash.Bytes(shapeSeed, s.cur[:n+8])
	s.check = maphash.Bytes(checkSeed, s.cur[:n+8])
}

// isNumber reports whether the run of letters and digits msg[k:j], which
// holds the given kinds of byte and a digit, is a number of the shape.
func isNumber(msg []byte, k, j int, kinds uint8) bool {
	switch {
	case kinds&otherLetter != 0:
		return false
	case kinds&hexLetter == 0:
		return true
	}
	return k > 0 && msg[k-1] == ':' || j < len(msg) && msg[j] == ':'
}

// The kinds of bytes in a run of letters and digits.
const (
	digit uint8 = 1 << iota
	hexLetter
	otherLetter
)

// alnum classifies the ASCII letters and digits; every other byte is 0.
var alnum = func() (t [256]uint8) {
	for c := range 256 {
		switch b := byte(c); {
		case b >= '0' && b <= '9':
			t[c] = digit
		case isHexLetter(b):
			t[c] = hexLetter
		case isLetter(b):
			t[c] = otherLetter
		}
	}
	return t
}()

// nextDigit returns the index of the first ASCII digit of b at or after
// i, or len(b); eight bytes at a time, as text runs long between digits.
func nextDigit(b []byte, i int) int {
	for ; i+8 <= len(b); i += 8 {
		if m := digitBits(binary.LittleEndian.Uint64(b[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for ; i < len(b); i++ {
		if b[i]-'0' <= 9 {
			return i
		}
	}
	return len(b)
}

// digitBits sets the high bit of each byte of w that is an ASCII digit.
// With the high bits cleared no byte's sum carries into the next, so
// each byte is judged alone: at least '0' when adding 0x50 reaches 0x80,
// at most '9' when adding 0x46 does not.
func digitBits(w uint64) uint64 {
	const low7, high8 = 0x7f7f7f7f7f7f7f7f, 0x8080808080808080
	x := w & low7
	return (x + 0x5050505050505050) &^ (x + 0x4646464646464646) &^ w & high8
}

func isHexLetter(c byte) bool { return c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// lookup returns the index of the slot of the current shape for fams
// and level, or -1. Each shape has two places: its slot and the slot's
// neighbour.
func (s *shapeCache) lookup(fams FamilySet, level Levels) int {
	if !s.ok {
		return -1
	}
	i := s.hash & (shapeSlots - 1)
	for _, j := range [2]uint64{i, i ^ 1} {
		e := &s.slots[j]
		if e.used && e.hash == s.hash && e.check == s.check && e.fams == fams && e.level == level &&
			int(e.length) == s.n && int(e.runs) == min(s.nRuns, 255) {
			e.recent = true
			s.slots[j^1].recent = false
			return int(j)
		}
	}
	return -1
}

// mayMatchShape reports whether t, a number-sensitive template, could
// match some message of the current shape, in the form text, which
// starts at offset m.base of the message. It could not when its fixed
// start or end disagrees with text where every message of the shape is
// the same (before the first number, after the last), or when it needs
// a literal that no number can hold part of (see numberSensitive) and
// text lacks it.
func (m *Matcher) mayMatchShape(t *Template, text []byte) bool {
	s := m.shapes
	k := 0
	for k < len(t.prefix) && k < len(text) && text[k] == t.prefix[k] {
		k++
	}
	if k < len(t.prefix) && k < len(text) && m.base+k < s.firstNum {
		return false
	}
	end := m.base + len(text) // where text ends in the message
	for k = 0; k < len(t.suffix) && k < len(text) && text[len(text)-1-k] == t.suffix[len(t.suffix)-1-k]; k++ {
	}
	if k < len(t.suffix) && k < len(text) && end-1-k >= s.lastNum {
		return false
	}
	for i := range t.needles {
		if t.plainNeedle[i] && !m.hasNeedles(text, t.needles[i:i+1]) {
			return false
		}
	}
	return true
}

// begin readies the cache for a search.
func (s *shapeCache) begin() { s.nSens, s.sensBest, s.sensOther = 0, 0, false }

// met notes a number-sensitive template the search examined, which
// could reach rank bound; body says whether in the message's body form.
func (s *shapeCache) met(t *Template, bound int, body bool) {
	s.sensBest = max(s.sensBest, bound)
	switch {
	case !body:
		s.sensOther = true
	case s.nSens < maxRecheck:
		for _, u := range s.sens[:s.nSens] {
			if u == t {
				return
			}
		}
		s.sens[s.nSens] = t
		s.nSens++
	default:
		s.sensOther = true
	}
}

// store remembers the current shape's winner, r's, and the
// number-sensitive templates that could have beaten it on another line
// of the shape.
func (s *shapeCache) store(fams FamilySet, level Levels, r *Result, form uint8) {
	t, rank := r.Template, r.rank
	if !s.ok || s.sensBest > rank && s.sensOther {
		return
	}
	// Of the shape's two places, take the one not used last.
	i := s.hash & (shapeSlots - 1)
	if s.slots[i].recent {
		i ^= 1
	}
	e := &s.slots[i]
	e.recent, s.slots[i^1].recent = true, false
	e.used, e.hash, e.check, e.fams, e.level, e.t, e.form = true, s.hash, s.check, fams, level, t, form
	e.length, e.runs = uint16(s.n), uint8(min(s.nRuns, 255))
	e.nCheck = 0
	if s.sensBest > rank {
		for _, u := range s.sens[:s.nSens] {
			if u.maxRank > rank && u != t {
				s.rechecks[i][e.nCheck] = u
				e.nCheck++
			}
		}
	}
	s.place(&s.placed[i], r)
}

// Placing the winner's captures. A template that cannot tell numbers
// apart (mappable) matches every message of a shape alike: the same
// path through it, so the same rank, and captures that start and end
// at the same places of the shape. There is then no need to run it on
// another line of the shape: its captures are where they were, moved by
// the difference in length of the numbers before them.

// maxPlaced bounds the captures a placement holds; a winner with more is
// run on each line.
const maxPlaced = 8

// placement holds the winner's captures as places in the shape.
type placement struct {
	ok   bool
	n    uint8
	rank int32
	caps [maxPlaced]placedCapture
}

type placedCapture struct {
	slot       uint8 // the template's capture
	start, end anchor
}

// anchor is a place in a message: off bytes after the end of its number
// run (or after the message's start when run is -1).
type anchor struct{ run, off int16 }

// place records r's captures in p, if its template is mappable and each
// capture starts and ends outside the numbers of the current message.
func (s *shapeCache) place(p *placement, r *Result) {
	p.ok = false
	t := r.Template
	if t == nil || !t.mappable || r.ncaps > maxPlaced {
		return
	}
	for j, c := range r.caps[:r.ncaps] {
		k := t.slotOf(c.Var, c.Group)
		start, ok1 := s.anchorOf(c.Start)
		end, ok2 := s.anchorOf(c.End)
		if k < 0 || !ok1 || !ok2 {
			return
		}
		p.caps[j] = placedCapture{slot: uint8(k), start: start, end: end}
	}
	p.ok, p.n, p.rank = true, uint8(r.ncaps), int32(r.rank)
}

// anchorOf returns the anchor of offset at of the current message, and
// false when it lies inside a number.
func (s *shapeCache) anchorOf(at int) (anchor, bool) {
	run := -1
	for k := range s.nRuns {
		if int(s.runStart[k]) >= at {
			break
		}
		if at < int(s.runEnd[k]) {
			return anchor{}, false
		}
		run = k
	}
	if run < 0 {
		return anchor{-1, int16(at)}, true
	}
	return anchor{int16(run), int16(at - int(s.runEnd[run]))}, true
}

// put sets r to t's match with the captures of p, placed in msg, and
// reports whether each lies within it.
func (s *shapeCache) put(p *placement, t *Template, msg []byte, r *Result) bool {
	for j, c := range p.caps[:p.n] {
		sl := &t.slots[c.slot]
		start, end := s.offset(c.start), s.offset(c.end)
		if start < 0 || start > end || end > len(msg) {
			r.Entry, r.Template, r.ncaps = nil, nil, 0
			return false
		}
		r.caps[j] = Capture{Var: sl.v, Group: sl.group, Start: start, End: end}
	}
	r.Entry, r.Template, r.rank, r.ncaps = t.Entry, t, int(p.rank), int(p.n)
	return true
}

// offset returns the offset of a in the current message.
func (s *shapeCache) offset(a anchor) int {
	if a.run < 0 {
		return int(a.off)
	}
	return int(s.runEnd[a.run]) + int(a.off)
}

// numberSensitive reports whether a template's literals hold text that
// the shape could take for a number: a run of letters and digits, with
// no letter beyond f, that holds a digit and is all digits or stands by
// a colon; or any such run at a literal's edge, where a capture's
// letters, digits or colon may complete it.
func numberSensitive(lits []string) bool {
	for _, l := range lits {
		for i := 0; i < len(l); {
			if !isDigitByte(l[i]) && !isLetter(l[i]) {
				i++
				continue
			}
			start := i
			digit, hexLetter, word := false, false, false
			for ; i < len(l) && (isDigitByte(l[i]) || isLetter(l[i])); i++ {
				switch {
				case isDigitByte(l[i]):
					digit = true
				case isHexLetter(l[i]):
					hexLetter = true
				default:
					word = true
				}
			}
			if word {
				continue
			}
			edge := start == 0 || i == len(l)
			colon := start > 0 && l[start-1] == ':' || i < len(l) && l[i] == ':'
			if edge || digit && (!hexLetter || colon) {
				return true
			}
		}
	}
	return false
}

func isDigitByte(c byte) bool { return c >= '0' && c <= '9' }
