package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// bruteForce is ten failed passwords from one source within a minute,
// then a successful login from it: CORR-0001 at the eighth failure and
// CORR-0002 at the success.
func bruteForce() string {
	var b strings.Builder
	users := []string{"root", "admin", "oracle", "test", "guest", "ubuntu", "pi", "user", "ftp", "www"}
	for i, u := range users {
		fmt.Fprintf(&b, "2025-06-16T07:00:%02dZ web01 sshd[%d]: Failed password for %s from 203.0.113.50 port %d ssh2\n", i*5, 200+i, u, 41000+i)
	}
	b.WriteString("2025-06-16T07:01:00Z web01 sshd[300]: Accepted password for deploy from 203.0.113.50 port 41100 ssh2\n")
	return b.String()
}

// records splits the CLI's output into its line records and its alert
// records.
func records(t *testing.T, out string) (lines, alerts []map[string]any) {
	t.Helper()
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %v: %s", err, l)
		}
		if ev, _ := m["event"].(map[string]any); ev != nil && ev["kind"] == "alert" || m["event_kind"] == "alert" {
			alerts = append(alerts, m)
		} else {
			lines = append(lines, m)
		}
	}
	return lines, alerts
}

func codes(alerts []map[string]any) []string {
	var out []string
	for _, a := range alerts {
		if ev, _ := a["event"].(map[string]any); ev != nil {
			out = append(out, fmt.Sprint(ev["code"]))
		} else {
			out = append(out, fmt.Sprint(a["event_code"]))
		}
	}
	return out
}

// TestEnrichCorrelation: a file replay raises the catalog's correlation
// alerts as extra records, once each, after the line that raised them;
// the flags switch correlation and its parts off.
func TestEnrichCorrelation(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		input      string
		wantLines  int
		wantAlerts []string
		sessions   bool
	}{
		{"lines", nil, bruteForce(), 11, []string{"CORR-0001", "CORR-0002"}, true},
		{"flat", []string{"--style", "flat"}, bruteForce(), 11, []string{"CORR-0001", "CORR-0002"}, true},
		{"json input", []string{"--input", "json"}, jsonLines(bruteForce()), 11, []string{"CORR-0001", "CORR-0002"}, true},
		{"correlation off", []string{"--correlation", "off"}, bruteForce(), 11, nil, false},
		{"alerts off", []string{"--correlation-alerts", "off"}, bruteForce(), 11, nil, true},
		{"sessions off", []string{"--correlation-sessions", "off"}, bruteForce(), 11, []string{"CORR-0001", "CORR-0002"}, false},
		{"a user rule file's threshold", []string{"--rules", "testdata/corr-threshold.rules"}, bruteForce(), 11, []string{"CORR-0001", "CORR-0001", "CORR-0002"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"enrich", "--tz", "UTC", "--now", "2025-07-01T00:00:00Z"}, tt.args...)
			out, stderr, err := runCLI(t, tt.input, args...)
			if err != nil {
				t.Fatalf("%v: %s", err, stderr)
			}
			lines, alerts := records(t, out)
			if len(lines) != tt.wantLines {
				t.Errorf("%d line records, want %d", len(lines), tt.wantLines)
			}
			if got := strings.Join(codes(alerts), ","); got != strings.Join(tt.wantAlerts, ",") {
				t.Errorf("alerts %s, want %s", got, strings.Join(tt.wantAlerts, ","))
			}
			hasSession := strings.Contains(out, `"session":{"id":`) || strings.Contains(out, `"sshenrich_session_id"`)
			if hasSession != tt.sessions {
				t.Errorf("session ids written: %v, want %v", hasSession, tt.sessions)
			}
		})
	}
}

// jsonLines wraps log lines as Fluent Bit's tail records.
func jsonLines(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		q, _ := json.Marshal(l)
		fmt.Fprintf(&b, `{"log":%s}`+"\n", q)
	}
	return b.String()
}

// TestEnrichDedup: an AX poll given twice: mark writes the second
// poll's lines with sshenrich.repeat, drop leaves them out, off keeps
// them unmarked.
func TestEnrichDedup(t *testing.T) {
	poll := "Date 2025/06/16 08:00:00 UTC\n" +
		"2025/06/16 07:37:30 sshd[4409] Accepted password for staff from 192.0.2.77 port 4226\n" +
		"2025/06/16 07:37:26 sshd[4409] Failed none for staff from 192.0.2.77 port 4226\n"
	second := strings.Replace(poll, "08:00:00", "08:05:00", 1)
	input := poll + second
	tests := []struct {
		dedup            string
		records, repeats int
	}{
		{"mark", 6, 2},
		{"drop", 4, 0},
		{"off", 6, 0},
	}
	for _, tt := range tests {
		t.Run(tt.dedup, func(t *testing.T) {
			out, stderr, err := runCLI(t, input, "enrich", "--tz", "UTC", "--dedup", tt.dedup)
			if err != nil {
				t.Fatalf("%v: %s", err, stderr)
			}
			lines, _ := records(t, out)
			if len(lines) != tt.records {
				t.Errorf("%d records, want %d:\n%s", len(lines), tt.records, out)
			}
			if n := strings.Count(out, `"repeat":true`); n != tt.repeats {
				t.Errorf("%d marked repeats, want %d", n, tt.repeats)
			}
		})
	}
}

// TestEnrichCorrelationFlagErrors: a bad value names the flag's key and
// what is expected.
func TestEnrichCorrelationFlagErrors(t *testing.T) {
	tests := []struct{ flag, value, want string }{
		{"--correlation", "maybe", `correlation: "maybe" must be on or off`},
		{"--dedup", "keep", `dedup: "keep" must be mark, drop or off`},
		{"--correlation-max-sessions", "12", `correlation_max_sessions: "12" must be a count from 1024 to 16M`},
		{"--correlation-session-ttl", "1s", `correlation_session_ttl: "1s" must be a duration`},
	}
	for _, tt := range tests {
		t.Run(tt.flag, func(t *testing.T) {
			_, stderr, err := runCLI(t, "x\n", "enrich", tt.flag, tt.value)
			if err == nil || !strings.Contains(stderr, tt.want) {
				t.Errorf("error %v, stderr %q, want %q", err, stderr, tt.want)
			}
		})
	}
}

// TestEnrichCorrelationStateFile: a log replayed in two parts with
// --correlation-state-file raises what the whole log raises, in the part
// where the whole log raises it; a file that is not a state is refused.
func TestEnrichCorrelationStateFile(t *testing.T) {
	state := filepath.Join(t.TempDir(), "corr.state")
	all := strings.SplitAfter(bruteForce(), "\n")
	out, _, err := runCLI(t, strings.Join(all[:6], ""), "enrich", "--correlation-state-file", state)
	if err != nil {
		t.Fatal(err)
	}
	if _, alerts := records(t, out); len(alerts) != 0 {
		t.Fatalf("first part: alerts %v", codes(alerts))
	}
	out, _, err = runCLI(t, strings.Join(all[6:], ""), "enrich", "--correlation-state-file", state)
	if err != nil {
		t.Fatal(err)
	}
	if _, alerts := records(t, out); strings.Join(codes(alerts), " ") != "CORR-0001 CORR-0002" {
		t.Errorf("second part: alerts %v, want CORR-0001 CORR-0002", codes(alerts))
	}
	if err := os.WriteFile(state, []byte("not a state\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCLI(t, all[0], "enrich", "--correlation-state-file", state); err == nil || !strings.Contains(err.Error(), "--correlation-state-file: not a state file") {
		t.Errorf("a file that is not a state: %v", err)
	}
}
