// Package loggen generates realistic, deterministic SSH and VPN logs for
// benchmarks and comparisons: the same seed always gives the same lines.
//
// The mixed log follows what an internet-facing fleet sees: most sshd
// lines are brute-force noise (failed passwords, invalid users, scanners),
// with logins, PAM sessions, disconnects, OpenVPN, AX switch trace lines,
// firewall rejects and lines from other daemons in between.
package loggen

import (
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
)

var users = []string{"root", "admin", "ubuntu", "test", "oracle", "postgres", "git", "deploy", "staff", "user01", "tanaka", "operator", "guest", "pi", "ftpuser"}

var validUsers = []string{"deploy", "staff", "tanaka", "operator", "git"}

var methods = []string{"password", "publickey", "keyboard-interactive/pam", "none", "gssapi-with-mic", "hostbased"}

var hosts = []string{"web01", "web02", "bastion", "db01", "gw01"}

// Gen produces lines. It is not safe for concurrent use.
type Gen struct {
	r   *rand.Rand
	sec int64
	buf []byte
}

// New returns a generator with a fixed seed.
func New(seed uint64) *Gen {
	return &Gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), sec: 1718523450}
}

func (g *Gen) pick(list []string) string { return list[g.r.IntN(len(list))] }

func (g *Gen) ip() string {
	switch g.r.IntN(10) {
	case 0:
		return "2001:db8::" + strconv.FormatInt(int64(g.r.IntN(0xffff)), 16)
	case 1:
		return "::ffff:203.0.113." + strconv.Itoa(g.r.IntN(254)+1)
	}
	nets := []string{"198.51.100.", "203.0.113.", "192.0.2."}
	return g.pick(nets) + strconv.Itoa(g.r.IntN(254)+1)
}

func (g *Gen) port() int { return 1024 + g.r.IntN(64000) }

func (g *Gen) pid() int { return 1000 + g.r.IntN(60000) }

// syslog writes an RFC 3164 header for the current time; pid < 0 leaves
// the pid out.
func (g *Gen) syslog(prog string, pid int) {
	g.sec += int64(g.r.IntN(3))
	s := g.sec % 86400
	g.buf = fmt.Appendf(g.buf, "Jun %2d %02d:%02d:%02d %s %s", 16+int(g.sec/86400-19890), s/3600, s/60%60, s%60, g.pick(hosts), prog)
	if pid >= 0 {
		g.buf = fmt.Appendf(g.buf, "[%d]", pid)
	}
	g.buf = append(g.buf, ':', ' ')
}

// sshdMessage is one sshd message, weighted by how often fleets see it.
func (g *Gen) sshdMessage() string {
	u, ip, p := g.pick(users), g.ip(), g.port()
	switch n := g.r.IntN(100); {
	case n < 30:
		return fmt.Sprintf("Failed password for %s from %s port %d ssh2", u, ip, p)
	case n < 45:
		return fmt.Sprintf("Failed password for invalid user %s from %s port %d ssh2", u, ip, p)
	case n < 52:
		return fmt.Sprintf("Invalid user %s from %s port %d", u, ip, p)
	case n < 58:
		return fmt.Sprintf("Connection closed by authenticating user %s %s port %d [preauth]", u, ip, p)
	case n < 63:
		return fmt.Sprintf("Received disconnect from %s port %d:11: Bye Bye [preauth]", ip, p)
	case n < 67:
		return fmt.Sprintf("Disconnected from invalid user %s %s port %d [preauth]", u, ip, p)
	case n < 72:
		m := g.pick(methods[:3])
		if m == "publickey" {
			return fmt.Sprintf("Accepted publickey for %s from %s port %d ssh2: ED25519 SHA256:%s", g.pick(validUsers), ip, p, "uJx0cLQ1bTqNfX2m8Pz3Yw5eK7dV9sR4hG6aB1cD2eF")
		}
		return fmt.Sprintf("Accepted %s for %s from %s port %d ssh2", m, g.pick(validUsers), ip, p)
	case n < 76:
		return fmt.Sprintf("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=%s  user=%s", ip, u)
	case n < 79:
		return fmt.Sprintf("pam_unix(sshd:session): session opened for user %s(uid=1000) by (uid=0)", g.pick(validUsers))
	case n < 82:
		return fmt.Sprintf("pam_unix(sshd:session): session closed for user %s", g.pick(validUsers))
	case n < 85:
		return fmt.Sprintf("Connection closed by %s port %d [preauth]", ip, p)
	case n < 88:
		return "error: kex_exchange_identification: Connection closed by remote host"
	case n < 90:
		return fmt.Sprintf("Unable to negotiate with %s port %d: no matching key exchange method found. Their offer: diffie-hellman-group1-sha1,diffie-hellman-group14-sha1", ip, p)
	case n < 92:
		return fmt.Sprintf("Did not receive identification string from %s port %d", ip, p)
	case n < 94:
		return fmt.Sprintf("error: maximum authentication attempts exceeded for %s from %s port %d ssh2 [preauth]", u, ip, p)
	case n < 96:
		return fmt.Sprintf("Disconnected from user %s %s port %d", g.pick(validUsers), ip, p)
	case n < 97:
		return fmt.Sprintf("User %s from %s not allowed because not listed in AllowUsers", u, ip)
	case n < 98:
		return fmt.Sprintf("banner exchange: Connection from %s port %d: invalid format", ip, p)
	default:
		return fmt.Sprintf("Timeout before authentication for %s port %d", ip, p)
	}
}

// SSHDLine appends one sshd line in RFC 3164 syslog form.
func (g *Gen) SSHDLine(b []byte) []byte {
	g.buf = b
	g.syslog("sshd", g.pid())
	g.buf = append(g.buf, g.sshdMessage()...)
	return g.buf
}

// MixedLine appends one line of the mixed log.
func (g *Gen) MixedLine(b []byte) []byte {
	g.buf = b
	switch n := g.r.IntN(100); {
	case n < 72:
		prog := "sshd"
		if n < 12 {
			prog = "sshd-session"
		}
		g.syslog(prog, g.pid())
		g.buf = append(g.buf, g.sshdMessage()...)
	case n < 76:
		// rsyslog high-precision timestamps.
		g.sec++
		g.buf = fmt.Appendf(g.buf, "2024-06-16T%02d:%02d:%02d.%06d+09:00 %s sshd[%d]: %s", g.sec/3600%24, g.sec/60%60, g.sec%60, g.r.IntN(1000000), g.pick(hosts), g.pid(), g.sshdMessage())
	case n < 82:
		g.syslog("openvpn", 812)
		// OpenVPN's client prefix is cn/addr:port, but an IPv6 address
		// is printed without its port (mroute_addr_print).
		u, peer := g.pick(users), g.ip()
		if !strings.Contains(peer, ":") {
			peer += ":" + strconv.Itoa(g.port())
		}
		switch g.r.IntN(5) {
		case 0:
			g.buf = fmt.Appendf(g.buf, "%s/%s MULTI_sva: pool returned IPv4=10.8.0.%d, IPv6=(Not enabled)", u, peer, g.r.IntN(250)+2)
		case 1:
			g.buf = fmt.Appendf(g.buf, "%s TLS: Username/Password authentication succeeded for username '%s'", peer, u)
		case 2:
			g.buf = fmt.Appendf(g.buf, "%s TLS Error: TLS handshake failed", peer)
		case 3:
			g.buf = fmt.Appendf(g.buf, "%s/%s SIGUSR1[soft,connection-reset] received, client-instance restarting", u, peer)
		default:
			g.buf = fmt.Appendf(g.buf, "%s/%s SENT CONTROL [%s]: 'PUSH_REPLY,route 192.168.10.0 255.255.255.0,route-gateway 10.8.0.1,topology subnet,ping 10,ping-restart 60,ifconfig 10.8.0.%d 255.255.255.0,peer-id 0,cipher AES-256-GCM' (status=1)", u, peer, u, g.r.IntN(250)+2)
		}
	case n < 87:
		g.sec++
		pid := g.pid()
		switch g.r.IntN(4) {
		case 0:
			g.buf = fmt.Appendf(g.buf, "2024/06/16 %02d:%02d:%02d sshd[%d] Accepted password for staff from %s port %d", g.sec/3600%24, g.sec/60%60, g.sec%60, pid, g.ip(), g.port())
		case 1:
			g.buf = fmt.Appendf(g.buf, "2024/06/16 %02d:%02d:%02d sshd[%d] Connection from %s port %d on VRF 2", g.sec/3600%24, g.sec/60%60, g.sec%60, pid, g.ip(), g.port())
		case 2:
			g.buf = fmt.Appendf(g.buf, "2024/06/16 %02d:%02d:%02d sshd[%d] Failed none for staff from %s port %d ssh2", g.sec/3600%24, g.sec/60%60, g.sec%60, pid, g.ip(), g.port())
		default:
			g.buf = fmt.Appendf(g.buf, "2024/06/16 %02d:%02d:%02d sshd[%d] Closing connection to %s on VRF 2", g.sec/3600%24, g.sec/60%60, g.sec%60, pid, g.ip())
		}
	case n < 91:
		g.syslog("kernel", -1)
		g.buf = fmt.Appendf(g.buf, "filter_IN_public_REJECT: IN=enp0s8 OUT= MAC=08:00:27:40:b7:96:d0:11:e5:1a:ce:3b:08:00 SRC=%s DST=192.168.11.108 LEN=64 TOS=0x00 PREC=0x00 TTL=64 ID=0 DF PROTO=TCP SPT=%d DPT=%d WINDOW=65535 RES=0x00 CWR ECE SYN URGP=0", "192.168.11."+strconv.Itoa(g.r.IntN(250)+2), g.port(), []int{22, 22, 80, 443}[g.r.IntN(4)])
	case n < 94:
		g.sec++
		g.buf = fmt.Appendf(g.buf, "2023/04/13 18:%02d:%02d openvpn-vtun0 %s/%s:%d TLS Auth Error: Auth Username/Password verification failed for peer", g.sec/60%60, g.sec%60, g.pick(users), g.ip(), g.port())
	default:
		// Other daemons: nothing in the catalog matches these.
		g.syslog([]string{"CRON", "systemd", "postfix/smtpd"}[g.r.IntN(3)], g.pid())
		g.buf = append(g.buf, []string{
			"(root) CMD (run-parts /etc/cron.hourly)",
			"Started Session 42 of User deploy.",
			"connect from unknown[203.0.113.9]",
		}[g.r.IntN(3)]...)
	}
	return g.buf
}

// Lines returns n lines of the mixed log (or of sshd only). They are
// slices of one buffer, laid out one after the other as in a file or a
// Fluent Bit chunk.
func Lines(n int, seed uint64, sshdOnly bool) [][]byte {
	g := New(seed)
	var buf []byte
	ends := make([]int, n)
	for i := range ends {
		if sshdOnly {
			buf = g.SSHDLine(buf)
		} else {
			buf = g.MixedLine(buf)
		}
		buf = append(buf, '\n')
		ends[i] = len(buf)
	}
	out := make([][]byte, n)
	start := 0
	for i, end := range ends {
		out[i] = buf[start : end-1 : end-1]
		start = end
	}
	return out
}

// Write writes n lines, newline-terminated.
func Write(w io.Writer, n int, seed uint64, sshdOnly bool) error {
	g := New(seed)
	var buf []byte
	for range n {
		if sshdOnly {
			buf = g.SSHDLine(buf[:0])
		} else {
			buf = g.MixedLine(buf[:0])
		}
		buf = append(buf, '\n')
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}
