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

var (
	progSSH    = []byte("ssh")
	progKernel = []byte("kernel")
)

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
		if v, n := priority(rest); n > 0 {
			e.Facility, e.Severity = int8(v>>3), int8(v&7)
			rest, pri = rest[n:], true
		}
	}
	switch {
	case pri && len(rest) > 2 && rest[0] == '1' && rest[1] == ' ':
		p.rfc5424(rest[2:], e)
	case p.bsd(rest, e):
	case p.iso(rest, e):
	case !pri && p.slashDate(rest, e):
	case !pri && p.header(rest, e):
	case !pri && p.ctime(rest, e):
	case !pri && p.dmesg(rest, e):
	default:
		e.Message = rest
		p.bareProgram(e)
	}
	p.refine(e)
}

// priority reads "<N>" with N in 0..191.
func priority(b []byte) (int, int) {
	v := 0
	for i := 1; i < len(b) && i <= 4; i++ {
		c := b[i]
		if c == '>' {
			if i == 1 || v > 191 {
				return 0, 0
			}
			return v, i + 1
		}
		if c < '0' || c > '9' {
			return 0, 0
		}
		v = v*10 + int(c-'0')
	}
	return 0, 0
}

// bsd reads RFC 3164 "Mmm dd hh:mm:ss [yyyy ]host tag: msg".
func (p *Parser) bsd(b []byte, e *Envelope) bool {
	if len(b) < 16 || b[3] != ' ' || b[15] != ' ' && b[15] != '.' {
		return false
	}
	var c civil
	var ok bool
	if c.month, ok = month(b, 0); !ok {
		return false
	}
	if b[4] == ' ' {
		c.day, ok = num(b, 5, 1)
	} else {
		c.day, ok = num(b, 4, 2)
	}
	if !ok || b[6] != ' ' || !clock(b, 7, &c) {
		return false
	}
	i := 15
	c.nsec, i = fraction(b, i)
	if i >= len(b) || b[i] != ' ' {
		return false
	}
	i++
	// Some devices add the year: "Jun 16 07:37:30 2024 host ...".
	c.year = 0
	if y, ok := num(b, i, 4); ok && i+4 < len(b) && b[i+4] == ' ' && y >= 1970 {
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
	} else if c.valid() {
		e.Time = p.local(c)
	}
	e.Format = FormatRFC3164
	p.hostTag(b[i:], e)
	return true
}

// iso reads an RFC 3339 / ISO 8601 prefix: "yyyy-mm-ddThh:mm:ss[.f]zone host tag: msg",
// and OpenVPN 2.5's "yyyy-mm-dd hh:mm:ss msg".
func (p *Parser) iso(b []byte, e *Envelope) bool {
	var c civil
	if !dateAt(b, 0, '-', &c) || len(b) < 20 || (b[10] != 'T' && b[10] != ' ') || !clock(b, 11, &c) || !c.valid() {
		return false
	}
	i := 19
	c.nsec, i = fraction(b, i)
	if b[10] == ' ' {
		if i >= len(b) || b[i] != ' ' {
			return false
		}
		e.Format = FormatOpenVPN
		e.Time = p.local(c)
		e.Message = b[i+1:]
		return true
	}
	if off, next, ok := zoneOffset(b, i); ok {
		e.Time = c.inZone(off)
		i = next
	} else {
		e.Time = p.local(c)
	}
	if i >= len(b) || b[i] != ' ' {
		return false
	}
	e.Format = FormatISO
	p.hostTag(b[i+1:], e)
	return true
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

// ctime reads OpenVPN's "Thu Jun 16 07:37:30 2024 msg".
func (p *Parser) ctime(b []byte, e *Envelope) bool {
	if len(b) < 25 || !weekday(b, 0) || b[3] != ' ' {
		return false
	}
	var c civil
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
	e.Format = FormatOpenVPN
	e.Time = p.local(c)
	if len(b) > 24 {
		e.Message = b[25:]
	}
	return true
}

// dmesg reads a kernel ring buffer line: "[12345.678901] msg".
func (p *Parser) dmesg(b []byte, e *Envelope) bool {
	n := uptimeStamp(b)
	if n == 0 {
		return false
	}
	e.Format = FormatKernel
	e.Program = progKernel
	e.Message = b[n:]
	return true
}

// uptimeStamp returns the length of a leading "[  123.456789] ", or 0.
func uptimeStamp(b []byte) int {
	if len(b) < 4 || b[0] != '[' {
		return 0
	}
	i := 1
	for i < len(b) && b[i] == ' ' {
		i++
	}
	start := i
	for i < len(b) && (b[i] >= '0' && b[i] <= '9' || b[i] == '.') {
		i++
	}
	if i == start || i+1 >= len(b) || b[i] != ']' || b[i+1] != ' ' {
		return 0
	}
	return i + 2
}

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

func nilDash(b []byte) []byte {
	if len(b) == 1 && b[0] == '-' {
		return nil
	}
	return b
}

// hostTag reads "host tag: msg", "tag: msg" or "host msg" of a syslog line.
func (p *Parser) hostTag(b []byte, e *Envelope) {
	tok, after := cutBlank(b)
	if name, pid, ok := tagOf(tok); ok {
		e.Program, e.PID, e.Message = name, pid, after
		return
	}
	e.Host = tok
	tok2, after2 := cutBlank(after)
	if name, pid, ok := tagOf(tok2); ok {
		e.Program, e.PID, e.Message = name, pid, after2
		return
	}
	e.Message = after
}

// tagOf reads a syslog tag: "sshd[4409]:" or "sshd:".
func tagOf(tok []byte) ([]byte, int, bool) {
	if len(tok) < 2 || tok[len(tok)-1] != ':' {
		return nil, -1, false
	}
	tok = tok[:len(tok)-1]
	if name, pid, ok := programPID(tok); ok {
		return name, pid, true
	}
	for _, c := range tok {
		if !isTagChar(c) {
			return nil, -1, false
		}
	}
	return tok, -1, true
}

// programPID reads "name[pid]".
func programPID(tok []byte) ([]byte, int, bool) {
	open := bytes.IndexByte(tok, '[')
	if open < 1 || tok[len(tok)-1] != ']' {
		return nil, -1, false
	}
	for _, c := range tok[:open] {
		if !isTagChar(c) {
			return nil, -1, false
		}
	}
	pid, ok := atoi(tok[open+1 : len(tok)-1])
	if !ok {
		return nil, -1, false
	}
	return tok[:open], pid, true
}

func isTagChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '/' || c == '@'
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

// bareProgram recognises the program of a line without a header: ssh
// client output ("ssh: ...") and kernel lines ("kernel: ...").
func (p *Parser) bareProgram(e *Envelope) {
	m := e.Message
	switch {
	case bytes.HasPrefix(m, []byte("ssh: ")):
		e.Format, e.Program, e.Message = FormatSSHClient, progSSH, m[5:]
	case bytes.HasPrefix(m, []byte("kernel: ")):
		e.Format, e.Program, e.Message = FormatKernel, progKernel, m[8:]
	}
}

// refine handles what may follow any envelope: rsyslog's "message
// repeated N times: [ msg]", ssh's "debugN: " levels, OpenVPN's client
// prefix and the packet fields of kernel firewall lines.
func (p *Parser) refine(e *Envelope) {
	m := e.Message
	if bytes.HasPrefix(m, []byte("message repeated ")) {
		rest := m[len("message repeated "):]
		n, i := 0, 0
		for ; i < len(rest) && rest[i] >= '0' && rest[i] <= '9' && i < 9; i++ {
			n = n*10 + int(rest[i]-'0')
		}
		if i > 0 && bytes.HasPrefix(rest[i:], []byte(" times: [")) {
			inner := rest[i+len(" times: ["):]
			inner = bytes.TrimRight(inner, " ")
			inner = bytes.TrimSuffix(inner, []byte("]"))
			e.Repeated = n
			m = bytes.TrimLeft(inner, " ")
		}
	}
	if len(m) > 8 && bytes.HasPrefix(m, []byte("debug")) && m[5] >= '1' && m[5] <= '3' && m[6] == ':' && m[7] == ' ' {
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

func isKernel(prog []byte) bool { return string(prog) == "kernel" }

func isOpenVPN(prog []byte) bool {
	return bytes.HasPrefix(prog, []byte("openvpn")) || bytes.HasPrefix(prog, []byte("ovpn-"))
}

// clientPrefix reads OpenVPN's "user/ip:port " or "ip:port " before a message.
func clientPrefix(e *Envelope) {
	tok, after := cutBlank(e.Message)
	if after == nil {
		return
	}
	colon := bytes.LastIndexByte(tok, ':')
	if colon < 1 || colon == len(tok)-1 {
		return
	}
	port := tok[colon+1:]
	if _, ok := atoi(port); !ok {
		return
	}
	addr := tok[:colon]
	var user []byte
	if slash := bytes.IndexByte(addr, '/'); slash >= 0 {
		user, addr = addr[:slash], addr[slash+1:]
		if len(user) == 0 {
			return
		}
	}
	if len(addr) == 0 || bytes.IndexByte(addr, '.') < 0 && bytes.IndexByte(addr, ':') < 0 {
		return
	}
	for _, c := range addr {
		if !isAddrChar(c) {
			return
		}
	}
	e.VPNUser, e.ClientAddr, e.ClientPort = user, addr, port
	e.Message = after
}

// parseNetfilter reads "PREFIX IN=eth0 OUT= ... SRC=a DST=b ... PROTO=TCP SPT=1 DPT=22 ...".
func parseNetfilter(e *Envelope) {
	m := e.Message
	in := 0
	if !bytes.HasPrefix(m, []byte("IN=")) {
		in = bytes.Index(m, []byte(" IN="))
		if in < 0 {
			return
		}
		in++
	}
	n := &e.Net
	rest := m[in:]
	for len(rest) > 0 {
		var tok []byte
		tok, rest = cutBlank(rest)
		eq := bytes.IndexByte(tok, '=')
		if eq < 0 {
			continue
		}
		v := tok[eq+1:]
		switch string(tok[:eq]) {
		case "IN":
			n.In = v
		case "OUT":
			n.Out = v
		case "SRC":
			n.Src = v
		case "DST":
			n.Dst = v
		case "PROTO":
			n.Proto = v
		case "SPT":
			n.SrcPort = v
		case "DPT":
			n.DstPort = v
		}
	}
	if !n.Present() {
		e.Net = Netfilter{}
		return
	}
	n.Prefix = bytes.TrimSpace(m[:in])
}

func isAddrChar(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' ||
		c == '.' || c == ':' || c == '[' || c == ']' || c == '_' || c == '-'
}
