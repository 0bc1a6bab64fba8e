package correlate

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"hash"
	"sync"
	"sync/atomic"

	"github.com/sshenrich/sshenrich/rules"
)

// Engine correlates lines: it follows sessions, infers the fields a
// line lacks from its session, recognises repeated polled lines, and
// counts events for the catalog's correlation rules. One Engine serves
// one plugin instance (or one CLI run); it is safe for concurrent use,
// but transactions are serialised: Begin waits for the previous
// transaction's Commit or Abort.
type Engine struct {
	mu  sync.Mutex
	cfg Config
	cat *rules.Catalog

	rules   []*rules.Correlation
	ruleTTL []int64 // how long a rule's counter must outlive its last event
	groupOf []int   // per rule: its group-by list's number, the same for rules with the same list
	// The group keys of the fact being counted, by group-by list
	// number (the first 64 lists): rules with one list share them.
	groups    [64]hkey
	groupsOK  uint64     // the list has a key for this fact
	groupsSet uint64     // the key was computed for this fact
	byEntry   [][]ruleOn // per entry index: the rules that may count its lines

	sessions *store[session]
	counters *store[counter]
	seen     *store[seenValue]
	dedup    *store[dedupLine]
	polls    *store[pollState]

	gen   uint64        // the last transaction begun
	cur   atomic.Uint64 // the transaction in progress, 0 when none
	clock clock
	saved clock
	// now is the time a fact's repeats are looked up at: the clock, or
	// the fact's own time when it is ahead.
	now int64
	// at is the time a fact's sessions and counters are looked up at:
	// its own (the clock's when it has none), so that a line after a
	// quiet spell sees the sessions that died during it as dead, and a
	// line behind the clock (Config.Backfill) finds those of its time.
	at    int64
	keyer keyer
	tally tally
	saveT tally // the tally at Begin, for Abort
	stats stats
	num   [24]byte // scratch for numbers written as group values

	// Keyed session ids (Config.IDKey).
	idMAC hash.Hash
	idIn  [8]byte
	idSum []byte
}

// ruleOn is a rule whose select lines match an entry; line says that
// some of them test the line's own attributes. tests[i] numbers the
// line conditions of sels[i]: select lines of several rules with the
// same conditions (CORR-0001, 0004 and 0005's) share a number, and a
// line is tested once for all of them.
type ruleOn struct {
	rule  int
	sels  []int
	tests []int
	line  bool
}

// New returns an engine for the correlation rules and session roles of
// cat, bounded by cfg.
func New(cat *rules.Catalog, cfg Config) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, cat: cat, rules: cat.Correlations(), keyer: newKeyer()}
	e.clock.maxJump = int64(cfg.MaxClockJump)
	if cfg.IDKey != "" {
		e.idMAC = hmac.New(sha256.New, []byte(cfg.IDKey))
		e.idSum = make([]byte, 0, sha256.Size)
	}
	// Tables start small and grow by appending, up to their bounds.
	e.sessions = newStore[session](cfg.MaxSessions, min(cfg.MaxSessions, 1024), maxKeysPerRecord)
	e.counters = newStore[counter](cfg.MaxCounters, min(cfg.MaxCounters, 1024), 1)
	e.seen = newStore[seenValue](cfg.MaxDistinct, min(cfg.MaxDistinct, 1024), 1)
	b := int64(cfg.Backfill)
	e.sessions.keep, e.counters.keep, e.seen.keep = b, b, b
	e.dedup = newStore[dedupLine](cfg.MaxDedupLines, min(cfg.MaxDedupLines, 1024), 1)
	// One record per AX host and per switch of each: a bound of its own.
	e.polls = newStore[pollState](max(minTable, cfg.MaxDedupLines/16), 64, 1)
	e.ruleTTL = make([]int64, len(e.rules))
	for i, r := range e.rules {
		e.ruleTTL[i] = max(e.ruleTTL[i], int64(max(r.Window, r.Suppress)))
		for _, a := range r.After {
			e.ruleTTL[a.Index] = max(e.ruleTTL[a.Index], int64(r.AfterWindow+r.Window))
		}
	}
	lists := map[string]int{}
	e.groupOf = make([]int, len(e.rules))
	for i, r := range e.rules {
		sig := make([]byte, len(r.GroupBy))
		for j, fl := range r.GroupBy {
			sig[j] = byte(fl)
		}
		n, ok := lists[string(sig)]
		if !ok {
			n = len(lists)
			lists[string(sig)] = n
		}
		e.groupOf[i] = n
	}
	tests := map[string]int{}
	e.byEntry = make([][]ruleOn, len(cat.Entries()))
	for _, ent := range cat.Entries() {
		for ri, r := range e.rules {
			on := ruleOn{rule: ri}
			always := false
			for si := range r.Select {
				if r.Select[si].MatchEntry(ent) {
					key := r.Select[si].LineKey()
					n, ok := tests[key]
					if !ok {
						n = len(tests)
						tests[key] = n
					}
					on.sels = append(on.sels, si)
					on.tests = append(on.tests, n)
					always = always || !r.Select[si].NeedsLine()
				}
			}
			if len(on.sels) > 0 && ent.Kind != "alert" { // an alert is never counted
				on.line = !always
				e.byEntry[ent.Index] = append(e.byEntry[ent.Index], on)
			}
		}
	}
	return e, nil
}

// Config returns the engine's configuration.
func (e *Engine) Config() Config { return e.cfg }

// Tx is a transaction: the facts of one chunk. Its changes are seen by
// its own later facts, and are kept by Commit or undone by Abort, so
// that a chunk Fluent Bit retries is counted once and raises its
// alerts once. A Tx must end with one Commit or Abort; a second call,
// or any call on an ended Tx, does nothing.
type Tx struct {
	e   *Engine
	gen uint64
}

// Begin starts a transaction, waiting for the one in progress (on
// another flush worker) to end.
func (e *Engine) Begin() Tx {
	e.mu.Lock()
	e.gen++
	e.cur.Store(e.gen)
	e.saved = e.clock
	e.saveT = e.tally
	for _, s := range e.allStores() {
		s.begin()
	}
	return Tx{e: e, gen: e.gen}
}

// live reports whether tx is the transaction in progress (a stale Tx
// may ask while another goroutine's transaction is).
func (tx Tx) live() bool { return tx.e != nil && tx.e.cur.Load() == tx.gen }

// Commit keeps the transaction's changes.
func (tx Tx) Commit() {
	if !tx.live() {
		return
	}
	e := tx.e
	e.cur.Store(0)
	for _, s := range e.allStores() {
		s.commit()
	}
	e.publish()
	e.mu.Unlock()
}

// Abort undoes the transaction's changes, counters of evictions and
// alerts included: the engine is as it was at Begin.
func (tx Tx) Abort() {
	if !tx.live() {
		return
	}
	e := tx.e
	e.cur.Store(0)
	for _, s := range e.allStores() {
		s.abort()
	}
	e.clock = e.saved
	e.tally = e.saveT
	e.stats.aborts.Add(1)
	e.publish()
	e.mu.Unlock()
}

// Observe is Tx.Observe in a transaction of its own, for callers that
// never retry (the CLI).
func (e *Engine) Observe(f *Fact, out *Output) {
	tx := e.Begin()
	tx.Observe(f, out)
	tx.Commit()
}

// txStore is what Begin, Commit and Abort need of a store.
type txStore interface {
	begin()
	commit()
	abort()
}

func (e *Engine) allStores() [5]txStore {
	return [5]txStore{e.sessions, e.counters, e.seen, e.dedup, e.polls}
}

// Observe correlates one line: it fills out (reset first) with the
// session id, the inferred fields, the duration, the repeat mark and
// the alerts the line raises. Lines that update existing sessions and
// counters do not allocate.
func (tx Tx) Observe(f *Fact, out *Output) {
	out.reset()
	if !tx.live() || !tx.e.cfg.Enabled {
		return
	}
	e := tx.e
	e.tally.facts++
	t := e.clock.observe(f.Time, &e.tally)
	e.now, e.at = max(e.clock.now, t), t
	if f.PollStart && e.cfg.Dedup != DedupOff {
		e.pollStart(f)
		return
	}
	if f.Polled && e.cfg.Dedup != DedupOff {
		out.Repeat = e.isRepeat(f, t)
	}
	if e.cfg.Sessions {
		switch f.Class {
		case ClassSSH:
			e.sshSession(f, t, out, out.Repeat)
		case ClassVPN:
			e.vpnSession(f, t, out, out.Repeat)
		}
	}
	if e.cfg.Alerts && !out.Repeat {
		e.count(f, t, out)
	}
}

// count feeds the fact to the rules that select it.
func (e *Engine) count(f *Fact, t int64, out *Output) {
	ent := f.Entry
	if ent == nil || uint(ent.Index) >= uint(len(e.byEntry)) || e.cat.Entries()[ent.Index] != ent {
		return // unclassified, or an entry of another catalog
	}
	var line rules.Line
	lineSet := false
	var tested, held uint64 // by test number (the first 64): tested, and held
	e.groupsSet = 0
	ons := e.byEntry[ent.Index]
	for i := range ons {
		on := &ons[i]
		r := e.rules[on.rule]
		if on.line {
			if !lineSet {
				line = rules.Line{Outcome: f.Outcome, InvalidUser: f.InvalidUser, AuthMethod: f.AuthMethod}
				lineSet = true
			}
			ok := false
			for k, si := range on.sels {
				if n := on.tests[k]; n < 64 {
					bit := uint64(1) << n
					if tested&bit == 0 {
						tested |= bit
						if r.Select[si].MatchLine(&line) {
							held |= bit
						}
					}
					ok = held&bit != 0
				} else {
					ok = r.Select[si].MatchLine(&line)
				}
				if ok {
					break
				}
			}
			if !ok {
				continue
			}
		}
		e.countRule(r, f, t, out)
	}
}

// value is the line's value of a rule field: its own, or the one its
// session supplied. Numbers are written into the engine's scratch.
func (e *Engine) value(fl rules.Field, f *Fact, out *Output) []byte {
	or := func(a, b []byte) []byte {
		if len(a) > 0 {
			return a
		}
		return b
	}
	num := func(n int) []byte {
		if n < 0 {
			return nil
		}
		return appendUint(e.num[:0], uint64(n))
	}
	switch fl {
	case rules.FieldHost:
		return f.Host
	case rules.FieldProgram:
		return f.Program
	case rules.FieldSourceIP:
		return or(f.SourceIP, out.SourceIP)
	case rules.FieldUser:
		return or(f.User, out.User)
	case rules.FieldCommonName:
		return or(f.CommonName, out.CommonName)
	case rules.FieldPoolIP:
		return or(f.PoolIP, out.PoolIP)
	case rules.FieldAuthMethod:
		return f.AuthMethod
	case rules.FieldKeyFingerprint:
		return f.KeyFingerprint
	case rules.FieldVRF:
		if f.VRF >= 0 {
			return num(f.VRF)
		}
		return num(out.VRF)
	case rules.FieldRDomain:
		return or(f.RDomain, out.RDomain)
	case rules.FieldSwitch:
		if f.Switch > 0 {
			return num(f.Switch)
		}
	}
	return nil
}

func appendUint(b []byte, v uint64) []byte {
	var tmp [20]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(b, tmp[i:]...)
}

// Stats are the engine's counters, for metrics. They are read without
// waiting for a transaction in progress.
type Stats struct {
	Facts             uint64 // lines observed
	Alerts            uint64 // alerts raised
	Suppressed        uint64 // thresholds reached again within a rule's suppression
	Repeats           uint64 // polled lines reported as repeats
	LateEvents        uint64 // events older than their counter's window, not counted
	FutureLines       uint64 // lines too far ahead of the clock to move it at once
	ClockJumps        uint64 // jumps of the clock that lines in a row confirmed
	Sessions          int    // session records in use (live or waiting to be reused)
	SessionsEvicted   uint64 // live sessions dropped to make room
	SessionsExpired   uint64 // sessions past their time to live, reused
	Counters          int
	CountersEvicted   uint64
	CountersExpired   uint64
	Distinct          int
	DistinctEvicted   uint64
	DistinctExpired   uint64
	DedupLines        int
	DedupEvicted      uint64
	DedupExpired      uint64
	ClockUnixNano     int64 // the engine's clock: the newest line time accepted
	TransactionsAbort uint64
}

// tally is what the engine counts of the lines. It is changed only
// inside a transaction, under the engine's lock, so plain integers do:
// an atomic add per line costs more than the rest of a counter's work.
type tally struct {
	facts, alerts, suppressed, repeats, late, future, jumps uint64
}

// stats is the tally and the stores' figures as of the last Commit or
// Abort, for Stats, which does not take the engine's lock.
type stats struct {
	facts, alerts, suppressed, repeats, late, future, jumps, aborts atomic.Uint64
	sessions, counters, distinct, dedup                             atomic.Int64
	sessEv, sessEx, cntEv, cntEx, dstEv, dstEx, dupEv, dupEx        atomic.Uint64
	clock                                                           atomic.Int64
}

// publish copies the tally and the stores' figures for Stats.
func (e *Engine) publish() {
	s, n := &e.stats, &e.tally
	s.facts.Store(n.facts)
	s.alerts.Store(n.alerts)
	s.suppressed.Store(n.suppressed)
	s.repeats.Store(n.repeats)
	s.late.Store(n.late)
	s.future.Store(n.future)
	s.jumps.Store(n.jumps)
	s.sessions.Store(int64(e.sessions.len()))
	s.counters.Store(int64(e.counters.len()))
	s.distinct.Store(int64(e.seen.len()))
	s.dedup.Store(int64(e.dedup.len()))
	s.sessEv.Store(e.sessions.counts.evicted)
	s.sessEx.Store(e.sessions.counts.expired)
	s.cntEv.Store(e.counters.counts.evicted)
	s.cntEx.Store(e.counters.counts.expired)
	s.dstEv.Store(e.seen.counts.evicted)
	s.dstEx.Store(e.seen.counts.expired)
	s.dupEv.Store(e.dedup.counts.evicted)
	s.dupEx.Store(e.dedup.counts.expired)
	s.clock.Store(e.clock.now)
}

// Stats returns the counters as of the last Commit or Abort.
func (e *Engine) Stats() Stats {
	s := &e.stats
	return Stats{
		Facts: s.facts.Load(), Alerts: s.alerts.Load(), Suppressed: s.suppressed.Load(), Repeats: s.repeats.Load(),
		LateEvents: s.late.Load(), FutureLines: s.future.Load(), ClockJumps: s.jumps.Load(),
		Sessions: int(s.sessions.Load()), SessionsEvicted: s.sessEv.Load(), SessionsExpired: s.sessEx.Load(),
		Counters: int(s.counters.Load()), CountersEvicted: s.cntEv.Load(), CountersExpired: s.cntEx.Load(),
		Distinct: int(s.distinct.Load()), DistinctEvicted: s.dstEv.Load(), DistinctExpired: s.dstEx.Load(),
		DedupLines: int(s.dedup.Load()), DedupEvicted: s.dupEv.Load(), DedupExpired: s.dupEx.Load(),
		ClockUnixNano: s.clock.Load(), TransactionsAbort: s.aborts.Load(),
	}
}

// clockConfirm is how many lines in a row must agree on a jump of the
// clock larger than MaxClockJump.
const clockConfirm = 16

// clock is the engine's notion of now: the newest line time accepted.
// Tables age by it, never by the wall clock, so that a replay or a
// backfill correlates as it happened.
type clock struct {
	now     int64
	maxJump int64
	ahead   int
}

// observe returns the time of a line (the clock's for a line without
// one) and moves the clock.
func (c *clock) observe(t int64, s *tally) int64 {
	switch {
	case t == 0:
		return c.now
	case c.now == 0, t <= c.now+c.maxJump:
		c.now = max(c.now, t)
		c.ahead = 0
	default:
		s.future++
		c.ahead++
		if c.ahead >= clockConfirm {
			c.now, c.ahead = t, 0
			s.jumps++
		}
	}
	return t
}

// String describes the engine for a start-up log line.
func (e *Engine) String() string {
	c := e.cfg
	onOff := func(b bool) string {
		if b {
			return "on"
		}
		return "off"
	}
	return fmt.Sprintf("correlation %s: sessions %s (at most %d; ttl %s, preauth %s, ended %s), alerts %s (%d rules, counters %d, distinct %d), dedup %s (lines %d, ttl %s), backfill %s",
		onOff(c.Enabled), onOff(c.Sessions), c.MaxSessions, c.SessionTTL, c.PreauthTTL, c.EndedTTL, onOff(c.Alerts), len(e.rules), c.MaxCounters, c.MaxDistinct,
		c.Dedup, c.MaxDedupLines, c.DedupTTL, c.Backfill)
}
