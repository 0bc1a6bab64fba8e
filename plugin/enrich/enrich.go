// Package enrich turns one event of a Fluent Bit chunk into the events
// sshenrich re-emits: it reads the record's keys, classifies its line
// with record.Enricher, and writes the record with the added fields,
// its own keys fitted to them (record.Taken), the line's own time and
// the re-emission mark. The plugin's flush path and the CLI's JSON
// input both use it, so that both write the same record.
//
// An Enricher holds scratch space and is not safe for concurrent use.
// Append does not allocate once its buffers have grown.
package enrich

import (
	"bytes"
	"math"
	"time"

	"github.com/sshenrich/sshenrich/correlate"
	"github.com/sshenrich/sshenrich/parser"
	"github.com/sshenrich/sshenrich/plugin/chunk"
	"github.com/sshenrich/sshenrich/plugin/record"
	"github.com/sshenrich/sshenrich/rules"
)

// Options configure an Enricher.
type Options struct {
	Record record.Options
	// MessageKeys are the keys tried for the line, in order; nil means
	// log, message, MESSAGE.
	MessageKeys []string
	// KeepEnvelopeKeys keeps the envelope keys a record came with (host,
	// ident, pid, pri, _HOSTNAME, SYSLOG_IDENTIFIER, _PID, PRIORITY, ...)
	// when their values are in the record's ECS places already. Off, they
	// are dropped; a key whose value is not placed is always kept.
	KeepEnvelopeKeys bool
	// TimeFromLog sets the event's time from the line when the line
	// writes a whole date (parser.Time.Dated).
	TimeFromLog bool
	// Mark writes the re-emission mark into each event's metadata, so
	// that an event that comes back is known (Forward emit).
	Mark bool
	// Tag and TagPrefix are the output's tag rule (config tag and
	// tag_prefix), to know a re-emitted event that carries no mark.
	Tag, TagPrefix string
	// IDKey keys event.id while something is masked
	// (record.Mask.IDKey); empty leaves it a plain hash of the input.
	IDKey []byte
	// Correlate is the correlation engine the records are observed by
	// (one per plugin instance, shared by its Enrichers); nil or
	// disabled for none. Its dedup setting decides whether a repeated
	// polled line is marked or dropped.
	Correlate *correlate.Engine
}

// Counts say what Append did.
type Counts struct {
	Records      int // events that were records (a multi-line message counts once per line)
	Classified   int
	Unclassified int
	Passed       int // re-emitted unchanged: not a map, or enriched before
	Looped       int // re-emitted by this Fluent Bit before and dropped
	Repeats      int // polled lines seen in an earlier poll, dropped (dedup drop)
	Alerts       int // alert records added beside the lines that raised them
	Aggregated   int // records enriched elsewhere that the engine observed (of Passed)
}

// Enricher enriches events.
type Enricher struct {
	opts    Options
	x       *record.Enricher
	style   record.Style
	full    bool
	it      chunk.MapIter
	enc     record.Msgpack
	taken   record.Taken
	members [maxMembers]member
	n       int
	skips   [maxMembers + 1][2]int
	edit    chunk.HeadEdit
	tagOurs bool
	tag     []byte // the chunk's tag, for event.id
	ids     ids
	// The message member of the current record.
	msgRank          int
	msgKey, msgVal   []byte
	msgStart, msgEnd int
	hasMessageKey    bool
	fields           record.Fields
	released         [maxMembers]member // members given back by taken for one record
	nreleased        int
	observer         Observer
	corr             correlation
}

// Observer sees every record once it is classified, before it is
// written, and every alert record: the plugin's metrics count records
// by code and alerts by rule.
type Observer interface {
	Count(ev *record.Event)
	CountAlert(r *rules.Correlation)
}

// Observe sets the Observer; nil for none.
func (e *Enricher) Observe(o Observer) { e.observer = o }

// member is a top-level member of the record that the writer takes
// over or that holds an envelope key.
type member struct {
	start, end int
	key, val   []byte
	env        envKind
	taken      bool
}

// maxMembers bounds the members noted per record; a member beyond it is
// copied as it is. The keys worth noting (the envelope keys in all their
// forms and the group names) are 39, so only a record that repeats keys
// can reach it, and a repeated key is copied as it is anyway.
const maxMembers = 48

// MarkKey is the metadata key of the re-emission mark.
const MarkKey = "sshenrich"

// New returns an Enricher over cat.
func New(cat *rules.Catalog, opts Options) *Enricher {
	if len(opts.MessageKeys) == 0 {
		opts.MessageKeys = []string{"log", "message", "MESSAGE"}
	}
	return &Enricher{
		opts:  opts,
		x:     record.New(cat, opts.Record),
		style: opts.Record.Style,
		full:  opts.Record.Detail == record.DetailFull,
		corr:  newCorrelation(opts.Correlate, cat),
		ids:   newIDs(opts.IDKey),
	}
}

// SetNow sets the time used to guess the year of RFC 3164 timestamps
// and written as event.ingested. Call it per chunk.
func (e *Enricher) SetNow(t time.Time) { e.x.SetNow(t) }

// SetTag tells the Enricher the tag of the chunk it is about to read.
func (e *Enricher) SetTag(tag string) {
	e.tag = append(e.tag[:0], tag...)
	if e.opts.Tag != "" {
		e.tagOurs = tag == e.opts.Tag
	} else {
		e.tagOurs = e.opts.TagPrefix != "" && len(tag) >= len(e.opts.TagPrefix) && tag[:len(e.opts.TagPrefix)] == e.opts.TagPrefix
	}
}

// Append appends to dst the events to re-emit for ev and returns dst
// and how many events it appended: one, several for a message of many
// lines, or none for an event this Fluent Bit re-emitted before.
func (e *Enricher) Append(dst []byte, ev *chunk.Event, c *Counts) ([]byte, int) {
	if ev.Group != chunk.NotGroup {
		// OTLP group markers keep the grouping downstream; they are not records.
		return append(dst, ev.Raw...), 1
	}
	c.Records++
	mark, marked := chunk.MetaString(ev.Meta, MarkKey)
	if marked && string(mark) == runMark {
		c.Looped++
		return dst, 0
	}
	if !e.read(ev.Body) {
		// Not a map, or a malformed one: nothing can be added.
		c.Passed++
		return e.passThrough(dst, ev), 1
	}
	if e.taken.Enriched() {
		if !marked && e.tagOurs {
			// Enriched, and under this output's own tag: re-emitted here
			// before, by a sshenrich that left no mark (a v1 event).
			c.Looped++
			return dst, 0
		}
		// Enriched elsewhere (another Fluent Bit): re-emitted as it is.
		// An aggregator's engine observes it from its fields (it is not
		// classified again) and adds the alerts it raises.
		c.Passed++
		dst = e.passThrough(dst, ev)
		if !e.observeEnriched(ev) {
			return dst, 1
		}
		c.Aggregated++
		if len(e.corr.out.Alerts) == 0 {
			return dst, 1
		}
		e.ids.hashEvent(e.tag, ev) // for the alerts' event.id
		dst, n := e.appendAlerts(dst, ev, 0, c)
		return dst, 1 + n
	}
	e.ids.hashEvent(e.tag, ev)
	if e.msgKey == nil {
		return e.emit(dst, ev, e.x.Unclassified(record.ReasonNoMessage, &e.fields), nil, 0, c)
	}
	line, ok := chunk.Str(e.msgVal)
	if !ok {
		return e.emit(dst, ev, e.x.Unclassified(record.ReasonNotString, &e.fields), nil, 0, c)
	}
	if bytes.IndexByte(line, '\n') >= 0 && parser.IsMultiline(line) {
		// A whole command output in one record, such as an AX switch's
		// "show ssh logging": one record per line, each with its line
		// under the message key and the other keys as they were.
		n, lines := 0, 0
		for l := range parser.Lines(line) {
			if lines > 0 {
				c.Records++
			}
			var k int
			dst, k = e.emit(dst, ev, e.x.ClassifyFields(l, &e.fields), l, lines, c)
			lines++
			n += k
		}
		return dst, n
	}
	return e.emit(dst, ev, e.x.ClassifyFields(line, &e.fields), line, 0, c)
}

// emit correlates the classified event x, then writes its record (line
// nth of the input event, for its event.id) and the alert records it
// raised. It returns dst and the number of events written: none for a
// repeated polled line under dedup drop.
func (e *Enricher) emit(dst []byte, ev *chunk.Event, x *record.Event, line []byte, nth int, c *Counts) ([]byte, int) {
	if !e.correlate(x) {
		c.Repeats++
		return dst, 0
	}
	dst = e.writeRecord(dst, ev, x, line, nth, c)
	if x.Corr == nil || len(e.corr.out.Alerts) == 0 {
		return dst, 1
	}
	dst, n := e.appendAlerts(dst, ev, nth, c)
	return dst, 1 + n
}

// read walks the record's members: the message, the envelope keys and
// the keys the writer takes over. It reports false for a body that is
// not a well-formed map.
func (e *Enricher) read(body []byte) bool {
	e.taken.Reset()
	e.fields = record.NoFields
	e.n = 0
	e.msgRank, e.msgKey, e.msgVal, e.msgStart, e.msgEnd, e.hasMessageKey = len(e.opts.MessageKeys), nil, nil, -1, -1, false
	if !e.it.Reset(body) {
		return false
	}
	for e.it.Next() {
		key, val := e.it.Key(), e.it.Value()
		for i := 0; i < e.msgRank; i++ {
			if string(key) == e.opts.MessageKeys[i] {
				e.msgRank, e.msgKey, e.msgVal = i, key, val
				e.msgStart, e.msgEnd = e.it.MemberStart(), e.it.MemberEnd()
				break
			}
		}
		if string(key) == "message" {
			e.hasMessageKey = true
		}
		k := envKindOf(key)
		structuredField(&e.fields, k, val)
		if e.n == maxMembers {
			continue
		}
		taken := e.taken.Add(key, val, e.style)
		if taken || k != envNone {
			e.members[e.n] = member{start: e.it.MemberStart(), end: e.it.MemberEnd(), key: key, val: val, env: k, taken: taken}
			e.n++
		}
	}
	return e.it.Err() == nil
}

// passThrough re-emits ev with its body unchanged, marked.
func (e *Enricher) passThrough(dst []byte, ev *chunk.Event) []byte {
	if !e.opts.Mark {
		return append(dst, ev.Raw...)
	}
	e.edit = chunk.HeadEdit{MarkKey: MarkKey, MarkValue: runMark}
	dst = chunk.AppendHeadEdit(dst, ev, &e.edit)
	return append(dst, ev.Body...)
}

// writeRecord writes one output event for the classified event x: ev's
// head (with the line's time and the mark), the record's members less
// those dropped or taken over, the line under its key when it changes,
// and the added fields. line is the line of this record, nil when the
// record has none, and nth its place among the record's lines.
func (e *Enricher) writeRecord(dst []byte, ev *chunk.Event, x *record.Event, line []byte, nth int, c *Counts) []byte {
	x.ID = e.ids.line(nth)
	if x.Classified() {
		c.Classified++
	} else {
		c.Unclassified++
	}
	if e.observer != nil {
		e.observer.Count(x)
	}
	// The line is written anew when it changes: masked, or one of
	// several lines; and under "message" when it came under "log" in
	// ECS style, where log is an object.
	outKey, outLine := []byte(nil), line
	if line != nil {
		whole, _ := chunk.Str(e.msgVal)
		if m := e.x.MaskedLine(x); m != nil {
			outLine, outKey = m, e.msgKey
		}
		if len(line) != len(whole) {
			outKey = e.msgKey
		}
		if e.style == record.StyleECS && string(e.msgKey) == "log" && !e.hasMessageKey {
			outKey = messageKey
		}
	}
	e.nreleased = 0
	nskip := 0
	for i := range e.n {
		m := &e.members[i]
		drop := m.env != envNone && !e.opts.KeepEnvelopeKeys && placed(m.env, m.val, x, e.full)
		if m.taken && (drop || outKey != nil && m.start == e.msgStart) {
			// Dropped, or the line written below: the writer has
			// nothing to write back for it.
			e.taken.Release(m.key)
			e.released[e.nreleased] = *m
			e.nreleased++
		}
		if drop || m.taken {
			e.skips[nskip] = [2]int{m.start, m.end}
			nskip++
		}
	}
	if outKey != nil && !e.skipped(e.msgStart, nskip) {
		nskip = e.insertSkip(e.msgStart, e.msgEnd, nskip)
	}

	e.edit = chunk.HeadEdit{}
	if e.opts.TimeFromLog && line != nil {
		if t := x.Env.Time; t.Dated() && t.Unix >= 0 && t.Unix <= math.MaxUint32 && t.Nsec >= 0 {
			e.edit.SetTime, e.edit.Sec, e.edit.Nsec = true, uint32(t.Unix), uint32(t.Nsec)
		}
	}
	if e.opts.Mark {
		e.edit.MarkKey, e.edit.MarkValue = MarkKey, runMark
	}
	dst = chunk.AppendHeadEdit(dst, ev, &e.edit)
	header := len(dst)
	dst = append(dst, 0xdf, 0, 0, 0, 0) // map32, count patched below
	n, first, _ := chunk.MapHeader(ev.Body)
	at := first
	for _, s := range e.skips[:nskip] {
		dst = append(dst, ev.Body[at:s[0]]...)
		at = s[1]
	}
	dst = append(dst, ev.Body[at:]...)
	n -= nskip
	if outKey != nil {
		dst = record.AppendStrHeader(dst, len(outKey))
		dst = append(dst, outKey...)
		dst = record.AppendStrHeader(dst, len(outLine))
		dst = append(dst, outLine...)
		n++
	}
	e.enc.Start(dst)
	n += e.x.Write(&e.enc, x, &e.taken)
	dst = e.enc.Buf
	dst[header+1], dst[header+2], dst[header+3], dst[header+4] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	// Members given back for this record are taken again for the next
	// line of the same record.
	for _, m := range e.released[:e.nreleased] {
		e.taken.Add(m.key, m.val, e.style)
	}
	return dst
}

var messageKey = []byte("message")

func (e *Enricher) skipped(start, n int) bool {
	for _, s := range e.skips[:n] {
		if s[0] == start {
			return true
		}
	}
	return false
}

// insertSkip adds [start, end) to the skips, which stay in order.
func (e *Enricher) insertSkip(start, end, n int) int {
	i := n
	for i > 0 && e.skips[i-1][0] > start {
		e.skips[i] = e.skips[i-1]
		i--
	}
	e.skips[i] = [2]int{start, end}
	return n + 1
}
