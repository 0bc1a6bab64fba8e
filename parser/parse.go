package parser

import (
	"bytes"
	"time"
)

// Parser reads envelopes. The zero value is not usable; call New.
//
// A Parser keeps a little state between lines, as the AX switch output
// needs: a "Date ... UTC" header gives the zone of the lines after it,
// and a "Switch N" header their switch number. Give each stream of
// lines its own Parser; a Parser is not safe for concurrent use.
type Parser struct {
	loc     *time.Location
	refYear int
	refUnix int64

	axZone   int
	axZoned  bool
	axSwitch int

	hour hourCache
}

// New returns a Parser that reads times without a zone in loc and
// guesses the missing year of RFC 3164 timestamps from now: the latest
// year that does not put the line more than a week into the future.
func New(loc *time.Location, now time.Time) *Parser {
	if loc == nil {
		loc = time.UTC
	}
	p := &Parser{loc: loc}
	p.SetNow(now)
	return p
}

// SetNow updates the reference time used to guess years.
func (p *Parser) SetNow(now time.Time) {
	p.refYear = now.In(p.loc).Year()
	p.refUnix = now.Unix()
}

// Switch returns the switch number of the last "Switch N" header, or 0.
func (p *Parser) Switch() int { return p.axSwitch }

// Parse splits one line into e. Trailing CR and LF are ignored. It never
// fails: a line without a recognised envelope is a bare message.
func (p *Parser) Parse(line []byte, e *Envelope) {
	e.reset()
	for len(line) > 0 && (line[len(line)-1] == '\n' || line[len(line)-1] == '\r') {
		line = line[:len(line)-1]
	}
	rest := line
	pri := false
	if len(rest) > 2 && rest[0] == '<' {
		if n := priority(rest, e); n > 0 {
			rest, pri = rest[n:], true
		}
	}
	if !p.dispatch(rest, pri, e) {
		e.Message = rest
		bareProgram(e)
	}
	p.refine(e)
}

// dispatch tries the recognisers that a line starting as rest can be.
func (p *Parser) dispatch(rest []byte, pri bool, e *Envelope) bool {
	if len(rest) == 0 {
		return false
	}
	switch c := rest[0]; {
	case pri && c == '1' && len(rest) > 2 && rest[1] == ' ':
		p.rfc5424(rest[2:], e)
		return true
	case c >= 'A' && c <= 'Z':
		if p.bsd(rest, e) || p.weekdayDate(rest, pri, e) || !pri && p.header(rest, e) {
			return true
		}
	case c >= '0' && c <= '9' || c == 'X' || c == 'x':
		if p.iso(rest, e) || !pri && p.slashDate(rest, e) || p.unixTime(rest, e) {
			return true
		}
	case c == '[':
		if !pri && p.bracketStamp(rest, e) {
			return true
		}
	}
	return headerless(rest, e)
}

// priority reads "<N>" with N in 0..191, or the "<facility.severity>"
// that some devices write (<10.5>), into e and returns its length.
func priority(b []byte, e *Envelope) int {
	v, dot, digits := 0, -1, 0
	for i := 1; i < len(b) && i <= 6; i++ {
		c := b[i]
		switch {
		case c == '>':
			if digits == 0 {
				return 0
			}
			if dot >= 0 {
				if dot > 23 || v > 7 {
					return 0
				}
				e.Facility, e.Severity = int8(dot), int8(v)
				return i + 1
			}
			if v > 191 {
				return 0
			}
			e.Facility, e.Severity = int8(v>>3), int8(v&7)
			return i + 1
		case c == '.' && dot < 0 && digits > 0:
			dot, v, digits = v, 0, 0
		case c >= '0' && c <= '9':
			v = v*10 + int(c-'0')
			digits++
		default:
			return 0
		}
	}
	return 0
}

// refine handles what may follow any envelope: rsyslog's "message
// repeated N times: [ msg]" and "last message repeated N times", ssh's
// "debugN: " levels, OpenVPN's client prefix and the packet fields of
// kernel firewall lines.
func (p *Parser) refine(e *Envelope) {
	m := e.Message
	if n, inner, ok := repeated(m); ok {
		e.Repeated, m = n, inner
	}
	if len(m) > 8 && m[0] == 'd' && bytes.HasPrefix(m, []byte("debug")) && m[5] >= '1' && m[5] <= '3' && m[6] == ':' && m[7] == ' ' {
		e.Level = m[:6]
		m = m[8:]
		if e.Format == FormatBare {
			e.Format, e.Program = FormatSSHClient, progSSH
		}
	}
	e.Message = m
	switch {
	case isKernel(e.Program):
		// Ubuntu's kern.log and ufw.log keep the kernel's uptime stamp.
		if n := uptimeStamp(e.Message); n > 0 {
			e.Message = e.Message[n:]
		}
		parseNetfilter(e)
	case e.Format == FormatVPNGateway || e.Format == FormatOpenVPN || isOpenVPN(e.Program) || e.Program == nil:
		clientPrefix(e)
	}
	if e.Format == FormatAX {
		e.Switch = p.axSwitch
	}
}

// repeated reads rsyslog's "message repeated N times: [ msg]", whose
// inner message it returns, and syslogd's "last message repeated N
// times", which it leaves as the message (it is an event of its own).
func repeated(m []byte) (int, []byte, bool) {
	if len(m) < 22 || m[0] != 'm' && m[0] != 'l' && m[0] != '-' {
		return 0, nil, false
	}
	switch {
	case bytes.HasPrefix(m, []byte("message repeated ")):
		n, i := leadingInt(m[len("message repeated "):])
		rest := m[len("message repeated ")+i:]
		if i == 0 || !bytes.HasPrefix(rest, []byte(" times: [")) {
			return 0, nil, false
		}
		inner := rest[len(" times: ["):]
		inner = bytes.TrimRight(inner, " ")
		inner = bytes.TrimSuffix(inner, []byte("]"))
		return n, bytes.TrimLeft(inner, " "), true
	case bytes.HasPrefix(m, []byte("last message repeated ")), bytes.HasPrefix(m, []byte("--- last message repeated ")):
		at := bytes.Index(m, []byte("repeated ")) + len("repeated ")
		n, i := leadingInt(m[at:])
		if i == 0 || !bytes.HasPrefix(m[at+i:], []byte(" time")) {
			return 0, nil, false
		}
		return n, m, true
	}
	return 0, nil, false
}

// leadingInt reads up to nine leading digits.
func leadingInt(b []byte) (n, i int) {
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9' && i < 9; i++ {
		n = n*10 + int(b[i]-'0')
	}
	return n, i
}

func atoi(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 10 {
		return 0, false
	}
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// cutBlank splits at the first blank.
func cutBlank(b []byte) (tok, rest []byte) {
	i := bytes.IndexByte(b, ' ')
	if i < 0 {
		return b, nil
	}
	return b[:i], b[i+1:]
}

// skipBlanks drops leading blanks.
func skipBlanks(b []byte) []byte {
	for len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	return b
}

func nilDash(b []byte) []byte {
	if len(b) == 1 && b[0] == '-' {
		return nil
	}
	return b
}
