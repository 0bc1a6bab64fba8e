package test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sshenrich/sshenrich/plugin/chunk"
	"github.com/sshenrich/sshenrich/test/fwdserver"
)

// The bad-input matrix: each case is one raw chunk flushed through the
// host program. The expectations are the README's "Behaviour on bad
// input" table.

const (
	flbError = 0
	flbOK    = 1
	flbRetry = 2
)

// flushRaw writes data as a raw chunk, flushes it once through the host
// and returns the flush's return code, the host's log and what arrived.
func flushRaw(t *testing.T, data []byte, extra ...string) (int, string, []fwdserver.Event) {
	t.Helper()
	s := startServer(t, fwdserver.Options{})
	raw := filepath.Join(t.TempDir(), "chunk.bin")
	if err := os.WriteFile(raw, data, 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-p", "forward_address=" + s.URL(), "-p", "time_zone=UTC", "-p", "ack_timeout=5s", "-r", raw, "-R", "0"}, extra...)
	r := runHost(t, 120*time.Second, args...)
	m := flushRE.FindStringSubmatch(r.stderr)
	if m == nil {
		t.Fatalf("no flush result:\n%s", r.stderr)
	}
	var ret int
	fmt.Sscan(m[1], &ret)
	time.Sleep(50 * time.Millisecond)
	return ret, r.stderr, s.Events()
}

func TestBadInput(t *testing.T) {
	build(t)
	const failed = "Failed password for invalid user admin from 203.0.113.45 port 50122 ssh2"
	rec := func(body any) []byte { return v2(eventTime(1718523450, 1), mp(map[string]any{"src": "t"}), mp(body)) }
	rng := rand.New(rand.NewPCG(7, 7))
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(rng.IntN(256))
	}
	random[0] = 0xc1 // never valid msgpack: the chunk is undecodable from byte 0
	var big []byte
	for i := range 100000 {
		big = append(big, rec(map[string]any{"log": fmt.Sprintf("Invalid user u%d from 192.0.2.1 port %d", i, 1024+i%60000)})...)
	}
	tests := []struct {
		name    string
		data    []byte
		ret     int
		records int
		check   func(t *testing.T, evs []fwdserver.Event, log string)
	}{
		{"non-map body", rec([]any{"a", 1}), flbOK, 1, func(t *testing.T, evs []fwdserver.Event, _ string) {
			if evs[0].Body != nil {
				t.Errorf("a non-map body was changed: %v", evs[0].Body)
			}
		}},
		{"nested maps", rec(map[string]any{"log": failed, "kubernetes": map[string]any{"pod": map[string]any{"name": "p"}}}), flbOK, 1, func(t *testing.T, evs []fwdserver.Event, _ string) {
			if path(evs[0].Body, "kubernetes", "pod", "name") != "p" || path(evs[0].Body, "event", "code") != "SSHD-0032" {
				t.Errorf("%v", evs[0].Body)
			}
		}},
		{"message missing", rec(map[string]any{"other": "x"}), flbOK, 1, reason("no_message")},
		{"host, event, user as scalars and a list", rec(map[string]any{"log": failed, "host": 42, "event": "login", "user": []any{"a"}}), flbOK, 1, func(t *testing.T, evs []fwdserver.Event, _ string) {
			b := evs[0].Body
			if path(b, "event", "code") != "SSHD-0032" || path(b, "user", "name") != "admin" || path(b, "sshenrich", "original", "host") != int8(42) ||
				path(b, "sshenrich", "original", "event") != "login" || len(path(b, "sshenrich", "original", "user").([]any)) != 1 {
				t.Errorf("%v", b)
			}
		}},
		{"event map holding code", rec(map[string]any{"log": failed, "event": map[string]any{"code": "4625"}}), flbOK, 1, func(t *testing.T, evs []fwdserver.Event, _ string) {
			b := evs[0].Body
			if path(b, "event", "code") != "4625" || path(b, "event", "outcome") != "failure" || path(b, "sshenrich", "event", "code") != "SSHD-0032" {
				t.Errorf("%v", b)
			}
		}},
		{"enriched by another Fluent Bit", v2(eventTime(1718523450, 1), mp(map[string]any{"sshenrich": "0123456789abcdef"}),
			mp(map[string]any{"message": failed, "sshenrich": map[string]any{"family": "openssh"}})), flbOK, 1, func(t *testing.T, evs []fwdserver.Event, _ string) {
			if len(evs[0].Body) != 2 || path(evs[0].Body, "event") != nil {
				t.Errorf("changed: %v", evs[0].Body)
			}
		}},
		{"message int", rec(map[string]any{"log": 42}), flbOK, 1, reason("not_string")},
		{"message nil", rec(map[string]any{"log": nil}), flbOK, 1, reason("not_string")},
		{"message array", rec(map[string]any{"log": []any{"a"}}), flbOK, 1, reason("not_string")},
		{"message map", rec(map[string]any{"log": map[string]any{"a": 1}}), flbOK, 1, reason("not_string")},
		{"message binary", rec(map[string]any{"log": []byte(failed)}), flbOK, 1, code("SSHD-0032")},
		{"invalid UTF-8", rec(map[string]any{"log": "Failed password for invalid user \xff\xfe from 203.0.113.45 port 50122 ssh2"}), flbOK, 1, func(t *testing.T, evs []fwdserver.Event, _ string) {
			b := evs[0].Body
			if path(b, "user", "name") != "\ufffd\ufffd" || path(b, "sshenrich", "invalid_utf8") != true || path(b, "event", "code") != "SSHD-0032" {
				t.Errorf("%v", b)
			}
			if !bytes.Contains(evs[0].Raw, []byte("\xff\xfe from")) {
				t.Errorf("the original line was changed")
			}
		}},
		{"1 MiB line", rec(map[string]any{"log": strings.Repeat("Failed password ", 1<<16)}), flbOK, 1, reason("too_long")},
		{"100k-record chunk", big, flbOK, 100000, func(t *testing.T, evs []fwdserver.Event, _ string) {
			if path(evs[99999].Body, "event", "code") != "SSHD-0042" {
				t.Errorf("%v", evs[99999].Body)
			}
		}},
		{"random bytes", random, flbError, 0, logs("malformed chunk", "event 1 at byte 0")},
		{"group markers only", cat(
			v2(eventTime(0xFFFFFFFF, 0), mp(map[string]any{"schema": "otlp"}), mp(map[string]any{"resource": map[string]any{}})),
			v2(eventTime(0xFFFFFFFE, 0), mp(map[string]any{}), mp(map[string]any{})),
		), flbOK, 0, nil},
		{"empty chunk", nil, flbOK, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ret, log, evs := flushRaw(t, tt.data)
			evs, _ = splitAlerts(evs) // the records themselves; alerts are counted in the correlation tests
			if ret != tt.ret || len(evs) != tt.records {
				t.Fatalf("return %d with %d records, want %d with %d\n%s", ret, len(evs), tt.ret, tt.records, lastLines(log, 6))
			}
			if tt.check != nil {
				tt.check(t, evs, log)
			}
		})
	}
}

func reason(want string) func(*testing.T, []fwdserver.Event, string) {
	return func(t *testing.T, evs []fwdserver.Event, _ string) {
		b := evs[0].Body
		if path(b, "event", "code") != "UNCLASSIFIED" || path(b, "sshenrich", "unclassified_reason") != want {
			t.Errorf("want UNCLASSIFIED/%s: %v", want, b)
		}
	}
}

func code(want string) func(*testing.T, []fwdserver.Event, string) {
	return func(t *testing.T, evs []fwdserver.Event, _ string) {
		if got := path(evs[0].Body, "event", "code"); got != want {
			t.Errorf("event.code %v, want %s", got, want)
		}
	}
}

func logs(want ...string) func(*testing.T, []fwdserver.Event, string) {
	return func(t *testing.T, _ []fwdserver.Event, log string) {
		for _, w := range want {
			if !strings.Contains(log, w) {
				t.Errorf("log lacks %q:\n%s", w, lastLines(log, 6))
			}
		}
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// TestTruncatedChunks cuts a small valid chunk at every byte. The events
// before the cut arrive; a cut inside an event returns FLB_ERROR with
// the reason in the log, a cut between events FLB_OK.
func TestTruncatedChunks(t *testing.T) {
	build(t)
	var data []byte
	var ends []int
	for i, line := range []string{"Invalid user a from 192.0.2.1 port 22", "Accepted password for b from 192.0.2.2 port 22 ssh2"} {
		data = append(data, v2(eventTime(1718523450, uint32(i)), mp(map[string]any{}), mp(map[string]any{"log": line}))...)
		ends = append(ends, len(data))
	}
	// One host run per cut would take minutes; the cuts go through one
	// run as separate raw chunks.
	dir := t.TempDir()
	s := startServer(t, fwdserver.Options{})
	args := []string{"-p", "forward_address=" + s.URL(), "-R", "0", "-w", "1"}
	for cut := 0; cut <= len(data); cut++ {
		f := filepath.Join(dir, fmt.Sprintf("cut%04d.bin", cut))
		if err := os.WriteFile(f, data[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "-r", f)
	}
	r := runHost(t, 300*time.Second, args...)
	results := flushRE.FindAllStringSubmatch(r.stderr, -1)
	if len(results) != len(data)+1 {
		t.Fatalf("%d flushes for %d cuts\n%s", len(results), len(data)+1, lastLines(r.stderr, 5))
	}
	wantRecords := 0
	for cut := 0; cut <= len(data); cut++ {
		whole, boundary := 0, cut == 0
		for _, e := range ends {
			if e <= cut {
				whole++
			}
			boundary = boundary || e == cut
		}
		wantRecords += whole
		var ret int
		fmt.Sscan(results[cut][1], &ret)
		if want := map[bool]int{true: flbOK, false: flbError}[boundary]; ret != want {
			t.Errorf("cut at %d: return %d, want %d", cut, ret, want)
		}
	}
	if !s.WaitCount(int64(wantRecords), 5*time.Second) || s.Count() != int64(wantRecords) {
		t.Errorf("%d records arrived, want %d", s.Count(), wantRecords)
	}
	if !strings.Contains(r.stderr, "delivered the 1 records before it") {
		t.Errorf("the log does not say what was delivered:\n%s", lastLines(r.stderr, 5))
	}
}

var panicBuild struct {
	once sync.Once
	path string
	err  error
}

// testhooksPlugin builds the plugin with the sshenrich_testhooks tag
// (forced panics, the heap probe) once, and returns its path.
func testhooksPlugin(t *testing.T) string {
	t.Helper()
	build(t)
	panicBuild.once.Do(func() {
		panicBuild.path = filepath.Join(artifacts.dir, "out_sshenrich_testhooks.so")
		cmd := exec.Command("go", "build", "-tags", "sshenrich_testhooks", "-buildmode=c-shared", "-o", panicBuild.path, "./plugin")
		cmd.Dir = artifacts.rootDir
		if out, err := cmd.CombinedOutput(); err != nil {
			panicBuild.err = fmt.Errorf("%w\n%s", err, out)
		}
	})
	if panicBuild.err != nil {
		t.Fatal(panicBuild.err)
	}
	return panicBuild.path
}

// TestPanicSafety forces panics through the sshenrich_testhooks build.
// A panic while enriching re-emits the chunk's records unchanged and
// returns FLB_OK; a panic elsewhere in the flush returns FLB_ERROR. The
// host keeps running either way, and the next chunk is flushed.
func TestPanicSafety(t *testing.T) {
	testhooksPlugin(t)
	for _, tt := range []struct {
		where   string
		ret     int
		records int
		log     string
	}{
		{"enrich", flbOK, 2, "re-emitting the chunk's records unchanged"},
		{"flush", flbRetry, 0, "internal error in flush"},
	} {
		t.Run(tt.where, func(t *testing.T) {
			s := startServer(t, fwdserver.Options{})
			chunkFile := filepath.Join(t.TempDir(), "c.bin")
			body := v2(eventTime(1718523450, 0), mp(map[string]any{}), mp(map[string]any{"log": "Invalid user a from 192.0.2.1 port 22"}))
			os.WriteFile(chunkFile, cat(body, body), 0o644)
			cmd := exec.Command(artifacts.host, "-s", panicBuild.path, "-p", "forward_address="+s.URL(), "-r", chunkFile, "-r", chunkFile, "-R", "0")
			cmd.Env = append(os.Environ(), "SSHENRICH_TEST_PANIC="+tt.where)
			out, _ := cmd.CombinedOutput()
			results := flushRE.FindAllStringSubmatch(string(out), -1)
			if len(results) != 2 {
				t.Fatalf("the host did not flush both chunks:\n%s", out)
			}
			for _, r := range results {
				if r[1] != fmt.Sprint(tt.ret) {
					t.Errorf("return %s, want %d", r[1], tt.ret)
				}
			}
			// The error, its reason and the stack are one log line.
			checkLogLines(t, string(out))
			if line := logLineWith(string(out), tt.log); !strings.Contains(line, "test: panic") || !strings.Contains(line, "; stack: main.") {
				t.Errorf("no log line holds %q, the panic and a stack:\n%s", tt.log, out)
			}
			s.WaitCount(int64(2*tt.records), 2*time.Second)
			if s.Count() != int64(2*tt.records) {
				t.Errorf("%d records arrived, want %d", s.Count(), 2*tt.records)
			}
			for _, ev := range s.Events() {
				if _, enriched := ev.Body["event"]; enriched {
					t.Errorf("a record enriched despite the panic: %v", ev.Body)
				}
			}
		})
	}
}

// checkDecodes is a sanity check of the matrix's own chunk builders.
func TestMatrixChunksDecode(t *testing.T) {
	d := chunk.NewDecoder(chunkForms())
	n := 0
	for d.Next() {
		n++
	}
	if d.Err() != nil || n != 7 {
		t.Fatalf("%d events, %v", n, d.Err())
	}
}

// splitAlerts separates the correlation alert records from the others.
func splitAlerts(evs []fwdserver.Event) (records, alerts []fwdserver.Event) {
	for _, ev := range evs {
		if path(ev.Body, "event", "kind") == "alert" || ev.Body["event_kind"] == "alert" {
			alerts = append(alerts, ev)
		} else {
			records = append(records, ev)
		}
	}
	return records, alerts
}
