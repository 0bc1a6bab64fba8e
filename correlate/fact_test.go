package correlate

import (
	"testing"
)

// TestBuild: the fields a Fact gets from a classified line, as the
// record writer places them.
func TestBuild(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	tests := []struct {
		line string
		want func(f *Fact) bool
	}{
		{"Jun 16 07:37:26 web02 sshd[4409]: Accepted publickey for alice from ::ffff:203.0.113.7 port 50122 ssh2: ED25519 SHA256:Vj4m2sR0y6Yg0c8lq3Gm1fQ2Jm5nQ8cW1xYz9kL3pTw",
			func(f *Fact) bool {
				return string(f.SourceIP) == "203.0.113.7" && f.SourcePort == 50122 && string(f.User) == "alice" && string(f.AuthMethod) == "publickey" &&
					string(f.KeyFingerprint) == "SHA256:Vj4m2sR0y6Yg0c8lq3Gm1fQ2Jm5nQ8cW1xYz9kL3pTw" && f.Outcome == "success" && f.Class == ClassSSH &&
					f.PID == 4409 && string(f.Host) == "web02" && string(f.Program) == "sshd" && f.Time > 0
			}},
		{"Jun 16 07:40:00 web02 sshd[4500]: Connection closed by invalid user admin 203.0.113.50 port 41000 [preauth]",
			func(f *Fact) bool { return f.InvalidUser && f.Outcome == "failure" && f.Entry.Code == "SSHD-0200" }},
		{"Jun 16 07:40:00 web02 sshd[4500]: Connection closed by authenticating user root 203.0.113.50 port 41000 [preauth]",
			func(f *Fact) bool { return !f.InvalidUser && string(f.User) == "root" }},
		{"Jun 16 07:40:00 web02 sshd[4500]: Connection closed by 203.0.113.50 port 41000 [preauth]",
			func(f *Fact) bool { return f.Outcome == "failure" && f.Entry.Outcome == "unknown" }},
		{"Jun 16 07:39:00 web02 sshd[4409]: Transferred: sent 3456, received 2345 bytes",
			func(f *Fact) bool { return f.BytesSent == 3456 && f.BytesReceived == 2345 }},
		{"Jun 15 15:39:38 sw1 sshd[4321]: Connection from 192.0.2.9 port 64093 on VRF 2",
			func(f *Fact) bool { return f.VRF == 2 && f.SourcePort == 64093 }},
		{`Mar  3 04:12:09 web01 sshd-session[2211]: Connection from 203.0.113.7 port 50122 on 192.0.2.10 port 22 rdomain "mgmt"`,
			func(f *Fact) bool { return string(f.RDomain) == "mgmt" && f.Role().String() == "connect" }},
		{"Jun 16 09:00:02 gw01 ovpn-server[812]: user01/198.51.100.20:51000 MULTI: Learn: 10.8.0.6 -> user01/198.51.100.20:51000",
			func(f *Fact) bool {
				return f.Class == ClassVPN && string(f.CommonName) == "user01" && string(f.User) == "user01" && string(f.PoolIP) == "10.8.0.6" &&
					string(f.SourceIP) == "198.51.100.20" && f.SourcePort == 51000
			}},
		{"Jun 16 09:00:02 gw01 ovpn-server[812]: MULTI: primary virtual IP for user01/198.51.100.20:51000: 10.8.0.6",
			func(f *Fact) bool {
				return string(f.CommonName) == "user01" && string(f.PoolIP) == "10.8.0.6" && string(f.SourceIP) == "198.51.100.20" && f.SourcePort == 51000
			}},
		{"Jun 16 09:00:03 gw01 ovpn-server[812]: user01/198.51.100.20:51000 SENT CONTROL [user01]: 'PUSH_REPLY,route-gateway 10.8.0.1,ifconfig 10.8.0.6 255.255.255.0,peer-id 0' (status=1)",
			func(f *Fact) bool { return string(f.PoolIP) == "10.8.0.6" }},
		{"Jun 16 09:00:02 gw01 ovpn-server[812]: 198.51.100.20:51000 [user01] Peer Connection Initiated with [AF_INET]198.51.100.20:51000",
			func(f *Fact) bool { return string(f.CommonName) == "user01" && f.Role().String() == "open" }},
		{"2023/04/13 18:00:00 openvpn-vtun0 user01/198.51.100.7:12345 user01 authentication succeeded",
			func(f *Fact) bool {
				return f.Class == ClassVPN && string(f.Program) == "openvpn-vtun0" && string(f.User) == "user01" && f.Outcome == "success"
			}},
		{"Jun 16 07:37:26 web02 sudo[99]: pam_unix(sudo:session): session opened for user root(uid=0) by alice(uid=1000)",
			func(f *Fact) bool { return f.Class == ClassNone }},
		{"Jun 16 07:37:26 web02 sshd[99]: pam_unix(sshd:session): session opened for user root(uid=0) by (uid=0)",
			func(f *Fact) bool { return f.Class == ClassSSH && f.Role().String() == "open" }},
		{"2024/06/16 07:37:30 sshd[4409] Accepted password for staff from port 4226",
			func(f *Fact) bool {
				return f.Polled && f.Class == ClassSSH && f.SourceIP == nil && f.SourcePort == 4226 && string(f.User) == "staff"
			}},
		{"Date 2024/06/16 08:00:00 UTC", func(f *Fact) bool { return f.PollStart && f.Entry == nil }},
		{"a line of no known program", func(f *Fact) bool { return f.Entry == nil && f.Class == ClassNone && f.PID == -1 && f.Time == 0 }},
	}
	for _, tt := range tests {
		f := h.classify(tt.line)
		if !tt.want(f) {
			t.Errorf("%q:\n%+v", tt.line, *f)
		}
	}
}

// TestBuildClassOfOtherCatalog: a Builder given the match of another
// catalog's matcher (a catalog reloaded with other rules files) takes
// the session class from the entry's family, not from its own table.
func TestBuildClassOfOtherCatalog(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	other := newHarness(t, DefaultConfig(), "code: SITE-0001\nseverity: info\ndescription.en: a site line\ntemplate: site login check for <user>\n")
	for line, want := range map[string]Class{
		"Jun 16 07:37:26 web02 sshd[4409]: Accepted password for alice from 203.0.113.7 port 50122 ssh2":                                  ClassSSH,
		"Jun 16 09:00:02 gw01 ovpn-server[812]: 198.51.100.20:51000 [user01] Peer Connection Initiated with [AF_INET]198.51.100.20:51000": ClassVPN,
		// An entry past the end of the built-in catalog's, of a family
		// with no session: the class of its program.
		"Jun 16 07:37:27 web02 sshd[4409]: site login check for alice": ClassSSH,
	} {
		other.classify(line) // other's entry, other's match
		if ent := other.fact.Entry; ent == nil || ent.Index < len(h.cat.Entries()) && ent == h.cat.Entries()[ent.Index] {
			t.Fatalf("%q: the other catalog's entry is not its own", line)
		}
		var f Fact
		h.b.Build(&f, &other.env, &other.res)
		if f.Class != want {
			t.Errorf("%q: class %d, want %d", line, f.Class, want)
		}
	}
}

func TestSplitInstance(t *testing.T) {
	for in, want := range map[string][3]any{
		"alice/198.51.100.7:51000": {"alice", "198.51.100.7", 51000},
		"198.51.100.7:51000":       {"", "198.51.100.7", 51000},
		"alice/2001:db8::7":        {"alice", "2001:db8::7", -1},
		"UNDEF/198.51.100.7:1":     {"", "198.51.100.7", 1},
		"alice":                    {"", "", -1},
		"":                         {"", "", -1},
	} {
		cn, addr, port := splitInstance([]byte(in))
		if string(cn) != want[0] || string(addr) != want[1] || port != want[2] {
			t.Errorf("%q: %q %q %d, want %v", in, cn, addr, port, want)
		}
	}
}

func TestPushedAddress(t *testing.T) {
	for in, want := range map[string]string{
		"route 192.168.10.0 255.255.255.0,ifconfig 10.8.0.6 255.255.255.0,peer-id 0": "10.8.0.6",
		"ifconfig-ipv6 2001:db8::1000/64 2001:db8::1,ifconfig 10.8.0.7 10.8.0.5":     "10.8.0.7",
		"route-gateway 10.8.0.1,topology subnet":                                     "",
		"ifconfig ":                                                                  "",
	} {
		if got := pushedAddress([]byte(in)); string(got) != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func TestFieldSetNames(t *testing.T) {
	all := FieldSet(1<<numInferred - 1)
	buf := make([]string, 0, numInferred)
	if a := testing.AllocsPerRun(100, func() { all.Names(buf[:0]) }); a != 0 {
		t.Errorf("Names allocates %v", a)
	}
	names := all.Names(nil)
	if len(names) != numInferred || names[0] != "source.ip" || names[numInferred-1] != "sshenrich.bytes_received" {
		t.Errorf("names %v", names)
	}
	if got := (InferredUser | InferredPoolIP).Names(nil); len(got) != 2 || got[0] != "user.name" || got[1] != "sshenrich.pool_ip" {
		t.Errorf("names %v", got)
	}
	if !(InferredUser | InferredPoolIP).Has(InferredPoolIP) || InferredUser.Has(InferredPoolIP) {
		t.Error("Has")
	}
}
