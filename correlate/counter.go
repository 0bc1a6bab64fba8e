package correlate

import (
	"bytes"

	"github.com/sshenrich/sshenrich/rules"
)

// A rule's window is kept as windowSlots counts of window/windowSlots
// each: an event counts while its slot is one of the newest
// windowSlots, so the span counted is between 7/8 of the window and
// the whole window. A fixed record per key, whatever the threshold.
// windowSlots is a power of two: a slot's place is its number's low
// bits (for negative numbers too).
const windowSlots = 8

// arenaSize is the text a counter keeps: its group's values, then the
// samples.
const (
	arenaSize  = 128
	maxGroupBy = rules.MaxGroupBy
)

// counter counts one rule's events for one group (one source address,
// one user). It holds no pointers.
type counter struct {
	first    int64 // first event of the current run (since the window was last empty)
	last     int64 // newest event
	head     int64 // newest slot number
	metAt    int64 // last time the threshold held (for rules that follow this one)
	suppress int64 // no alert before this time
	slots    [windowSlots]uint16
	n        uint32 // the slots' sum
	nkeys    uint8
	nsamp    uint8
	used     uint8
	keys     [maxGroupBy]span
	samp     [MaxSamples]span
	arena    [arenaSize]byte
}

// seenValue remembers when a value was last counted for a distinct
// count.
type seenValue struct{ last int64 }

func (c *counter) add(v []byte) (span, bool) {
	v = v[:min(len(v), maxStored)]
	if int(c.used)+len(v) > len(c.arena) {
		return span{}, false
	}
	copy(c.arena[c.used:], v)
	s := span{c.used, uint8(len(v))}
	c.used += uint8(len(v))
	return s, true
}

func (c *counter) text(s span) []byte { return c.arena[s.off : int(s.off)+int(s.n)] }

// sample keeps v as an example unless it is one already or there is
// no room.
func (c *counter) sample(v []byte) {
	if len(v) == 0 || int(c.nsamp) == MaxSamples || len(v) > maxStored {
		return
	}
	for _, s := range c.samp[:c.nsamp] {
		if bytes.Equal(c.text(s), v) {
			return
		}
	}
	if s, ok := c.add(v); ok {
		c.samp[c.nsamp] = s
		c.nsamp++
	}
}

// groupKey is the key of the line's group for rule r (its group-by
// values), without the rule, so that a rule following another finds
// the other's counter for the same group. ok is false when the line
// lacks a value.
func (e *Engine) groupKey(r *rules.Correlation, f *Fact, out *Output) (hkey, bool) {
	var vals [maxGroupBy][]byte
	for i, fl := range r.GroupBy {
		v := e.value(fl, f, out)
		if len(v) == 0 {
			return hkey{}, false
		}
		vals[i] = v
	}
	k := e.keyer.start(kindCounter)
	for _, v := range vals[:len(r.GroupBy)] {
		k.bytes(v)
	}
	return k.key(), true
}

// countRule counts the line for rule r and raises an alert when the
// threshold is reached.
func (e *Engine) countRule(r *rules.Correlation, f *Fact, t int64, out *Output) {
	var gk hkey
	var ok bool
	if g := e.groupOf[r.Index]; g < len(e.groups) {
		bit := uint64(1) << g
		if e.groupsSet&bit == 0 {
			e.groups[g], ok = e.groupKey(r, f, out)
			e.groupsSet |= bit
			if ok {
				e.groupsOK |= bit
			} else {
				e.groupsOK &^= bit
			}
		}
		gk, ok = e.groups[g], e.groupsOK&bit != 0
	} else {
		gk, ok = e.groupKey(r, f, out)
	}
	if !ok {
		return
	}
	cs, now := e.counters, e.at
	ck := sub(kindCounter, gk, uint64(r.Index))
	if r.Distinct != rules.FieldNone && !e.newDistinct(r, ck, f, t, out) {
		return
	}
	ttl := e.ruleTTL[r.Index]
	i := cs.lookup(ck, now)
	if i < 0 {
		i = cs.insert(ck, e.clock.now, t+ttl, false)
		c := &cs.recs[i]
		for _, fl := range r.GroupBy {
			if s, ok := c.add(e.value(fl, f, out)); ok {
				c.keys[c.nkeys] = s
				c.nkeys++
			}
		}
	}
	c := cs.mut(i)
	width := max(int64(r.Window)/windowSlots, 1)
	total := int(c.n)
	slot := c.head
	if start := c.head * width; total == 0 || t < start || t-start >= width {
		slot = floorDiv(t, width) // a division only when the slot changes
	}
	switch {
	case total == 0:
		c.slots = [windowSlots]uint16{}
		c.head, c.first = slot, t
	case slot > c.head:
		for s := c.head + 1; s <= slot && s <= c.head+windowSlots; s++ {
			old := &c.slots[s&(windowSlots-1)]
			c.n -= uint32(*old)
			*old = 0
		}
		c.head = slot
		if total = int(c.n); total == 0 {
			c.first = t
		}
	case slot <= c.head-windowSlots:
		e.tally.late++ // older than the window the counter holds
		return
	}
	if n := &c.slots[slot&(windowSlots-1)]; *n < ^uint16(0) {
		*n++
		c.n++
		total++
	}
	c.first = min(c.first, t)
	c.last = max(c.last, t)
	if r.Sample != rules.FieldNone {
		c.sample(e.value(r.Sample, f, out))
	}
	cs.setExp(i, max(cs.exp(i), c.last+ttl))
	count := total
	if count < r.Count {
		return
	}
	c.metAt = max(c.metAt, t)
	var after *rules.Correlation
	if len(r.After) > 0 {
		if after = e.afterMet(r, gk, t); after == nil {
			return
		}
	}
	if t < c.suppress {
		e.tally.suppressed++
		return
	}
	c.suppress = t + int64(r.Suppress)
	cs.setExp(i, max(cs.exp(i), c.suppress))
	e.tally.alerts++
	out.Alerts = append(out.Alerts, Alert{})
	a := &out.Alerts[len(out.Alerts)-1]
	a.Rule, a.Count, a.Window, a.First, a.Last, a.Trigger, a.After = r, count, r.Window, c.first, t, *f, after
	if out.SessionID != nil {
		a.Trigger.SessionID = out.SessionID // the session the engine gave the line
	}
	a.buf = c.arena
	a.nkeys, a.nsamp = int(c.nkeys), int(c.nsamp)
	a.keys, a.samp = c.keys, c.samp
}

// total sums the slots, which c.n keeps as they change.
func (c *counter) total() int {
	n := 0
	for _, v := range c.slots {
		n += int(v)
	}
	return n
}

// newDistinct reports whether the line's value of r.Distinct was not
// counted for its group within the window, and remembers it.
func (e *Engine) newDistinct(r *rules.Correlation, ck hkey, f *Fact, t int64, out *Output) bool {
	v := e.value(r.Distinct, f, out)
	if len(v) == 0 {
		return false
	}
	ds, window := e.seen, int64(r.Window)
	k := e.keyer.start(kindSeen).uint(ck.a).uint(ck.b).bytes(v).key()
	i := ds.lookup(k, e.at)
	fresh := i < 0 || ds.recs[i].last+window <= t
	if i < 0 {
		i = ds.insert(k, e.clock.now, t+window, false)
	}
	d := ds.mut(i)
	d.last = max(d.last, t)
	ds.setExp(i, d.last+window)
	return fresh
}

// afterMet returns the first of the rules r follows that reached its
// threshold for the same group within r.AfterWindow before t, or nil.
func (e *Engine) afterMet(r *rules.Correlation, gk hkey, t int64) *rules.Correlation {
	for _, a := range r.After {
		i := e.counters.lookup(sub(kindCounter, gk, uint64(a.Index)), e.at)
		if i < 0 {
			continue
		}
		met := e.counters.recs[i].metAt
		if met > 0 && met <= t && t-met <= int64(r.AfterWindow) {
			return a
		}
	}
	return nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}
