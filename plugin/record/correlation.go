package record

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/sshenrich/sshenrich/correlate"
	"github.com/sshenrich/sshenrich/parser"
	"github.com/sshenrich/sshenrich/rules"
)

// The correlation engine's answers (docs/correlation.md) are written
// at every detail level: they are short, and an aggregator correlates
// from them.
//
//	sshenrich.session.id        the session's id, the same on each of its lines
//	sshenrich.inferred          the fields the line lacked and its session supplied
//	source.ip, source.port,     the inferred values, in the places of the
//	user.name, sshenrich.*      line's own
//	event.duration              on a closing line: ns since the session's first line
//	sshenrich.repeat            a polled AX line seen in an earlier poll (dedup mark)

// correlation writes the line's correlation fields under sshenrich.
func (w *writer) correlation(c *correlate.Output) {
	if c.SessionID != nil {
		w.open("session")
		w.string2("id", c.SessionID)
		w.close()
	}
	if c.Inferred != 0 {
		w.strs("inferred", c.Inferred.Names(w.inferred[:0]))
		if c.Inferred.Has(correlate.InferredCommonName) {
			v := c.CommonName
			if w.mask != nil {
				v = w.mask.user(v)
			}
			w.string2("common_name", v)
		}
		if c.Inferred.Has(correlate.InferredPoolIP) {
			v := c.PoolIP
			if w.mask != nil && w.mask.m.IP != MaskOff {
				v = w.mask.hostText(v, rules.TypeIP)
			}
			w.string2("pool_ip", v)
		}
		if c.Inferred.Has(correlate.InferredVRF) {
			w.int("vrf", c.VRF)
		}
		if c.Inferred.Has(correlate.InferredRDomain) {
			w.string2("rdomain", c.RDomain)
		}
		if c.Inferred.Has(correlate.InferredBytesSent) {
			w.int("bytes_sent", int(c.BytesSent))
		}
		if c.Inferred.Has(correlate.InferredBytesReceived) {
			w.int("bytes_received", int(c.BytesReceived))
		}
	}
	if c.Repeat {
		w.bool("repeat", true)
	}
}

// string2 writes a value that did not come from this line (an earlier
// line of its session, an alert's key): its own UTF-8 check decides.
func (w *writer) string2(name string, v []byte) {
	w.key(name)
	if utf8.Valid(v) {
		w.string(view(v))
	} else {
		w.enc.Bytes(v)
	}
}

// WriteAlert writes the fields of an alert record: what a correlation
// rule raised (docs/correlation.md, Alerts), in the output style, detail
// and language of the line records. It returns the number of top-level
// keys written; the caller writes the enclosing map.
//
//	message    one line that says it all, from values only (alertMessage)
//	event      kind alert, code, category, type, severity, start and end of the run
//	rule       name and description (as for a line: per detail and language)
//	source.ip, user.name, host.hostname, process.name   the group-by values
//	host.hostname  else the host of the line that raised it
//	threat     the rule's ATT&CK techniques
//	sshenrich  family, action (or remediation), count, window, samples,
//	           trigger (the code of the line that raised it), session.id
//	           (that line's session), other group-by values
//
// id, when not nil, is written as event.id (the caller derives it from
// the line that raised the alert).
func (x *Enricher) WriteAlert(enc Encoder, a *correlate.Alert, id []byte) int {
	w := &x.w
	e := a.Rule.Entry
	ev := &x.alertEv
	*ev = Event{Env: parser.Envelope{PID: -1, Facility: -1, Severity: -1}, Match: rules.Result{Entry: e}, Family: e.Family}
	w.enc, w.ev, w.flat, w.lean = enc, ev, x.opts.Style == StyleFlat, x.opts.Detail != DetailFull
	w.mp, _ = enc.(*Msgpack)
	w.prefix, w.nmarks, w.level, w.top = w.prefix[:0], 0, 0, 0
	w.mg.reset()
	w.alert = true
	defer func() { w.alert = false }()
	r := &w.r
	*r = resolved{srcPort: -1, dstPort: -1}
	for i, f := range a.Rule.GroupBy {
		v := a.Key(i)
		if len(v) == 0 || !utf8.Valid(v) {
			continue
		}
		switch f {
		case rules.FieldSourceIP:
			r.src = classifyHost(v, rules.TypeHost)
		case rules.FieldUser:
			r.user = v
		case rules.FieldHost:
			ev.Env.Host = v
		case rules.FieldProgram:
			ev.Env.Program = v
		}
	}
	if h := a.Trigger.Host; ev.Env.Host == nil && len(h) > 0 && utf8.Valid(h) {
		ev.Env.Host = h // where the alert was raised: the host to act on
	}
	w.maskResolved()

	w.scratch = w.alertMessage(w.scratch[:0], a)
	w.key("message")
	w.string(view(validUTF8(w.scratch)))
	w.open("event")
	if id != nil {
		w.string2("id", id)
	}
	w.str("kind", e.Kind)
	w.str("code", e.Code)
	if len(e.Categories) > 0 {
		w.strs("category", e.Categories)
	}
	if len(e.Types) > 0 {
		w.strs("type", e.Types)
	}
	w.int("severity", e.Severity.Number())
	if !w.lean {
		w.str("dataset", Namespace+"."+e.Family)
	}
	w.alertTime("start", a.First)
	w.alertTime("end", a.Last)
	if !w.lean && len(w.ingested) > 0 {
		w.str("ingested", view(w.ingested))
	}
	w.close()
	for g := range numGroups {
		switch {
		case g == groupEvent, w.lean && leanSkips[g], g == groupECS && w.flat:
		default:
			w.group(g)
		}
	}
	w.open(Namespace)
	w.staticNamespace()
	w.int("count", a.Count)
	w.key("window")
	w.scratch = appendShortDuration(w.scratch[:0], a.Window)
	w.string(view(w.scratch))
	if n := a.Samples(); n > 0 {
		w.key("samples")
		if !w.flat {
			w.enc.BeginArray()
		}
		w.scratch = w.scratch[:0]
		for i := range n {
			v := w.maskField(a.Rule.Sample, a.Sample(i))
			if w.flat {
				if i > 0 {
					w.scratch = append(w.scratch, ',')
				}
				w.scratch = append(w.scratch, v...)
			} else {
				w.valueOf(v)
			}
		}
		if w.flat {
			w.valueOf(w.scratch)
		} else {
			w.enc.EndArray()
		}
	}
	if t := a.Trigger.Entry; t != nil {
		w.str("trigger", t.Code)
	}
	if id := a.Trigger.SessionID; len(id) > 0 {
		// The pivot to every line of the session that raised it (the
		// login to review after CORR-0002).
		w.open("session")
		w.string2("id", id)
		w.close()
	}
	for i, f := range a.Rule.GroupBy {
		switch f {
		case rules.FieldSourceIP, rules.FieldUser, rules.FieldHost, rules.FieldProgram, rules.FieldNone:
			continue // in their ECS places above
		}
		if v := a.Key(i); len(v) > 0 {
			w.string2(nsField(f), w.maskField(f, v))
		}
	}
	w.close()
	return w.top
}

// alertMessage appends the alert's message: its code and name, the
// count and window (for a rule of more than one event), the group it
// counted, the samples, the rule it followed, and the line that raised
// it, from values only (the same in every language and at every detail
// level), masked as the fields are. Log viewers (Loki, Splunk, Kibana's
// Discover) show it where they show a line's message:
//
//	CORR-0001 ssh-brute-force: 8 events in 2m for source.ip=203.0.113.45 (user.name: root, admin); raised by SSHD-0032 on web01
//	CORR-0002 ssh-login-after-failures: source.ip=203.0.113.45 (user.name: alice) after CORR-0001; raised by SSHD-0003 on web02
func (w *writer) alertMessage(b []byte, a *correlate.Alert) []byte {
	r := a.Rule
	b = append(append(append(b, r.Entry.Code...), ' '), r.Entry.Name...)
	b = append(b, ':')
	sep := " "
	if r.Count > 1 {
		b = append(strconv.AppendInt(append(b, ' '), int64(a.Count), 10), ' ')
		if r.Distinct != rules.FieldNone {
			b = append(append(b, "distinct "...), r.Distinct.String()...)
		} else {
			b = append(b, "events"...)
		}
		b = appendShortDuration(append(b, " in "...), a.Window)
		sep = " for "
	}
	for i, f := range r.GroupBy {
		if v := a.Key(i); len(v) > 0 {
			b = append(append(append(append(b, sep...), f.String()...), '='), w.maskField(f, v)...)
			sep = ", "
		}
	}
	if n := a.Samples(); n > 0 {
		b = append(append(append(b, " ("...), r.Sample.String()...), ": "...)
		for i := range n {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = append(b, w.maskField(r.Sample, a.Sample(i))...)
		}
		b = append(b, ')')
	}
	if a.After != nil {
		b = append(append(b, " after "...), a.After.Code()...)
	}
	if t := a.Trigger.Entry; t != nil {
		b = append(append(b, "; raised by "...), t.Code...)
		if h := w.ev.Env.Host; len(h) > 0 {
			b = append(append(b, " on "...), h...)
		}
	}
	return b
}

// validUTF8 replaces, in place, each byte of b that is not part of
// valid UTF-8 with '?': a message is text whatever a user name held
// (the samples keep the bytes as they were).
func validUTF8(b []byte) []byte {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			b[i] = '?'
		}
		i += n
	}
	return b
}

// maskField masks a correlation field's value as the line's own would be.
func (w *writer) maskField(f rules.Field, v []byte) []byte {
	if w.mask == nil {
		return v
	}
	switch f {
	case rules.FieldUser, rules.FieldCommonName:
		return w.mask.user(v)
	case rules.FieldSourceIP, rules.FieldPoolIP:
		if w.mask.m.IP != MaskOff {
			return w.mask.hostText(v, rules.TypeHost)
		}
	}
	return v
}

// valueOf writes a list item that did not come from the line.
func (w *writer) valueOf(v []byte) {
	if utf8.Valid(v) {
		w.string(view(v))
	} else {
		w.enc.Bytes(v)
	}
}

// nsField is a sshenrich.* field's name under the namespace.
func nsField(f rules.Field) string {
	s := f.String()
	if len(s) > len(Namespace)+1 && s[:len(Namespace)+1] == Namespace+"." {
		return s[len(Namespace)+1:]
	}
	return s
}

// alertTime writes a line time (Unix ns) in RFC 3339, UTC.
func (w *writer) alertTime(name string, ns int64) {
	if ns <= 0 {
		return
	}
	t := parser.Time{Unix: ns / 1e9, Nsec: int32(ns % 1e9), Valid: true}
	w.scratch = t.AppendRFC3339(w.scratch[:0])
	w.key(name)
	w.string(view(w.scratch))
}

// ShortDuration writes a duration as an alert's sshenrich.window does:
// 2m, 24h, 90s or 7d rather than Go's 2m0s.
func ShortDuration(d time.Duration) string { return string(appendShortDuration(nil, d)) }

// appendShortDuration writes 2m, 24h, 90s or 7d rather than Go's 2m0s.
func appendShortDuration(b []byte, d time.Duration) []byte {
	switch {
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return append(strconv.AppendInt(b, int64(d/(24*time.Hour)), 10), 'd')
	case d > 0 && d%time.Hour == 0:
		return append(strconv.AppendInt(b, int64(d/time.Hour), 10), 'h')
	case d > 0 && d%time.Minute == 0:
		return append(strconv.AppendInt(b, int64(d/time.Minute), 10), 'm')
	case d > 0 && d%time.Second == 0:
		return append(strconv.AppendInt(b, int64(d/time.Second), 10), 's')
	}
	return append(b, d.String()...)
}
