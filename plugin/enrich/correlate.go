package enrich

import (
	"math"

	"github.com/sshenrich/sshenrich/correlate"
	"github.com/sshenrich/sshenrich/plugin/chunk"
	"github.com/sshenrich/sshenrich/plugin/record"
	"github.com/sshenrich/sshenrich/rules"
)

// The correlation engine sees every classified line (a fresh one, or
// the fields of a record another sshenrich enriched) and answers with
// the fields the writer adds and the alerts written as extra records
// beside the line (docs/correlation.md).
//
// The plugin wraps a chunk's records in one transaction (Begin, then
// Commit once the chunk is delivered or Abort before it is retried),
// so that a retried chunk counts once and raises its alerts once.
// Without a transaction (the CLI) each line is one.

// correlation is an Enricher's link to the engine.
type correlation struct {
	eng     *correlate.Engine // nil: correlation off
	tx      correlate.Tx
	inTx    bool
	drop    bool // dedup drop: a repeated polled line is not re-emitted
	builder *correlate.Builder
	fact    correlate.Fact
	out     correlate.Output
	// For records enriched elsewhere: entries by code, and the session
	// class of each entry's family.
	codes   map[string]*rules.Entry
	classes []correlate.Class
}

func newCorrelation(eng *correlate.Engine, cat *rules.Catalog) correlation {
	if eng == nil || !eng.Config().Enabled {
		return correlation{}
	}
	c := correlation{eng: eng, drop: eng.Config().Dedup == correlate.DedupDrop, builder: correlate.NewBuilder(cat),
		codes: map[string]*rules.Entry{}, classes: make([]correlate.Class, len(cat.Entries()))}
	for _, e := range cat.Entries() {
		c.codes[e.Code] = e
		c.classes[e.Index] = correlate.ClassOf([]byte(e.Family))
	}
	return c
}

// Begin starts the transaction of a chunk's records. It waits for the
// transaction of another flush of the same engine to end.
func (e *Enricher) Begin() {
	c := &e.corr
	if c.eng == nil || c.inTx {
		return
	}
	c.tx, c.inTx = c.eng.Begin(), true
}

// Commit keeps what the chunk's records taught the engine: call it once
// they are delivered.
func (e *Enricher) Commit() {
	if c := &e.corr; c.inTx {
		c.inTx = false
		c.tx.Commit()
	}
}

// Abort forgets what the chunk's records taught the engine, so that a
// retried chunk is observed as if for the first time.
func (e *Enricher) Abort() {
	if c := &e.corr; c.inTx {
		c.inTx = false
		c.tx.Abort()
	}
}

// observe correlates the current fact into c.out.
func (c *correlation) observe() {
	if c.inTx {
		c.tx.Observe(&c.fact, &c.out)
	} else {
		c.eng.Observe(&c.fact, &c.out)
	}
}

// correlate observes a classified line and points x at the answer. It
// reports false when the line is a repeat to drop (dedup drop).
func (e *Enricher) correlate(x *record.Event) bool {
	c := &e.corr
	if c.eng == nil || x.Line == nil {
		return true
	}
	c.builder.Build(&c.fact, &x.Env, &x.Match)
	c.observe()
	x.Corr = &c.out
	return !c.out.Repeat || !c.drop
}

// appendAlerts appends one record per alert the last observed line
// raised, under the line's tag, each at the time of the event that
// raised it and with the re-emission mark. Line nth of the input event
// hashed last raised them: their event.id derives from its (a replay
// of the chunk raises them again with the same ids).
func (e *Enricher) appendAlerts(dst []byte, ev *chunk.Event, nth int, c *Counts) ([]byte, int) {
	alerts := e.corr.out.Alerts
	for i := range alerts {
		a := &alerts[i]
		e.edit = chunk.HeadEdit{}
		if sec := a.Last / 1e9; a.Last > 0 && sec <= math.MaxUint32 {
			e.edit.SetTime, e.edit.Sec, e.edit.Nsec = true, uint32(sec), uint32(a.Last%1e9)
		}
		if e.opts.Mark {
			e.edit.MarkKey, e.edit.MarkValue = MarkKey, runMark
		}
		dst = chunk.AppendHeadEdit(dst, ev, &e.edit)
		header := len(dst)
		dst = append(dst, 0xdf, 0, 0, 0, 0) // map32, count patched below
		e.enc.Start(dst)
		n := e.x.WriteAlert(&e.enc, a, e.ids.alert(nth, i))
		dst = e.enc.Buf
		if e.observer != nil {
			e.observer.CountAlert(a.Rule)
		}
		dst[header+1], dst[header+2], dst[header+3], dst[header+4] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	}
	c.Alerts += len(alerts)
	return dst, len(alerts)
}

// observeEnriched correlates a record another sshenrich enriched (an
// aggregator's input): the fact is read from its fields, the line is
// not classified again. Alert records and lines marked as repeats are
// not counted. It reports whether the record was observed.
func (e *Enricher) observeEnriched(ev *chunk.Event) bool {
	c := &e.corr
	if c.eng == nil {
		return false
	}
	f := &c.fact
	f.Reset()
	if ev.Sec > 0 {
		f.Time = ev.Sec*1e9 + ev.Nsec
	}
	var skip bool
	var it chunk.MapIter
	if !it.Reset(ev.Body) {
		return false
	}
	for it.Next() {
		key, val := it.Key(), it.Value()
		if g := ecsGroup(key); g != "" {
			// ECS style: a group of members.
			var sub chunk.MapIter
			if !sub.Reset(val) {
				continue
			}
			for sub.Next() {
				skip = c.enrichedField(g, sub.Key(), sub.Value()) || skip
			}
		} else if g, m, ok := splitFlat(key); ok {
			// Flat style: group_member.
			skip = c.enrichedField(g, m, val) || skip
		}
	}
	if skip || it.Err() != nil {
		return false
	}
	if f.Entry != nil && f.Entry.Index >= 0 && f.Entry.Index < len(c.classes) {
		f.Class = c.classes[f.Entry.Index]
	}
	c.observe()
	return true
}

// ecsGroup returns the name of a group the fact is read from, as a
// constant (no conversion of the key), or "".
func ecsGroup(key []byte) string {
	for _, g := range flatGroups {
		if string(key) == g {
			return g
		}
	}
	return ""
}

// splitFlat splits a flat key (source_ip, sshenrich_auth_method) into
// its group and member.
func splitFlat(key []byte) (string, []byte, bool) {
	for _, g := range flatGroups {
		if len(key) > len(g)+1 && string(key[:len(g)]) == g && key[len(g)] == '_' {
			return g, key[len(g)+1:], true
		}
	}
	return "", nil, false
}

var flatGroups = [...]string{"event", "source", "user", "host", "process", record.Namespace}

// enrichedField reads one member of an enriched record into the fact.
// It reports true for a record that must not be counted: an alert, or
// a repeated polled line.
func (c *correlation) enrichedField(group string, member, val []byte) bool {
	f := &c.fact
	str := func() []byte { s, _ := chunk.Str(val); return s }
	switch group {
	case "event":
		switch string(member) {
		case "code":
			f.Entry = c.codes[string(str())]
		case "kind":
			return string(str()) == "alert"
		case "outcome":
			f.Outcome = outcomeName(str())
		}
	case "source":
		switch string(member) {
		case "ip", "domain":
			f.SourceIP = str()
		case "port":
			if n, ok := chunk.Int(val); ok && n >= 0 && n <= 65535 {
				f.SourcePort = int(n)
			}
		}
	case "user":
		if string(member) == "name" {
			f.User = str()
		}
	case "host":
		if string(member) == "hostname" {
			f.Host = str()
		}
	case "process":
		switch string(member) {
		case "name":
			f.Program = str()
		case "pid":
			if n, ok := chunk.Int(val); ok && n >= 0 && n < 1<<31 {
				f.PID = int(n)
			}
		}
	case record.Namespace:
		switch string(member) {
		case "auth_method":
			f.AuthMethod = str()
		case "invalid_user":
			f.InvalidUser = isTrue(val)
		case "common_name":
			f.CommonName = str()
		case "pool_ip":
			f.PoolIP = str()
		case "repeat":
			return isTrue(val)
		case "session_id": // flat style
			f.SessionID = str()
		case "session":
			var it chunk.MapIter
			for ok := it.Reset(val); ok && it.Next(); {
				if string(it.Key()) == "id" {
					f.SessionID, _ = chunk.Str(it.Value())
				}
			}
		}
	}
	return false
}

// outcomeName returns the outcome as one of the constant strings the
// rules compare with, without allocating.
func outcomeName(b []byte) string {
	switch string(b) {
	case "success":
		return "success"
	case "failure":
		return "failure"
	}
	return "unknown"
}

// isTrue reads a msgpack true (or the text "true", as flat outputs may
// carry booleans through JSON).
func isTrue(v []byte) bool {
	if len(v) == 1 && v[0] == 0xc3 {
		return true
	}
	s, ok := chunk.Str(v)
	return ok && string(s) == "true"
}
