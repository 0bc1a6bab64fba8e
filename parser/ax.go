package parser

import "bytes"

// slashDate reads "yyyy/mm/dd hh:mm:ss " followed by an AX "sshd[pid] msg"
// or a VPN gateway "tunnel [user/]ip:port msg".
func (p *Parser) slashDate(b []byte, e *Envelope) bool {
	var c civil
	if !dateAt(b, 0, '/', &c) || len(b) < 20 || b[10] != ' ' || !clock(b, 11, &c) || b[19] != ' ' || !c.valid() {
		return false
	}
	if c.year != 0 {
		if p.axZoned {
			e.Time = c.inZone(p.axZone)
		} else {
			e.Time = p.local(c)
		}
	}
	rest := b[20:]
	tok, after := cutBlank(rest)
	if name, pid, ok := programPID(tok); ok {
		e.Format = FormatAX
		e.Program, e.PID = name, pid
		e.Message = after
		return true
	}
	e.Format = FormatVPNGateway
	e.Tunnel = tok
	e.Message = after
	return true
}

// header reads the AX "Date yyyy/mm/dd hh:mm:ss ZONE" header and the
// "Switch N" header of stacked switches.
func (p *Parser) header(b []byte, e *Envelope) bool {
	if bytes.HasPrefix(b, []byte("Date ")) {
		var c civil
		if !dateAt(b, 5, '/', &c) || len(b) < 25 || b[15] != ' ' || !clock(b, 16, &c) || !c.valid() {
			return false
		}
		if len(b) > 24 && b[24] != ' ' {
			return false
		}
		// An unknown zone name leaves the zone to the Parser's Location.
		off, ok := namedZone(bytes.TrimSpace(b[24:]))
		p.axZone, p.axZoned = off, ok
		if c.year != 0 && ok {
			e.Time = c.inZone(off)
		}
		e.Format = FormatAXHeader
		e.Message = b
		return true
	}
	if bytes.HasPrefix(b, []byte("Switch ")) {
		n, i := 0, 7
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9' && i < 10; i++ {
			n = n*10 + int(b[i]-'0')
		}
		if i == 7 || i < len(b) && b[i] != ' ' && b[i] != ':' {
			return false
		}
		p.axSwitch = n
		e.Format = FormatAXHeader
		e.Message = b
		return true
	}
	return false
}
