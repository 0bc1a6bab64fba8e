package parser

import "bytes"

// rfc5424 reads "TIMESTAMP HOST APP PROCID MSGID SD MSG" after "<PRI>1 ".
func (p *Parser) rfc5424(b []byte, e *Envelope) {
	e.Format = FormatRFC5424
	ts, rest := cutBlank(b)
	if len(ts) > 1 || len(ts) == 1 && ts[0] != '-' {
		var c civil
		if dateAt(ts, 0, '-', &c) && len(ts) >= 19 && ts[10] == 'T' && clock(ts, 11, &c) && c.valid() {
			i := 19
			c.nsec, i = fraction(ts, i)
			if off, _, ok := zoneOffset(ts, i); ok {
				e.Time = c.inZone(off)
			} else {
				e.Time = p.local(c)
			}
		}
	}
	var host, app, procid []byte
	host, rest = cutBlank(rest)
	app, rest = cutBlank(rest)
	procid, rest = cutBlank(rest)
	_, rest = cutBlank(rest) // MSGID
	e.Host, e.Program = nilDash(host), nilDash(app)
	if pid, ok := atoi(procid); ok {
		e.PID = pid
	}
	// Structured data: "-" or one or more [id k="v" ...] elements.
	if len(rest) > 0 && rest[0] == '-' {
		rest = rest[1:]
	} else {
		for len(rest) > 0 && rest[0] == '[' {
			i := 1
			for i < len(rest) && rest[i] != ']' {
				if rest[i] == '\\' {
					i++
				}
				i++
			}
			if i >= len(rest) {
				rest = rest[len(rest):]
				break
			}
			rest = rest[i+1:]
		}
	}
	if len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
	}
	rest = bytes.TrimPrefix(rest, []byte("\xef\xbb\xbf"))
	e.Message = rest
}
