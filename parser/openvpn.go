package parser

import "bytes"

func isOpenVPN(prog []byte) bool {
	return bytes.HasPrefix(prog, []byte("openvpn")) || bytes.HasPrefix(prog, []byte("ovpn-"))
}

var (
	afINET  = []byte("[AF_INET]")
	afINET6 = []byte("[AF_INET6]")
	undef   = []byte("UNDEF")
)

// clientPrefix reads the client OpenVPN puts before a server message:
//
//	alice/198.51.100.7:51000 msg      common name and real address
//	198.51.100.7:51000 msg            before the common name is known
//	alice/2001:db8::7 msg             IPv6 real addresses carry no port
//	[AF_INET]198.51.100.7:51000 msg   the socket form, with the family
//	[UNDEF] msg, UNDEF/198.51.100.7:51000 msg   no common name yet
//
// UNDEF is OpenVPN's placeholder, never a user.
func clientPrefix(e *Envelope) {
	tok, after := cutBlank(e.Message)
	if after == nil {
		return
	}
	if string(tok) == "[UNDEF]" || string(tok) == "UNDEF" {
		e.Message = after
		return
	}
	var user []byte
	addr := tok
	if slash := bytes.LastIndexByte(tok, '/'); slash >= 0 {
		user, addr = tok[:slash], tok[slash+1:]
		if len(user) == 0 {
			return
		}
		if bytes.Equal(user, undef) {
			user = nil
		}
	}
	family := false
	switch {
	case bytes.HasPrefix(addr, afINET):
		addr, family = addr[len(afINET):], true
	case bytes.HasPrefix(addr, afINET6):
		addr, family = addr[len(afINET6):], true
	}
	var port []byte
	if hasPort(addr, family) {
		c := bytes.LastIndexByte(addr, ':')
		if _, ok := atoi(addr[c+1:]); !ok {
			return
		}
		addr, port = addr[:c], addr[c+1:]
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

// hasPort reports whether an address as OpenVPN printed it ends in
// ":port". IPv4 (also inside an IPv6 form) and the socket form with its
// family do; the multi-client prefix prints an IPv6 address without a
// port, unless the last part cannot be an IPv6 group (over four digits).
func hasPort(addr []byte, family bool) bool {
	c := bytes.LastIndexByte(addr, ':')
	switch {
	case c < 0:
		return false
	case bytes.IndexByte(addr[:c], ':') < 0:
		return true
	case family, bytes.IndexByte(addr[:c], '.') >= 0:
		return true
	}
	return len(addr)-c-1 > 4
}

func isAddrChar(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' ||
		c == '.' || c == ':' || c == '[' || c == ']' || c == '_' || c == '-'
}
