// Package parser splits a raw log line into its envelope (time, host,
// program, pid, syslog priority and format-specific fields) and the
// message proper, which the rules package then classifies.
//
// It recognises the envelopes of DESIGN.md §4: the AX switch trace log,
// RFC 3164 and RFC 5424 syslog with the variants real systems write
// (journald's short outputs, unpadded days, empty hosts, Solaris message
// ids, BusyBox facility.level tags, macOS and rsyslog ISO dates), the VPN
// gateway log, OpenVPN's own log, ssh client output and kernel firewall
// lines. A line with no envelope is a bare message. Each recogniser lives
// in a file named for its format; Parse dispatches on the first bytes.
//
// Parsing does not allocate: every field of an Envelope is a sub-slice of
// the line, valid as long as the line is.
package parser

// Format names the envelope a line was written in.
type Format uint8

// Envelope formats (DESIGN.md §4).
const (
	FormatBare       Format = iota // no envelope: the line is the message
	FormatAX                       // E1: "2024/06/16 07:37:30 sshd[4409] msg"
	FormatAXHeader                 // E1 header: "Date 2024/06/16 08:00:00 UTC"
	FormatRFC3164                  // E2: "<38>Jun 16 07:37:30 host sshd[4409]: msg"
	FormatRFC5424                  // E3: "<38>1 2024-06-16T07:37:30Z host sshd 4409 - - msg"
	FormatISO                      // E3: "2024-06-16T07:37:30.123+09:00 host sshd[1]: msg"
	FormatVPNGateway               // E4: "2023/04/13 18:00:00 openvpn-vtun0 user01/198.51.100.7:12345 msg"
	FormatOpenVPN                  // E5: "Thu Jun 16 07:37:30 2024 user01/198.51.100.7:1194 msg"
	FormatStructured               // E6: fields came from the record (journald, syslog input)
	FormatSSHClient                // E7: "ssh: connect to host ...", "debug1: ..."
	FormatKernel                   // E8: "kernel: ..." or "[  12.345] ..." without a syslog header
	FormatJournald                 // journalctl short-full, short-unix, short-monotonic
	FormatHeaderless               // "host prog[pid]: msg" or "prog[pid]: msg" without a time
)

var formatNames = [...]string{"bare", "ax", "ax-header", "rfc3164", "rfc5424", "iso8601", "vpn-gateway", "openvpn", "structured", "ssh-client", "kernel", "journald", "headerless"}

func (f Format) String() string {
	if int(f) < len(formatNames) {
		return formatNames[f]
	}
	return "unknown"
}

// Envelope is what surrounds a message. Byte-slice fields are nil when
// the line does not carry them.
type Envelope struct {
	Format  Format
	Time    Time
	Host    []byte
	Program []byte
	PID     int // -1 when absent
	Message []byte

	// Module is the PAM module of an old "sshd(pam_unix)[pid]:" tag.
	Module []byte
	// MsgID is the message id of a Solaris "[ID 800047 auth.info]" tag.
	MsgID []byte

	// Facility and Severity come from a <PRI> prefix or record fields;
	// -1 when absent.
	Facility, Severity int8

	// Repeated is N of "message repeated N times: [ msg ]" and of
	// "last message repeated N times"; 0 otherwise.
	Repeated int

	// Level is an ssh "debugN" level.
	Level []byte

	// Switch is the AX switch number from a "Switch N" header; 0 when absent.
	Switch int

	// VPN fields (E4, E5): the gateway's tunnel id, and the client prefix
	// "user/ip:port " that OpenVPN puts before its messages.
	Tunnel     []byte
	VPNUser    []byte
	ClientAddr []byte // as written; may be a placeholder, not an IP
	ClientPort []byte

	// Net holds the fields of a kernel netfilter log line (E8).
	Net Netfilter
}

// Netfilter is the packet description of a kernel firewall log line.
type Netfilter struct {
	Prefix           []byte // log prefix, e.g. "filter_IN_public_REJECT:"
	In, Out          []byte
	Src, Dst         []byte
	Proto            []byte
	SrcPort, DstPort []byte
}

// Present reports whether the line was a netfilter log line.
func (n *Netfilter) Present() bool { return n.Src != nil || n.Dst != nil }

func (e *Envelope) reset() {
	*e = Envelope{PID: -1, Facility: -1, Severity: -1}
}

// FacilityName is the syslog facility name of code f, as the AlmaLinux
// syslog guide names them, or "" when f is out of range.
func FacilityName(f int8) string {
	if f < 0 || int(f) >= len(facilityNames) {
		return ""
	}
	return facilityNames[f]
}

// SeverityName is the syslog severity (priority) name of code s.
func SeverityName(s int8) string {
	if s < 0 || int(s) >= len(severityNames) {
		return ""
	}
	return severityNames[s]
}

var facilityNames = [...]string{
	"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
	"uucp", "cron", "authpriv", "ftp", "ntp", "audit", "alert", "clock",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
}

var severityNames = [...]string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}
