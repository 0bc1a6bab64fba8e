package correlate

import (
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sshenrich/sshenrich/rules"
)

// floodFact is a failed password from source i, each on a connection
// (pid) of its own, as facts built from records: a flood of distinct
// sources.
func floodFact(f *Fact, entry *rules.Entry, i int, at time.Time) {
	ip := f.SourceIP[:0]
	f.Reset()
	f.Time = at.UnixNano()
	f.Host, f.Program, f.PID = floodHost, floodProgram, 100000+i
	f.Entry, f.Outcome, f.Class = entry, "failure", ClassSSH
	ip = append(ip, "10."...)
	ip = append(appendUint(ip, uint64(i>>16&0xff)), '.')
	ip = append(appendUint(ip, uint64(i>>8&0xff)), '.')
	f.SourceIP = appendUint(ip, uint64(i&0xff))
	f.SourcePort, f.User, f.AuthMethod = 40000+i%20000, floodUser, floodMethod
}

var floodHost, floodProgram, floodUser, floodMethod = []byte("web02"), []byte("sshd"), []byte("root"), []byte("password")

// TestFloodIsBounded: a flood of distinct sources (each a session, a
// brute-force counter for four rules and a distinct value) keeps every
// table within its bound, evicts, counts the evictions, and keeps the
// heap bounded.
func TestFloodIsBounded(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxSessions, cfg.MaxCounters, cfg.MaxDistinct = 2048, 4096, 2048
	h := newHarness(t, cfg)
	entry, _ := h.cat.Lookup("SSHD-0032")
	conn, _ := h.cat.Lookup("SSHD-0008")
	var f Fact
	var out Output
	at := time.Date(2025, 6, 16, 7, 0, 0, 0, time.UTC)
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	const n = 100000
	for i := range n {
		floodFact(&f, conn, i, at.Add(time.Duration(i)*time.Millisecond))
		f.Outcome = "success"
		h.e.Observe(&f, &out)
		floodFact(&f, entry, i, at.Add(time.Duration(i)*time.Millisecond))
		h.e.Observe(&f, &out)
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	s := h.e.Stats()
	if s.Sessions > cfg.MaxSessions || s.Counters > cfg.MaxCounters || s.Distinct > cfg.MaxDistinct {
		t.Errorf("tables over their bounds: %+v", s)
	}
	if s.SessionsEvicted+s.SessionsExpired < n-uint64(cfg.MaxSessions) || s.CountersEvicted+s.CountersExpired == 0 || s.DistinctEvicted+s.DistinctExpired == 0 {
		t.Errorf("evictions not counted: %+v", s)
	}
	if s.Facts != 2*n {
		t.Errorf("facts %d", s.Facts)
	}
	// The tables hold 8k records of a few hundred bytes: far below
	// what 100k sources would take unbounded.
	if grown := int64(m1.HeapAlloc) - int64(m0.HeapAlloc); grown > 16<<20 {
		t.Errorf("heap grew by %d bytes under the flood", grown)
	}
	// The newest source is still known.
	floodFact(&f, entry, n-1, at.Add(n*time.Millisecond))
	h.e.Observe(&f, &out)
	if out.SessionID == nil {
		t.Error("the newest session was evicted")
	}
}

// TestExpiry: records die after their time to live, in line time.
func TestExpiry(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	rs := h.run(`
		Jun 16 07:37:22 web02 sshd[4409]: Connection from 198.51.100.23 port 40222 on 192.0.2.11 port 22
		Jun 16 07:37:26 web02 sshd[4409]: Accepted password for bob from 198.51.100.23 port 40222 ssh2
		Jun 16 07:37:22 web02 sshd[4500]: Connection from 198.51.100.24 port 40223 on 192.0.2.11 port 22
		Jun 16 07:47:22 web03 sshd[1]: Server listening on 0.0.0.0 port 22.
		Jun 16 07:50:00 web02 sshd[4500]: Connection closed by 198.51.100.24 port 40223 [preauth]
		Jun 17 07:37:25 web02 sshd[4409]: pam_unix(sshd:session): session closed for user bob
		Jun 18 08:00:00 web02 sshd[4409]: pam_unix(sshd:session): session closed for user bob
	`)
	// The unauthenticated connection outlived the preauth time to
	// live (10 minutes) by the time of its close.
	if rs[4].Session != "" {
		t.Errorf("a connection idle past the preauth ttl still had its session")
	}
	// The authenticated one is kept for a day without lines.
	if rs[5].Session != rs[0].Session || rs[5].IP != "198.51.100.23" {
		t.Errorf("a session within its ttl was lost: %+v", rs[5])
	}
	if rs[6].Session != "" {
		t.Errorf("a session idle past its ttl was kept")
	}
}

// TestOutOfOrder: lines whose time goes backwards are counted within
// their counter's window and not beyond it; a lone line far in the
// future does not move the clock; a real jump, confirmed by lines in a
// row, does.
func TestOutOfOrder(t *testing.T) {
	h := newHarness(t, DefaultConfig(), "correlation: CORR-0001\ncount: 4\nwindow: 80s\n")
	rs := h.run(strings.Join([]string{
		attempt(100*time.Second, 6000, "root", "203.0.113.50", 40000),
		attempt(90*time.Second, 6001, "root", "203.0.113.50", 40001), // 10s older: within the window
		attempt(0, 6002, "root", "203.0.113.50", 40002),              // 100s older: beyond it
		attempt(95*time.Second, 6003, "root", "203.0.113.50", 40003),
	}, "\n"))
	if len(alerts(rs)) != 0 {
		t.Fatalf("the late line was counted: %v", alertCodes(rs))
	}
	if s := h.e.Stats(); s.LateEvents != 1 {
		t.Errorf("late events %d, want 1", s.LateEvents)
	}
	rs = h.run(attempt(101*time.Second, 6004, "root", "203.0.113.50", 40004))
	if codes := alertCodes(rs); !slices.Equal(codes, []string{"CORR-0001"}) {
		t.Errorf("alerts %v", codes)
	}

	// A lone line a year ahead.
	clock := h.e.Stats().ClockUnixNano
	h.run("Jun 16 07:40:00 web02 sshd[1]: Server listening on 0.0.0.0 port 22.")
	f := h.classify("Jun 16 07:40:00 web02 sshd[1]: Server listening on 0.0.0.0 port 22.")
	f.Time = time.Date(2026, 6, 16, 7, 40, 0, 0, time.UTC).UnixNano()
	h.e.Observe(f, &h.out)
	s := h.e.Stats()
	if s.ClockUnixNano != time.Date(2025, 6, 16, 7, 40, 0, 0, time.UTC).UnixNano() || s.FutureLines != 1 || clock == 0 {
		t.Errorf("clock %v after a lone future line (future lines %d)", time.Unix(0, s.ClockUnixNano).UTC(), s.FutureLines)
	}
	// The session of an earlier login survives it.
	for range clockConfirm {
		h.e.Observe(f, &h.out)
	}
	if s := h.e.Stats(); s.ClockJumps != 1 || s.ClockUnixNano != f.Time {
		t.Errorf("a confirmed jump did not move the clock: %+v", s)
	}
}

// TestBadInput: facts with missing fields, no time, no entry, an entry
// of another catalog or an alert's entry: no panic, nothing invented.
func TestBadInput(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	other, err := rules.Compile(rules.Source{Name: "x.rules", Data: []byte("code: X-1\nseverity: info\nsession: auth\nevent.outcome: failure\nevent.category: authentication\ndescription.en: d\ntemplate: x\n")})
	if err != nil {
		t.Fatal(err)
	}
	foreign, _ := other.Lookup("X-1")
	failed, _ := h.cat.Lookup("SSHD-0032")
	alert, _ := h.cat.Correlation("CORR-0001")
	var out Output
	cases := []struct {
		name string
		fill func(f *Fact)
	}{
		{"zero fact", func(f *Fact) { *f = Fact{} }},
		{"reset fact", func(f *Fact) {}},
		{"no time, no host", func(f *Fact) { f.Entry, f.Outcome, f.Class, f.PID = failed, "failure", ClassSSH, 7 }},
		{"no address", func(f *Fact) { f.Entry, f.Outcome, f.Class, f.User = failed, "failure", ClassSSH, []byte("root") }},
		{"foreign entry", func(f *Fact) { f.Entry, f.Outcome, f.SourceIP = foreign, "failure", []byte("192.0.2.1") }},
		{"alert entry", func(f *Fact) { f.Entry, f.SourceIP = alert.Entry, []byte("192.0.2.1") }},
		{"invalid utf-8", func(f *Fact) {
			f.Entry, f.Outcome, f.Class, f.SourceIP, f.SourcePort, f.User = failed, "failure", ClassSSH, []byte("192.0.2.1"), 22, []byte("\xff\xfe")
		}},
		{"huge values", func(f *Fact) {
			f.Entry, f.Outcome, f.Class, f.PID = failed, "failure", ClassVPN, 1
			f.SourceIP, f.User, f.CommonName, f.PoolIP = []byte(strings.Repeat("1", 5000)), []byte(strings.Repeat("u", 9000)), []byte(strings.Repeat("c", 300)), []byte("10.8.0.9")
		}},
		{"negative time", func(f *Fact) {
			f.Time, f.Entry, f.Outcome, f.Class, f.SourceIP, f.SourcePort = -5e9, failed, "failure", ClassSSH, []byte("192.0.2.2"), 1
		}},
		{"polled without message", func(f *Fact) { f.Polled, f.PollStart = true, false }},
		{"poll start alone", func(f *Fact) { f.PollStart = true }},
	}
	for _, c := range cases {
		var f Fact
		f.Reset()
		c.fill(&f)
		for range 10 { // repeated, so that counters would reach thresholds
			h.e.Observe(&f, &out)
		}
		if len(out.Alerts) > 0 {
			t.Errorf("%s: alerts %v", c.name, out.Alerts[0].Rule.Code())
		}
		if c.name != "huge values" && (out.Inferred != 0 || out.HasDuration) {
			t.Errorf("%s: inferred %v duration %v", c.name, out.Inferred.Names(nil), out.HasDuration)
		}
	}
	// An unclassified line of sshd joins its pid's session and gets its
	// fields, but counts for nothing.
	rs := h.run(`
		Jun 16 07:37:22 web02 sshd[4409]: Connection from 198.51.100.23 port 40222 on 192.0.2.11 port 22
		Jun 16 07:37:23 web02 sshd[4409]: something sshd never wrote
	`)
	if rs[1].Code != rules.Unclassified || rs[1].Session != rs[0].Session || rs[1].IP != "198.51.100.23" {
		t.Errorf("unclassified line: %+v", rs[1])
	}
}

// TestSessionsOrAlertsOff: each half can be switched off alone.
func TestSessionsOrAlertsOff(t *testing.T) {
	var lines []string
	for i := range 8 {
		lines = append(lines, attempt(time.Duration(i)*time.Second, 6000+i, "root", "203.0.113.50", 40000+i))
	}
	cfg := DefaultConfig()
	cfg.Sessions = false
	rs := newHarness(t, cfg).run(strings.Join(lines, "\n"))
	if codes := alertCodes(rs); !slices.Equal(codes, []string{"CORR-0001"}) || rs[0].Session != "" {
		t.Errorf("sessions off: alerts %v, session %q", codes, rs[0].Session)
	}
	cfg = DefaultConfig()
	cfg.Alerts = false
	rs = newHarness(t, cfg).run(strings.Join(lines, "\n"))
	if codes := alertCodes(rs); len(codes) != 0 || rs[0].Session == "" {
		t.Errorf("alerts off: alerts %v, session %q", codes, rs[0].Session)
	}
}

// TestDisabled: with correlation off, Observe only resets its output.
func TestDisabled(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Enabled = false
	h := newHarness(t, cfg)
	for i := range 20 {
		for _, r := range h.run(attempt(time.Duration(i)*time.Second, 6000+i, "root", "203.0.113.50", 40000+i)) {
			if r.Session != "" || len(r.Alerts) > 0 {
				t.Fatalf("disabled engine answered %+v", r)
			}
		}
	}
	if s := h.e.Stats(); s.Facts != 0 {
		t.Errorf("disabled engine counted %d facts", s.Facts)
	}
}
