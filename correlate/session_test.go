package correlate

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSSHSessionPrivsep: a login on an OpenSSH before 9.8. The monitor
// (pid 4409) logs the connection, the authentication and PAM; the
// post-authentication child (pid 4412) logs the disconnect. The child's
// lines join the session by address and port, and its pid becomes an
// alias; PAM's close, which names no address, gets it from the session.
func TestSSHSessionPrivsep(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	rs := h.run(`
		Jun 16 07:37:22 web02 sshd[4409]: Connection from 198.51.100.23 port 40222 on 192.0.2.11 port 22
		Jun 16 07:37:26 web02 sshd[4409]: Accepted password for bob from 198.51.100.23 port 40222 ssh2
		Jun 16 07:37:26 web02 sshd[4409]: pam_unix(sshd:session): session opened for user bob by (uid=0)
		Jun 16 07:38:00 web02 sshd[4412]: Starting session: shell on pts/1 for bob from 198.51.100.23 port 40222 id 0
		Jun 16 07:39:00 web02 sshd[4412]: Received disconnect from 198.51.100.23 port 40222:11: disconnected by user
		Jun 16 07:39:00 web02 sshd[4412]: Disconnected from user bob 198.51.100.23 port 40222
		Jun 16 07:39:00 web02 sshd[4409]: Transferred: sent 3456, received 2345 bytes
		Jun 16 07:39:00 web02 sshd[4409]: Closing connection to 198.51.100.23 port 40222
		Jun 16 07:39:01 web02 sshd[4409]: pam_unix(sshd:session): session closed for user bob
	`)
	wantCodes := []string{"SSHD-0008", "SSHD-0003", "PAM-0012", "SSHD-0270", "SSHD-0650", "SSHD-0204", "SSHD-0276", "SSHD-0006", "PAM-0014"}
	for i, r := range rs {
		if r.Code != wantCodes[i] {
			t.Fatalf("line %d classified %s, want %s", i+1, r.Code, wantCodes[i])
		}
		if r.Session == "" || r.Session != rs[0].Session {
			t.Errorf("line %d (%s): session %q, want %q", i+1, r.Code, r.Session, rs[0].Session)
		}
	}
	if len(rs[0].Session) != 16 {
		t.Errorf("session id %q is not 16 hex digits", rs[0].Session)
	}
	// PAM's open and close lines lack the address: it is inferred (and
	// the close, a closing line, also gets the byte counts).
	for i, want := range map[int][]string{2: {"source.ip", "source.port"}, 8: {"source.ip", "source.port", "sshenrich.bytes_sent", "sshenrich.bytes_received"}} {
		if rs[i].IP != "198.51.100.23" || rs[i].Port != 40222 || !slices.Equal(rs[i].Inferred, want) {
			t.Errorf("line %d: ip %q port %d inferred %v, want %v", i+1, rs[i].IP, rs[i].Port, rs[i].Inferred, want)
		}
	}
	// The child's disconnect names no user: the session's is inferred.
	if rs[4].User != "bob" || !slices.Equal(rs[4].Inferred, []string{"user.name"}) {
		t.Errorf("received disconnect: user %q inferred %v", rs[4].User, rs[4].Inferred)
	}
	// Lines that carry everything infer nothing.
	for _, i := range []int{0, 1, 5} {
		if len(rs[i].Inferred) != 0 {
			t.Errorf("line %d inferred %v", i+1, rs[i].Inferred)
		}
	}
	// Closing lines carry the duration from the connect line.
	for i, want := range map[int]time.Duration{4: 98 * time.Second, 5: 98 * time.Second, 7: 98 * time.Second, 8: 99 * time.Second} {
		if !rs[i].HasDur || rs[i].Duration != want {
			t.Errorf("line %d (%s): duration %v (%v), want %v", i+1, rs[i].Code, rs[i].Duration, rs[i].HasDur, want)
		}
	}
	for _, i := range []int{0, 1, 2, 3, 6} {
		if rs[i].HasDur {
			t.Errorf("line %d (%s) has a duration", i+1, rs[i].Code)
		}
	}
	// "Closing connection" follows "Transferred": it gets the byte counts.
	if rs[7].Bytes != [2]int64{3456, 2345} || !slices.Contains(rs[7].Inferred, "sshenrich.bytes_sent") || !slices.Contains(rs[7].Inferred, "sshenrich.bytes_received") {
		t.Errorf("closing line: bytes %v inferred %v", rs[7].Bytes, rs[7].Inferred)
	}
	if rs[6].Bytes != [2]int64{-1, -1} {
		t.Errorf("the Transferred line itself infers bytes %v", rs[6].Bytes)
	}
}

// TestSSHSession98: OpenSSH 9.8 and later log from sshd-session; the
// connection's second process is another sshd-session pid.
func TestSSHSession98(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	rs := h.run(`
		2025-03-03T04:12:09+0000 web01 sshd-session[2211]: Connection from 203.0.113.7 port 50122 on 192.0.2.10 port 22 rdomain "vrf-mgmt"
		2025-03-03T04:12:10+0000 web01 sshd-session[2211]: Accepted publickey for alice from 203.0.113.7 port 50122 ssh2: ED25519 SHA256:Vj4m2sR0y6Yg0c8lq3Gm1fQ2Jm5nQ8cW1xYz9kL3pTw
		2025-03-03T04:12:10+0000 web01 sshd-session[2211]: pam_unix(sshd:session): session opened for user alice(uid=1000) by alice(uid=0)
		2025-03-03T04:12:10+0000 web01 systemd-logind[612]: New session 7 of user alice.
		2025-03-03T04:40:11+0000 web01 sshd-session[2215]: Received disconnect from 203.0.113.7 port 50122:11: disconnected by user
		2025-03-03T04:40:11+0000 web01 sshd-session[2215]: Disconnected from user alice 203.0.113.7 port 50122
		2025-03-03T04:40:11+0000 web01 sshd-session[2211]: pam_unix(sshd:session): session closed for user alice
	`)
	id := rs[0].Session
	for i, r := range rs {
		if r.Code == "LOGIND-0001" {
			if r.Session != "" {
				t.Errorf("systemd-logind's line joined an SSH session")
			}
			continue
		}
		if r.Session != id {
			t.Errorf("line %d (%s): session %q, want %q", i+1, r.Code, r.Session, id)
		}
	}
	closeLine := rs[6]
	if closeLine.IP != "203.0.113.7" || closeLine.Port != 50122 || !closeLine.HasDur || closeLine.Duration != 28*time.Minute+2*time.Second {
		t.Errorf("PAM close: %+v", closeLine)
	}
	if !slices.Contains(rs[4].Inferred, "sshenrich.rdomain") && !slices.Contains(rs[6].Inferred, "sshenrich.rdomain") {
		t.Errorf("the routing domain of the connect line is not inferred: %v %v", rs[4].Inferred, rs[6].Inferred)
	}
}

// TestSessionPidReuse: a connect line on a pid that had a session
// starts a new session; lines of the old connection's other pid keep
// the old one.
func TestSessionPidReuse(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	rs := h.run(`
		Jun 16 08:00:00 web02 sshd[5000]: Connection from 198.51.100.1 port 1111 on 192.0.2.11 port 22
		Jun 16 08:00:01 web02 sshd[5000]: Accepted password for carol from 198.51.100.1 port 1111 ssh2
		Jun 16 08:00:30 web02 sshd[5000]: Connection from 198.51.100.2 port 2222 on 192.0.2.11 port 22
		Jun 16 08:00:31 web02 sshd[5000]: Accepted password for dave from 198.51.100.2 port 2222 ssh2
		Jun 16 08:01:00 web02 sshd[5003]: Disconnected from user carol 198.51.100.1 port 1111
	`)
	if rs[0].Session == rs[2].Session || rs[2].Session != rs[3].Session || rs[4].Session != rs[0].Session {
		t.Errorf("sessions %q %q %q %q %q", rs[0].Session, rs[1].Session, rs[2].Session, rs[3].Session, rs[4].Session)
	}
}

// TestTectiaSession: Tectia logs the connection from its master
// process, so a session starts at the authentication of the
// connection's own pid and ends at its logout.
func TestTectiaSession(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	rs := h.run(`
		Jun 16 11:01:10 tec01 sshd2[3001]: connection from "203.0.113.30" (listen port: 22)
		Jun 16 11:01:15 tec01 sshd2[3105]: User tanaka (uid 1001), coming from 203.0.113.30, authenticated.
		Jun 16 11:09:15 tec01 sshd2[3105]: Logout for user tanaka.
	`)
	if rs[0].Session != "" {
		t.Errorf("the master's connection line started a session")
	}
	if rs[1].Session == "" || rs[2].Session != rs[1].Session {
		t.Fatalf("sessions %q %q", rs[1].Session, rs[2].Session)
	}
	if rs[2].IP != "203.0.113.30" || !rs[2].HasDur || rs[2].Duration != 8*time.Minute {
		t.Errorf("logout: %+v", rs[2])
	}
}

// TestVPNSession: an OpenVPN client instance from its first packet to
// its exit. Lines before the common name is known, lines with only the
// common name and lines with only the pool address all join it.
func TestVPNSession(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	rs := h.run(`
		Jun 16 09:00:01 gw01 ovpn-server[812]: 198.51.100.20:51000 TLS: Initial packet from [AF_INET]198.51.100.20:51000, sid=1a2b3c4d 5e6f7a8b
		Jun 16 09:00:01 gw01 ovpn-server[812]: 198.51.100.20:51000 VERIFY OK: depth=0, CN=user01
		Jun 16 09:00:02 gw01 ovpn-server[812]: 198.51.100.20:51000 TLS: Username/Password authentication succeeded for username 'user01'
		Jun 16 09:00:02 gw01 ovpn-server[812]: 198.51.100.20:51000 [user01] Peer Connection Initiated with [AF_INET]198.51.100.20:51000
		Jun 16 09:00:02 gw01 ovpn-server[812]: user01/198.51.100.20:51000 MULTI_sva: pool returned IPv4=10.8.0.6, IPv6=(Not enabled)
		Jun 16 09:00:02 gw01 ovpn-server[812]: user01/198.51.100.20:51000 MULTI: Learn: 10.8.0.6 -> user01/198.51.100.20:51000
		Jun 16 09:00:03 gw01 ovpn-server[812]: user01/198.51.100.20:51000 SENT CONTROL [user01]: 'PUSH_REPLY,route 192.168.10.0 255.255.255.0,route-gateway 10.8.0.1,topology subnet,ping 10,ping-restart 60,ifconfig 10.8.0.6 255.255.255.0,peer-id 0,cipher AES-256-GCM' (status=1)
		Jun 16 09:00:03 gw01 ovpn-server[812]: user01/198.51.100.20:51000 Data Channel: cipher 'AES-256-GCM', peer-id: 0
		Jun 16 09:07:00 gw01 ovpn-server[812]: MULTI: new connection by client 'user01' will cause previous active sessions by this client to be dropped.  Remember to use the --duplicate-cn option if you want multiple clients using the same certificate or username to concurrently connect.
		Jun 16 09:30:00 gw01 ovpn-server[812]: user01/198.51.100.20:51000 SIGTERM[soft,remote-exit] received, client-instance exiting
	`)
	id := rs[0].Session
	for i, r := range rs {
		if r.Session != id || id == "" {
			t.Errorf("line %d (%s): session %q, want %q", i+1, r.Code, r.Session, id)
		}
	}
	if rs[0].Code != "OVPN-0061" || rs[9].Code != "OVPN-0015" {
		t.Fatalf("codes %s %s", rs[0].Code, rs[9].Code)
	}
	// The data channel line lacks the pool address: inferred.
	if rs[7].Pool != "10.8.0.6" || !slices.Contains(rs[7].Inferred, "sshenrich.pool_ip") {
		t.Errorf("data channel line: pool %q inferred %v", rs[7].Pool, rs[7].Inferred)
	}
	// The line that names only the common name gets the real address.
	if rs[8].IP != "198.51.100.20" || rs[8].Port != 51000 || rs[8].Pool != "10.8.0.6" {
		t.Errorf("common-name line: %+v", rs[8])
	}
	if !rs[9].HasDur || rs[9].Duration != 29*time.Minute+59*time.Second {
		t.Errorf("exit: duration %v", rs[9].Duration)
	}
	// Who was on 10.8.0.6? A line that carries only the pool address.
	f := h.classify("Jun 16 09:10:00 gw01 ovpn-server[812]: user01/198.51.100.20:51000 Data Channel: cipher 'AES-256-GCM', peer-id: 0")
	f.SourceIP, f.SourcePort, f.CommonName, f.User, f.PoolIP = nil, -1, nil, nil, []byte("10.8.0.6")
	h.e.Observe(f, &h.out)
	if r := summarize(f, &h.out); r.CN != "user01" || r.IP != "198.51.100.20" || r.Session != id {
		t.Errorf("pool-only line: %+v", r)
	}
}

// TestVPNGatewaySession: the gateway's log carries user and address on
// every line, and its tunnel id stands for the program.
func TestVPNGatewaySession(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	rs := h.run(`
		2023/04/13 18:00:00 openvpn-vtun0 user01/198.51.100.7:12345 try username “user01”
		2023/04/13 18:00:00 openvpn-vtun0 user01/198.51.100.7:12345 user01 authentication succeeded
		2023/04/13 18:00:01 openvpn-vtun0 user01/198.51.100.7:12345 SENT CONTROL [user01]: ‘PUSH_REPLY,route 192.168.10.0 255.255.255.0,route-gateway 10.8.0.1,topology subnet,ping 10,ping-restart 60,ifconfig 10.8.0.6 255.255.255.0,peer-id 0,cipher AES-256-GCM’ (status=1)
		2023/04/13 18:30:12 openvpn-vtun0 user01/198.51.100.7:12345 SIGUSR1[soft,connection-reset] received, client-instance restarting
	`)
	if rs[0].Session == "" || rs[3].Session != rs[0].Session {
		t.Fatalf("sessions %q %q", rs[0].Session, rs[3].Session)
	}
	if rs[3].Pool != "10.8.0.6" || !rs[3].HasDur || rs[3].Duration != 30*time.Minute+12*time.Second {
		t.Errorf("exit: %+v", rs[3])
	}
}

// TestSessionIDStable: the id depends on the session's first line
// only, so that another engine (a replay, an aggregator) gives the same.
func TestSessionIDStable(t *testing.T) {
	lines := `
		Jun 16 07:37:22 web02 sshd[4409]: Connection from 198.51.100.23 port 40222 on 192.0.2.11 port 22
		Jun 16 07:37:26 web02 sshd[4409]: Accepted password for bob from 198.51.100.23 port 40222 ssh2
	`
	a := newHarness(t, DefaultConfig()).run(lines)
	b := newHarness(t, DefaultConfig()).run(lines)
	if a[0].Session != b[0].Session || a[1].Session != b[1].Session {
		t.Errorf("ids differ: %q %q", a[0].Session, b[0].Session)
	}
	c := newHarness(t, DefaultConfig()).run(`Jun 16 07:37:23 web02 sshd[4409]: Connection from 198.51.100.23 port 40222 on 192.0.2.11 port 22`)
	if c[0].Session == a[0].Session {
		t.Errorf("a session starting at another time has the same id")
	}
}

// TestSessionText: values are kept once, shared when equal, and a
// value too long to keep is not inferred.
func TestSessionText(t *testing.T) {
	var s session
	long := []byte(strings.Repeat("u", maxStored+1))
	if s.set(&s.user, long) || s.user.n != 0 {
		t.Error("a value longer than maxStored was kept")
	}
	if !s.set(&s.user, []byte("user01")) || !s.set(&s.cn, []byte("user01")) || s.used != 6 || s.cn != s.user {
		t.Errorf("equal values not shared: used %d", s.used)
	}
	if s.set(&s.user, []byte("other")) || string(s.get(s.user)) != "user01" {
		t.Error("a kept value was replaced")
	}
	for i := 0; s.set(&s.pool, []byte(strings.Repeat("x", maxStored))); i++ {
		s.pool = text{}
		if i > 10 {
			t.Fatal("the arena never fills")
		}
	}
	if int(s.used)+maxStored <= len(s.arena) {
		t.Errorf("set refused a value that fits: used %d", s.used)
	}
}

// TestEndedSessionExpires: an end line shortens a logged-in session's
// life to correlation_ended_ttl (2m), though the login had lengthened it
// to correlation_session_ttl (24h); a session that did not end keeps it.
func TestEndedSessionExpires(t *testing.T) {
	for _, tt := range []struct {
		name  string
		ended bool
	}{{"ended", true}, {"not ended", false}} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, DefaultConfig())
			lines := `
				Jun 16 07:37:22 web02 sshd[4409]: Connection from 198.51.100.23 port 40222 on 192.0.2.11 port 22
				Jun 16 07:37:26 web02 sshd[4409]: Accepted password for bob from 198.51.100.23 port 40222 ssh2
			`
			if tt.ended {
				lines += "Jun 16 07:37:30 web02 sshd[4409]: Disconnected from user bob 198.51.100.23 port 40222\n"
			}
			// Seven minutes later: past the ended TTL, within the session TTL.
			lines += "Jun 16 07:44:30 web02 sshd[4409]: pam_unix(sshd:session): session closed for user bob\n"
			rs := h.run(lines)
			last := rs[len(rs)-1]
			joined := last.Session == rs[0].Session && last.IP == "198.51.100.23"
			if joined == tt.ended {
				t.Errorf("the close line 7m later: session %q (first %q), ip %q; want joined %v", last.Session, rs[0].Session, last.IP, !tt.ended)
			}
		})
	}
}

// TestSessionIDKeyed: with an IDKey (the plugin's, while something is
// masked) a session's id is keyed: the same in engines with the same
// key, different without it or with another, and still one id for the
// lines of one session.
func TestSessionIDKeyed(t *testing.T) {
	lines := `
		Jun 16 07:37:22 vpn01 openvpn[811]: 198.51.100.23:40222 TLS: Initial packet from [AF_INET]198.51.100.23:40222, sid=0a1b2c3d 4e5f6a7b
		Jun 16 07:37:23 vpn01 openvpn[811]: 198.51.100.23:40222 [alice] Peer Connection Initiated with [AF_INET]198.51.100.23:40222
		Jun 16 07:37:22 web02 sshd[4409]: Connection from 198.51.100.23 port 40222 on 192.0.2.11 port 22
		Jun 16 07:37:26 web02 sshd[4409]: Accepted password for bob from 198.51.100.23 port 40222 ssh2
	`
	keyed := func(key string) []result {
		cfg := DefaultConfig()
		cfg.IDKey = key
		return newHarness(t, cfg).run(lines)
	}
	plain, a1, a2, b := newHarness(t, DefaultConfig()).run(lines), keyed("key-a"), keyed("key-a"), keyed("key-b")
	for i := range plain {
		if a1[i].Session == "" || len(a1[i].Session) != 16 {
			t.Fatalf("line %d: keyed session id %q", i, a1[i].Session)
		}
		if a1[i].Session != a2[i].Session {
			t.Errorf("line %d: one key, two ids: %q %q", i, a1[i].Session, a2[i].Session)
		}
		if a1[i].Session == plain[i].Session || a1[i].Session == b[i].Session {
			t.Errorf("line %d: keyed id %q equals the unkeyed %q or another key's %q", i, a1[i].Session, plain[i].Session, b[i].Session)
		}
	}
	if a1[0].Session != a1[1].Session || a1[2].Session != a1[3].Session || a1[0].Session == a1[2].Session {
		t.Errorf("keyed ids do not follow the sessions: %q %q %q %q", a1[0].Session, a1[1].Session, a1[2].Session, a1[3].Session)
	}
}

// TestKeyedSessionIDDoesNotAllocate: keying a new session's id costs no
// allocation once the tables are at their bounds.
func TestKeyedSessionIDDoesNotAllocate(t *testing.T) {
	cfg := DefaultConfig()
	cfg.IDKey = "key-a"
	cfg.MaxSessions, cfg.MaxCounters, cfg.MaxDistinct = 1024, 1024, 1024
	h := newHarness(t, cfg)
	conn, _ := h.cat.Lookup("SSHD-0008")
	var f Fact
	var out Output
	at := time.Date(2025, 6, 16, 7, 0, 0, 0, time.UTC)
	i := 0
	next := func() {
		floodFact(&f, conn, i, at.Add(time.Duration(i)*time.Millisecond)) // a new pid and source each
		h.e.Observe(&f, &out)
		i++
	}
	for range 5000 { // the tables reach their bounds
		next()
	}
	if a := testing.AllocsPerRun(1000, next); a != 0 {
		t.Errorf("%v allocations per new session with a keyed id", a)
	}
	if len(out.SessionID) != 16 {
		t.Errorf("session id %q", out.SessionID)
	}
}

// TestAXSessionNewestFirst: the AX switch's trace log is written newest
// first, so a session's end line comes before its other lines. It
// starts the session, the older lines join it, and the connect line,
// which completes it, gets the duration; the end line gets none (its
// session's start is not known yet). A poll read again gives the
// repeats the same session.
func TestAXSessionNewestFirst(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	rs := h.run(poll)
	var lines []result
	for i, l := range strings.Split(poll, "\n") {
		if strings.Contains(l, "sshd[4409]") && !strings.Contains(l, "RSA key") {
			lines = append(lines, rs[i])
		}
	}
	if len(lines) != 4 {
		t.Fatalf("%d session lines in the poll", len(lines))
	}
	closing, accepted, failed, connect := lines[0], lines[1], lines[2], lines[3]
	id := closing.Session
	if id == "" || accepted.Session != id || failed.Session != id || connect.Session != id {
		t.Errorf("session ids: end %q, accepted %q, failed %q, connect %q: want one", closing.Session, accepted.Session, failed.Session, connect.Session)
	}
	if closing.HasDur {
		t.Errorf("the end line, read first, has a duration %v", closing.Duration)
	}
	if !connect.HasDur || connect.Duration != 28*time.Second {
		t.Errorf("the connect line: duration %v (%v), want 28s (07:37:22 to 07:37:50)", connect.Duration, connect.HasDur)
	}
	if connect.User != "staff" {
		t.Errorf("the connect line lacks the user its session logged in as: %+v", connect)
	}
	// The pid again, in a connection newer than the session's end: a
	// session of its own.
	if again := h.run("2024/06/16 08:05:00 sshd[4409] Connection from port 5000"); again[0].Session == id || again[0].Session == "" {
		t.Errorf("a newer connection of pid 4409: session %q (the ended one was %q)", again[0].Session, id)
	}
	// A forward log is unchanged: the duration is on the end line.
	fwd := newHarness(t, DefaultConfig()).run(`
		2024/06/16 07:37:22 sshd[5000] Connection from port 4226
		2024/06/16 07:37:30 sshd[5000] Accepted password for staff from port 4226
		2024/06/16 07:37:50 sshd[5000] Closing connection to
	`)
	if fwd[0].HasDur || !fwd[2].HasDur || fwd[2].Duration != 28*time.Second || fwd[2].Session != fwd[0].Session {
		t.Errorf("read oldest first: %+v", fwd)
	}
}
