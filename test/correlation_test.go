package test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sshenrich/sshenrich/test/fwdserver"
)

// Correlation end to end: the plugin in test/host with its forward
// input (-F), what went downstream read back from the -O file.

// writeLog writes lines to a file of the test's.
func writeLog(t *testing.T, name string, lines ...string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(f, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// alertsOf splits downstream records into line records and alerts.
func alertsOf(down []downstream) (lines, alerts []downstream) {
	for _, d := range down {
		if path(d.body, "event", "kind") == "alert" {
			alerts = append(alerts, d)
		} else {
			lines = append(lines, d)
		}
	}
	return lines, alerts
}

// TestCorrelationSequences: real multi-line sequences through the
// plugin, a few records per chunk so that sessions span chunks: a full
// login gets one session id, the PAM lines the address they lack and
// the closing lines a duration; a brute force raises CORR-0001 once,
// then CORR-0002 when a login from the source succeeds; an OpenVPN
// session gets its common name and pool address on the lines that lack
// them, and a duration at its end.
func TestCorrelationSequences(t *testing.T) {
	login := writeLog(t, "login.log",
		"2025-06-16T07:37:22Z web01 sshd[4409]: Connection from 198.51.100.23 port 40222 on 192.0.2.11 port 22",
		"2025-06-16T07:37:23Z web01 sshd[4409]: Accepted password for bob from 198.51.100.23 port 40222 ssh2",
		"2025-06-16T07:37:23Z web01 sshd[4409]: pam_unix(sshd:session): session opened for user bob(uid=1000) by (uid=0)",
		"2025-06-16T07:40:20Z web01 sshd[4412]: Received disconnect from 198.51.100.23 port 40222:11: disconnected by user",
		"2025-06-16T07:40:20Z web01 sshd[4412]: Disconnected from user bob 198.51.100.23 port 40222",
		"2025-06-16T07:40:23Z web01 sshd[4409]: pam_unix(sshd:session): session closed for user bob",
	)
	var brute []string
	for i, u := range []string{"root", "admin", "oracle", "test", "guest", "ubuntu", "pi", "user", "ftp"} {
		brute = append(brute, fmt.Sprintf("2025-06-16T08:00:%02dZ web02 sshd[%d]: Failed password for %s from 203.0.113.50 port %d ssh2", i*5, 500+i, u, 41000+i))
	}
	brute = append(brute, "2025-06-16T08:01:00Z web02 sshd[600]: Accepted password for deploy from 203.0.113.50 port 41100 ssh2")
	bruteLog := writeLog(t, "brute.log", brute...)
	vpn := writeLog(t, "vpn.log",
		"2025-06-16 09:00:01 198.51.100.20:51000 TLS: Initial packet from [AF_INET]198.51.100.20:51000, sid=1a2b3c4d 5e6f7a8b",
		"2025-06-16 09:00:02 198.51.100.20:51000 [user01] Peer Connection Initiated with [AF_INET]198.51.100.20:51000",
		"2025-06-16 09:00:02 user01/198.51.100.20:51000 MULTI: Learn: 10.8.0.6 -> user01/198.51.100.20:51000",
		"2025-06-16 09:00:02 user01/198.51.100.20:51000 SENT CONTROL [user01]: 'PUSH_REPLY,route-gateway 10.8.0.1,ifconfig 10.8.0.6 255.255.255.0,peer-id 0' (status=1)",
		"2025-06-16 09:30:02 user01/198.51.100.20:51000 SIGTERM[soft,remote-exit] received, client-instance exiting",
	)

	t.Run("login", func(t *testing.T) {
		r, down := loopRun(t, "-p", "forward_address=unix://SOCK", "-p", "time_zone=UTC", "-n", "2", "-f", login)
		lines, alerts := alertsOf(down)
		if len(lines) != 6 || len(alerts) != 0 || r.summary["ok"] != 3 {
			t.Fatalf("%d lines, %d alerts, summary %v", len(lines), len(alerts), r.summary)
		}
		id := path(lines[0].body, "sshenrich", "session", "id")
		for i, d := range lines {
			if got := path(d.body, "sshenrich", "session", "id"); got != id || id == nil {
				t.Errorf("line %d: session %v, want %v", i, got, id)
			}
		}
		if path(lines[2].body, "source", "ip") != "198.51.100.23" || fmt.Sprint(path(lines[2].body, "sshenrich", "inferred")) != "[source.ip source.port]" {
			t.Errorf("PAM open: %v", lines[2].body)
		}
		if path(lines[4].body, "user", "name") != "bob" || path(lines[4].body, "event", "duration") == nil {
			t.Errorf("the disconnect (another pid) did not join the session: %v", lines[4].body)
		}
		if d := path(lines[5].body, "event", "duration"); fmt.Sprint(d) != fmt.Sprint(int64(181*time.Second)) {
			t.Errorf("session closed: duration %v, want 181s", d)
		}
	})

	t.Run("brute force", func(t *testing.T) {
		_, down := loopRun(t, "-p", "forward_address=unix://SOCK", "-p", "time_zone=UTC", "-n", "3", "-f", bruteLog)
		lines, alerts := alertsOf(down)
		if len(lines) != 10 || len(alerts) != 2 {
			t.Fatalf("%d lines, %d alerts, want 10 and 2", len(lines), len(alerts))
		}
		a, b := alerts[0], alerts[1]
		if path(a.body, "event", "code") != "CORR-0001" || path(a.body, "source", "ip") != "203.0.113.50" ||
			path(a.body, "event", "start") != "2025-06-16T08:00:00Z" || path(a.body, "event", "end") != "2025-06-16T08:00:35Z" {
			t.Errorf("first alert %v", a.body)
		}
		if path(b.body, "event", "code") != "CORR-0002" || path(b.body, "event", "severity") != int8(2) && path(b.body, "event", "severity") != uint8(2) {
			t.Errorf("second alert %v", b.body)
		}
		if a.tag != "enriched.ssh.raw" || a.meta["sshenrich"] == nil {
			t.Errorf("alert under tag %q with metadata %v: want the line's tag and the mark", a.tag, a.meta)
		}
	})

	t.Run("vpn session", func(t *testing.T) {
		_, down := loopRun(t, "-p", "forward_address=unix://SOCK", "-p", "time_zone=UTC", "-n", "2", "-f", vpn)
		lines, _ := alertsOf(down)
		if len(lines) != 5 {
			t.Fatalf("%d lines", len(lines))
		}
		for i, d := range lines {
			if path(d.body, "event", "code") == "UNCLASSIFIED" {
				t.Errorf("line %d unclassified: %v", i, d.body)
			}
		}
		id := path(lines[0].body, "sshenrich", "session", "id")
		if id == nil || path(lines[4].body, "sshenrich", "session", "id") != id {
			t.Errorf("session ids %v and %v", id, path(lines[4].body, "sshenrich", "session", "id"))
		}
		end := lines[4].body
		if path(end, "sshenrich", "pool_ip") != "10.8.0.6" || path(end, "event", "duration") == nil {
			t.Errorf("the session's end lacks its pool address or duration: %v", end)
		}
	})
}

// TestFleet: three nodes each see three failed passwords from one
// source on their own host (conf/fleet/node.conf: no alerts there, and
// three would not reach CORR-0001's eight anyway); the aggregator
// (conf/fleet/aggregator.conf) receives their records, passes them on
// unchanged (not enriched twice), and raises the cross-host brute force
// once. "late nodes": a fourth node's record dated three hours later
// reaches the aggregator first, so that the others' records are a
// backlog behind its clock (correlation_backfill 6h): the same alert.
func TestFleet(t *testing.T) {
	root := repoRoot()
	// node runs a node over lines and returns what it sent downstream.
	node := func(host string, lines ...string) []downstream {
		dir := t.TempDir()
		sock, down := filepath.Join(dir, "in.sock"), filepath.Join(dir, "down.bin")
		r := runHost(t, 60*time.Second, "-c", filepath.Join(root, "conf/fleet/node.conf"), "-p", "forward_address=unix://"+sock,
			"-p", "time_zone=UTC", "-k", "message", "-F", sock, "-O", down, "-Y", "30", "-f", writeLog(t, host+".log", lines...))
		if r.exit != 0 {
			t.Fatalf("node %s: exit %d\n%s", host, r.exit, r.stderr)
		}
		recs := readDownstream(t, down)
		if lines2, alerts := alertsOf(recs); len(lines2) != len(lines) || len(alerts) != 0 {
			t.Fatalf("node %s: %d records and %d alerts downstream, want %d and none", host, len(lines2), len(alerts), len(lines))
		}
		return recs
	}
	var guesses []downstream
	for n, host := range []string{"web01", "web02", "web03"} {
		var lines []string
		for i := range 3 {
			k := n*3 + i
			lines = append(lines, fmt.Sprintf("2025-06-16T07:00:%02dZ %s sshd[%d]: Failed password for user%d from 203.0.113.77 port %d ssh2", k*5, host, 700+k, k, 42000+k))
		}
		for _, d := range node(host, lines...) {
			if path(d.body, "event", "code") != "SSHD-0032" || path(d.body, "source", "ip") != "203.0.113.77" {
				t.Errorf("node %s record %v", host, d.body)
			}
			guesses = append(guesses, d)
		}
	}
	live := node("web09", "2025-06-16T10:00:00Z web09 sshd[901]: Connection from 198.51.100.200 port 50100 on 192.0.2.19 port 22")
	for _, tt := range []struct {
		name string
		in   []downstream
	}{
		{"in order", guesses},
		{"late nodes", append(slices.Clip(live), guesses...)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var chunk []byte
			for _, d := range tt.in {
				chunk = append(chunk, d.raw...)
			}
			raw := filepath.Join(t.TempDir(), "nodes.bin")
			if err := os.WriteFile(raw, chunk, 0o644); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			sock, downFile := filepath.Join(dir, "in.sock"), filepath.Join(dir, "down.bin")
			r := runHost(t, 60*time.Second, "-c", filepath.Join(root, "conf/fleet/aggregator.conf"), "-p", "forward_address=unix://"+sock,
				"-F", sock, "-O", downFile, "-Y", "30", "-T", "enriched.ssh.raw", "-r", raw, "-L", "debug")
			if r.exit != 0 {
				t.Fatalf("aggregator: exit %d\n%s", r.exit, r.stderr)
			}
			down := readDownstream(t, downFile)
			lines, alerts := alertsOf(down)
			if len(lines) != len(tt.in) || len(alerts) != 1 {
				t.Fatalf("aggregator: %d records and %d alerts downstream, want %d and 1\n%s", len(lines), len(alerts), len(tt.in), lastLines(r.stderr, 10))
			}
			for i, d := range lines {
				if !reflect.DeepEqual(d.body, tt.in[i].body) {
					t.Errorf("record %d changed at the aggregator:\n got %v\nwant %v", i, d.body, tt.in[i].body)
				}
				if d.tag != "correlated.enriched.ssh.raw" {
					t.Errorf("record %d under tag %q", i, d.tag)
				}
			}
			a := alerts[0].body
			if path(a, "event", "code") != "CORR-0001" || path(a, "source", "ip") != "203.0.113.77" || fmt.Sprint(path(a, "sshenrich", "count")) != "8" ||
				path(a, "event", "start") != "2025-06-16T07:00:00Z" || path(a, "event", "end") != "2025-06-16T07:00:35Z" {
				t.Errorf("cross-host alert %v", a)
			}
			// Raised by the eighth guess, user7 on web03.
			if path(a, "host", "hostname") != "web03" || !strings.HasPrefix(fmt.Sprint(a["message"]), "CORR-0001 ssh-brute-force: 8 events in 2m for source.ip=203.0.113.77") {
				t.Errorf("alert host %v, message %v", path(a, "host", "hostname"), a["message"])
			}
			if want := fmt.Sprintf("%d passed through", len(tt.in)); !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "1 alerts added") {
				t.Errorf("the aggregator's flush log does not say %s and 1 alert:\n%s", want, lastLines(r.stderr, 10))
			}
		})
	}
}

// TestRetriedChunkAlertOnce: the host flushes a brute force while the
// Forward server is not there yet (FLB_RETRY, retried with backoff as
// Fluent Bit does) and again once it is: the server receives every line
// and the alert exactly once, although the chunk was observed on each
// attempt.
func TestRetriedChunkAlertOnce(t *testing.T) {
	build(t)
	var lines []string
	for i := range 10 {
		lines = append(lines, fmt.Sprintf("2025-06-16T08:00:%02dZ web02 sshd[%d]: Failed password for user%d from 203.0.113.61 port %d ssh2", i*5, 500+i, i, 41000+i))
	}
	sock := filepath.Join(t.TempDir(), "late.sock")
	started := make(chan *fwdserver.Server, 1)
	go func() {
		time.Sleep(1500 * time.Millisecond)
		s, err := fwdserver.Start(fwdserver.Options{Network: "unix", Address: sock, Decode: true})
		if err != nil {
			t.Error(err)
			started <- nil
			return
		}
		started <- s
	}()
	r := runHost(t, 60*time.Second, "-p", "forward_address=unix://"+sock, "-p", "ack_timeout=2s", "-p", "time_zone=UTC",
		"-f", writeLog(t, "brute.log", lines...), "-n", "10", "-B", "100", "-R", "-1", "-w", "1")
	s := <-started
	if s == nil {
		t.FailNow()
	}
	defer s.Close()
	if r.exit != 0 || r.summary["retry"] == 0 || r.summary["ok"] != 1 {
		t.Fatalf("exit %d summary %v: want retries, then the chunk OK\n%s", r.exit, r.summary, r.stderr)
	}
	records, alerts := splitAlerts(s.Events())
	if len(records) != 10 || len(alerts) != 1 || path(alerts[0].Body, "event", "code") != "CORR-0001" {
		t.Errorf("%d records and %d alerts downstream after %d retries, want 10 and CORR-0001 once", len(records), len(alerts), r.summary["retry"])
	}
}

// TestCorrelationStateAcrossRestarts: with correlation_state_file, what
// the engine counted carries over a restart and a hot reload. A brute
// force whose first five failures come before a restart and the other
// four after raises CORR-0001 once, after it, and the login that ends
// it joins the session its connection opened before the restart; a hot
// reload that flushes the same chunks again raises no alert a second
// time (it is suppressed), where without the file the reload forgets the
// suppression and raises it again.
func TestCorrelationStateAcrossRestarts(t *testing.T) {
	state := filepath.Join(t.TempDir(), "corr.state")
	failures := func(from, to int) []string {
		var out []string
		for i := from; i < to; i++ {
			out = append(out, fmt.Sprintf("2025-06-16T08:00:%02dZ web02 sshd[%d]: Failed password for root from 203.0.113.50 port %d ssh2", i*5, 500+i, 41000+i))
		}
		return out
	}
	first := writeLog(t, "first.log", append(failures(0, 5),
		"2025-06-16T08:00:30Z web02 sshd[700]: Connection from 198.51.100.23 port 40222 on 192.0.2.11 port 22")...)
	second := writeLog(t, "second.log", append(failures(5, 9),
		"2025-06-16T08:01:00Z web02 sshd[700]: Accepted password for bob from 198.51.100.23 port 40222 ssh2",
		"2025-06-16T08:01:01Z web02 sshd[700]: pam_unix(sshd:session): session opened for user bob(uid=1000) by (uid=0)")...)
	run := func(log string, extra ...string) (hostRun, []downstream, []downstream) {
		t.Helper()
		r, down := loopRun(t, append([]string{"-p", "forward_address=unix://SOCK", "-p", "time_zone=UTC", "-n", "3", "-f", log}, extra...)...)
		lines, alerts := alertsOf(down)
		return r, lines, alerts
	}

	r1, lines1, alerts1 := run(first, "-p", "correlation_state_file="+state)
	if len(alerts1) != 0 || !strings.Contains(r1.stderr, "correlation state written to "+state) {
		t.Fatalf("first run: %d alerts\n%s", len(alerts1), r1.stderr)
	}
	r2, lines2, alerts2 := run(second, "-p", "correlation_state_file="+state)
	if !strings.Contains(r2.stderr, "correlation state read from "+state) {
		t.Errorf("second run did not read the state:\n%s", r2.stderr)
	}
	if len(alerts2) != 1 || path(alerts2[0].body, "event", "code") != "CORR-0001" || fmt.Sprint(path(alerts2[0].body, "sshenrich", "count")) != "8" ||
		path(alerts2[0].body, "event", "start") != "2025-06-16T08:00:00Z" {
		t.Fatalf("second run: alerts %v, want CORR-0001 counting the 8 failures of both runs", alerts2)
	}
	connect, login := lines1[len(lines1)-1], lines2[len(lines2)-2]
	if id := path(connect.body, "sshenrich", "session", "id"); id == nil || path(login.body, "sshenrich", "session", "id") != id {
		t.Errorf("the login after the restart is not in the session its connection opened: %v, then %v", id, path(login.body, "sshenrich", "session", "id"))
	}
	if pam := lines2[len(lines2)-1].body; path(pam, "source", "ip") != "198.51.100.23" {
		t.Errorf("the PAM line after the restart lacks the address its session had: %v", pam)
	}

	// A hot reload flushes the same chunks again: with the state, the
	// alert is suppressed the second time; without, it is raised again.
	both := writeLog(t, "both.log", failures(0, 9)...)
	for _, tt := range []struct {
		name   string
		extra  []string
		alerts int
	}{
		{"with the state file", []string{"-p", "correlation_state_file=" + filepath.Join(t.TempDir(), "reload.state")}, 1},
		{"without", nil, 2},
	} {
		_, _, alerts := run(both, append([]string{"-X", "1"}, tt.extra...)...)
		if len(alerts) != tt.alerts {
			t.Errorf("hot reload %s: %d alerts, want %d", tt.name, len(alerts), tt.alerts)
		}
	}
}
