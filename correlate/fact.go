package correlate

import (
	"bytes"

	"github.com/sshenrich/sshenrich/parser"
	"github.com/sshenrich/sshenrich/rules"
)

// Class says which kind of session a line may belong to.
type Class uint8

// Session classes.
const (
	ClassNone Class = iota // no session is followed for this line
	ClassSSH               // an SSH connection: OpenSSH (sshd, sshd-session, sshd-auth, and PAM under them), the AX switch's sshd, Tectia
	ClassVPN               // an OpenVPN client instance, or the VPN gateway's
)

// Fact is what the engine needs to know of one line. It is filled
// either from a fresh classification (Builder.Build) or from the fields
// of a record that was enriched elsewhere (an aggregator's input).
// Byte slices point into the line or the record and are read only
// during Observe; filling a Fact allocates nothing.
type Fact struct {
	// Time is the line's own timestamp in Unix nanoseconds; 0 when the
	// line has none (the engine then uses the newest time it has seen).
	Time    int64
	Host    []byte
	Program []byte // or, for the VPN gateway, its tunnel id
	PID     int    // -1 when absent
	Switch  int    // the AX switch number; 0 when absent

	// Entry is the catalog entry the line matched, or nil. Alerts
	// (entries of kind alert) are ignored.
	Entry *rules.Entry
	// Outcome is the line's event.outcome: its entry's, or the entry's
	// preauth outcome for a line that ends in [preauth].
	Outcome string
	// InvalidUser: the line says its user does not exist.
	InvalidUser bool
	Class       Class

	SourceIP       []byte // the client's address (for OpenVPN its real address); a host name when sshd logged one
	SourcePort     int    // -1 when absent
	User           []byte
	AuthMethod     []byte
	KeyFingerprint []byte
	VRF            int // -1 when absent
	RDomain        []byte
	CommonName     []byte // an OpenVPN client's common name
	PoolIP         []byte // an OpenVPN client's virtual (pool) address
	BytesSent      int64  // -1 when absent
	BytesReceived  int64  // -1 when absent

	// Polled marks a line of the AX switch's trace log, which is polled
	// again and again: such lines are checked for repeats. PollStart
	// marks the header ("Date ...") that starts one poll's output.
	Polled, PollStart bool
	// Message is the message proper, hashed to recognise a repeated
	// polled line.
	Message []byte
	// SessionID is the session id the record already carries (an
	// aggregator's input, enriched by a node), or nil. An alert the
	// line raises names it when the engine gave the line none.
	SessionID []byte
}

// Reset clears f for a new line.
func (f *Fact) Reset() {
	*f = Fact{PID: -1, SourcePort: -1, VRF: -1, BytesSent: -1, BytesReceived: -1}
}

// Role is the session role of the line's entry.
func (f *Fact) Role() rules.SessionRole {
	if f.Entry == nil {
		return rules.SessionNone
	}
	return f.Entry.Session
}

// Builder fills Facts from classified lines, as the plugin classifies
// them: the envelope from parser, the match from rules. It keeps a
// small cache of program families; give each goroutine its own.
type Builder struct {
	cat      *rules.Catalog
	entClass []Class // by entry index: the session class of its family
	progs    [8]struct {
		name  [32]byte
		n     int8
		class Class
	}
	next int
}

// NewBuilder returns a Builder over the catalog the lines are matched
// against.
func NewBuilder(cat *rules.Catalog) *Builder {
	b := &Builder{cat: cat, entClass: make([]Class, len(cat.Entries()))}
	for i, ent := range cat.Entries() {
		b.entClass[i] = familyClass(ent.Family)
	}
	for i := range b.progs {
		b.progs[i].n = -1
	}
	return b
}

// Fields of captures that the engine reads, by their field name under
// sshenrich (see rules/catalog/*.rules).
const (
	fieldAuthMethod    = "auth_method"
	fieldFingerprint   = "key_fingerprint"
	fieldVRF           = "vrf"
	fieldRDomain       = "rdomain"
	fieldPoolIP        = "pool_ip"
	fieldBytesSent     = "bytes_sent"
	fieldBytesReceived = "bytes_received"
	varCommonName      = "common name"
	varInstance        = "instance" // OpenVPN's "cn/address:port" of a client instance
)

// Build fills f from a line's envelope and its match (m.Entry nil for
// an unclassified line), in the way plugin/record writes the same line:
// captures first, then what the envelope says (OpenVPN's client prefix,
// the AX switch number). It does not allocate.
func (b *Builder) Build(f *Fact, env *parser.Envelope, m *rules.Result) {
	f.Reset()
	if env.Time.Valid {
		f.Time = env.Time.Unix*1e9 + int64(env.Time.Nsec)
	}
	f.Host, f.Program, f.PID, f.Switch = env.Host, env.Program, env.PID, env.Switch
	if len(f.Program) == 0 {
		f.Program = env.Tunnel
	}
	f.Message = env.Message
	f.Polled = env.Format == parser.FormatAX
	f.PollStart = env.Format == parser.FormatAXHeader && bytes.HasPrefix(env.Message, []byte("Date "))
	msg := env.Message
	var instance []byte
	if e := m.Entry; e != nil {
		f.Entry = e
		f.Outcome = e.Outcome
		if m.Preauth && e.PreauthOutcome != "" {
			f.Outcome = e.PreauthOutcome
		}
		f.InvalidUser = m.InvalidUser(msg)
		caps := m.Captures()
		for i := range caps {
			c := &caps[i]
			if c.Var == nil || c.Start >= c.End || c.End > len(msg) {
				continue
			}
			val := msg[c.Start:c.End]
			switch c.Var.Dest { // the common captures here, the rest in capture
			case rules.DestSourceHost:
				f.SourceIP = val
			case rules.DestSourcePort:
				f.SourcePort = atoi(val)
			case rules.DestNone:
				if c.Var.Name == varInstance {
					instance = val
				}
			default:
				b.capture(f, c.Var, val)
			}
		}
	}
	if f.SourceIP == nil && env.ClientAddr != nil {
		f.SourceIP = env.ClientAddr
	}
	if f.SourcePort < 0 && env.ClientPort != nil {
		f.SourcePort = atoi(env.ClientPort)
	}
	if len(env.VPNUser) > 0 {
		if f.CommonName == nil {
			f.CommonName = env.VPNUser
		}
		if f.User == nil {
			f.User = env.VPNUser // as the record writer does
		}
	}
	if instance != nil && f.SourceIP == nil {
		// A line without the client prefix that names the instance in
		// its text: "MULTI: Learn: 10.8.0.6 -> alice/198.51.100.7:51000".
		cn, addr, port := splitInstance(instance)
		f.SourceIP, f.SourcePort = addr, port
		if f.CommonName == nil {
			f.CommonName = cn
		}
	}
	f.SourceIP = trimMapped(f.SourceIP)
	f.PoolIP = trimMapped(f.PoolIP)
	f.Class = b.class(f, env)
}

func (b *Builder) capture(f *Fact, v *rules.Var, val []byte) {
	switch v.Dest {
	case rules.DestUserName:
		if v.Name == varCommonName {
			f.CommonName = val
		}
		f.User = val
	case rules.DestExtra:
		if v.Kind == rules.KindPushReply {
			if ip := pushedAddress(val); ip != nil {
				f.PoolIP = ip
			}
			return
		}
		switch v.Field {
		case fieldAuthMethod:
			f.AuthMethod = val
		case fieldFingerprint:
			f.KeyFingerprint = val
		case fieldVRF:
			f.VRF = atoi(val)
		case fieldRDomain:
			f.RDomain = val
		case fieldPoolIP:
			f.PoolIP = val
		case fieldBytesSent:
			f.BytesSent = atoi64(val)
		case fieldBytesReceived:
			f.BytesReceived = atoi64(val)
		}
	}
}

// class decides the session class: the envelope's when it names the
// product, else the entry's family, else the family of the program
// (a PAM line of sshd belongs to the SSH session of its pid).
func (b *Builder) class(f *Fact, env *parser.Envelope) Class {
	switch env.Format {
	case parser.FormatAX, parser.FormatAXHeader:
		return ClassSSH
	case parser.FormatVPNGateway, parser.FormatOpenVPN:
		if len(env.Program) == 0 {
			return ClassVPN
		}
	}
	if ent := f.Entry; ent != nil {
		var c Class
		if ent.Index >= 0 && ent.Index < len(b.entClass) && b.cat.Entries()[ent.Index] == ent {
			c = b.entClass[ent.Index]
		} else {
			c = familyClass(ent.Family) // an entry of another catalog
		}
		if c != ClassNone {
			return c
		}
	}
	return b.programClass(env.Program)
}

func familyClass(family string) Class {
	switch family {
	case "openssh", "ax-sshd", "tectia":
		return ClassSSH
	case "openvpn":
		return ClassVPN
	}
	return ClassNone
}

func (b *Builder) programClass(prog []byte) Class {
	if len(prog) == 0 {
		return ClassNone
	}
	for i := range b.progs {
		p := &b.progs[i]
		if int(p.n) == len(prog) && string(p.name[:p.n]) == string(prog) {
			return p.class
		}
	}
	c := familyClass(b.cat.ProgramFamily(prog))
	if len(prog) <= len(b.progs[0].name) {
		p := &b.progs[b.next]
		b.next = (b.next + 1) % len(b.progs)
		p.n = int8(copy(p.name[:], prog))
		p.class = c
	}
	return c
}

// ClassOf is the session class of a record enriched elsewhere, from its
// sshenrich.family (or, for an unclassified record, the family of its
// program, which the record also carries as sshenrich.family).
func ClassOf(family []byte) Class { return familyClass(string(family)) }

// pushedAddress finds the address of "ifconfig <ip> <netmask>" in an
// OpenVPN PUSH_REPLY option list.
func pushedAddress(opts []byte) []byte {
	for len(opts) > 0 {
		opt := opts
		if i := bytes.IndexByte(opts, ','); i >= 0 {
			opt, opts = opts[:i], opts[i+1:]
		} else {
			opts = nil
		}
		opt = bytes.TrimSpace(opt)
		if rest, ok := bytes.CutPrefix(opt, []byte("ifconfig ")); ok {
			ip, _, _ := bytes.Cut(bytes.TrimSpace(rest), []byte(" "))
			if len(ip) > 0 {
				return ip
			}
		}
	}
	return nil
}

// splitInstance reads OpenVPN's name of a client instance:
// "cn/198.51.100.7:51000", "198.51.100.7:51000" or "cn/2001:db8::7"
// (an IPv6 address is printed without its port).
func splitInstance(b []byte) (cn, addr []byte, port int) {
	port = -1
	if i := bytes.LastIndexByte(b, '/'); i >= 0 {
		cn, b = b[:i], b[i+1:]
		if string(cn) == "UNDEF" {
			cn = nil
		}
	}
	if i := bytes.LastIndexByte(b, ':'); i >= 0 && bytes.IndexByte(b, '.') >= 0 {
		if p := atoi(b[i+1:]); p >= 0 {
			b, port = b[:i], p
		}
	}
	if len(b) == 0 || bytes.IndexByte(b, '.') < 0 && bytes.IndexByte(b, ':') < 0 {
		return cn, nil, -1
	}
	return cn, b, port
}

// trimMapped writes an IPv4-mapped IPv6 address as IPv4, as the record
// writer does, so that both forms are one key.
func trimMapped(ip []byte) []byte {
	if len(ip) > 7 && ip[0] == ':' && (string(ip[:7]) == "::ffff:" || string(ip[:7]) == "::FFFF:") && bytes.IndexByte(ip[7:], '.') > 0 {
		return ip[7:]
	}
	return ip
}

// atoi reads a small decimal number; -1 when it is not one.
func atoi(b []byte) int {
	if len(b) == 0 || len(b) > 9 {
		return -1
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func atoi64(b []byte) int64 {
	if len(b) == 0 || len(b) > 18 {
		return -1
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int64(c-'0')
	}
	return n
}
