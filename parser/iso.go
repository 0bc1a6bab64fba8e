package parser

// iso reads an RFC 3339 / ISO 8601 prefix, as rsyslog's high-precision
// format and journalctl's short-iso write it:
//
//	2024-06-16T07:37:30.123456+09:00 host tag: msg
//	2020-03-25 09:01:30.852002-0700  host sshd[1]: msg   (macOS, rsyslog)
//	2024-06-16 07:37:30 msg                              (OpenVPN 2.5 --log)
//
// A date and time separated by a blank with no zone is OpenVPN's own log
// unless a syslog tag follows.
func (p *Parser) iso(b []byte, e *Envelope) bool {
	var c civil
	if !dateAt(b, 0, '-', &c) || len(b) < 20 || (b[10] != 'T' && b[10] != ' ') || !clock(b, 11, &c) || !c.valid() {
		return false
	}
	i := 19
	c.nsec, i = fraction(b, i)
	off, next, zoned := zoneOffset(b, i)
	if zoned {
		e.Time = c.inZone(off)
		i = next
	} else {
		e.Time = p.local(c)
	}
	if i >= len(b) || b[i] != ' ' {
		return false
	}
	rest := b[i+1:]
	if b[10] == ' ' && !zoned && !startsWithTag(rest) {
		e.Format = FormatOpenVPN
		e.Message = rest
		return true
	}
	e.Format = FormatISO
	syslogBody(rest, e)
	return true
}

// startsWithTag reports whether b is "tag[pid]: ..." or "host tag[pid]: ...".
func startsWithTag(b []byte) bool {
	tok, after := cutBlank(b)
	if _, _, pid, ok := tagOf(tok); ok && pid >= 0 {
		return true
	}
	tok, _ = cutBlank(after)
	_, _, pid, ok := tagOf(tok)
	return ok && pid >= 0
}

// dateAt reads "yyyy<sep>mm<sep>dd" at b[i:]. A year written with
// placeholder X's, as manuals print "20XX/06/16", leaves c.year 0.
func dateAt(b []byte, i int, sep byte, c *civil) bool {
	if i+10 > len(b) || b[i+4] != sep || b[i+7] != sep {
		return false
	}
	var ok bool
	if c.year, ok = num(b, i, 4); !ok {
		c.year = 0
		for _, ch := range b[i : i+4] {
			if ch != 'X' && ch != 'x' && (ch < '0' || ch > '9') {
				return false
			}
		}
	}
	if c.month, ok = num(b, i+5, 2); !ok {
		return false
	}
	c.day, ok = num(b, i+8, 2)
	return ok
}

// weekdayDate reads the two envelopes that open with a weekday:
//
//	Thu Jun 16 07:37:30 2024 msg                         OpenVPN's own log (ctime)
//	Sun Jun 16 07:37:30 2024 authpriv.info dropbear[1]: msg   OpenWrt logread
//	Sun 2024-06-16 07:37:30 UTC host sshd[1]: msg        journalctl short-full
func (p *Parser) weekdayDate(b []byte, pri bool, e *Envelope) bool {
	if len(b) < 25 || !weekday(b, 0) || b[3] != ' ' {
		return false
	}
	var c civil
	if dateAt(b, 4, '-', &c) {
		return p.shortFull(b, &c, e)
	}
	var ok bool
	if c.month, ok = month(b, 4); !ok || b[7] != ' ' {
		return false
	}
	if b[8] == ' ' {
		c.day, ok = num(b, 9, 1)
	} else {
		c.day, ok = num(b, 8, 2)
	}
	if !ok || b[10] != ' ' || !clock(b, 11, &c) || b[19] != ' ' {
		return false
	}
	if c.year, ok = num(b, 20, 4); !ok || !c.valid() {
		return false
	}
	e.Time = p.local(c)
	var rest []byte
	if len(b) > 24 {
		rest = b[25:]
	}
	if fac, sev, ok := facilityLevel(rest); ok {
		if _, after := cutBlank(rest); tagOK(after) {
			e.Format = FormatRFC3164
			e.Facility, e.Severity = fac, sev
			takeTag(after, e)
			return true
		}
	}
	if pri {
		return false
	}
	e.Format = FormatOpenVPN
	e.Message = rest
	return true
}

// shortFull reads journalctl's short-full "Sun 2024-06-16 07:37:30 UTC
// host tag: msg", whose zone is a name or an offset.
func (p *Parser) shortFull(b []byte, c *civil, e *Envelope) bool {
	if b[14] != ' ' || !clock(b, 15, c) || !c.valid() {
		return false
	}
	i := 23
	c.nsec, i = fraction(b, i)
	if i >= len(b) || b[i] != ' ' {
		return false
	}
	zone, rest := cutBlank(b[i+1:])
	if off, ok := namedZone(zone); ok {
		e.Time = c.inZone(off)
	} else {
		// An abbreviation we cannot place: the Parser's zone is assumed.
		e.Time = p.local(*c)
	}
	e.Format = FormatJournald
	syslogBody(rest, e)
	return true
}

// unixTime reads journalctl's short-unix "1718523450.123456 host tag: msg".
func (p *Parser) unixTime(b []byte, e *Envelope) bool {
	i := 0
	var sec int64
	for i < len(b) && b[i] >= '0' && b[i] <= '9' && i < 12 {
		sec = sec*10 + int64(b[i]-'0')
		i++
	}
	if i < 9 || i >= len(b) || b[i] != '.' {
		return false
	}
	nsec, j := fraction(b, i)
	if j == i || j >= len(b) || b[j] != ' ' || !startsWithTag(b[j+1:]) {
		return false
	}
	e.Time = Time{Unix: sec, Nsec: int32(nsec), Valid: true, Zoned: true}
	e.Format = FormatJournald
	syslogBody(b[j+1:], e)
	return true
}
