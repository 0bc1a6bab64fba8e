package rules

import (
	"bytes"
	"fmt"
)

// A template compiles to a small backtracking program, in the manner of
// a regular-expression VM, with two differences that matter here:
// literals are matched as whole strings, and a capture is one lazy span
// instruction that jumps straight to the next place where the following
// literal could start. Lazy spans anchored at the end of the line give
// the right parse for hostile input: in "Failed password for invalid
// user x from 6.6.6.6 port 22 ssh2 from 1.2.3.4 port 5" the user becomes
// "x from 6.6.6.6 port 22 ssh2" and the host 1.2.3.4.

type opcode uint8

const (
	opLit   opcode = iota // in[pos:] starts with lits[arg]
	opSpan                // lazy capture span of type typ
	opSave                // slot arg = pos
	opSplit               // try x, then y
	opJmp                 // continue at x
	opEnd                 // pos == len(in)
)

type inst struct {
	op      opcode
	typ     Type
	hasNext bool // the instruction after a span starts with byte next
	toEnd   bool // the instruction after a span is opEnd
	next    byte
	arg     int32
	x, y    int32
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
}

func compileSeq(seq []node) (program, []slot, error) {
	c := &compiler{}
	if err := c.seq(seq); err != nil {
		return program{}, nil, err
	}
	c.emit(inst{op: opEnd})
	c.linkSpans()
	return c.prog, c.slots, nil
}

func (c *compiler) emit(i inst) int32 {
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

func (c *compiler) seq(seq []node) error {
	for _, n := range seq {
		switch n.kind {
		case nodeLit:
			c.prog.lits = append(c.prog.lits, n.lit)
			c.emit(inst{op: opLit, arg: int32(len(c.prog.lits) - 1)})
		case nodeCap:
			k, err := c.newSlot(slot{v: n.v})
			if err != nil {
				return err
			}
			c.emit(inst{op: opSave, arg: 2 * k})
			c.emit(inst{op: opSpan, typ: n.v.Type})
			c.emit(inst{op: opSave, arg: 2*k + 1})
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
	if n.kind == nodeOpt {
		split := c.emit(inst{op: opSplit})
		c.prog.insts[split].x = split + 1
		content := n.alts[0]
		if k >= 0 && n.moved {
			// The blank normalize moved in is not part of the group's text.
			if err := c.seq([]node{{kind: nodeLit, lit: " "}}); err != nil {
				return err
			}
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

// linkSpans records, for every span, what must follow it, so that the
// matcher can jump to the next candidate end instead of trying each byte.
func (c *compiler) linkSpans() {
	insts := c.prog.insts
	for pc := range insts {
		if insts[pc].op != opSpan {
			continue
		}
		next := int32(pc + 1)
		for steps := 0; steps < len(insts); steps++ {
			switch insts[next].op {
			case opSave:
				next++
				continue
			case opJmp:
				next = insts[next].x
				continue
			case opLit:
				insts[pc].hasNext = true
				insts[pc].next = c.prog.lits[insts[next].arg][0]
			case opEnd:
				insts[pc].toEnd = true
			}
			break
		}
	}
}

// Backtracking.

type frameKind uint8

const (
	frameRetry   frameKind = iota // resume at pc with pos
	frameExtend                   // the span at pc may also take in[pos]
	frameRestore                  // undo a save: caps[slot] = old
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
	steps   int // work done by the current fast run, in rough instruction units
}

// fastStepLimit bounds plain backtracking on one line. Past it the
// program runs again with memoisation, which visits each (instruction,
// position) state at most once: matching stays linear in the line length
// whatever a (user-written) template looks like.
func fastStepLimit(n int) int { return 256 + 8*n }

// run matches p against all of input. It returns the literal bytes matched.
func (m *vm) run(p *program, nslots int, input []byte) (int, bool) {
	score, ok, done := m.exec(p, nslots, input, false)
	if done {
		return score, ok
	}
	score, ok, _ = m.exec(p, nslots, input, true)
	return score, ok
}

// exec runs p once. done is false when plain backtracking gave up at the
// step limit; the caller then runs it again with memo set.
func (m *vm) exec(p *program, nslots int, input []byte, memo bool) (score int, ok, done bool) {
	n := len(input)
	insts := p.insts
	if memo {
		words := (2*len(insts)*(n+1) + 63) / 64
		if cap(m.visited) < words {
			m.visited = make([]uint64, words)
		}
		m.visited = m.visited[:words]
		clear(m.visited)
	}
	for i := range 2 * nslots {
		m.caps[i] = -1
	}
	m.stack = m.stack[:0]
	m.steps = 0
	limit := fastStepLimit(n)
	pc, pos, sc := int32(0), 0, int32(0)

	// seen marks a state and reports whether it was already explored, and
	// so is known to fail. Extension states use pcs past the program.
	seen := func(pc int32, pos int) bool {
		i := int(pc)*(n+1) + pos
		w, b := i>>6, uint64(1)<<(i&63)
		if m.visited[w]&b != 0 {
			return true
		}
		m.visited[w] |= b
		return false
	}

	for {
		if !memo {
			if m.steps++; m.steps > limit {
				return 0, false, false
			}
		}
		failed := memo && seen(pc, pos)
		if !failed {
			ins := &insts[pc]
			switch ins.op {
			case opLit:
				lit := p.lits[ins.arg]
				if n-pos >= len(lit) && string(input[pos:pos+len(lit)]) == lit {
					pos += len(lit)
					sc += int32(len(lit))
					pc++
				} else {
					failed = true
				}
			case opSave:
				m.stack = append(m.stack, frame{kind: frameRestore, pc: ins.arg, pos: m.caps[ins.arg]})
				m.caps[ins.arg] = int32(pos)
				pc++
			case opSplit:
				m.stack = append(m.stack, frame{kind: frameRetry, pc: ins.y, pos: int32(pos), score: sc})
				pc = ins.x
			case opJmp:
				pc = ins.x
			case opSpan:
				e := pos + ins.typ.minLen()
				if e > n || !admitsAll(ins.typ, input[pos:e]) {
					failed = true
					break
				}
				if e, failed = m.candidate(pc, ins, input, e, sc, memo); !failed {
					pos = e
					pc++
				}
			case opEnd:
				if pos == n {
					return int(sc), true, true
				}
				failed = true
			}
		}
		if !failed {
			continue
		}
		// Backtrack to the most recent alternative.
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
				if memo && seen(int32(len(insts))+f.pc, int(f.pos)) {
					continue
				}
				span := &insts[f.pc]
				e, bad := m.candidate(f.pc, span, input, int(f.pos)+1, f.score, memo)
				if !bad {
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

// candidate finds the first place at or after e where the span at pc
// may end, given that input[start:e] is already admitted. It pushes a
// frame to try a longer span later.
func (m *vm) candidate(pc int32, span *inst, input []byte, e int, sc int32, memo bool) (int, bool) {
	n := len(input)
	t := span.typ
	switch {
	case memo:
		// One byte at a time, so that every state is memoised.
	case span.toEnd:
		if !admitsAll(t, input[e:]) {
			return 0, true
		}
		return n, false
	case span.hasNext:
		if t == TypeRest || t == TypeUser {
			i := bytes.IndexByte(input[e:], span.next)
			if i < 0 {
				return 0, true
			}
			m.steps += i / 16
			e += i
		} else {
			start := e
			for e < n && input[e] != span.next && t.admits(input[e]) {
				e++
			}
			m.steps += (e - start) / 4
			if e == n || input[e] != span.next {
				return 0, true
			}
		}
	}
	if e < n && t.admits(input[e]) {
		m.stack = append(m.stack, frame{kind: frameExtend, pc: pc, pos: int32(e), score: sc})
	}
	if memo && !candidateFits(span, input, e) {
		return 0, true
	}
	return e, false
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

// candidateFits reports whether a span may end at e: at the end of the
// line when the template ends there, else where the next literal starts.
func candidateFits(span *inst, input []byte, e int) bool {
	if span.toEnd {
		return e == len(input)
	}
	return !span.hasNext || e < len(input) && input[e] == span.next
}
