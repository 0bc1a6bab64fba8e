package parser

import "bytes"

// bracketStamp reads a line that opens with an uptime stamp: the kernel
// ring buffer's "[12345.678901] msg", or journalctl's short-monotonic
// "[12345.678901] host tag: msg".
func (p *Parser) bracketStamp(b []byte, e *Envelope) bool {
	n := uptimeStamp(b)
	if n == 0 {
		return false
	}
	if rest := b[n:]; startsWithTag(rest) {
		e.Format = FormatJournald
		syslogBody(rest, e)
		return true
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

func isKernel(prog []byte) bool { return string(prog) == "kernel" }

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
