package main

import (
	"bytes"
	"fmt"
	"runtime/debug"

	"github.com/sshenrich/sshenrich/parser"
	"github.com/sshenrich/sshenrich/plugin/chunk"
	"github.com/sshenrich/sshenrich/plugin/config"
	"github.com/sshenrich/sshenrich/plugin/metrics"
	"github.com/sshenrich/sshenrich/plugin/record"
	"github.com/sshenrich/sshenrich/rules"
)

// worker is the scratch space of one flush. Buffers keep their capacity
// from flush to flush, so a steady stream does not allocate per record.
type worker struct {
	cfg     *config.Config
	x       *record.Enricher
	dec     chunk.Decoder
	it      chunk.MapIter
	enc     record.Msgpack
	out     []byte
	batches []batch
	batch   batch
	written int            // events written to out for the current chunk
	tally   *metrics.Tally // records by code for metrics_listen; nil when off
}

// batch is one PackedForward message's slice of out.
type batch struct{ start, end, count int }

// result counts what a flush did.
type result struct {
	records, classified, unclassified, passed int
	err                                       error // malformed chunk
}

func newWorker(cat *rules.Catalog, cfg *config.Config) *worker {
	opts := record.Options{Style: cfg.Style, Lang: cfg.Lang, Location: cfg.Location, Mask: cfg.Mask,
		Detail: cfg.Detail, ActionMinSeverity: cfg.ActionMinSeverity, ReferenceURL: cfg.ReferenceURL}
	return &worker{cfg: cfg, x: record.New(cat, opts)}
}

// Test hooks: panicHook forces a panic in the enrichment path and
// flushHook one after it; recovered sees a panic that was turned into a
// pass-through. Only tests and the sshenrich_testhooks build set them.
var (
	panicHook func()
	flushHook func()
	recovered func(any)
	statsHook func() // runs before each stats sample
)

// enrichChunk writes the enriched events of data into w.out, cut into
// batches of at most max_payload_size. If enrichment panics, the chunk's
// events are sent on unchanged rather than lost.
func (w *worker) enrichChunk(data []byte, log *logger) (res result) {
	defer func() {
		if r := recover(); r != nil {
			if recovered != nil {
				recovered(r)
			}
			log.errorf("internal error while enriching (%v); re-emitting the chunk's records unchanged\n%s", r, debug.Stack())
			res = w.passThrough(data)
		}
	}()
	w.reset()
	w.dec.Reset(data)
	for w.dec.Next() {
		if panicHook != nil {
			panicHook()
		}
		ev := w.dec.Event()
		start, written := len(w.out), w.written
		w.event(ev, &res)
		w.cut(start, w.written-written)
	}
	w.finish()
	res.err = w.dec.Err()
	return res
}

func (w *worker) reset() {
	w.out, w.batches = w.out[:0], w.batches[:0]
	w.batch, w.written = batch{}, 0
}

// cut closes the current batch before the n events that start at start
// (one input event, split into n by a multi-line message) when they
// would make the batch too big.
func (w *worker) cut(start, n int) {
	if len(w.out)-w.batch.start > w.cfg.Forward.MaxPayload && start > w.batch.start {
		w.batches = append(w.batches, batch{w.batch.start, start, w.batch.count})
		w.batch = batch{start: start}
	}
	w.batch.count += n
}

func (w *worker) finish() {
	if len(w.out) > w.batch.start {
		w.batches = append(w.batches, batch{w.batch.start, len(w.out), w.batch.count})
	}
}

// passThrough copies the chunk's decodable events unchanged.
func (w *worker) passThrough(data []byte) result {
	var res result
	w.tally.Reset() // metrics hook: nothing was enriched after all
	w.reset()
	w.dec.Reset(data)
	for w.dec.Next() {
		start := len(w.out)
		w.out = append(w.out, w.dec.Event().Raw...)
		res.records++
		res.passed++
		w.cut(start, 1)
	}
	w.finish()
	res.err = w.dec.Err()
	return res
}

// event writes one event, enriched where possible.
func (w *worker) event(ev *chunk.Event, res *result) {
	if ev.Group != chunk.NotGroup {
		// OTLP group markers keep the grouping downstream; they are not records.
		w.raw(ev)
		return
	}
	res.records++
	style := w.cfg.Style
	var taken record.Taken
	fields := record.NoFields
	msgRank, msgStart, msgEnd := len(w.cfg.MessageKeys), -1, -1
	var msgKey, msgVal []byte
	if !w.it.Reset(ev.Body) {
		// Not a map: nothing can be added; the record goes on as it is.
		w.raw(ev)
		res.passed++
		return
	}
	for w.it.Next() {
		key := w.it.Key()
		taken.Add(key, style)
		for i := 0; i < msgRank; i++ {
			if string(key) == w.cfg.MessageKeys[i] {
				msgRank, msgKey, msgVal = i, key, w.it.Value()
				msgStart, msgEnd = w.it.MemberStart(), w.it.MemberEnd()
				break
			}
		}
		structuredField(&fields, key, w.it.Value())
	}
	if w.it.Err() != nil || taken.Enriched() {
		w.raw(ev)
		res.passed++
		return
	}
	if msgKey == nil {
		e := w.x.Unclassified(record.ReasonNoMessage, &fields)
		w.count(e, res)
		w.record(ev, e, taken, nil, nil, -1, -1)
		return
	}
	line, ok := chunk.Str(msgVal)
	if !ok {
		e := w.x.Unclassified(record.ReasonNotString, &fields)
		w.count(e, res)
		w.record(ev, e, taken, nil, nil, -1, -1)
		return
	}
	if bytes.IndexByte(line, '\n') >= 0 && parser.IsMultiline(line) {
		// A whole command output in one record, such as an AX switch's
		// "show ssh logging": one record per line, each with its line
		// under the message key and the other keys as they were.
		first := true
		for l := range parser.Lines(line) {
			if !first {
				res.records++
			}
			first = false
			e := w.x.ClassifyFields(l, &fields)
			w.count(e, res)
			if m := w.x.MaskedLine(e); m != nil {
				l = m
			}
			w.record(ev, e, taken, msgKey, l, msgStart, msgEnd)
		}
		return
	}
	e := w.x.ClassifyFields(line, &fields)
	w.count(e, res)
	if m := w.x.MaskedLine(e); m != nil {
		// mask_message: the line itself carries the user and addresses.
		w.record(ev, e, taken, msgKey, m, msgStart, msgEnd)
		return
	}
	w.record(ev, e, taken, nil, nil, -1, -1)
}

func (w *worker) count(e *record.Event, res *result) {
	w.tally.Count(e) // metrics hook
	if e.Classified() {
		res.classified++
	} else {
		res.unclassified++
	}
}

// raw writes ev as it came.
func (w *worker) raw(ev *chunk.Event) {
	w.out = append(w.out, ev.Raw...)
	w.written++
}

// record writes one output event: ev's time and metadata, ev's body
// members, and the added fields. When key is set, the member at
// [skipStart, skipEnd) of the body is replaced by key: line.
func (w *worker) record(ev *chunk.Event, e *record.Event, taken record.Taken, key, line []byte, skipStart, skipEnd int) {
	w.written++
	w.out = chunk.AppendHead(w.out, ev)
	header := len(w.out)
	w.out = append(w.out, 0xdf, 0, 0, 0, 0) // map32, count patched below
	n, first, _ := chunk.MapHeader(ev.Body)
	if key != nil {
		w.out = append(w.out, ev.Body[first:skipStart]...)
		w.out = append(w.out, ev.Body[skipEnd:]...)
		w.out = record.AppendStrHeader(w.out, len(key))
		w.out = append(w.out, key...)
		w.out = record.AppendStrHeader(w.out, len(line))
		w.out = append(w.out, line...)
	} else {
		w.out = append(w.out, ev.Body[first:]...)
	}
	w.enc.Start(w.out)
	n += w.x.Write(&w.enc, e, taken)
	w.out = w.enc.Buf
	w.out[header+1], w.out[header+2], w.out[header+3], w.out[header+4] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
}

// structuredField picks envelope values that a record carries as keys:
// Fluent Bit's syslog parsers and syslog input (host, ident, pid, pri)
// and the systemd input (_HOSTNAME, SYSLOG_IDENTIFIER, _PID, PRIORITY,
// SYSLOG_FACILITY, _COMM), also as its Strip_Underscores and Lowercase
// options write them (HOSTNAME, _hostname, hostname, ...).
func structuredField(f *record.Fields, key, val []byte) {
	switch string(key) {
	case "host", "hostname", "_HOSTNAME", "HOSTNAME", "_hostname":
		if s, ok := chunk.Str(val); ok && f.Host == nil {
			f.Host = s
		}
	case "ident", "SYSLOG_IDENTIFIER", "syslog_identifier", "appname":
		if s, ok := chunk.Str(val); ok {
			f.Program = s
		}
	case "_COMM", "COMM", "_comm", "comm":
		// The executable's name, when the record has no identifier.
		if s, ok := chunk.Str(val); ok && f.Program == nil {
			f.Program = s
		}
	case "pid", "_PID", "PID", "_pid", "SYSLOG_PID", "syslog_pid":
		if n, ok := number(val); ok && n >= 0 && n < 1<<31 && f.PID < 0 {
			f.PID = int(n)
		}
	case "pri":
		if n, ok := number(val); ok && n >= 0 && n <= 191 {
			f.Facility, f.Severity = int8(n>>3), int8(n&7)
		}
	case "PRIORITY", "priority":
		if n, ok := number(val); ok && n >= 0 && n <= 7 {
			f.Severity = int8(n)
		}
	case "SYSLOG_FACILITY", "syslog_facility":
		if n, ok := number(val); ok && n >= 0 && n <= 23 {
			f.Facility = int8(n)
		}
	}
}

// number reads an integer written as a msgpack int or as decimal text.
func number(v []byte) (int64, bool) {
	if n, ok := chunk.Int(v); ok {
		return n, true
	}
	s, ok := chunk.Str(v)
	if !ok || len(s) == 0 || len(s) > 10 {
		return 0, false
	}
	var n int64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// String describes a result for logs and tests.
func (r result) String() string {
	return fmt.Sprintf("%d records: %d classified, %d unclassified, %d passed through", r.records, r.classified, r.unclassified, r.passed)
}
