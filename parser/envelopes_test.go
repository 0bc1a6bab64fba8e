package parser

import (
	"testing"
	"time"
)

// TestEnvelopes covers the headers real systems write besides the
// seeds' own: journald's outputs, syslog daemons' variants, Solaris,
// BusyBox, macOS and OpenVPN's client prefixes. Each row is a line as
// the system writes it and the envelope it must give.
func TestEnvelopes(t *testing.T) {
	tests := []struct {
		name, line, want string
	}{
		// journalctl -o short, short-precise, short-iso, short-iso-precise, short-full, short-unix, short-monotonic.
		{"journald short", "Jun 16 07:37:30 web1 sshd-session[4409]: Accepted publickey for bob from 192.0.2.1 port 50022 ssh2",
			"fmt=rfc3164 time=2024-06-16T07:37:30Z(assumed) host=web1 prog=sshd-session pid=4409 msg=Accepted publickey for bob from 192.0.2.1 port 50022 ssh2"},
		{"journald short-precise", "Jun 16 07:37:30.123456 web1 sshd[4409]: x",
			"fmt=rfc3164 time=2024-06-16T07:37:30.123456Z(assumed) host=web1 prog=sshd pid=4409 msg=x"},
		{"journald short-iso", "2024-06-16T07:37:30+0900 web1 sshd-auth[77]: x",
			"fmt=iso8601 time=2024-06-16T07:37:30+09:00 host=web1 prog=sshd-auth pid=77 msg=x"},
		{"journald short-iso-precise", "2024-06-16T07:37:30.654321+09:00 web1 sshd[77]: x",
			"fmt=iso8601 time=2024-06-16T07:37:30.654321+09:00 host=web1 prog=sshd pid=77 msg=x"},
		{"journald short-full", "Sun 2024-06-16 07:37:30 UTC web1 sshd[4409]: x",
			"fmt=journald time=2024-06-16T07:37:30Z host=web1 prog=sshd pid=4409 msg=x"},
		{"journald short-full with an offset", "Sun 2024-06-16 07:37:30 +09 web1 sshd[4409]: x",
			"fmt=journald time=2024-06-16T07:37:30+09:00 host=web1 prog=sshd pid=4409 msg=x"},
		{"journald short-full with an unknown zone name", "Sun 2024-06-16 07:37:30 CEST web1 sshd[4409]: x",
			"fmt=journald time=2024-06-16T07:37:30Z(assumed) host=web1 prog=sshd pid=4409 msg=x"},
		{"journald short-unix", "1718523450.123456 web1 sshd[4409]: x",
			"fmt=journald time=2024-06-16T07:37:30.123456Z host=web1 prog=sshd pid=4409 msg=x"},
		{"journald short-monotonic", "[ 1234.567890] web1 sshd[4409]: x",
			"fmt=journald host=web1 prog=sshd pid=4409 msg=x"},
		{"headerless host prog[pid]", "web1 sshd[4409]: Connection closed by 192.0.2.1 port 22",
			"fmt=headerless host=web1 prog=sshd pid=4409 msg=Connection closed by 192.0.2.1 port 22"},
		{"headerless prog[pid]", "sshd[4409]: Connection closed by 192.0.2.1 port 22",
			"fmt=headerless prog=sshd pid=4409 msg=Connection closed by 192.0.2.1 port 22"},
		{"headerless needs a pid", "error: kex_exchange_identification: Connection closed by remote host",
			"fmt=bare msg=error: kex_exchange_identification: Connection closed by remote host"},
		// Syslog daemons.
		{"unpadded day", "Nov 2 15:40:14 web1 sshd[5]: x",
			"fmt=rfc3164 time=2023-11-02T15:40:14Z(assumed) host=web1 prog=sshd pid=5 msg=x"},
		{"padded day", "Nov  2 15:40:14 web1 sshd[5]: x",
			"fmt=rfc3164 time=2023-11-02T15:40:14Z(assumed) host=web1 prog=sshd pid=5 msg=x"},
		{"empty host", "Feb  9 21:20:08  sshd[1]: Server listening on 0.0.0.0 port 22.",
			"fmt=rfc3164 time=2024-02-09T21:20:08Z(assumed) prog=sshd pid=1 msg=Server listening on 0.0.0.0 port 22."},
		{"iso date with a blank and microseconds (macOS, rsyslog)", "2020-03-25 09:01:30.852002-0700  host sshd[1]: Accepted keyboard-interactive/pam for bob from 192.0.2.1 port 50022 ssh2",
			"fmt=iso8601 time=2020-03-25T09:01:30.852002-07:00 host=host prog=sshd pid=1 msg=Accepted keyboard-interactive/pam for bob from 192.0.2.1 port 50022 ssh2"},
		{"iso date with a blank and no zone", "2020-03-25 09:01:30 host sshd[1]: x",
			"fmt=iso8601 time=2020-03-25T09:01:30Z(assumed) host=host prog=sshd pid=1 msg=x"},
		{"solaris message id", "Jun 16 07:37:30 sol10 sshd[1021]: [ID 800047 auth.info] Accepted publickey for bob from 192.0.2.1 port 50022 ssh2",
			"fmt=rfc3164 time=2024-06-16T07:37:30Z(assumed) pri=auth.info host=sol10 prog=sshd pid=1021 msgid=800047 msg=Accepted publickey for bob from 192.0.2.1 port 50022 ssh2"},
		{"solaris with priority", "<38>Jun 16 07:37:30 sol10 sshd[1021]: [ID 800047 auth.notice] x",
			"fmt=rfc3164 time=2024-06-16T07:37:30Z(assumed) pri=auth.notice host=sol10 prog=sshd pid=1021 msgid=800047 msg=x"},
		{"busybox facility.level", "Jun 16 07:37:30 router auth.info sshd[1]: x",
			"fmt=rfc3164 time=2024-06-16T07:37:30Z(assumed) pri=auth.info host=router prog=sshd pid=1 msg=x"},
		{"busybox authpriv.warn", "Jun 16 07:37:30 router authpriv.warn dropbear[1]: x",
			"fmt=rfc3164 time=2024-06-16T07:37:30Z(assumed) pri=authpriv.warning host=router prog=dropbear pid=1 msg=x"},
		{"openwrt logread", "Sun Jun 16 07:37:30 2024 authpriv.info dropbear[1200]: Exit before auth from <192.0.2.1:5000>",
			"fmt=rfc3164 time=2024-06-16T07:37:30Z(assumed) pri=authpriv.info prog=dropbear pid=1200 msg=Exit before auth from <192.0.2.1:5000>"},
		{"priority as facility.severity", "<10.5>Feb  9 21:20:08 web1 sshd[1]: x",
			"fmt=rfc3164 time=2024-02-09T21:20:08Z(assumed) pri=authpriv.notice host=web1 prog=sshd pid=1 msg=x"},
		{"priority facility out of range", "<24.5>Feb  9 21:20:08 web1 sshd[1]: x",
			"fmt=bare msg=<24.5>Feb  9 21:20:08 web1 sshd[1]: x"},
		{"pam module in the tag", "Jun 16 07:37:30 rhel4 sshd(pam_unix)[2202]: authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.9  user=root",
			"fmt=rfc3164 time=2024-06-16T07:37:30Z(assumed) host=rhel4 prog=sshd module=pam_unix pid=2202 msg=authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.9  user=root"},
		{"sshd-session", "Jun 16 07:37:30 web1 sshd-session[9]: x",
			"fmt=rfc3164 time=2024-06-16T07:37:30Z(assumed) host=web1 prog=sshd-session pid=9 msg=x"},
		{"sshd-auth", "Jun 16 07:37:30 web1 sshd-auth[9]: x",
			"fmt=rfc3164 time=2024-06-16T07:37:30Z(assumed) host=web1 prog=sshd-auth pid=9 msg=x"},
		{"last message repeated", "Jun 16 07:37:30 web1 last message repeated 4 times",
			"fmt=rfc3164 time=2024-06-16T07:37:30Z(assumed) host=web1 repeated=4 msg=last message repeated 4 times"},
		{"macos last message repeated", "Jun 16 07:37:30 mac --- last message repeated 1 time ---",
			"fmt=rfc3164 time=2024-06-16T07:37:30Z(assumed) host=mac repeated=1 msg=--- last message repeated 1 time ---"},
		{"message repeated", "Jun 16 07:37:30 web1 sshd[5]: message repeated 2 times: [ Failed password for root from 192.0.2.9 port 22 ssh2]",
			"fmt=rfc3164 time=2024-06-16T07:37:30Z(assumed) host=web1 prog=sshd pid=5 repeated=2 msg=Failed password for root from 192.0.2.9 port 22 ssh2"},
		// OpenVPN client prefixes.
		{"openvpn cn/ip:port", "Jun 16 07:37:30 gw openvpn[1]: alice/198.51.100.7:51000 MULTI_sva: pool returned IPv4=10.8.0.6",
			"fmt=rfc3164 time=2024-06-16T07:37:30Z(assumed) host=gw prog=openvpn pid=1 vpnuser=alice client=198.51.100.7 cport=51000 msg=MULTI_sva: pool returned IPv4=10.8.0.6"},
		{"openvpn ip:port", "Thu Jun 16 07:37:30 2024 198.51.100.7:51000 TLS: Initial packet from [AF_INET]198.51.100.7:51000, sid=0a1b2c3d 4e5f6a7b",
			"fmt=openvpn time=2024-06-16T07:37:30Z(assumed) client=198.51.100.7 cport=51000 msg=TLS: Initial packet from [AF_INET]198.51.100.7:51000, sid=0a1b2c3d 4e5f6a7b"},
		{"openvpn [AF_INET]ip:port", "Jun 16 07:37:30 gw ovpn-server[812]: [AF_INET]198.51.100.7:51000 Connection reset, restarting [0]",
			"fmt=rfc3164 time=2024-06-16T07:37:30Z(assumed) host=gw prog=ovpn-server pid=812 client=198.51.100.7 cport=51000 msg=Connection reset, restarting [0]"},
		{"openvpn [AF_INET6]ip:port", "Jun 16 07:37:30 gw openvpn[1]: [AF_INET6]2001:db8::7:51000 Connection reset, restarting [0]",
			"fmt=rfc3164 time=2024-06-16T07:37:30Z(assumed) host=gw prog=openvpn pid=1 client=2001:db8::7 cport=51000 msg=Connection reset, restarting [0]"},
		{"openvpn [UNDEF]", "Jun 16 07:37:30 gw openvpn[1]: [UNDEF] Inactivity timeout (--ping-restart), restarting",
			"fmt=rfc3164 time=2024-06-16T07:37:30Z(assumed) host=gw prog=openvpn pid=1 msg=Inactivity timeout (--ping-restart), restarting"},
		{"openvpn UNDEF is not a user", "Jun 16 07:37:30 gw openvpn[1]: UNDEF/198.51.100.7:51000 TLS Error: TLS handshake failed",
			"fmt=rfc3164 time=2024-06-16T07:37:30Z(assumed) host=gw prog=openvpn pid=1 client=198.51.100.7 cport=51000 msg=TLS Error: TLS handshake failed"},
		{"openvpn 2.5 log file", "2024-06-16 07:37:30 alice/198.51.100.7:51000 SIGUSR1[soft,ping-restart] received, client-instance restarting",
			"fmt=openvpn time=2024-06-16T07:37:30Z(assumed) vpnuser=alice client=198.51.100.7 cport=51000 msg=SIGUSR1[soft,ping-restart] received, client-instance restarting"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New(time.UTC, testNow)
			var e Envelope
			p.Parse([]byte(tt.line), &e)
			if got := describe(&e); got != tt.want {
				t.Errorf("Parse(%q)\n got %s\nwant %s", tt.line, got, tt.want)
			}
		})
	}
}
