package metrics

import (
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/sshenrich/sshenrich/plugin/record"
	"github.com/sshenrich/sshenrich/rules"
)

// MaxPrograms bounds the program label of sshenrich_unclassified_total
// per output. The program comes from the line or the record, which an
// attacker can write (logger -t, a crafted syslog tag), so only the
// first MaxPrograms distinct programs get a series of their own; the
// rest are counted under program="other".
const MaxPrograms = 64

// maxProgramLabel bounds a program label's length, in bytes.
const maxProgramLabel = 64

// Tally counts one flush worker's records until the flush ends. It is
// not safe for concurrent use: each worker has its own. A nil Tally
// counts nothing.
type Tally struct {
	out      *Output
	entries  []uint64 // classified, by rules.Entry.Index
	families []uint64 // unclassified, by family; the last: none
	programs []uint64 // unclassified, by program slot; then other, none
	alerts   []uint64 // alert records, by rules.Correlation.Index
}

// Count counts one enriched record by its code, family and, when it is
// unclassified, program. It does not allocate, except the first time an
// output meets each of its first MaxPrograms programs.
func (t *Tally) Count(e *record.Event) {
	if t == nil {
		return
	}
	if ent := e.Match.Entry; ent != nil {
		if ent.Index < len(t.entries) {
			t.entries[ent.Index]++
		}
		return
	}
	t.families[t.out.familyIndex(e.Family)]++
	t.programs[t.out.programs.slot(e.Env.Program)]++
}

// CountAlert counts one alert record the rule raised.
func (t *Tally) CountAlert(r *rules.Correlation) {
	if t != nil && r != nil && r.Index >= 0 && r.Index < len(t.alerts) {
		t.alerts[r.Index]++
	}
}

// Reset forgets what was counted.
func (t *Tally) Reset() {
	if t == nil {
		return
	}
	clear(t.entries)
	clear(t.families)
	clear(t.programs)
	clear(t.alerts)
}

// programTable gives each program a slot: one of the first max distinct
// programs, other, or none. Lookups read a map that is replaced, never
// changed, so that flush workers read it without a lock; it is replaced
// at most max times in the output's life.
type programTable struct {
	max    int
	slots  atomic.Pointer[map[string]int] // program → slot
	mu     sync.Mutex                     // serialises admissions
	labels []string                       // slot → label value, escaped; written under mu before the map that points to it is published
}

func (p *programTable) init(maxPrograms int) {
	p.max = maxPrograms
	p.labels = make([]string, 0, maxPrograms)
	empty := map[string]int{}
	p.slots.Store(&empty)
}

func (p *programTable) other() int { return p.max }
func (p *programTable) none() int  { return p.max + 1 }

// slot finds the program's slot, admitting it while there is room.
func (p *programTable) slot(program []byte) int {
	if len(program) == 0 {
		return p.none()
	}
	m := *p.slots.Load()
	if i, ok := m[string(program)]; ok {
		return i
	}
	if len(m) >= p.max {
		return p.other()
	}
	return p.admit(program)
}

func (p *programTable) admit(program []byte) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := *p.slots.Load()
	if i, ok := old[string(program)]; ok {
		return i
	}
	if len(old) >= p.max {
		return p.other()
	}
	label := escape(truncate(string(program), maxProgramLabel))
	// Two programs that differ only past the length bound, or in bytes
	// that escape alike, share the label and so the slot.
	i := len(p.labels)
	for j, l := range p.labels {
		if l == label {
			i = j
			break
		}
	}
	if i == len(p.labels) {
		p.labels = append(p.labels, label)
	}
	m := make(map[string]int, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[string(program)] = i
	p.slots.Store(&m)
	return i
}

// label returns a slot's label value. Called with Output.mu held, after
// the slot was handed out, so labels[i] is already written.
func (p *programTable) label(i int) string {
	switch i {
	case p.other():
		return "other"
	case p.none():
		return NoProgram
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.labels[i]
}

// truncate cuts s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
