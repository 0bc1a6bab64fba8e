package test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Faults as Fluent Bit shows them to the plugin, through test/host: a
// forward input that pauses (in_forward under mem_buf_limit, or at a
// stop), a stop with chunks pending, and hot reloads.

// numberedLog writes n sshd lines, line i naming user u<i>.
func numberedLog(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "numbered.log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i := range n {
		fmt.Fprintf(w, "Jun 16 07:37:30 web01 sshd[%d]: Invalid user u%d from 192.0.2.%d port %d\n", 1000+i, i, 1+i%250, 1024+i)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

var userRE = regexp.MustCompile(`Invalid user u(\d+) `)

// arrivals counts the numbered records that went downstream: unique
// ones and duplicates.
func arrivals(t *testing.T, file string, n int) (unique, dups int) {
	t.Helper()
	seen := make([]bool, n)
	for _, d := range readDownstream(t, file) {
		if path(d.body, "event", "kind") == "alert" {
			continue // the numbered lines raise correlation alerts (user enumeration)
		}
		msg, _ := d.body["message"].(string)
		m := userRE.FindStringSubmatch(msg)
		if m == nil {
			t.Fatalf("downstream record without a numbered line: %v", d.body)
		}
		i, _ := strconv.Atoi(m[1])
		if i >= n {
			t.Fatalf("record u%d was never sent", i)
		}
		if seen[i] {
			dups++
		} else {
			seen[i] = true
			unique++
		}
	}
	return unique, dups
}

var shutdownRE = regexp.MustCompile(`fbhost: shutdown seconds=([0-9.]+) grace=(\d+) kept_chunks=(\d+) kept_records=(\d+)`)

// faultRun runs the host with a forward input at a fresh socket that
// the plugin delivers to, and returns the run and the downstream file.
func faultRun(t *testing.T, timeout time.Duration, args ...string) (hostRun, string) {
	t.Helper()
	dir := t.TempDir()
	sock, down := filepath.Join(dir, "in.sock"), filepath.Join(dir, "down.bin")
	r := runHost(t, timeout, append([]string{"-q", "-F", sock, "-O", down, "-M", "ssh.*",
		"-p", "forward_address=unix://" + sock, "-p", "time_zone=UTC"}, args...)...)
	return r, down
}

// TestStopBounded: Fluent Bit stops (SIGTERM) while its forward input,
// paused by the stop, acknowledges nothing, with many chunks pending.
// Without a breaker every pending chunk waits a whole ack_timeout after
// the grace period, one after the other on the worker (20 x 1 s, or
// some 1000 x 1 s);
// with it the stop ends within the grace plus one ack_timeout, and every
// record is either downstream or kept for the next start.
func TestStopBounded(t *testing.T) {
	const (
		grace = 2
		ack   = time.Second
		slack = 750 * time.Millisecond // the host's own scheduling
	)
	tests := []struct {
		name     string
		lines    int
		perChunk string
		workers  string
		pause    string // -P: when the forward input stops acknowledging
		stop     string // -K
	}{
		// Paused from the start: all 20 chunks are pending at the stop.
		{"all pending, 1 worker", 2000, "100", "1", "0:600000", "300"},
		{"all pending, 2 workers", 2000, "100", "2", "0:600000", "300"},
		// Paused mid-run, with some 2000 small chunks (the stop pauses
		// it for good anyway): part delivered, the rest pending.
		{"part delivered, 1 worker", 20000, "10", "1", "100:600000", "200"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := tt.lines
			log := numberedLog(t, lines)
			r, down := faultRun(t, 60*time.Second, "-f", log, "-n", tt.perChunk, "-w", tt.workers, "-B", "100",
				"-p", "ack_timeout="+ack.String(), "-P", tt.pause, "-K", tt.stop, "-G", strconv.Itoa(grace))
			if r.exit != 0 {
				t.Fatalf("host exit %d (a chunk neither delivered nor kept)\n%s", r.exit, lastLines(r.stderr, 20))
			}
			m := shutdownRE.FindStringSubmatch(r.stderr)
			if m == nil {
				t.Fatalf("no shutdown line\n%s", lastLines(r.stderr, 20))
			}
			secs, _ := strconv.ParseFloat(m[1], 64)
			keptChunks, _ := strconv.Atoi(m[3])
			keptRecords, _ := strconv.Atoi(m[4])
			bound := time.Duration(grace)*time.Second + ack + slack
			if took := time.Duration(secs * float64(time.Second)); took > bound {
				t.Errorf("the stop took %s, want at most grace %ds + ack_timeout %s (+%s)", took, grace, ack, slack)
			}
			if keptChunks == 0 {
				t.Errorf("no chunk was pending at the stop: the test stopped too late\n%s", lastLines(r.stderr, 10))
			}
			unique, _ := arrivals(t, down, lines)
			if unique+keptRecords < lines {
				t.Errorf("%d records downstream + %d kept < %d sent: records lost", unique, keptRecords, lines)
			}
			if n := strings.Count(r.stderr, "stopped acknowledging"); n != 1 {
				t.Errorf("%d breaker warnings, want 1\n%s", n, lastLines(r.stderr, 10))
			}
			t.Logf("stop took %.2fs: %d records downstream, %d chunks (%d records) kept", secs, unique, keptChunks, keptRecords)
		})
	}
}

// TestPausedForwardInput: the forward input reads and acknowledges
// nothing for the first 1.5 s (as in_forward under mem_buf_limit). The breaker opens after one ack_timeout, flushes
// fail fast (retried), a probe closes it once the input reads again, and
// every record arrives.
func TestPausedForwardInput(t *testing.T) {
	const lines = 2000
	log := numberedLog(t, lines)
	r, down := faultRun(t, 60*time.Second, "-f", log, "-n", "20", "-x", "1", "-w", "2", "-B", "100",
		"-p", "ack_timeout=300ms", "-P", "0:1500")
	if r.exit != 0 {
		t.Fatalf("host exit %d\n%s", r.exit, lastLines(r.stderr, 20))
	}
	unique, dups := arrivals(t, down, lines)
	if unique != lines {
		t.Errorf("%d of %d records arrived", unique, lines)
	}
	for _, want := range []string{"fbhost: forward_in paused", "fbhost: forward_in resumed", "stopped acknowledging", "acknowledges again after"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("no %q in the log\n%s", want, lastLines(r.stderr, 20))
		}
	}
	if r.summary["retry"] == 0 {
		t.Errorf("no flush was retried: the pause did not reach the plugin")
	}
	t.Logf("%d records, %d duplicates, %d retries", unique, dups, r.summary["retry"])
}

var heapRE = regexp.MustCompile(`fbhost: round=(\d+) exited go_heap_live_kb=(\d+)`)

// TestReloadReleasesHeap: hot reloads (every instance exits, the new
// configuration's instances start in the same process) leave nothing of
// the exited instances on the Go heap. fluent-bit-go keeps every context
// it was given for the life of the process; before exit released the
// instance, each reload kept its catalog (some 8 MB).
func TestReloadReleasesHeap(t *testing.T) {
	plugin := testhooksPlugin(t)
	log := numberedLog(t, 500)
	cmd := exec.Command(artifacts.host, "-s", plugin, "-q", "-n", "100", "-w", "2", "-p", "emit=stdout", "-p", "time_zone=UTC",
		"-i", "-p", "emit=stdout", "-p", "time_zone=UTC", "-f", log, "-X", "6")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, lastLines(string(out), 20))
	}
	var kb []int
	for _, m := range heapRE.FindAllStringSubmatch(string(out), -1) {
		v, _ := strconv.Atoi(m[2])
		kb = append(kb, v)
	}
	if len(kb) != 7 {
		t.Fatalf("%d heap samples, want 7 (one per round)\n%s", len(kb), lastLines(string(out), 20))
	}
	// Two instances load a catalog each (some 8 MB apiece); once they
	// exit, next to nothing may stay, and nothing may pile up.
	const most = 2 << 10
	for round, v := range kb {
		if v > most {
			t.Errorf("after round %d's exits %d KiB of Go heap are live, want at most %d: %v", round, v, most, kb)
			break
		}
	}
	if kb[6] > kb[1]+256 {
		t.Errorf("the live heap grew from %d KiB to %d KiB over 5 reloads: %v", kb[1], kb[6], kb)
	}
}
