package record

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestFindFallback(t *testing.T) {
	tests := []struct {
		name, msg        string
		host, port, user string
	}{
		{"address and user", "Unknown wording for alice from 192.0.2.1 port 22 ssh2", "192.0.2.1", "22", "alice"},
		{"invalid user", "Odd thing for invalid user bob from 2001:db8::1 port 5000", "2001:db8::1", "5000", "bob"},
		{"illegal user", "Odd thing for illegal user bob from 192.0.2.2 port 5000", "192.0.2.2", "5000", "bob"},
		{"address only", "Something from 198.51.100.3 port 40000 [preauth]", "198.51.100.3", "40000", ""},
		{"address before a colon", "Odd close from 198.51.100.3 port 40000: reason", "198.51.100.3", "40000", ""},
		{"no port", "Something from 198.51.100.3", "", "", ""},
		{"port not a number", "Something from 198.51.100.3 port abc", "", "", ""},
		{"nothing", "Server listening on 0.0.0.0 port 22.", "", "", ""},
		// Injection: the user name holds sshd-shaped text; the address
		// is the last one, which sshd wrote after the user.
		{"user holds an address", "Odd for x from 10.0.0.1 port 22 from 192.0.2.9 port 4000", "192.0.2.9", "4000", "x from 10.0.0.1 port 22"},
		{"user holds for", "Odd for a for b from 192.0.2.9 port 4000", "192.0.2.9", "4000", "a for b"},
		{"user holds a trailing address", "Odd for x from 10.0.0.1 port 22 ssh2 from 192.0.2.9 port 4000 ssh2", "192.0.2.9", "4000", "x from 10.0.0.1 port 22 ssh2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f Fallback
			msg := []byte(tt.msg)
			findFallback(msg, &f)
			got := [3]string{string(msg[f.Host.Start:f.Host.End]), string(msg[f.Port.Start:f.Port.End]), string(msg[f.User.Start:f.User.End])}
			if want := [3]string{tt.host, tt.port, tt.user}; got != want {
				t.Errorf("findFallback(%q) = %q, want %q", tt.msg, got, want)
			}
		})
	}
}

func TestUnclassifiedKeepsFamily(t *testing.T) {
	x := testEnricher(t, Options{})
	for _, tt := range []struct{ line, family, ip, user string }{
		{"Jun 16 07:37:30 h sshd[1]: Brand new wording for carol from 192.0.2.5 port 4444 ssh2", "openssh", "192.0.2.5", "carol"},
		{"Jun 16 07:37:30 h openvpn[1]: alice/198.51.100.7:51000 Something new", "openvpn", "198.51.100.7", "alice"},
		{"Jun 16 07:37:30 h cron[1]: from 192.0.2.5 port 4444", "", "", ""},
	} {
		ev := x.Classify([]byte(tt.line))
		if ev.Classified() || ev.Family != tt.family {
			t.Errorf("%q: classified %v family %q, want unclassified %q", tt.line, ev.Classified(), ev.Family, tt.family)
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(enrichJSON(x, tt.line, nil)), &rec); err != nil {
			t.Fatal(err)
		}
		if got := field(rec, "sshenrich.family"); tt.family != "" && got != tt.family || tt.family == "" && got != nil {
			t.Errorf("%q: sshenrich.family %v, want %q", tt.line, got, tt.family)
		}
		if got := field(rec, "source.ip"); tt.ip != "" && got != tt.ip || tt.ip == "" && got != nil {
			t.Errorf("%q: source.ip %v, want %q", tt.line, got, tt.ip)
		}
		if got := field(rec, "user.name"); tt.user != "" && got != tt.user || tt.user == "" && got != nil {
			t.Errorf("%q: user.name %v, want %q", tt.line, got, tt.user)
		}
		if got := field(rec, "event.code"); got != "UNCLASSIFIED" {
			t.Errorf("%q: event.code %v", tt.line, got)
		}
	}
}

func TestFallbackIsMasked(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	x := testEnricher(t, Options{Mask: Mask{User: MaskHMAC, IP: MaskPrefix, Key: key, Message: true}})
	line := "Jun 16 07:37:30 h sshd[1]: Brand new wording for carol from 192.0.2.5 port 4444 ssh2"
	ev := x.Classify([]byte(line))
	masked := string(x.MaskedLine(ev))
	rec := enrichJSON(x, line, nil)
	for _, s := range []string{"carol", "192.0.2.5"} {
		if strings.Contains(masked, s) || strings.Contains(rec, s) {
			t.Errorf("%q left in the masked line %q or the record %s", s, masked, rec)
		}
	}
	if !strings.Contains(masked, "192.0.2.0") {
		t.Errorf("masked line %q lacks the masked address", masked)
	}
}
