package parser

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

var (
	testNow = time.Date(2024, 7, 1, 12, 0, 0, 0, time.UTC)
	jst     = time.FixedZone("JST", 9*3600)
)

// describe renders the fields of e that are set, in a fixed order.
func describe(e *Envelope) string {
	var parts []string
	add := func(k string, v []byte) {
		if v != nil {
			parts = append(parts, k+"="+string(v))
		}
	}
	parts = append(parts, "fmt="+e.Format.String())
	if e.Time.Valid {
		t := string(e.Time.AppendRFC3339(nil))
		if !e.Time.Zoned {
			t += "(assumed)"
		}
		parts = append(parts, "time="+t)
	}
	if e.Facility >= 0 {
		parts = append(parts, "pri="+FacilityName(e.Facility)+"."+SeverityName(e.Severity))
	}
	add("host", e.Host)
	add("prog", e.Program)
	add("module", e.Module)
	if e.PID >= 0 {
		parts = append(parts, fmt.Sprintf("pid=%d", e.PID))
	}
	add("msgid", e.MsgID)
	if e.Switch != 0 {
		parts = append(parts, fmt.Sprintf("switch=%d", e.Switch))
	}
	add("tunnel", e.Tunnel)
	add("vpnuser", e.VPNUser)
	add("client", e.ClientAddr)
	add("cport", e.ClientPort)
	add("level", e.Level)
	if e.Repeated > 0 {
		parts = append(parts, fmt.Sprintf("repeated=%d", e.Repeated))
	}
	if e.Net.Present() {
		parts = append(parts, fmt.Sprintf("net=%s|%s|%s|%s|%s|%s|%s", e.Net.Prefix, e.Net.In, e.Net.Src, e.Net.Dst, e.Net.Proto, e.Net.SrcPort, e.Net.DstPort))
	}
	parts = append(parts, "msg="+string(e.Message))
	return strings.Join(parts, " ")
}

func TestParse(t *testing.T) {
	tests := []struct {
		name, line, want string
	}{
		{"rfc3164", "Jun 16 07:37:30 web1 sshd[4409]: Accepted password for bob from 192.0.2.1 port 22 ssh2",
			"fmt=rfc3164 time=2024-06-16T07:37:30Z(assumed) host=web1 prog=sshd pid=4409 msg=Accepted password for bob from 192.0.2.1 port 22 ssh2"},
		{"rfc3164 with pri", "<38>Jun  6 07:37:30 web1 sshd[1]: x",
			"fmt=rfc3164 time=2024-06-06T07:37:30Z(assumed) pri=auth.info host=web1 prog=sshd pid=1 msg=x"},
		{"rfc3164 authpriv notice", "<85>Jun 16 07:37:30 web1 sshd-session[77]: Connection closed by 192.0.2.1 port 22",
			"fmt=rfc3164 time=2024-06-16T07:37:30Z(assumed) pri=authpriv.notice host=web1 prog=sshd-session pid=77 msg=Connection closed by 192.0.2.1 port 22"},
		{"rfc3164 year in the future means last year", "Dec 31 23:59:59 h sshd[1]: x",
			"fmt=rfc3164 time=2023-12-31T23:59:59Z(assumed) host=h prog=sshd pid=1 msg=x"},
		{"rfc3164 no pid, more than a week ahead means last year", "Jul 19 19:21:07 vbox kernel: filter_IN_public_REJECT: IN=enp0s8 OUT= MAC=08:00:27:40:b7:96:d0:11:e5:1a:ce:3b:08:00 SRC=192.168.11.115 DST=192.168.11.108 LEN=64 TOS=0x00 PREC=0x00 TTL=64 ID=0 DF PROTO=TCP SPT=62290 DPT=80 WINDOW=65535 RES=0x00 CWR ECE SYN URGP=0",
			"fmt=rfc3164 time=2023-07-19T19:21:07Z(assumed) host=vbox prog=kernel net=filter_IN_public_REJECT:|enp0s8|192.168.11.115|192.168.11.108|TCP|62290|80 msg=filter_IN_public_REJECT: IN=enp0s8 OUT= MAC=08:00:27:40:b7:96:d0:11:e5:1a:ce:3b:08:00 SRC=192.168.11.115 DST=192.168.11.108 LEN=64 TOS=0x00 PREC=0x00 TTL=64 ID=0 DF PROTO=TCP SPT=62290 DPT=80 WINDOW=65535 RES=0x00 CWR ECE SYN URGP=0"},
		{"logger line", "Dec 25 17:16:50 client root: This is auth log over UDP",
			"fmt=rfc3164 time=2023-12-25T17:16:50Z(assumed) host=client prog=root msg=This is auth log over UDP"},
		{"no host", "Jun 16 07:37:30 sshd[9]: hello",
			"fmt=rfc3164 time=2024-06-16T07:37:30Z(assumed) prog=sshd pid=9 msg=hello"},
		{"no tag", "Jun 16 07:37:30 web1 hello world",
			"fmt=rfc3164 time=2024-06-16T07:37:30Z(assumed) host=web1 msg=hello world"},
		{"message repeated", "Jun 16 07:37:30 web1 sshd[5]: message repeated 3 times: [ Failed password for root from 192.0.2.9 port 22 ssh2]",
			"fmt=rfc3164 time=2024-06-16T07:37:30Z(assumed) host=web1 prog=sshd pid=5 repeated=3 msg=Failed password for root from 192.0.2.9 port 22 ssh2"},
		{"iso high precision", "2024-06-16T07:37:30.123456+09:00 web1 sshd[1]: x",
			"fmt=iso8601 time=2024-06-16T07:37:30.123456+09:00 host=web1 prog=sshd pid=1 msg=x"},
		{"journalctl short-iso", "2024-06-16T07:37:30+0900 web1 sshd[1]: x",
			"fmt=iso8601 time=2024-06-16T07:37:30+09:00 host=web1 prog=sshd pid=1 msg=x"},
		{"iso with pri", "<86>2024-06-16T07:37:30Z web1 sshd[1]: x",
			"fmt=iso8601 time=2024-06-16T07:37:30Z pri=authpriv.info host=web1 prog=sshd pid=1 msg=x"},
		{"rfc5424", "<38>1 2024-06-16T07:37:30.5Z web1 sshd 4409 - - Accepted publickey for bob",
			"fmt=rfc5424 time=2024-06-16T07:37:30.5Z pri=auth.info host=web1 prog=sshd pid=4409 msg=Accepted publickey for bob"},
		{"rfc5424 structured data and bom", "<38>1 2024-06-16T07:37:30Z web1 sshd - ID47 [x@1 a=\"b\\]c\"][y@2 k=\"v\"] \xef\xbb\xbfhi",
			"fmt=rfc5424 time=2024-06-16T07:37:30Z pri=auth.info host=web1 prog=sshd msg=hi"},
		{"rfc5424 nil fields", "<38>1 - - - - - -",
			"fmt=rfc5424 pri=auth.info msg="},
		{"ax", "2024/06/16 07:37:30 sshd[4409] Accepted password for staff from 10.0.0.1 port 4226",
			"fmt=ax time=2024-06-16T07:37:30Z(assumed) prog=sshd pid=4409 msg=Accepted password for staff from 10.0.0.1 port 4226"},
		{"ax placeholder year", "20XX/06/16 07:37:50 sshd[4409] Closing connection to",
			"fmt=ax prog=sshd pid=4409 msg=Closing connection to"},
		{"vpn gateway", "2023/04/13 18:00:00 openvpn-vtun0 user01/198.51.100.7:12345 TLS Error: TLS handshake failed",
			"fmt=vpn-gateway time=2023-04-13T18:00:00Z(assumed) tunnel=openvpn-vtun0 vpnuser=user01 client=198.51.100.7 cport=12345 msg=TLS Error: TLS handshake failed"},
		{"vpn gateway placeholder address", "2023/04/13 18:00:00 openvpn-vtun0 user01/xxx.xxx.xxx.xxx:12345 ......",
			"fmt=vpn-gateway time=2023-04-13T18:00:00Z(assumed) tunnel=openvpn-vtun0 vpnuser=user01 client=xxx.xxx.xxx.xxx cport=12345 msg=......"},
		{"vpn gateway without client", "2023/04/13 18:00:00 openvpn-vtun0 Initialization Sequence Completed",
			"fmt=vpn-gateway time=2023-04-13T18:00:00Z(assumed) tunnel=openvpn-vtun0 msg=Initialization Sequence Completed"},
		{"openvpn ctime", "Thu Jun 16 07:37:30 2024 user01/198.51.100.7:1194 MULTI_sva: pool returned IPv4=10.8.0.6, IPv6=(Not enabled)",
			"fmt=openvpn time=2024-06-16T07:37:30Z(assumed) vpnuser=user01 client=198.51.100.7 cport=1194 msg=MULTI_sva: pool returned IPv4=10.8.0.6, IPv6=(Not enabled)"},
		{"openvpn address only", "Thu Jun  6 07:37:30 2024 198.51.100.7:1194 TLS: Initial packet from [AF_INET]198.51.100.7:1194",
			"fmt=openvpn time=2024-06-06T07:37:30Z(assumed) client=198.51.100.7 cport=1194 msg=TLS: Initial packet from [AF_INET]198.51.100.7:1194"},
		{"openvpn 2.5 file log", "2024-06-16 07:37:30 Initialization Sequence Completed",
			"fmt=openvpn time=2024-06-16T07:37:30Z(assumed) msg=Initialization Sequence Completed"},
		{"openvpn via syslog", "Jun 16 07:37:30 gw ovpn-server[812]: user01/203.0.113.9:51000 MULTI: Learn: 10.8.0.6 -> user01/203.0.113.9:51000",
			"fmt=rfc3164 time=2024-06-16T07:37:30Z(assumed) host=gw prog=ovpn-server pid=812 vpnuser=user01 client=203.0.113.9 cport=51000 msg=MULTI: Learn: 10.8.0.6 -> user01/203.0.113.9:51000"},
		{"openvpn ipv6 client has no port", "Jun 16 07:37:30 gw openvpn[1]: alice/2001:db8::7 TLS: Initial packet",
			"fmt=rfc3164 time=2024-06-16T07:37:30Z(assumed) host=gw prog=openvpn pid=1 vpnuser=alice client=2001:db8::7 msg=TLS: Initial packet"},
		{"sshd message is not a vpn client", "Jun 16 07:37:30 h sshd[1]: 192.0.2.1:22 odd",
			"fmt=rfc3164 time=2024-06-16T07:37:30Z(assumed) host=h prog=sshd pid=1 msg=192.0.2.1:22 odd"},
		{"ssh client", "ssh: connect to host 192.168.0.1 port 22: Connection timed out",
			"fmt=ssh-client prog=ssh msg=connect to host 192.168.0.1 port 22: Connection timed out"},
		{"ssh client debug", "debug1: connect to address 192.168.0.1 port 22: Connection timed out",
			"fmt=ssh-client prog=ssh level=debug1 msg=connect to address 192.168.0.1 port 22: Connection timed out"},
		{"sshd debug via syslog", "Jun 16 07:37:30 h sshd[1]: debug1: Forked child 5.",
			"fmt=rfc3164 time=2024-06-16T07:37:30Z(assumed) host=h prog=sshd pid=1 level=debug1 msg=Forked child 5."},
		{"bare kernel", "kernel: filter_IN_public_REJECT: IN=eth0 OUT= SRC=203.0.113.1 DST=192.0.2.2 PROTO=TCP SPT=5 DPT=22",
			"fmt=kernel prog=kernel net=filter_IN_public_REJECT:|eth0|203.0.113.1|192.0.2.2|TCP|5|22 msg=filter_IN_public_REJECT: IN=eth0 OUT= SRC=203.0.113.1 DST=192.0.2.2 PROTO=TCP SPT=5 DPT=22"},
		{"ufw", "Jun 16 07:37:30 h kernel: [12345.678] [UFW BLOCK] IN=eth0 OUT= SRC=203.0.113.1 DST=192.0.2.2 PROTO=TCP SPT=5 DPT=22",
			"fmt=rfc3164 time=2024-06-16T07:37:30Z(assumed) host=h prog=kernel net=[UFW BLOCK]|eth0|203.0.113.1|192.0.2.2|TCP|5|22 msg=[UFW BLOCK] IN=eth0 OUT= SRC=203.0.113.1 DST=192.0.2.2 PROTO=TCP SPT=5 DPT=22"},
		{"dmesg", "[    0.000000] Linux version 5.14.0",
			"fmt=kernel prog=kernel msg=Linux version 5.14.0"},
		{"bare", "Accepted password for staff from 10.0.0.1 port 4226",
			"fmt=bare msg=Accepted password for staff from 10.0.0.1 port 4226"},
		{"empty", "", "fmt=bare msg="},
		{"crlf", "hello\r\n", "fmt=bare msg=hello"},
		{"bad pri", "<999>Jun 16 07:37:30 h sshd[1]: x", "fmt=bare msg=<999>Jun 16 07:37:30 h sshd[1]: x"},
		{"bad month", "Jux 16 07:37:30 h sshd[1]: x", "fmt=bare msg=Jux 16 07:37:30 h sshd[1]: x"},
		{"bad clock", "Jun 16 07:77:30 h sshd[1]: x", "fmt=bare msg=Jun 16 07:77:30 h sshd[1]: x"},
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

// TestAXHeaderZone follows a whole "show ssh logging" output: the Date
// header's zone applies to the lines after it, and a Switch header gives
// their switch number.
func TestAXHeaderZone(t *testing.T) {
	p := New(jst, testNow)
	var e Envelope
	steps := []struct{ line, want string }{
		{"2024/06/16 07:37:30 sshd[1] a", "fmt=ax time=2024-06-16T07:37:30+09:00(assumed) prog=sshd pid=1 msg=a"},
		{"Date 2024/06/16 08:00:00 UTC", "fmt=ax-header time=2024-06-16T08:00:00Z msg=Date 2024/06/16 08:00:00 UTC"},
		{"2024/06/16 07:37:30 sshd[1] b", "fmt=ax time=2024-06-16T07:37:30Z prog=sshd pid=1 msg=b"},
		{"Switch 2", "fmt=ax-header msg=Switch 2"},
		{"2024/06/16 07:37:31 sshd[1] c", "fmt=ax time=2024-06-16T07:37:31Z prog=sshd pid=1 switch=2 msg=c"},
		{"Date 2024/06/16 08:00:00 PST", "fmt=ax-header msg=Date 2024/06/16 08:00:00 PST"},
		{"2024/06/16 07:37:32 sshd[1] d", "fmt=ax time=2024-06-16T07:37:32+09:00(assumed) prog=sshd pid=1 switch=2 msg=d"},
	}
	for _, s := range steps {
		p.Parse([]byte(s.line), &e)
		if got := describe(&e); got != s.want {
			t.Errorf("Parse(%q)\n got %s\nwant %s", s.line, got, s.want)
		}
	}
}

func TestLines(t *testing.T) {
	got := []string{}
	for l := range Lines([]byte("> show ssh logging\r\nDate 2024/06/16 08:00:00 UTC\n\n2024/06/16 07:37:30 sshd[1] a\n  \nlast")) {
		got = append(got, string(l))
	}
	want := []string{"> show ssh logging", "Date 2024/06/16 08:00:00 UTC", "2024/06/16 07:37:30 sshd[1] a", "last"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("Lines = %q, want %q", got, want)
	}
}

func TestParseDoesNotAllocate(t *testing.T) {
	p := New(jst, testNow)
	lines := [][]byte{
		[]byte("Jun 16 07:37:30 web1 sshd[4409]: Accepted password for bob from 192.0.2.1 port 22 ssh2"),
		[]byte("<38>1 2024-06-16T07:37:30.5Z web1 sshd 4409 - - Accepted publickey for bob"),
		[]byte("2023/04/13 18:00:00 openvpn-vtun0 user01/198.51.100.7:12345 TLS Error: TLS handshake failed"),
		[]byte("Jul 19 19:21:07 vbox kernel: filter_IN_public_REJECT: IN=enp0s8 OUT= SRC=192.168.11.115 DST=192.168.11.108 PROTO=TCP SPT=62290 DPT=80"),
	}
	var e Envelope
	for _, l := range lines {
		if n := testing.AllocsPerRun(100, func() { p.Parse(l, &e) }); n != 0 {
			t.Errorf("Parse(%q) allocates %v times", l, n)
		}
	}
}

// TestLocalTimeAcrossDST checks the per-hour cache against time.Date on
// both sides of daylight saving changes.
func TestLocalTimeAcrossDST(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no zone database:", err)
	}
	p := New(ny, time.Date(2024, 12, 1, 0, 0, 0, 0, time.UTC))
	for _, c := range []civil{
		{2024, 3, 10, 1, 59, 59, 0}, {2024, 3, 10, 3, 0, 0, 0}, {2024, 3, 10, 3, 30, 0, 0},
		{2024, 11, 3, 0, 30, 0, 0}, {2024, 11, 3, 1, 30, 0, 0}, {2024, 11, 3, 2, 30, 0, 0}, {2024, 11, 3, 1, 10, 0, 0},
	} {
		got := p.local(c)
		want := time.Date(c.year, time.Month(c.month), c.day, c.hour, c.min, c.sec, 0, ny)
		_, off := want.Zone()
		if got.Unix != want.Unix() || int(got.Offset) != off {
			t.Errorf("%+v: got %d%+d, want %d%+d", c, got.Unix, got.Offset, want.Unix(), off)
		}
	}
}

// TestTimeDated: a time counts as the line's own only when the line
// wrote its year. RFC 3164 and journald's short output write none, so
// their year is a guess; the other dated envelopes write it, with or
// without a zone (a zoneless one is read in the Parser's Location).
func TestTimeDated(t *testing.T) {
	p := New(time.UTC, time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC))
	tests := []struct {
		line  string
		dated bool
		zoned bool
	}{
		{"Jun 16 07:37:30 web1 sshd[1]: x", false, false},
		{"<38>Jun 16 07:37:30 web1 sshd[1]: x", false, false},
		{"Jun 16 07:37:30.123456 web1 sshd[1]: x", false, false},
		{"Jun 16 07:37:30 2024 web1 sshd[1]: x", true, false},
		{"2024-06-16T07:37:30+09:00 web1 sshd[1]: x", true, true},
		{"2024-06-16T07:37:30.5Z web1 sshd[1]: x", true, true},
		{"2020-03-25 09:01:30.852002-0700  host sshd[1]: x", true, true},
		{"<38>1 2024-06-16T07:37:30Z web1 sshd 1 - - x", true, true},
		{"<38>1 - web1 sshd 1 - - x", false, false},
		{"Sun 2024-06-16 07:37:30 UTC web1 sshd[1]: x", true, true},
		{"1718523450.123456 web1 sshd[1]: x", true, true},
		{"Thu Jun 16 07:37:30 2024 user01/198.51.100.7:1194 MULTI: x", true, false},
		{"2023/04/13 18:00:00 openvpn-vtun0 user01/198.51.100.7:12345 x", true, false},
		{"2024/06/16 07:37:30 sshd[4409] Accepted password for staff from 10.0.0.1 port 4226", true, false},
		{"20XX/06/16 07:37:30 sshd[4409] x", false, false},
		{"[   12.345678] kernel: x", false, false},
		{"sshd[1]: x", false, false},
		{"Failed password for root from 192.0.2.1 port 22 ssh2", false, false},
	}
	for _, tt := range tests {
		var e Envelope
		p.Parse([]byte(tt.line), &e)
		if e.Time.Dated() != tt.dated || e.Time.Dated() && e.Time.Zoned != tt.zoned {
			t.Errorf("%q: dated %v zoned %v, want %v %v (%s)", tt.line, e.Time.Dated(), e.Time.Zoned, tt.dated, tt.zoned, describe(&e))
		}
	}
}
