package rules

import (
	"bytes"
	"fmt"
	"sync"
)

// A template compiles to a small backtracking program, in the manner of
// a regular-expression VM, with two differences that matter here:
// literals are matched as whole strings, and a capture is one lazy span
// instruction that jumps straight to the next place where what follows
// it can start. Lazy spans anchored at the end of the line give the right
// parse for hostile input: in "Failed password for invalid user x from
// 6.6.6.6 port 22 ssh2 from 1.2.3.4 port 5" the user becomes
// "x from 6.6.6.6 port 22 ssh2" and the host 1.2.3.4.

type opcode uint8

const (
	opLit   opcode = iota // input[pos:] starts with lits[arg]
	opCap                 // lazy span of type typ into slot arg
	opSave                // caps[arg] = pos (the bounds of a meaningful group)
	opSplit               // try x, then y
	opJmp                 // continue at x
	opEnd                 // pos == len(input)
)

type inst struct {
	op  opcode
	typ Type
	lit string // for opLit
	// undo: the instruction sits inside an optional or choice part, so the
	// values it records must be restored when matching backs out of it.
	// Captures outside such parts are set again on every path.
	undo bool
	// For a capture: the bytes that can follow it (follow), whether the
	// line may end right after it (endOK), and the one byte that must
	// follow when there is exactly one (single, when hasSingle).
	hasSingle bool
	atEnd     bool // nothing can follow but the end of the line
	endOK     bool
	single    byte
	follow    *[256]bool
	// nextLit is the literal that always follows a capture, when one
	// does: the capture can only end where it starts. litFound: the
	// capture's end is found by looking for nextLit, which is the very
	// next instruction.
	nextLit  []byte
	litFound bool
	// For a split: the fixed text its preferred branch starts with.
	firstText string
	arg       int32
	x, y      int32
}

type program struct {
	insts []inst
	lits  []string
}

// slot describes capture index k (save slots 2k and 2k+1).
type slot struct {
	v     *Var
	group *Group
}

type compiler struct {
	prog  program
	slots []slot
	depth int // nesting of optional and choice parts
}

func compileSeq(seq []node) (program, []slot, error) {
	c := &compiler{}
	if err := c.seq(seq); err != nil {
		return program{}, nil, err
	}
	c.emit(inst{op: opEnd})
	c.linkCaptures()
	c.linkSplits()
	return c.prog, c.slots, nil
}

func (c *compiler) emit(i inst) int32 {
	i.undo = c.depth > 0
	c.prog.insts = append(c.prog.insts, i)
	return int32(len(c.prog.insts) - 1)
}

func (c *compiler) newSlot(s slot) (int32, error) {
	if len(c.slots) >= MaxCaptures {
		return 0, fmt.Errorf("more than %d captures", MaxCaptures)
	}
	c.slots = append(c.slots, s)
	return int32(len(c.slots) - 1), nil
}

func (c *compiler) lit(s string) {
	c.prog.lits = append(c.prog.lits, s)
	c.emit(inst{op: opLit, lit: s, arg: int32(len(c.prog.lits) - 1)})
}

func (c *compiler) seq(seq []node) error {
	for _, n := range seq {
		switch n.kind {
		case nodeLit:
			c.lit(n.lit)
		case nodeCap:
			k, err := c.newSlot(slot{v: n.v})
			if err != nil {
				return err
			}
			c.emit(inst{op: opCap, typ: n.v.Type, arg: k})
		case nodeOpt, nodeAlt:
			if err := c.group(n); err != nil {
				return err
			}
		}
	}
	return nil
}

// group compiles [a] as split(a, skip) and [a|b|c] as a chain of splits.
// A group with a declared meaning records its matched text in a slot.
func (c *compiler) group(n node) error {
	k := int32(-1)
	if n.group != nil {
		var err error
		if k, err = c.newSlot(slot{group: n.group}); err != nil {
			return err
		}
	}
	c.depth++
	defer func() { c.depth-- }()
	if n.kind == nodeOpt {
		split := c.emit(inst{op: opSplit})
		c.prog.insts[split].x = split + 1
		content := n.alts[0]
		if k >= 0 && n.moved {
			// The blank normalize moved in is not part of the group's text.
			c.lit(" ")
			first := content[0]
			first.lit = first.lit[1:]
			content = append([]node{first}, content[1:]...)
			if first.lit == "" {
				content = content[1:]
			}
		}
		if k >= 0 {
			c.emit(inst{op: opSave, arg: 2 * k})
		}
		if err := c.seq(content); err != nil {
			return err
		}
		if k >= 0 {
			c.emit(inst{op: opSave, arg: 2*k + 1})
		}
		c.prog.insts[split].y = int32(len(c.prog.insts))
		return nil
	}
	if k >= 0 {
		c.emit(inst{op: opSave, arg: 2 * k})
	}
	var jumps []int32
	for i, a := range n.alts {
		last := i == len(n.alts)-1
		split := int32(-1)
		if !last {
			split = c.emit(inst{op: opSplit})
			c.prog.insts[split].x = split + 1
		}
		if err := c.seq(a); err != nil {
			return err
		}
		if !last {
			jumps = append(jumps, c.emit(inst{op: opJmp}))
			c.prog.insts[split].y = int32(len(c.prog.insts))
		}
	}
	end := int32(len(c.prog.insts))
	for _, j := range jumps {
		c.prog.insts[j].x = end
	}
	if k >= 0 {
		c.emit(inst{op: opSave, arg: 2*k + 1})
	}
	return nil
}

// linkCaptures records, for every capture, which bytes can follow it, so
// that the matcher jumps to the next place where the capture may end
// instead of trying each byte.
func (c *compiler) linkCaptures() {
	insts := c.prog.insts
	for pc := range insts {
		if insts[pc].op != opCap {
			continue
		}
		follow := new([256]bool)
		endOK := false
		seen := make([]bool, len(insts))
		var walk func(at int32)
		walk = func(at int32) {
			if seen[at] {
				return
			}
			seen[at] = true
			switch in := insts[at]; in.op {
			case opSave:
				walk(at + 1)
			case opJmp:
				walk(in.x)
			case opSplit:
				walk(in.x)
				walk(in.y)
			case opLit:
				follow[c.prog.lits[in.arg][0]] = true
			case opCap:
				for b := range 256 {
					if in.typ.admits(byte(b)) {
						follow[b] = true
					}
				}
				if in.typ.minLen() == 0 {
					walk(at + 1)
				}
			case opEnd:
				endOK = true
			}
		}
		walk(int32(pc + 1))
		follow = followTables.intern(follow)
		insts[pc].follow, insts[pc].endOK = follow, endOK
		n := 0
		for b := range 256 {
			if follow[b] {
				n++
				insts[pc].single = byte(b)
			}
		}
		insts[pc].hasSingle = n == 1
		insts[pc].atEnd = n == 0 && endOK
		// A literal reached without a branch always follows.
		at := int32(pc + 1)
		for insts[at].op == opSave || insts[at].op == opJmp {
			if insts[at].op == opJmp {
				at = insts[at].x
			} else {
				at++
			}
		}
		if insts[at].op == opLit {
			insts[pc].nextLit = []byte(c.prog.lits[insts[at].arg])
			t := insts[pc].typ
			insts[pc].litFound = at == int32(pc+1) && len(insts[pc].nextLit) > 1 && !insts[pc].atEnd && (t == TypeRest || t == TypeUser)
		}
	}
}

// digitMayFollowCapture reports whether a capture may be followed by a
// digit: where a capture ends inside a number depends on the number's
// length, so its captures cannot be placed by the shape.
func (p *program) digitMayFollowCapture() bool {
	for _, in := range p.insts {
		if in.op != opCap {
			continue
		}
		for c := byte('0'); c <= '9'; c++ {
			if in.follow[c] {
				return true
			}
		}
	}
	return false
}

// slotOf returns the index of the template's capture or group, or -1.
func (t *Template) slotOf(v *Var, g *Group) int {
	for k, s := range t.slots {
		if s.v == v && s.group == g {
			return k
		}
	}
	return -1
}

// followTables holds one copy of each distinct follow table: a few dozen
// serve every capture of the catalog, and stay in the CPU's cache.
var followTables = internTable{m: map[[256]bool]*[256]bool{}}

type internTable struct {
	mu sync.Mutex
	m  map[[256]bool]*[256]bool
}

func (t *internTable) intern(f *[256]bool) *[256]bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if g, ok := t.m[*f]; ok {
		return g
	}
	t.m[*f] = f
	return f
}

// linkSplits records the literal each split's preferred branch starts
// with, so that a quick pass can tell at once that the branch fails.
func (c *compiler) linkSplits() {
	insts := c.prog.insts
	for pc := range insts {
		if insts[pc].op != opSplit {
			continue
		}
		text := ""
	scan:
		for at := insts[pc].x; ; {
			switch in := insts[at]; in.op {
			case opSave:
				at++
			case opJmp:
				at = in.x
			case opLit:
				text += in.lit
				at++
			default:
				break scan
			}
		}
		insts[pc].firstText = text
	}
}

// Backtracking.

type frameKind uint8

const (
	frameRetry   frameKind = iota // resume at pc with pos
	frameExtend                   // the capture at pc may also take input[pos]
	frameRestore                  // undo a recorded value: caps[pc] = pos
)

type frame struct {
	kind  frameKind
	pc    int32
	pos   int32
	score int32
}

// vm holds a matcher's reusable scratch space.
type vm struct {
	stack   []frame
	caps    [2 * MaxCaptures]int32
	visited []uint64
	steps   int // work done by the current plain run, in rough instruction units
	work    int // instructions run by every pass so far; tests check it grows linearly
}

// fastStepLimit bounds plain backtracking on one line. Past it the
// program runs again with memoisation, which visits each (instruction,
// position) state at most once: matching stays linear in the line length
// whatever a (user-written) template looks like.
func fastStepLimit(n int) int { return 256 + 8*n }

// run matches p against all of input. It returns the literal bytes
// matched; the captures are in m.caps.
func (m *vm) run(p *program, nslots int, input []byte) (int, bool) {
	for i := range 2 * nslots {
		m.caps[i] = -1
	}
	score, ok, final := m.quick(p, input)
	if ok || final {
		return score, ok
	}
	for i := range 2 * nslots {
		m.caps[i] = -1
	}
	score, ok, done := m.exec(p, input)
	m.work += m.steps
	if done {
		return score, ok
	}
	for i := range 2 * nslots {
		m.caps[i] = -1
	}
	return m.execMemo(p, input)
}

// set records a capture bound, with an undo frame when needed.
func (m *vm) set(ins *inst, slot int32, pos int) {
	if ins.undo {
		m.stack = append(m.stack, frame{kind: frameRestore, pc: slot, pos: m.caps[slot]})
	}
	m.caps[slot] = int32(pos)
}

// quick follows the path the backtracking search tries first, without
// keeping alternatives: at a split it takes the preferred branch unless
// that branch's first literal is not there, and a capture takes its
// first possible end. Most messages match on that path. A failure is
// final only when the path made no guess: no capture could have been
// longer and no split had a live alternative. Otherwise run does the
// full search.
func (m *vm) quick(p *program, input []byte) (score int, ok, final bool) {
	n := len(input)
	insts := p.insts
	pc, pos, sc := int32(0), 0, 0
	guessed := false
	for {
		m.work++
		ins := &insts[pc]
		switch ins.op {
		case opLit:
			if !litAt(input, pos, ins.lit) {
				return 0, false, !guessed
			}
			pos += len(ins.lit)
			sc += len(ins.lit)
			pc++
		case opCap:
			e, ok := capStart(ins.typ, input, pos)
			if !ok {
				return 0, false, !guessed
			}
			if ins.litFound {
				// The common case, inline: the capture ends where the
				// literal that follows it starts.
				i := bytes.Index(input[e:], ins.nextLit)
				if i < 0 {
					return 0, false, !guessed
				}
				e += i
				m.caps[2*ins.arg], m.caps[2*ins.arg+1] = int32(pos), int32(e)
				guessed = true // a later occurrence could also do
				pos = e + len(ins.nextLit)
				sc += len(ins.nextLit)
				pc += 2
				continue
			}
			e, bad := firstEnd(ins, input, e)
			if bad {
				return 0, false, !guessed
			}
			guessed = guessed || e < n && ins.typ.admits(input[e])
			m.caps[2*ins.arg], m.caps[2*ins.arg+1] = int32(pos), int32(e)
			pos = e
			pc++
		case opSave:
			m.caps[ins.arg] = int32(pos)
			pc++
		case opSplit:
			pc = ins.x
			if t := ins.firstText; t != "" && (n-pos < len(t) || string(input[pos:pos+len(t)]) != t) {
				pc = ins.y
			}
			guessed = guessed || pc == ins.x
		case opJmp:
			pc = ins.x
		case opEnd:
			return sc, pos == n, !guessed
		}
	}
}

// firstEnd is the first place at or after e where capture c may end.
func firstEnd(c *inst, input []byte, e int) (int, bool) {
	n := len(input)
	t := c.typ
	anyByte := t == TypeRest || t == TypeUser
	nonBlank := t == TypeWord || t == TypeList
	switch {
	case anyByte && c.atEnd:
		return n, false
	case nonBlank && (c.atEnd || c.hasSingle && c.single == ' '):
		// Only a blank (or the end) can end a word: find it at SIMD speed.
		i := bytes.IndexByte(input[e:], ' ')
		if i < 0 {
			i = n - e
		}
		if bytes.IndexByte(input[e:e+i], '\t') >= 0 {
			return 0, true
		}
		e += i
		if e < n && c.atEnd {
			return 0, true
		}
	case len(c.nextLit) > 1 && anyByte:
		i := bytes.Index(input[e:], c.nextLit)
		if i < 0 {
			return 0, true
		}
		return e + i, false
	case c.hasSingle && anyByte:
		if i := bytes.IndexByte(input[e:], c.single); i >= 0 {
			return e + i, false
		}
		e = n
	default:
		for e < n && !c.follow[input[e]] {
			if !t.admits(input[e]) {
				return 0, true
			}
			e++
		}
	}
	if e == n && !c.endOK {
		return 0, true
	}
	return e, false
}

// exec is plain backtracking. done is false when it gave up at the step
// limit; run then starts over with execMemo.
func (m *vm) exec(p *program, input []byte) (score int, ok, done bool) {
	n := len(input)
	insts := p.insts
	m.stack = m.stack[:0]
	m.steps = 0
	limit := fastStepLimit(n)
	pc, pos, sc := int32(0), 0, int32(0)
	for {
		if m.steps++; m.steps > limit {
			return 0, false, false
		}
		ins := &insts[pc]
		failed := false
		switch ins.op {
		case opLit:
			if failed = !litAt(input, pos, ins.lit); !failed {
				pos += len(ins.lit)
				sc += int32(len(ins.lit))
				pc++
			}
		case opCap:
			e, ok := capStart(ins.typ, input, pos)
			if !ok {
				failed = true
				break
			}
			m.set(ins, 2*ins.arg, pos)
			if e, failed = m.candidate(pc, ins, input, e, sc); !failed {
				m.set(ins, 2*ins.arg+1, e)
				pos = e
				pc++
			}
		case opSave:
			m.set(ins, ins.arg, pos)
			pc++
		case opSplit:
			m.stack = append(m.stack, frame{kind: frameRetry, pc: ins.y, pos: int32(pos), score: sc})
			pc = ins.x
		case opJmp:
			pc = ins.x
		case opEnd:
			if pos == n {
				return int(sc), true, true
			}
			failed = true
		}
		if !failed {
			continue
		}
		// Back up to the most recent alternative.
		resumed := false
		for len(m.stack) > 0 && !resumed {
			f := m.stack[len(m.stack)-1]
			m.stack = m.stack[:len(m.stack)-1]
			switch f.kind {
			case frameRestore:
				m.caps[f.pc] = f.pos
			case frameRetry:
				pc, pos, sc = f.pc, int(f.pos), f.score
				resumed = true
			case frameExtend:
				c := &insts[f.pc]
				if e, bad := m.candidate(f.pc, c, input, int(f.pos)+1, f.score); !bad {
					m.set(c, 2*c.arg+1, e)
					pc, pos, sc = f.pc+1, e, f.score
					resumed = true
				}
			}
		}
		if !resumed {
			return 0, false, true
		}
	}
}

// candidate finds the first place at or after e where the capture at pc
// may end, given that it already covers everything before e, and pushes
// a frame to try a longer capture later.
func (m *vm) candidate(pc int32, c *inst, input []byte, e int, sc int32) (int, bool) {
	start := e
	e, bad := firstEnd(c, input, e)
	if bad {
		return 0, true
	}
	m.steps += (e - start) / 8
	if e < len(input) && c.typ.admits(input[e]) {
		m.stack = append(m.stack, frame{kind: frameExtend, pc: pc, pos: int32(e), score: sc})
	}
	return e, false
}

// execMemo is backtracking that visits each (instruction, position)
// state once, and moves captures one byte at a time so that every state
// is one of those. A state reached again is known to fail.
func (m *vm) execMemo(p *program, input []byte) (int, bool) {
	n := len(input)
	insts := p.insts
	words := (2*len(insts)*(n+1) + 63) / 64
	if cap(m.visited) < words {
		m.visited = make([]uint64, words)
	}
	m.visited = m.visited[:words]
	clear(m.visited)
	seen := func(pc int32, pos int) bool {
		i := int(pc)*(n+1) + pos
		w, b := i>>6, uint64(1)<<(i&63)
		if m.visited[w]&b != 0 {
			return true
		}
		m.visited[w] |= b
		return false
	}
	// fits reports whether the capture c may end at e.
	fits := func(c *inst, e int) bool {
		if e == n {
			return c.endOK
		}
		return c.follow[input[e]]
	}
	m.stack = m.stack[:0]
	pc, pos, sc := int32(0), 0, int32(0)
	for {
		m.work++
		failed := seen(pc, pos)
		if !failed {
			ins := &insts[pc]
			switch ins.op {
			case opLit:
				if failed = !litAt(input, pos, ins.lit); !failed {
					pos += len(ins.lit)
					sc += int32(len(ins.lit))
					pc++
				}
			case opCap:
				e, ok := capStart(ins.typ, input, pos)
				if !ok {
					failed = true
					break
				}
				m.set(ins, 2*ins.arg, pos)
				if e < n && ins.typ.admits(input[e]) {
					m.stack = append(m.stack, frame{kind: frameExtend, pc: pc, pos: int32(e), score: sc})
				}
				if fits(ins, e) {
					m.set(ins, 2*ins.arg+1, e)
					pos = e
					pc++
				} else {
					failed = true
				}
			case opSave:
				m.set(ins, ins.arg, pos)
				pc++
			case opSplit:
				m.stack = append(m.stack, frame{kind: frameRetry, pc: ins.y, pos: int32(pos), score: sc})
				pc = ins.x
			case opJmp:
				pc = ins.x
			case opEnd:
				if pos == n {
					return int(sc), true
				}
				failed = true
			}
		}
		if !failed {
			continue
		}
		resumed := false
		for len(m.stack) > 0 && !resumed {
			f := m.stack[len(m.stack)-1]
			m.stack = m.stack[:len(m.stack)-1]
			switch f.kind {
			case frameRestore:
				m.caps[f.pc] = f.pos
			case frameRetry:
				pc, pos, sc = f.pc, int(f.pos), f.score
				resumed = true
			case frameExtend:
				m.work++
				if seen(int32(len(insts))+f.pc, int(f.pos)) {
					continue
				}
				c := &insts[f.pc]
				e := int(f.pos) + 1
				if e < n && c.typ.admits(input[e]) {
					m.stack = append(m.stack, frame{kind: frameExtend, pc: f.pc, pos: int32(e), score: f.score})
				}
				if fits(c, e) {
					m.set(c, 2*c.arg+1, e)
					pc, pos, sc = f.pc+1, e, f.score
					resumed = true
				}
			}
		}
		if !resumed {
			return 0, false
		}
	}
}

// litAt reports whether lit stands in input at pos.
func litAt(input []byte, pos int, lit string) bool {
	return len(input)-pos >= len(lit) && string(input[pos:pos+len(lit)]) == lit
}

// capStart returns the earliest end of a capture of type t that starts
// at pos, and false when not even its shortest span fits there.
func capStart(t Type, input []byte, pos int) (int, bool) {
	e := pos + t.minLen()
	return e, e <= len(input) && admitsAll(t, input[pos:e])
}

func admitsAll(t Type, b []byte) bool {
	if t == TypeRest || t == TypeUser {
		return true
	}
	for _, c := range b {
		if !t.admits(c) {
			return false
		}
	}
	return true
}
