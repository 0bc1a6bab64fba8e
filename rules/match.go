package rules

import (
	"bytes"
	"encoding/binary"
	"sort"
	"unsafe"
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
	prefix table      // by a four-byte start
	suffix table      // by a four-byte end
	short  []shortKey // shorter starts and ends, compared directly
	// shortFirst and shortLast say which first and last bytes some short
	// key starts or ends with, so that most messages skip the list.
	shortFirst, shortLast [256]bool
	floating              bucket
}

// bucket holds templates best-possible first, laid out contiguously with
// what the matcher reads before running one.
type bucket []slotEntry

type slotEntry struct {
	maxRank   int
	fam       FamilySet
	levels    Levels
	sensitive bool // see numberSensitive
	prefix    string
	t         *Template
}

func newBucket(ts []*Template) bucket {
	sortBucket(ts)
	b := make(bucket, len(ts))
	for i, t := range ts {
		b[i] = slotEntry{t.maxRank, t.family, t.levels, t.sensitive, t.prefix, t}
	}
	return b
}

// table maps four-byte keys to buckets with open addressing: a lookup is
// a multiply, a shift and usually one comparison.
type table struct {
	keys    []uint32
	buckets []bucket // nil where the slot is empty
	shift   uint
}

func newTable(m map[uint32][]*Template) table {
	size := 16
	for size < 2*len(m) {
		size *= 2
	}
	t := table{keys: make([]uint32, size), buckets: make([]bucket, size), shift: uint(32 - bitsFor(size))}
	for k, ts := range m {
		i := t.slot(k)
		for t.buckets[i] != nil {
			i = (i + 1) & (size - 1)
		}
		t.keys[i], t.buckets[i] = k, newBucket(ts)
	}
	return t
}

func bitsFor(size int) int {
	n := 0
	for 1<<n < size {
		n++
	}
	return n
}

func (t *table) slot(k uint32) int { return int((k * 0x9E3779B1) >> t.shift) }

func (t *table) get(k uint32) bucket {
	mask := len(t.keys) - 1
	for i := t.slot(k); ; i = (i + 1) & mask {
		b := t.buckets[i]
		if b == nil || t.keys[i] == k {
			return b
		}
	}
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
	var ix index
	var floating []*Template
	prefix, suffix := map[uint32][]*Template{}, map[uint32][]*Template{}
	file := func(keys []string, fromEnd bool, t *Template) {
		for _, k := range keys {
			switch {
			case len(k) < 4:
				ix.short = append(ix.short, shortKey{k, fromEnd, t})
				if fromEnd {
					ix.shortLast[k[len(k)-1]] = true
				} else {
					ix.shortFirst[k[0]] = true
				}
			case fromEnd:
				suffix[keyOf([]byte(k))] = append(suffix[keyOf([]byte(k))], t)
			default:
				prefix[keyOf([]byte(k))] = append(prefix[keyOf([]byte(k))], t)
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
				floating = append(floating, t)
			}
		}
	}
	ix.prefix, ix.suffix, ix.floating = newTable(prefix), newTable(suffix), newBucket(floating)
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
	budget := 256 // paths through optional parts double; give up early
	var walk func(seq []node, acc string)
	walk = func(seq []node, acc string) {
		if budget--; budget < 0 {
			ok = false
		}
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
	sort.SliceStable(b, func(i, j int) bool { return b[i].maxRank > b[j].maxRank })
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

// Span is a byte range of the message given to Match; empty when
// Start == End.
type Span struct{ Start, End int }

// Empty reports whether the span holds nothing.
func (s Span) Empty() bool { return s.End <= s.Start }

// Result is the outcome of matching one message.
type Result struct {
	Entry    *Entry    // nil when nothing matched
	Template *Template // the wording that matched
	Preauth  bool      // the message ended in " [preauth]"
	Postauth bool      // the message ended in " [postauth]"
	TooLong  bool      // the message exceeded MaxMatchLen and was not matched
	Length   int       // the part of the message that was matched

	// Level is the level OpenSSH wrote before the message ("error: ",
	// "fatal: "), or else the one the line's syslog severity implies.
	Level Levels
	// Function is the "function: " prefix of OpenSSH's *_f log calls,
	// and ErrorText the ": <ssh error>" suffix of its *_r calls, when the
	// message matched only without them.
	Function, ErrorText Span

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
	// The current attempt: the families in scope, and the offset of the
	// text being matched within the message given to Match.
	fams FamilySet
	base int
	// withLevel is set while the text still starts with its level, and
	// penalty is the rank that level's literal bytes must not earn.
	withLevel bool
	penalty   int
	// everyTemplate makes the matcher try every template instead of
	// using the index, so that tests can check the index changes nothing.
	everyTemplate bool
	// shapes caches the winner by message shape; nil turns it off.
	shapes *shapeCache
	inBody bool // the search is on the message's body form
	// programs caches Families by program name.
	programs programCache
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
		shapes:    newShapeCache(),
	}
}

// NoShapeCache turns the matcher's shape cache off, so that every
// message is searched: for benchmarks and tests of the search itself.
func (m *Matcher) NoShapeCache() { m.shapes = nil }

const (
	preauthSuffix  = " [preauth]"
	postauthSuffix = " [postauth]"
)

// Input says what the matcher knows of a message besides its text.
type Input struct {
	// Families in scope: those of the program that wrote the line
	// (Catalog.FamiliesOf). AllFamilies when the program is unknown.
	Families FamilySet
	// Severity is the line's syslog severity (0-7), or -1.
	Severity int8
}

// AnyInput is the Input of a bare message.
var AnyInput = Input{Families: AllFamilies, Severity: -1}

// Match classifies a bare message against every family.
func (m *Matcher) Match(msg []byte, r *Result) bool { return m.MatchIn(msg, AnyInput, r) }

// MatchIn classifies msg and reports whether an entry matched. Trailing
// blanks are ignored; a trailing " [preauth]" or " [postauth]" and a
// leading "error: " or "fatal: " are reported in r rather than matched.
// For OpenSSH's families, a message that matches better without its
// "function: " prefix or ": <ssh error>" suffix is matched that way.
// Capture offsets index msg.
func (m *Matcher) MatchIn(msg []byte, in Input, r *Result) bool {
	r.Entry, r.Template, r.Preauth, r.Postauth, r.TooLong, r.ncaps, r.rank = nil, nil, false, false, false, 0, 0
	r.Level, r.Function, r.ErrorText = 0, Span{}, Span{}
	for len(msg) > 0 && isTrailingBlank(msg[len(msg)-1]) {
		msg = msg[:len(msg)-1]
	}
	switch {
	case bytes.HasSuffix(msg, []byte(preauthSuffix)):
		r.Preauth = true
		msg = bytes.TrimRight(msg[:len(msg)-len(preauthSuffix)], " ")
	case bytes.HasSuffix(msg, []byte(postauthSuffix)):
		r.Postauth = true
		msg = bytes.TrimRight(msg[:len(msg)-len(postauthSuffix)], " ")
	}
	r.Length = len(msg)
	if len(msg) > MaxMatchLen {
		r.TooLong = true
		return false
	}
	body, off := msg, 0
	switch {
	case bytes.HasPrefix(msg, []byte("error: ")):
		r.Level, body, off = LevelError, msg[7:], 7
	case bytes.HasPrefix(msg, []byte("fatal: ")):
		r.Level, body, off = LevelFatal, msg[7:], 7
	case in.Severity == 3:
		r.Level = LevelError
	case in.Severity >= 0 && in.Severity <= 2:
		r.Level = LevelFatal
	}
	m.fams = in.Families
	sc := m.shapes
	if sc != nil {
		sc.shapeOf(msg)
		if i := sc.lookup(in.Families, r.Level); i >= 0 && m.replay(i, msg, body, off, r) {
			return r.Entry != nil
		}
		sc.begin()
	}
	form := m.search(msg, body, off, in, r)
	if sc != nil {
		sc.store(in.Families, r.Level, r, form)
	}
	return r.Entry != nil
}

// search finds the best template for msg, whose level prefix (if any)
// ends at off, and reports which form of the message it matched.
func (m *Matcher) search(msg, body []byte, off int, in Input, r *Result) uint8 {
	form := formBody
	m.inBody = true
	m.attempt(body, off, r)
	m.inBody = false
	if off > 0 {
		// Templates copied from a manual may keep the level. The level's
		// bytes earn no rank, so such a template wins only when the rest
		// of it is more specific; entries restricted to a level match the
		// text after it, so that "error: " is never taken for a function.
		m.withLevel, m.penalty = true, off
		if m.attempt(msg, 0, r) {
			form = formWhole
		}
		m.withLevel, m.penalty = false, 0
	}
	// A message that matched an entry of its own wording is done; one
	// that matched nothing, or only a generic entry for internal errors,
	// may match better without the parts OpenSSH's log functions add.
	if in.Families&m.cat.openssh == 0 || r.Entry != nil && r.Entry.Levels == 0 {
		return form
	}
	fn := functionPrefix(body)
	if fn > 0 && m.attempt(body[fn:], off+fn, r) {
		r.Function, form = Span{off, off + fn - 2}, formFunction
	}
	if e := sshErrorSuffix(body); e > 0 {
		stem := body[:len(body)-e]
		if m.attempt(stem, off, r) {
			r.Function, r.ErrorText, form = Span{}, Span{off + len(stem) + 2, off + len(body)}, formSuffix
		}
		if fn > 0 && fn < len(stem) && m.attempt(stem[fn:], off+fn, r) {
			r.Function, r.ErrorText, form = Span{off, off + fn - 2}, Span{off + len(stem) + 2, off + len(body)}, formBoth
		}
	}
	return form
}

// replay runs the template a line of the same shape matched, on the
// same form of this message. It reports false, leaving r as it was,
// when the template does not match after all; MatchIn then searches.
func (m *Matcher) replay(slot int, msg, body []byte, off int, r *Result) bool {
	e := &m.shapes.slots[slot]
	if e.t != nil && !m.replayWinner(slot, msg, body, off, r) {
		return false
	}
	if e.nCheck > 0 {
		// Templates that tell numbers apart, tried on the body as the
		// search would.
		if m.gen++; m.gen == 0 {
			clear(m.needleGen)
			m.gen = 1
		}
		m.base = off
		for _, t := range m.shapes.rechecks[slot][:e.nCheck] {
			if m.tryOne(t, body, r) && (e.form != formBody) {
				r.Function, r.ErrorText = Span{}, Span{}
			}
		}
	}
	return true
}

// replayWinner runs a shape's winner on its form of the message, or
// places its captures where the shape says they are.
func (m *Matcher) replayWinner(slot int, msg, body []byte, off int, r *Result) bool {
	e := &m.shapes.slots[slot]
	text, base, penalty := body, off, 0
	var fn, suffix int
	switch e.form {
	case formWhole:
		text, base, penalty = msg, 0, off
	case formFunction, formBoth:
		if fn = functionPrefix(body); fn == 0 {
			return false
		}
	}
	if e.form == formSuffix || e.form == formBoth {
		if suffix = sshErrorSuffix(body); suffix == 0 || fn >= len(body)-suffix {
			return false
		}
		text = body[:len(body)-suffix]
	}
	if p := &m.shapes.placed[slot]; p.ok {
		if !m.shapes.put(p, e.t, msg, r) {
			return false
		}
	} else {
		text = text[fn:]
		base += fn
		score, ok := m.vm.run(&e.t.prog, len(e.t.slots), text)
		if !ok {
			return false
		}
		m.base = base
		m.keep(e.t, e.t.rank(score)-penalty, r)
	}
	if fn > 0 {
		r.Function = Span{off, off + fn - 2}
	}
	if suffix > 0 {
		r.ErrorText = Span{off + len(body) - suffix + 2, off + len(body)}
	}
	return true
}

// attempt matches text, which starts at offset base of the message, and
// reports whether it gave a better match than r held.
func (m *Matcher) attempt(text []byte, base int, r *Result) bool {
	if m.gen++; m.gen == 0 {
		clear(m.needleGen)
		m.gen = 1
	}
	m.base = base
	before := r.rank
	if m.everyTemplate {
		for _, e := range m.cat.entries {
			for _, t := range e.Templates {
				m.tryOne(t, text, r)
			}
		}
		return r.rank > before
	}
	ix := &m.cat.index
	if len(text) >= 4 {
		if b := ix.prefix.get(keyOf(text[:4])); b != nil {
			m.try(b, text, r)
		}
		if b := ix.suffix.get(keyOf(text[len(text)-4:])); b != nil {
			m.try(b, text, r)
		}
	}
	if len(text) > 0 && (ix.shortFirst[text[0]] || ix.shortLast[text[len(text)-1]]) {
		for i := range ix.short {
			k := &ix.short[i]
			if len(text) < len(k.text) {
				continue
			}
			if k.fromEnd && string(text[len(text)-len(k.text):]) == k.text || !k.fromEnd && string(text[:len(k.text)]) == k.text {
				m.tryOne(k.t, text, r)
			}
		}
	}
	m.try(ix.floating, text, r)
	return r.rank > before
}

// functionPrefix returns the length of a leading "name: " where name is
// a C identifier, as OpenSSH's *_f log calls and older "%s: ", __func__
// messages write, or 0.
func functionPrefix(b []byte) int {
	i := 0
	for i < len(b) && i < 64 && isIdentByte(b[i]) {
		i++
	}
	if i < 2 || i+2 >= len(b) || b[i] != ':' || b[i+1] != ' ' || b[0] >= '0' && b[0] <= '9' {
		return 0
	}
	return i + 2
}

func isIdentByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// sshErrorSuffix returns the length of a trailing ": <ssh error>", where
// the error is one of the texts of OpenSSH's ssh_err(), or 0. One text
// holds ": " itself, so the last two separators are tried.
func sshErrorSuffix(b []byte) int {
	end := len(b)
	for tries := 0; tries < 2; {
		i := bytes.LastIndexByte(b[:end], ':')
		if i < 1 {
			return 0
		}
		end = i
		if i+1 >= len(b) || b[i+1] != ' ' {
			continue
		}
		if _, ok := sshErrorSet[string(b[i+2:])]; ok {
			return len(b) - i
		}
		tries++
	}
	return 0
}

var sshErrorSet = func() map[string]struct{} {
	m := map[string]struct{}{}
	for _, e := range sshErrors {
		m[e] = struct{}{}
	}
	return m
}()

// sshErrors are the texts of ssh_err() (openssh-portable ssherr.c) that
// a *_r log call appends.
var sshErrors = []string{
	"unexpected internal error", "memory allocation failed", "incomplete message",
	"invalid format", "bignum is negative", "string is too large", "bignum is too large",
	"elliptic curve point is too large", "insufficient buffer space", "invalid argument",
	"key bits do not match", "invalid elliptic curve", "key type does not match",
	"unknown or unsupported key type", "elliptic curve does not match",
	"plain key provided where certificate required", "key lacks certificate data",
	"unknown/unsupported certificate type", "invalid certificate signing key",
	"invalid elliptic curve value", "incorrect signature", "error in libcrypto",
	"unexpected bytes remain after decoding", "invalid certificate",
	"communication with agent failed", "agent refused operation", "DH GEX group out of range",
	"disconnected", "message authentication code incorrect", "no matching cipher found",
	"no matching MAC found", "no matching compression method found",
	"no matching key exchange method found", "no matching host key type found",
	"protocol version mismatch", "could not read protocol version", "could not load host key",
	"rekeying not supported by peer", "passphrase is too short (minimum five characters)",
	"file changed while reading", "key encrypted using unsupported cipher",
	"incorrect passphrase supplied to decrypt private key", "bad permissions",
	"certificate does not match key", "key not found", "agent not present",
	"agent contains no identities", "internal error: buffer is read-only",
	"KRL file has invalid magic number", "Key is revoked", "Connection closed",
	"Connection timed out", "Connection corrupted", "Protocol error", "Invalid key length",
	"number is too large", "signature algorithm not supported",
	"requested feature not supported", "device not found", "unknown error",
}

// try runs the templates of one bucket, best-possible first. Templates
// of a bucket often share their prefix (interned when compiled), so the
// last comparison is reused. The cheap tests run inline; only a
// template that passes them all is run.
func (m *Matcher) try(b bucket, msg []byte, r *Result) {
	var lastPrefix *byte
	lastLen, lastOK := -1, false
	for i := range b {
		s := &b[i]
		if s.maxRank-m.penalty <= r.rank {
			return
		}
		if s.fam&m.fams == 0 || s.levels != 0 && (m.withLevel || s.levels&r.Level == 0) {
			continue
		}
		if s.sensitive && m.shapes != nil && m.mayMatchShape(s.t, msg) {
			m.shapes.met(s.t, s.maxRank-m.penalty, m.inBody)
		}
		// Substrings share memory: equal pointers need equal lengths too.
		if p := unsafe.StringData(s.prefix); p != lastPrefix || len(s.prefix) != lastLen {
			lastPrefix, lastLen = p, len(s.prefix)
			lastOK = len(s.prefix) <= len(msg) && string(msg[:len(s.prefix)]) == s.prefix
		}
		if !lastOK {
			continue
		}
		t := s.t
		if len(t.suffix) > 0 && (len(t.suffix) > len(msg) || string(msg[len(msg)-len(t.suffix):]) != t.suffix) {
			continue
		}
		if m.hasNeedles(msg, t.needles) {
			m.run(t, msg, r)
		}
	}
}

// tryOne runs one template and keeps its match if it ranks higher,
// which it reports.
func (m *Matcher) tryOne(t *Template, msg []byte, r *Result) bool {
	if t.maxRank-m.penalty <= r.rank || t.family&m.fams == 0 || t.levels != 0 && (m.withLevel || t.levels&r.Level == 0) {
		return false
	}
	if t.sensitive && m.shapes != nil && m.mayMatchShape(t, msg) {
		m.shapes.met(t, t.maxRank-m.penalty, m.inBody)
	}
	if len(t.prefix) > len(msg) || string(msg[:len(t.prefix)]) != t.prefix {
		return false
	}
	if len(t.suffix) > len(msg) || string(msg[len(msg)-len(t.suffix):]) != t.suffix {
		return false
	}
	if m.hasNeedles(msg, t.needles) {
		return m.run(t, msg, r)
	}
	return false
}

// run matches a template whose prefix, suffix and needles are known to
// be in msg, and keeps the match if it ranks higher than r's, which it
// reports.
func (m *Matcher) run(t *Template, msg []byte, r *Result) bool {
	score, ok := m.vm.run(&t.prog, len(t.slots), msg)
	rank := t.rank(score) - m.penalty
	if !ok || rank <= r.rank {
		return false
	}
	m.keep(t, rank, r)
	return true
}

// keep records t's match, whose captures are in the VM, in r.
func (m *Matcher) keep(t *Template, rank int, r *Result) {
	r.Entry, r.Template, r.rank = t.Entry, t, rank
	r.ncaps = 0
	for k, s := range t.slots {
		start, end := m.vm.caps[2*k], m.vm.caps[2*k+1]
		if start < 0 || end < 0 {
			continue
		}
		r.caps[r.ncaps] = Capture{Var: s.v, Group: s.group, Start: m.base + int(start), End: m.base + int(end)}
		r.ncaps++
	}
}

// hasNeedles reports whether msg holds every needle of a template.
func (m *Matcher) hasNeedles(msg []byte, ids []int) bool {
	for _, id := range ids {
		if m.needleGen[id] != m.gen {
			m.needleGen[id] = m.gen
			if n := m.cat.needles[id]; len(n) == 1 {
				m.needleHit[id] = bytes.IndexByte(msg, n[0]) >= 0
			} else {
				m.needleHit[id] = bytes.Contains(msg, n)
			}
		}
		if !m.needleHit[id] {
			return false
		}
	}
	return true
}
