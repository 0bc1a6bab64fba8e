package test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sshenrich/sshenrich/test/fwdserver"
)

// The end-to-end tests build the plugin (.so) and the host program once,
// then run the host exactly as Fluent Bit's Go proxy would call the
// plugin, against a Forward server of the test's own.

var artifacts struct {
	once       sync.Once
	dir        string
	plugin     string
	host       string
	cli        string
	err        error
	rootDir    string
	samples    []string
	sampleText map[string]bool
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// build compiles the plugin and the host into a temporary directory.
func build(t testing.TB) {
	t.Helper()
	a := &artifacts
	a.once.Do(func() {
		a.rootDir = repoRoot()
		a.dir, a.err = os.MkdirTemp("", "sshenrich-e2e-")
		if a.err != nil {
			return
		}
		a.plugin = filepath.Join(a.dir, "out_sshenrich.so")
		a.host = filepath.Join(a.dir, "fbhost")
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", a.plugin, "./plugin")
		cmd.Dir = a.rootDir
		if out, err := cmd.CombinedOutput(); err != nil {
			a.err = fmt.Errorf("building the plugin: %w\n%s", err, out)
			return
		}
		a.cli = filepath.Join(a.dir, "sshenrich")
		cmd = exec.Command("go", "build", "-o", a.cli, "./cmd/sshenrich")
		cmd.Dir = a.rootDir
		if out, err := cmd.CombinedOutput(); err != nil {
			a.err = fmt.Errorf("building the CLI: %w\n%s", err, out)
			return
		}
		cc := os.Getenv("CC")
		if cc == "" {
			cc = "cc"
		}
		cmd = exec.Command(cc, "-O2", "-Wall", "-o", a.host, "test/host/fbhost.c", "-ldl", "-lpthread")
		cmd.Dir = a.rootDir
		if out, err := cmd.CombinedOutput(); err != nil {
			a.err = fmt.Errorf("building the host: %w\n%s", err, out)
			return
		}
		a.samples, _ = filepath.Glob(filepath.Join(a.rootDir, "conf", "samples", "*.log"))
	})
	if a.err != nil {
		t.Fatal(a.err)
	}
}

// hostRun is one run of the host program.
type hostRun struct {
	stdout, stderr string
	exit           int
	summary        map[string]int
}

var flushRE = regexp.MustCompile(`fbhost: flush chunk=\d+ instance=\d+ attempt=\d+ bytes=\d+ ret=(\d+)`)

var summaryRE = regexp.MustCompile(`fbhost: chunks=(\d+) records=(\d+) ok=(\d+) retry=(\d+) error=(\d+) dropped=(\d+)`)

// runHost runs the host with args and returns what it printed.
func runHost(t *testing.T, timeout time.Duration, args ...string) hostRun {
	t.Helper()
	build(t)
	cmd := exec.Command(artifacts.host, append([]string{"-s", artifacts.plugin}, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("host did not finish within %s\nstderr:\n%s", timeout, errOut.String())
	}
	r := hostRun{stdout: out.String(), stderr: errOut.String(), summary: map[string]int{}}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.exit = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if m := summaryRE.FindStringSubmatch(r.stderr); m != nil {
		for i, k := range []string{"chunks", "records", "ok", "retry", "error", "dropped"} {
			var v int
			fmt.Sscan(m[i+1], &v)
			r.summary[k] = v
		}
	}
	return r
}

func startServer(t *testing.T, opts fwdserver.Options) *fwdserver.Server {
	t.Helper()
	if opts.Network == "" {
		opts.Network, opts.Address = "tcp", "127.0.0.1:0"
	}
	opts.Decode = true
	s, err := fwdserver.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// goldenCodes maps each sample line to the event.code the CLI's golden
// files give it, so that the plugin is held to the same classification.
func goldenCodes(t *testing.T) map[string]string {
	t.Helper()
	codes := map[string]string{}
	for line, g := range goldenRecords(t) {
		codes[line] = g.code
	}
	return codes
}

type goldenRecord struct {
	code      string
	timestamp string // sshenrich.timestamp: the line's own time, when it has one
	alert     bool   // an alert record (its message is the alert's own)
}

// goldenAlerts is how many alert records the samples raise, as the
// CLI's golden records hold them: they come beside the lines' records.
func goldenAlerts(t *testing.T) int {
	t.Helper()
	n := 0
	for _, g := range goldenRecords(t) {
		if g.alert {
			n++
		}
	}
	return n
}

// goldenRecords reads the CLI's golden full records of the sample lines.
func goldenRecords(t *testing.T) map[string]goldenRecord {
	t.Helper()
	recs := map[string]goldenRecord{}
	files, _ := filepath.Glob(filepath.Join(repoRoot(), "cmd", "sshenrich", "testdata", "golden", "*.jsonl"))
	for _, f := range files {
		if strings.Count(filepath.Base(f), ".") != 1 {
			continue // only the full ECS records, <sample>.jsonl
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			var rec struct {
				Message   string
				Event     struct{ Code, Kind string }
				Sshenrich struct{ Timestamp string }
			}
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatal(err)
			}
			recs[rec.Message] = goldenRecord{rec.Event.Code, rec.Sshenrich.Timestamp, rec.Event.Kind == "alert"}
		}
	}
	if len(recs) < 100 {
		t.Fatalf("only %d golden lines", len(recs))
	}
	return recs
}

func sampleArgs(t *testing.T) []string {
	t.Helper()
	build(t) // artifacts.samples is set there
	var args []string
	for _, s := range artifacts.samples {
		args = append(args, "-f", s)
	}
	return args
}

func countLines(t *testing.T, files []string) int {
	t.Helper()
	n := 0
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			n++
		}
		fh.Close()
	}
	return n
}

func path(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

// TestForwardSeedSamples sends every seed sample line through the plugin
// to a Forward server with acks, and checks code, fields, tag, time and
// metadata of each record that arrives.
func TestForwardSeedSamples(t *testing.T) {
	build(t)
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			opts := fwdserver.Options{}
			if network == "unix" {
				opts.Network, opts.Address = "unix", filepath.Join(t.TempDir(), "enriched.sock")
			}
			s := startServer(t, opts)
			args := append([]string{"-p", "forward_address=" + s.URL(), "-p", "time_zone=UTC", "-p", "tag_prefix=enriched.",
				"-T", "ssh.raw", "-m", "source=fbhost", "-n", "7", "-w", "1"}, sampleArgs(t)...)
			r := runHost(t, 60*time.Second, args...)
			want := countLines(t, artifacts.samples)
			if r.exit != 0 || r.summary["records"] != want {
				t.Fatalf("host exit %d, summary %v, want %d records\n%s", r.exit, r.summary, want, r.stderr)
			}
			want += goldenAlerts(t) // the alert records beside the lines
			if !s.WaitCount(int64(want), 5*time.Second) || s.Count() != int64(want) {
				t.Fatalf("server received %d records, want %d", s.Count(), want)
			}
			golden := goldenRecords(t)
			seen := map[string]bool{}
			fromHost, fromLine := 0, 0
			for _, ev := range s.Events() {
				// The tail input's "log" is an object in ECS: the line is
				// the record's message.
				line, _ := ev.Body["message"].(string)
				seen[line] = true
				if ev.Tag != "enriched.ssh.raw" {
					t.Errorf("tag %q, want enriched.ssh.raw", ev.Tag)
				}
				if !ev.V2 || ev.Meta["source"] != "fbhost" || ev.Meta["sshenrich"] == nil {
					t.Errorf("metadata lost or not marked: v2=%v meta=%v", ev.V2, ev.Meta)
				}
				want, ok := golden[line]
				if !ok {
					t.Errorf("line %q has no golden record", line)
					continue
				}
				// The time is the host's (nanoseconds ...123), or with
				// time_from_log the line's own when it writes its year.
				lineTime, _ := time.Parse(time.RFC3339Nano, want.timestamp)
				end, _ := path(ev.Body, "event", "end").(string)
				alertEnd, _ := time.Parse(time.RFC3339Nano, end)
				switch {
				case want.alert:
					// An alert is at the time of the line that raised it.
					if ev.Sec != alertEnd.Unix() || ev.Nsec != int64(alertEnd.Nanosecond()) {
						t.Errorf("%q: time %d.%09d, want its event.end %s", line, ev.Sec, ev.Nsec, end)
					}
				case ev.Nsec%1000000 == 123 && ev.Sec >= 1718523450:
					fromHost++
				case want.timestamp != "" && ev.Sec == lineTime.Unix() && ev.Nsec == int64(lineTime.Nanosecond()):
					fromLine++
				default:
					t.Errorf("%q: time %d.%09d is neither the host's nor the line's (%s)", line, ev.Sec, ev.Nsec, want.timestamp)
				}
				if got := path(ev.Body, "event", "code"); got != want.code {
					t.Errorf("%q: event.code %v, want %s", line, got, want.code)
				}
				if path(ev.Body, "sshenrich", "family") == nil && path(ev.Body, "sshenrich", "unclassified_reason") == nil {
					t.Errorf("%q: no sshenrich fields", line)
				}
			}
			if len(seen) != len(golden) {
				t.Errorf("%d distinct lines arrived, %d expected", len(seen), len(golden))
			}
			if fromHost == 0 || fromLine == 0 {
				t.Errorf("%d records at the host's time, %d at their line's: the samples have both kinds", fromHost, fromLine)
			}
			// One record in detail.
			for _, ev := range s.Events() {
				if strings.Contains(ev.Body["message"].(string), "Failed password for invalid user admin from 203.0.113.45") {
					for keys, want := range map[string]any{
						"source.ip": "203.0.113.45", "source.port": int8(0), "user.name": "admin",
						"process.pid": int16(4409), "host.hostname": "web01", "event.outcome": "failure",
						"sshenrich.auth_method": "password", "sshenrich.invalid_user": true,
					} {
						got := path(ev.Body, strings.Split(keys, ".")...)
						switch want.(type) {
						case int8, int16:
							if fmt.Sprint(got) == "" || fmt.Sprint(got) == "<nil>" {
								t.Errorf("%s missing", keys)
							}
						default:
							if got != want {
								t.Errorf("%s = %v, want %v", keys, got, want)
							}
						}
					}
					if p := path(ev.Body, "source", "port"); fmt.Sprint(p) != "50122" {
						t.Errorf("source.port = %v (%T), want the number 50122", p, p)
					}
				}
			}
		})
	}
}

// TestMultipleInstances runs two instances with different styles,
// languages and tags; chunks alternate between them as routes would.
func TestMultipleInstances(t *testing.T) {
	s := startServer(t, fwdserver.Options{})
	r := runHost(t, 60*time.Second,
		"-p", "forward_address="+s.URL(), "-p", "output_style=ecs", "-p", "language=en", "-p", "tag=ecs.en", "-p", "time_zone=UTC",
		"-i", "-p", "forward_address="+s.URL(), "-p", "output_style=flat", "-p", "language=ja", "-p", "tag=flat.ja", "-p", "instance_name=flatja",
		"-f", filepath.Join(repoRoot(), "conf", "samples", "secure.log"), "-n", "5", "-w", "2")
	if r.exit != 0 {
		t.Fatalf("host exit %d\n%s", r.exit, r.stderr)
	}
	if !strings.Contains(r.stderr, "[output:sshenrich:sshenrich.0] started") || !strings.Contains(r.stderr, "[output:sshenrich:flatja] started") {
		t.Errorf("instance names missing from the log:\n%s", r.stderr)
	}
	want := countLines(t, []string{filepath.Join(repoRoot(), "conf", "samples", "secure.log")})
	s.WaitCount(int64(want), 5*time.Second)
	byTag := map[string]int{}
	for _, ev := range s.Events() {
		byTag[ev.Tag]++
		switch ev.Tag {
		case "ecs.en":
			if _, ok := ev.Body["event"].(map[string]any); !ok {
				t.Errorf("ecs.en record is not ECS-nested: %v", ev.Body)
			}
		case "flat.ja":
			if _, ok := ev.Body["event_code"].(string); !ok {
				t.Errorf("flat.ja record lacks event_code: %v", ev.Body)
			}
			if d, _ := ev.Body["rule_description"].(string); d != "" && !containsJapanese(d) {
				t.Errorf("flat.ja description is not Japanese: %q", d)
			}
		default:
			t.Errorf("unexpected tag %q", ev.Tag)
		}
	}
	if byTag["ecs.en"] == 0 || byTag["flat.ja"] == 0 || byTag["ecs.en"]+byTag["flat.ja"] != want {
		t.Errorf("records by tag %v, want %d in all", byTag, want)
	}
}

func containsJapanese(s string) bool {
	for _, r := range s {
		if r >= 0x3040 && r <= 0x30ff || r >= 0x4e00 && r <= 0x9fff {
			return true
		}
	}
	return false
}

// TestConcurrentFlushes flushes from four threads at once, as Workers 4,
// into two instances with different styles.
func TestConcurrentFlushes(t *testing.T) {
	s := startServer(t, fwdserver.Options{})
	r := runHost(t, 120*time.Second, append([]string{
		"-p", "forward_address=" + s.URL(), "-p", "tag=a",
		"-i", "-p", "forward_address=" + s.URL(), "-p", "tag=b", "-p", "output_style=flat",
		"-n", "50", "-x", "20", "-w", "4", "-q"}, sampleArgs(t)...)...)
	want := 20 * countLines(t, artifacts.samples)
	if r.exit != 0 || r.summary["records"] != want {
		t.Fatalf("host exit %d, summary %v, want %d\n%s", r.exit, r.summary, want, r.stderr)
	}
	s.WaitCount(int64(want), 5*time.Second)
	// The samples repeated 20 times also raise correlation alerts:
	// records of their own beside the lines.
	records, _ := splitAlerts(s.Events())
	if len(records) != want {
		t.Errorf("server received %d records (and alerts), want %d", len(records), want)
	}
	byTag := map[string]int{}
	for _, ev := range s.Events() {
		byTag[ev.Tag]++
		_, nested := ev.Body["event"].(map[string]any)
		_, flat := ev.Body["event_code"].(string)
		if (ev.Tag == "a") != nested || (ev.Tag == "b") != flat {
			t.Fatalf("record of tag %s in the wrong style: %v", ev.Tag, ev.Body)
		}
	}
	if byTag["a"] == 0 || byTag["b"] == 0 {
		t.Errorf("records by instance %v: both should flush", byTag)
	}
}

// TestStdoutEmit writes JSON lines on stdout, and nothing else there.
func TestStdoutEmit(t *testing.T) {
	build(t)
	// Two workers take the chunks in either order, and the samples'
	// dates span months: whether the brute force's chunk comes before or
	// after one dated weeks later decides its alerts, so correlation is
	// off here (TestForwardSeedSamples, one worker, checks the alerts).
	r := runHost(t, 60*time.Second, append([]string{"-p", "emit=stdout", "-p", "time_zone=UTC", "-p", "correlation=off",
		"-m", "source=fbhost", "-w", "2"}, sampleArgs(t)...)...)
	if r.exit != 0 {
		t.Fatalf("host exit %d\n%s", r.exit, r.stderr)
	}
	codes := goldenCodes(t)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != countLines(t, artifacts.samples) {
		t.Fatalf("%d stdout lines for %d records", len(lines), countLines(t, artifacts.samples))
	}
	for _, l := range lines {
		var rec struct {
			Tag      string
			Time     string
			Metadata map[string]any
			Record   map[string]any
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("stdout line is not JSON (%v): %s", err, l)
		}
		// Stdout is the end of the line: no re-emission mark.
		if _, err := time.Parse(time.RFC3339Nano, rec.Time); rec.Tag != "enriched.ssh.raw" || rec.Metadata["source"] != "fbhost" || rec.Metadata["sshenrich"] != nil || err != nil {
			t.Errorf("bad envelope: %s", l[:min(len(l), 200)])
		}
		line, _ := rec.Record["message"].(string)
		if got := path(rec.Record, "event", "code"); got != codes[line] {
			t.Errorf("%q: code %v, want %s", line, got, codes[line])
		}
	}
	if strings.Contains(r.stdout, "[output:sshenrich") {
		t.Errorf("log lines on stdout")
	}
}

// TestSharedKey runs the secure forward handshake: the right key is
// accepted, a wrong key is refused, and a server that answers with a
// wrong digest (it does not know the key) is rejected by the plugin.
func TestSharedKey(t *testing.T) {
	secure := filepath.Join(repoRoot(), "conf", "samples", "tectia.log")
	tests := []struct {
		name       string
		serverKey  string
		wrongProof bool
		clientKey  string
		ok         bool
		logWant    string
	}{
		{"right key", "s3cret", false, "s3cret", true, ""},
		{"wrong key", "s3cret", false, "guess", false, "server refused authentication"},
		{"impostor server", "s3cret", true, "s3cret", false, "digest does not match the shared key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, fwdserver.Options{SharedKey: tt.serverKey, WrongDigest: tt.wrongProof})
			r := runHost(t, 60*time.Second, "-p", "forward_address="+s.URL(), "-p", "shared_key="+tt.clientKey,
				"-p", "self_hostname=fbhost-test", "-p", "connect_timeout=2s", "-f", secure, "-R", "1", "-B", "50")
			if tt.ok {
				if r.exit != 0 || !s.WaitCount(int64(r.summary["records"]), 5*time.Second) || r.summary["records"] == 0 {
					t.Fatalf("exit %d summary %v server %d\n%s", r.exit, r.summary, s.Count(), r.stderr)
				}
				return
			}
			if r.exit == 0 || r.summary["retry"] == 0 || s.Count() != 0 {
				t.Errorf("exit %d summary %v server %d: want retries and nothing delivered", r.exit, r.summary, s.Count())
			}
			if !strings.Contains(r.stderr, tt.logWant) {
				t.Errorf("log lacks %q:\n%s", tt.logWant, r.stderr)
			}
			if strings.Contains(r.stderr, tt.clientKey) {
				t.Errorf("the shared key appears in the log")
			}
		})
	}
}

// TestDownstreamDownThenUp: with no server, flushes return FLB_RETRY;
// once the server starts on that address, the retried chunks succeed.
func TestDownstreamDownThenUp(t *testing.T) {
	build(t)
	sock := filepath.Join(t.TempDir(), "late.sock")
	go func() {
		time.Sleep(1500 * time.Millisecond)
		s, err := fwdserver.Start(fwdserver.Options{Network: "unix", Address: sock, Decode: true})
		if err != nil {
			t.Error(err)
			return
		}
		t.Cleanup(s.Close)
	}()
	file := filepath.Join(repoRoot(), "conf", "samples", "secure.log")
	r := runHost(t, 60*time.Second, "-p", "forward_address=unix://"+sock, "-p", "ack_timeout=2s", "-f", file, "-n", "10", "-B", "100", "-R", "-1", "-w", "1")
	if r.exit != 0 || r.summary["retry"] == 0 || r.summary["ok"] != r.summary["chunks"] {
		t.Fatalf("exit %d summary %v: want retries, then every chunk OK\n%s", r.exit, r.summary, r.stderr)
	}
	if !strings.Contains(r.stderr, "ret=2") || !strings.Contains(r.stderr, "will be retried") {
		t.Errorf("no FLB_RETRY or no reason logged:\n%s", r.stderr)
	}
}

// TestChunkForms flushes raw chunks with every event form: v1 and v2,
// EventTime, integer and float times, and OTLP group markers.
func TestChunkForms(t *testing.T) {
	s := startServer(t, fwdserver.Options{})
	raw := filepath.Join(t.TempDir(), "forms.bin")
	if err := os.WriteFile(raw, chunkForms(), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runHost(t, 30*time.Second, "-p", "forward_address="+s.URL(), "-p", "time_zone=UTC", "-r", raw)
	if r.exit != 0 {
		t.Fatalf("exit %d\n%s", r.exit, r.stderr)
	}
	if !s.WaitCount(5, 5*time.Second) {
		t.Fatalf("received %d records, want 5", s.Count())
	}
	evs := s.Events()
	if len(evs) != 5 {
		t.Fatalf("received %d records (group markers are not records), want 5", len(evs))
	}
	wantTimes := [][2]int64{{1718523450, 5}, {1718523451, 0}, {1718523452, 250000000}, {1718523453, 7}, {1718523454, 9}}
	for i, ev := range evs {
		if ev.Sec != wantTimes[i][0] || ev.Nsec != wantTimes[i][1] {
			t.Errorf("record %d time %d.%09d, want %d.%09d", i, ev.Sec, ev.Nsec, wantTimes[i][0], wantTimes[i][1])
		}
		if path(ev.Body, "event", "code") != "SSHD-0003" {
			t.Errorf("record %d not enriched: %v", i, ev.Body)
		}
	}
	if evs[1].V2 || evs[2].V2 || !evs[0].V2 {
		t.Errorf("event forms not kept: %v %v %v", evs[0].V2, evs[1].V2, evs[2].V2)
	}
	if evs[3].Meta["otlp"] == nil {
		t.Errorf("metadata of the record inside a group lost: %v", evs[3].Meta)
	}
}
