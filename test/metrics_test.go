package test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sshenrich/sshenrich/rules"
	"github.com/sshenrich/sshenrich/test/fwdserver"
)

// runHostHeld runs the host with -H: at each "fbhost: holding round=N"
// it calls onHold(N) while the plugin is still running, then lets the
// host go on to the exit calls.
func runHostHeld(t *testing.T, timeout time.Duration, onHold func(round int), args ...string) hostRun {
	t.Helper()
	build(t)
	cmd := exec.Command(artifacts.host, append([]string{"-s", artifacts.plugin, "-H"}, args...)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderrPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(timeout, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	var errOut strings.Builder
	sc := bufio.NewScanner(stderrPipe)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		errOut.WriteString(line + "\n")
		if r, ok := strings.CutPrefix(line, "fbhost: holding round="); ok {
			round, _ := strconv.Atoi(r)
			onHold(round)
			if _, err := io.WriteString(stdin, "\n"); err != nil {
				t.Errorf("resuming the host: %v", err)
			}
		}
	}
	_ = stdin.Close()
	err = cmd.Wait()
	r := hostRun{stdout: out.String(), stderr: errOut.String(), summary: map[string]int{}}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.exit = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if m := summaryRE.FindStringSubmatch(r.stderr); m != nil {
		for i, k := range []string{"chunks", "records", "ok", "retry", "error", "dropped"} {
			r.summary[k], _ = strconv.Atoi(m[i+1])
		}
	}
	return r
}

// getMetrics GETs /metrics and returns its samples by series name.
func getMetrics(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s %v", resp.Status, err)
	}
	series := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample %q", line)
		}
		series[line[:i]] = v
	}
	return series
}

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// sum adds the samples of one metric family whose labels hold every
// one of match.
func sum(series map[string]float64, family string, match ...string) float64 {
	var total float64
	for name, v := range series {
		if !strings.HasPrefix(name, family+"{") {
			continue
		}
		ok := true
		for _, m := range match {
			ok = ok && strings.Contains(name, m)
		}
		if ok {
			total += v
		}
	}
	return total
}

// TestMetricsEndpoint enriches the sample logs through the host with
// metrics_listen, GETs /metrics while the plugin runs, and checks the
// counts by code against the golden records, the unclassified programs,
// the flushes and the latency histogram. A hot reload follows (every
// instance exits, then inits again in the same process): the endpoint is
// bound again on the same address, with fresh counts, and is gone once
// the host has exited.
func TestMetricsEndpoint(t *testing.T) {
	s := startServer(t, fwdserver.Options{})
	addr := freeAddr(t)
	const perChunk = 7
	codes := goldenCodes(t)
	wantByCode := map[string]float64{}
	chunks := 0
	for _, f := range sampleArgs(t) {
		if f == "-f" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		for _, l := range lines {
			wantByCode[codes[l]]++
		}
		chunks += (len(lines) + perChunk - 1) / perChunk
	}
	cat, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	held := map[int]map[string]float64{}
	args := append([]string{"-p", "forward_address=" + s.URL(), "-p", "time_zone=UTC", "-p", "metrics_listen=" + addr,
		"-n", strconv.Itoa(perChunk), "-w", "2", "-q", "-X", "1"}, sampleArgs(t)...)
	r := runHostHeld(t, 90*time.Second, func(round int) {
		m := getMetrics(t, addr)
		mu.Lock()
		held[round] = m
		mu.Unlock()
	}, args...)
	if r.exit != 0 || r.summary["ok"] != 2*chunks {
		t.Fatalf("host exit %d, summary %v, want %d chunks OK\n%s", r.exit, r.summary, 2*chunks, r.stderr)
	}
	if len(held) != 2 {
		t.Fatalf("the host held %d times, want 2 (start and after the reload)\n%s", len(held), r.stderr)
	}
	out := `output="sshenrich.0"`
	for round, m := range held {
		t.Run(fmt.Sprintf("round %d", round), func(t *testing.T) {
			for code, want := range wantByCode {
				if got := sum(m, "sshenrich_records_total", out, `code="`+code+`"`); got != want {
					t.Errorf("records of %s: %v, want %v", code, got, want)
				}
			}
			if got, want := sum(m, "sshenrich_records_total", out), float64(countLines(t, artifacts.samples)); got != want {
				t.Errorf("records in all: %v, want %v", got, want)
			}
			// The sample lines that no entry matches: two of logger's
			// "root:" lines, a kernel boot line, and a gateway line that
			// names no program.
			for labels, want := range map[string]float64{
				`program="root"`: 2, `program="kernel"`: 1, `program="none"`: 1,
			} {
				if got := sum(m, "sshenrich_unclassified_total", out, labels); got != want {
					t.Errorf("unclassified %s: %v, want %v", labels, got, want)
				}
			}
			if got := sum(m, "sshenrich_unclassified_total", out); got != wantByCode[rules.Unclassified] {
				t.Errorf("unclassified in all: %v, want %v", got, wantByCode[rules.Unclassified])
			}
			for labels, want := range map[string]float64{
				`code="UNCLASSIFIED",family="none"`: 2, `code="UNCLASSIFIED",family="firewall"`: 1,
				`code="UNCLASSIFIED",family="openvpn"`: 1, `code="SSHD-0032",family="openssh"`: wantByCode["SSHD-0032"],
			} {
				if got := sum(m, "sshenrich_records_total", out, labels); got != want || want == 0 {
					t.Errorf("records %s: %v, want %v (not 0)", labels, got, want)
				}
			}
			flushes := sum(m, "sshenrich_flushes_total", out)
			if ok := sum(m, "sshenrich_flushes_total", out, `result="ok"`); ok != float64(chunks) || flushes != ok {
				t.Errorf("flushes: %v ok of %v, want %d ok and nothing else", ok, flushes, chunks)
			}
			if got := m[`sshenrich_flush_duration_seconds_count{`+out+`}`]; got != flushes {
				t.Errorf("histogram count %v, want the flush count %v", got, flushes)
			}
			if got := m[`sshenrich_flush_duration_seconds_bucket{`+out+`,le="+Inf"}`]; got != flushes {
				t.Errorf("+Inf bucket %v, want %v", got, flushes)
			}
			if got := m[`sshenrich_flush_duration_seconds_bucket{`+out+`,le="60"}`]; got != flushes {
				t.Errorf("flushes under 60 s: %v, want %v", got, flushes)
			}
			for _, name := range []string{"sshenrich_records_passed_total", "sshenrich_emit_errors_total", "sshenrich_ack_timeouts_total", "sshenrich_emit_retries_total"} {
				if v, ok := m[name+`{`+out+`}`]; !ok || v != 0 {
					t.Errorf("%s = %v (present %v), want 0", name, v, ok)
				}
			}
			if got := m[`sshenrich_catalog_entries{`+out+`}`]; got != float64(len(cat.Entries())) {
				t.Errorf("catalog entries %v, want %d", got, len(cat.Entries()))
			}
			if got := m[`sshenrich_catalog_loaded_timestamp_seconds{`+out+`}`]; time.Since(time.Unix(int64(got), 0)) > 5*time.Minute {
				t.Errorf("catalog loaded at %v, not just now", got)
			}
			if sum(m, "sshenrich_build_info", out, `version="`) != 1 {
				t.Errorf("no build info")
			}
		})
	}
	for _, want := range []string{"fbhost: hot reload 1", "metrics at http://" + addr + "/metrics", "settings: instance_name=sshenrich.0 ", " metrics_listen=" + addr} {
		if strings.Count(r.stderr, want) < 1 {
			t.Errorf("log lacks %q:\n%s", want, r.stderr)
		}
	}
	if n := strings.Count(r.stderr, "] settings: "); n != 2 {
		t.Errorf("%d settings lines, want one per Init (2)", n)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("%s is still bound after the host exited: %v", addr, err)
	}
	ln.Close()
}

// TestMetricsStartupErrors: a second output naming another address, an
// address in use and a value that is no address stop start-up, with one
// log line naming metrics_listen and the reason.
func TestMetricsStartupErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	first := freeAddr(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"another address", []string{"-p", "metrics_listen=" + first, "-i", "-p", "metrics_listen=" + busy.Addr().String()},
			"[output:sshenrich:sshenrich.1] metrics_listen: " + busy.Addr().String() + " differs from " + first + ", on which output sshenrich.0 already serves"},
		{"address in use", []string{"-p", "metrics_listen=" + busy.Addr().String()},
			"[output:sshenrich:sshenrich.0] metrics_listen: cannot listen on " + busy.Addr().String() + ": listen tcp " + busy.Addr().String() + ": bind: address already in use"},
		{"no such host address", []string{"-p", "metrics_listen=192.0.2.1:2021"},
			"metrics_listen: cannot listen on 192.0.2.1:2021: listen tcp 192.0.2.1:2021: bind: cannot assign requested address"},
		{"not an address", []string{"-p", "metrics_listen=2021"},
			`[output:sshenrich:sshenrich.0] configuration error, not starting: metrics_listen: "2021" is not valid; expected host:port`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runHost(t, 30*time.Second, append(tt.args, "-p", "emit=stdout", "-f", filepath.Join(repoRoot(), "conf", "samples", "kern.log"))...)
			if r.exit != 3 || !strings.Contains(r.stderr, "FLBPluginInit of instance") {
				t.Fatalf("exit %d, want 3 (Init failed)\n%s", r.exit, r.stderr)
			}
			found := false
			for _, line := range strings.Split(r.stderr, "\n") {
				if strings.Contains(line, tt.want) {
					found = true
				}
			}
			if !found {
				t.Errorf("no log line holds %q:\n%s", tt.want, r.stderr)
			}
		})
	}
}
