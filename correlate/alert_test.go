package correlate

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// stamp writes an RFC 3164 timestamp at offset d from 07:00:00 on June 16.
func stamp(d time.Duration) string {
	return time.Date(2025, 6, 16, 7, 0, 0, 0, time.UTC).Add(d).Format(time.Stamp)
}

// attempt is the lines sshd writes for one failed password attempt on
// a connection of its own: the PAM line, the probe with method none,
// the failure and the close. Only the failure is an authentication
// decision (session: auth) that the brute-force rules count.
func attempt(at time.Duration, pid int, user, src string, port int) string {
	ts := stamp(at)
	return strings.Join([]string{
		fmt.Sprintf("%s web02 sshd[%d]: Connection from %s port %d on 192.0.2.11 port 22", ts, pid, src, port),
		fmt.Sprintf("%s web02 sshd[%d]: Failed none for %s from %s port %d ssh2", ts, pid, user, src, port),
		fmt.Sprintf("%s web02 sshd[%d]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=%s  user=%s", ts, pid, src, user),
		fmt.Sprintf("%s web02 sshd[%d]: Failed password for %s from %s port %d ssh2", ts, pid, user, src, port),
		fmt.Sprintf("%s web02 sshd[%d]: Connection closed by authenticating user %s %s port %d [preauth]", ts, pid, user, src, port),
	}, "\n")
}

var bruteUsers = []string{"root", "admin", "oracle", "root", "test", "ubuntu", "root", "git", "pi", "root"}

// TestBruteForce: eight failed passwords from one source within two
// minutes raise CORR-0001 once; the following ones are suppressed; the
// probes with method none and the PAM lines are not counted.
func TestBruteForce(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	var lines []string
	for i, u := range bruteUsers {
		lines = append(lines, attempt(time.Duration(i)*10*time.Second, 6000+i, u, "203.0.113.50", 40000+i))
	}
	// Another source fails seven times: below the threshold.
	for i := range 7 {
		lines = append(lines, attempt(time.Duration(i)*10*time.Second, 7000+i, "root", "198.51.100.77", 50000+i))
	}
	rs := h.run(strings.Join(lines, "\n"))
	as := alerts(rs)
	if len(as) != 1 {
		t.Fatalf("alerts %+v, want one", as)
	}
	a := as[0]
	if a.Code != "CORR-0001" || a.Count != 8 || !slices.Equal(a.Key, []string{"203.0.113.50"}) {
		t.Errorf("alert %+v", a)
	}
	if !slices.Equal(a.Samples, []string{"root", "admin", "oracle", "test"}) {
		t.Errorf("samples %v", a.Samples)
	}
	if a.First != time.Date(2025, 6, 16, 7, 0, 0, 0, time.UTC) || a.Last != time.Date(2025, 6, 16, 7, 1, 10, 0, time.UTC) {
		t.Errorf("first %v last %v", a.First, a.Last)
	}
	if !strings.HasPrefix(a.TriggerMsg, "Failed password for git") {
		t.Errorf("trigger %q", a.TriggerMsg)
	}
	if s := h.e.Stats(); s.Alerts != 1 || s.Suppressed != 2 {
		t.Errorf("stats: alerts %d suppressed %d", s.Alerts, s.Suppressed)
	}
	// After the suppression, a new burst raises it again.
	lines = lines[:0]
	for i := range 8 {
		lines = append(lines, attempt(15*time.Minute+time.Duration(i)*time.Second, 8000+i, "root", "203.0.113.50", 42000+i))
	}
	if codes := alertCodes(h.run(strings.Join(lines, "\n"))); !slices.Equal(codes, []string{"CORR-0001"}) {
		t.Errorf("second burst: %v", codes)
	}
}

// TestLoginAfterFailures: a success from a source that was guessing
// raises CORR-0002; a success from elsewhere, or much later, does not.
func TestLoginAfterFailures(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	var lines []string
	for i := range 8 {
		lines = append(lines, attempt(time.Duration(i)*5*time.Second, 6000+i, "root", "203.0.113.50", 40000+i))
	}
	rs := h.run(strings.Join(lines, "\n"))
	if codes := alertCodes(rs); !slices.Equal(codes, []string{"CORR-0001"}) {
		t.Fatalf("alerts %v", codes)
	}
	rs = h.run(fmt.Sprintf(`
		%s web02 sshd[6100]: Accepted password for deploy from 198.51.100.9 port 41000 ssh2
		%s web02 sshd[6101]: Accepted password for root from 203.0.113.50 port 41001 ssh2
		%s web02 sshd[6102]: Accepted password for root from 203.0.113.50 port 41002 ssh2
	`, stamp(time.Minute), stamp(2*time.Minute), stamp(3*time.Minute)))
	as := alerts(rs)
	if len(as) != 1 || as[0].Code != "CORR-0002" || as[0].Key[0] != "203.0.113.50" || !slices.Equal(as[0].Samples, []string{"root"}) {
		t.Fatalf("alerts %+v, want one CORR-0002 for 203.0.113.50 (the second success is suppressed)", as)
	}
	if as[0].After != "CORR-0001" {
		t.Errorf("CORR-0002 followed %q, want CORR-0001 (the fast brute force)", as[0].After)
	}
	if e, _ := h.cat.Correlation("CORR-0002"); e.Entry.Severity.String() != "critical" {
		t.Errorf("severity %v", e.Entry.Severity)
	}
	// Two hours later the guessing is too old.
	h2 := newHarness(t, DefaultConfig())
	h2.run(strings.Join(lines, "\n"))
	rs = h2.run(fmt.Sprintf("%s web02 sshd[6101]: Accepted password for root from 203.0.113.50 port 41001 ssh2", stamp(2*time.Hour)))
	if len(alerts(rs)) != 0 {
		t.Errorf("a success two hours after the guessing raised %v", alertCodes(rs))
	}
}

// TestUserEnumeration: five distinct invalid users from one source.
// Repeating a name does not count it twice.
func TestUserEnumeration(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	var lines []string
	for i, u := range []string{"admin", "admin", "test", "oracle", "test", "ubnt", "postgres", "guest"} {
		ts, pid, port := stamp(time.Duration(i)*20*time.Second), 6500+i, 45000+i
		lines = append(lines,
			fmt.Sprintf("%s web02 sshd[%d]: Invalid user %s from 203.0.113.66 port %d", ts, pid, u, port),
			fmt.Sprintf("%s web02 sshd[%d]: Connection closed by invalid user %s 203.0.113.66 port %d [preauth]", ts, pid, u, port))
	}
	rs := h.run(strings.Join(lines, "\n"))
	as := alerts(rs)
	if len(as) != 1 || as[0].Code != "CORR-0003" || as[0].Count != 5 {
		t.Fatalf("alerts %+v, want one CORR-0003 with 5 users", as)
	}
	if !slices.Equal(as[0].Samples, []string{"admin", "test", "oracle", "ubnt"}) || !strings.Contains(as[0].TriggerMsg, "postgres") {
		t.Errorf("samples %v trigger %q", as[0].Samples, as[0].TriggerMsg)
	}
}

// TestUserTargeted: one user failing from ten sources within an hour.
func TestUserTargeted(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	var lines []string
	for i := range 10 {
		lines = append(lines, attempt(time.Duration(i)*4*time.Minute, 9000+i, "root", fmt.Sprintf("198.51.100.%d", 10+i), 30000+i))
	}
	as := alerts(h.run(strings.Join(lines, "\n")))
	if len(as) != 1 || as[0].Code != "CORR-0004" || as[0].Key[0] != "root" || as[0].Count != 10 {
		t.Fatalf("alerts %+v", as)
	}
	if !slices.Equal(as[0].Samples, []string{"198.51.100.10", "198.51.100.11", "198.51.100.12", "198.51.100.13"}) {
		t.Errorf("samples %v", as[0].Samples)
	}
}

// TestSlowBruteForce: thirty failures from one source over a day, too
// slow for CORR-0001.
func TestSlowBruteForce(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	var lines []string
	for i := range 30 {
		lines = append(lines, attempt(time.Duration(i)*45*time.Minute, 10000+i, bruteUsers[i%len(bruteUsers)], "192.0.2.99", 20000+i))
	}
	rs := h.run(strings.Join(lines, "\n"))
	if codes := alertCodes(rs); !slices.Equal(codes, []string{"CORR-0005"}) {
		t.Fatalf("alerts %v, want CORR-0005 only", codes)
	}
	a := alerts(rs)[0]
	if a.Count != 30 || a.Last.Sub(a.First) != 29*45*time.Minute {
		t.Errorf("alert %+v", a)
	}
}

// TestDropSurge: twenty connections dropped on one host in a minute.
func TestDropSurge(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	var lines []string
	for i := range 20 {
		ts := stamp(time.Duration(i) * 2 * time.Second)
		if i%2 == 0 {
			lines = append(lines, fmt.Sprintf("%s web02 sshd[800]: drop connection #%d from [203.0.113.%d]:%d on [192.0.2.11]:22 past MaxStartups", ts, 10+i, 100+i, 41000+i))
		} else {
			lines = append(lines, fmt.Sprintf("%s web02 sshd[800]: drop connection #%d from [203.0.113.%d]:%d on [192.0.2.11]:22 penalty: failed authentication", ts, 10+i, 100+i, 41000+i))
		}
	}
	// The same on another host, only ten times.
	for i := range 10 {
		lines = append(lines, fmt.Sprintf("%s web03 sshd[801]: drop connection #%d from [203.0.113.%d]:%d on [192.0.2.12]:22 past MaxStartups", stamp(time.Duration(i)*time.Second), i, i, 42000+i))
	}
	as := alerts(h.run(strings.Join(lines, "\n")))
	if len(as) != 1 || as[0].Code != "CORR-0006" || as[0].Key[0] != "web02" || as[0].Count != 20 || len(as[0].Samples) != 4 {
		t.Fatalf("alerts %+v", as)
	}
}

// TestVPNAuthFailures: repeated failures per user (the gateway's log
// names the user) and per real address.
func TestVPNAuthFailures(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	var lines []string
	users := []string{"user02", "alice", "user02", "bob", "user02", "carol", "user02", "dave", "user02", "erin"}
	for i, u := range users {
		lines = append(lines, fmt.Sprintf("2023/04/13 18:%02d:%02d openvpn-vtun0 %s/198.51.100.8:%d TLS Auth Error: Auth Username/Password verification failed for peer",
			31+i/6, (i*10)%60, u, 40022+i))
	}
	as := alerts(h.run(strings.Join(lines, "\n")))
	got := map[string]string{}
	for _, a := range as {
		got[a.Code] = a.Key[0]
	}
	if len(as) != 2 || got["CORR-0007"] != "user02" || got["CORR-0008"] != "198.51.100.8" {
		t.Fatalf("alerts %+v", as)
	}
	// OpenVPN's own log before the common name is known: the address.
	h = newHarness(t, DefaultConfig())
	lines = lines[:0]
	for i := range 10 {
		lines = append(lines, fmt.Sprintf("Jun 16 09:%02d:00 gw01 ovpn-server[812]: 203.0.113.200:%d TLS Auth Error: Auth Username/Password verification failed for peer", i, 40000+i))
	}
	if codes := alertCodes(h.run(strings.Join(lines, "\n"))); !slices.Equal(codes, []string{"CORR-0008"}) {
		t.Errorf("alerts %v", codes)
	}
}

// TestRuleOverride: a user rule file tunes a built-in rule by code.
func TestRuleOverride(t *testing.T) {
	h := newHarness(t, DefaultConfig(), "correlation: CORR-0001\ncount: 3\nwindow: 1m\n")
	var lines []string
	for i := range 3 {
		lines = append(lines, attempt(time.Duration(i)*time.Second, 6000+i, "root", "203.0.113.50", 40000+i))
	}
	rs := h.run(strings.Join(lines, "\n"))
	if as := alerts(rs); len(as) != 1 || as[0].Code != "CORR-0001" || as[0].Count != 3 {
		t.Fatalf("alerts %+v", as)
	}
	// Switched off, it raises nothing; CORR-0002 follows CORR-0005 still.
	h = newHarness(t, DefaultConfig(), "correlation: CORR-0001\nenabled: false\n")
	lines = lines[:0]
	for i := range 10 {
		lines = append(lines, attempt(time.Duration(i)*time.Second, 6000+i, "root", "203.0.113.50", 40000+i))
	}
	if codes := alertCodes(h.run(strings.Join(lines, "\n"))); len(codes) != 0 {
		t.Errorf("disabled rule: alerts %v", codes)
	}
}

// TestAcrossHosts: facts filled from records enriched on other hosts
// (an aggregator's input) count together: one source guessing on four
// hosts is one brute force.
func TestAcrossHosts(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	entry, _ := h.cat.Lookup("SSHD-0032")
	var out Output
	var raised []string
	for i := range 8 {
		var f Fact
		f.Reset()
		f.Time = time.Date(2025, 6, 16, 7, 0, i, 0, time.UTC).UnixNano()
		f.Host = []byte(fmt.Sprintf("web%02d", i%4))
		f.Program, f.PID = []byte("sshd"), 100+i
		f.Entry, f.Outcome, f.Class = entry, "failure", ClassOf([]byte("openssh"))
		f.SourceIP, f.SourcePort, f.User, f.AuthMethod = []byte("203.0.113.50"), 40000+i, []byte("root"), []byte("password")
		h.e.Observe(&f, &out)
		for _, a := range out.Alerts {
			raised = append(raised, a.Rule.Code())
		}
	}
	if !slices.Equal(raised, []string{"CORR-0001"}) {
		t.Errorf("alerts %v", raised)
	}
}

// TestSharedLineTests: select lines with the same conditions on the
// line are tested once for all rules, and rules with other conditions
// on the same lines are still tested on their own: a rule counting
// "none" attempts and one counting every failure both see the log
// that the built-in rules (which skip "none") see.
func TestSharedLineTests(t *testing.T) {
	h := newHarness(t, DefaultConfig(),
		"correlation: SITE-0001\nseverity: warning\ndescription.en: none attempts\nselect: session=auth event.outcome=failure auth_method=none\ngroup-by: source.ip\ncount: 4\nwindow: 1m\n\n"+
			"correlation: SITE-0002\nseverity: warning\ndescription.en: any failure\nselect: session=auth event.outcome=failure\ngroup-by: source.ip\ncount: 12\nwindow: 1m\n")
	var lines []string
	for i := range 8 {
		lines = append(lines, attempt(time.Duration(i)*time.Second, 6000+i, "root", "203.0.113.50", 40000+i))
	}
	got := map[string]int{}
	for _, a := range alerts(h.run(strings.Join(lines, "\n"))) {
		got[a.Code] = a.Count
	}
	// Eight attempts: 8 password failures (CORR-0001 at 8), 8 "none"
	// (SITE-0001 at 4), and 8 + 8 + the PAM lines' failures (SITE-0002 at 12).
	want := map[string]int{"CORR-0001": 8, "SITE-0001": 4, "SITE-0002": 12}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("alerts %v, want %v", got, want)
	}
}
