package parser

import "bytes"

// bsd reads an RFC 3164 timestamp, "Mmm dd hh:mm:ss", as syslog daemons
// and journalctl's short and short-precise outputs write it: the day
// padded with a blank or not ("Nov 2 15:40:14"), optional fractional
// seconds, and an optional year. The host and tag follow (syslogBody).
func (p *Parser) bsd(b []byte, e *Envelope) bool {
	if len(b) < 15 || b[3] != ' ' {
		return false
	}
	var c civil
	var ok bool
	if c.month, ok = month(b, 0); !ok {
		return false
	}
	i := 4
	if b[i] == ' ' {
		i++
	}
	switch {
	case i+1 < len(b) && b[i+1] == ' ':
		c.day, ok = num(b, i, 1)
		i += 2
	default:
		c.day, ok = num(b, i, 2)
		i += 3
		ok = ok && i-1 < len(b) && b[i-1] == ' '
	}
	if !ok || i+8 > len(b) || !clock(b, i, &c) {
		return false
	}
	i += 8
	c.nsec, i = fraction(b, i)
	if i < len(b) && b[i] != ' ' {
		return false
	}
	// Some devices add the year: "Jun 16 07:37:30 2024 host ...".
	if y, ok := num(b, i+1, 4); ok && i+5 < len(b) && b[i+5] == ' ' && y >= 1970 {
		c.year, i = y, i+5
	}
	if c.year == 0 {
		c.year = p.refYear
		if !c.valid() {
			return false
		}
		e.Time = p.local(c)
		if e.Time.Unix > p.refUnix+7*86400 {
			c.year--
			e.Time = p.local(c)
		}
		e.Time.YearGuessed = true
	} else if c.valid() {
		e.Time = p.local(c)
	}
	e.Format = FormatRFC3164
	if i < len(b) {
		i++
	}
	syslogBody(b[i:], e)
	return true
}

// syslogBody reads what follows a syslog timestamp:
//
//	host tag: msg                      the common form
//	tag: msg                           no host (journald, local syslog)
//	 tag: msg                          an empty host: a second blank
//	host facility.level tag: msg       BusyBox and OpenWrt syslogd
//	host tag: [ID 800047 auth.info] msg    Solaris
//	host msg                           no tag
func syslogBody(b []byte, e *Envelope) {
	// An empty host leaves a second blank; macOS pads with two.
	b = skipBlanks(b)
	tok, after := cutBlank(b)
	if setTag(tok, after, e) {
		return
	}
	if len(tok) > 0 {
		e.Host = tok
	}
	tok2, after2 := cutBlank(after)
	if setTag(tok2, after2, e) {
		return
	}
	if bytes.IndexByte(tok2, '.') > 0 {
		if fac, sev, ok := facilityLevel(tok2); ok {
			if tok3, after3 := cutBlank(after2); setTag(tok3, after3, e) {
				e.Facility, e.Severity = fac, sev
				return
			}
		}
	}
	e.Message = after
}

// setTag reads tok as a syslog tag and msg as its message into e.
func setTag(tok, msg []byte, e *Envelope) bool {
	name, module, pid, ok := tagOf(tok)
	if !ok {
		return false
	}
	e.Program, e.Module, e.PID = name, module, pid
	e.Message = solarisID(msg, e)
	return true
}

// tagOK reports whether b starts with a syslog tag.
func tagOK(b []byte) bool {
	tok, _ := cutBlank(b)
	_, _, _, ok := tagOf(tok)
	return ok
}

// takeTag reads "tag: msg" at the start of b into e.
func takeTag(b []byte, e *Envelope) bool {
	tok, after := cutBlank(b)
	return setTag(tok, after, e)
}

// solarisID reads Solaris's "[ID 800047 auth.info] " before a message.
func solarisID(b []byte, e *Envelope) []byte {
	if !bytes.HasPrefix(b, []byte("[ID ")) {
		return b
	}
	end := bytes.IndexByte(b, ']')
	if end < 0 {
		return b
	}
	id, level := cutBlank(b[4:end])
	if _, ok := atoi(id); !ok {
		return b
	}
	if fac, sev, ok := facilityLevel(level); ok {
		e.Facility, e.Severity = fac, sev
	}
	e.MsgID = id
	return skipBlanks(b[end+1:])
}

// facilityLevel reads a "facility.level" word (auth.info, authpriv.warn)
// at the start of b.
func facilityLevel(b []byte) (int8, int8, bool) {
	tok, _ := cutBlank(b)
	fac, sev, ok := bytes.Cut(tok, []byte("."))
	if !ok {
		return 0, 0, false
	}
	f, s := -1, -1
	for i, n := range facilityNames {
		if string(fac) == n {
			f = i
			break
		}
	}
	if f < 0 && string(fac) == "security" {
		f = 4
	}
	for i, n := range severityNames {
		if string(sev) == n {
			s = i
			break
		}
	}
	switch string(sev) {
	case "warn":
		s = 4
	case "error":
		s = 3
	case "panic", "emergency":
		s = 0
	case "critical":
		s = 2
	}
	if f < 0 || s < 0 {
		return 0, 0, false
	}
	return int8(f), int8(s), true
}
