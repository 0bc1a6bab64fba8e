package test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/sshenrich/sshenrich/plugin/chunk"
)

// The loop guard end to end: the host runs a forward input (-F) as
// in_forward does for the re-emitted records, routes what arrives there
// back to every instance whose Match matches its tag, and writes what
// went downstream to a file (-O). -Y caps the routing, so that a guard
// that fails shows as too many records instead of a run that never ends.

// downstream is what the forward input received: each record with its
// tag and metadata.
type downstream struct {
	tag  string
	meta map[string]any
	body map[string]any
	raw  []byte // the whole event, [[time, metadata], body], as received
}

func readDownstream(t *testing.T, file string) []downstream {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []downstream
	dec := msgpack.NewDecoder(bytes.NewReader(data))
	for {
		var msg struct {
			_msgpack struct{} `msgpack:",as_array"`
			Tag      string
			Events   []byte
		}
		if err := dec.Decode(&msg); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("downstream file: %v", err)
		}
		d := chunk.NewDecoder(msg.Events)
		for d.Next() {
			ev := d.Event()
			rec := downstream{tag: msg.Tag, raw: ev.Raw}
			_ = msgpack.Unmarshal(ev.Meta, &rec.meta)
			if err := msgpack.Unmarshal(ev.Body, &rec.body); err != nil {
				t.Fatalf("downstream body: %v", err)
			}
			out = append(out, rec)
		}
		if d.Err() != nil {
			t.Fatal(d.Err())
		}
	}
	return out
}

var forwardInRE = regexp.MustCompile(`fbhost: forward_in messages=(\d+) records=(\d+) routed=(\d+) stopped=(\d)`)

const loopWarning = "re-emitted came back to it"

// loopRun runs the host with a forward input at a fresh socket, the
// instances given by args (which point forward_address at it through
// the SOCK placeholder), and returns the run and what went downstream.
func loopRun(t *testing.T, args ...string) (hostRun, []downstream) {
	t.Helper()
	dir := t.TempDir()
	sock := filepath.Join(dir, "in.sock")
	down := filepath.Join(dir, "down.bin")
	for i, a := range args {
		args[i] = strings.ReplaceAll(a, "SOCK", sock)
	}
	r := runHost(t, 60*time.Second, append([]string{"-F", sock, "-O", down, "-Y", "30", "-n", "1", "-w", "1"}, args...)...)
	if r.exit != 0 {
		t.Fatalf("host exit %d\n%s", r.exit, r.stderr)
	}
	m := forwardInRE.FindStringSubmatch(r.stderr)
	if m == nil {
		t.Fatalf("no forward_in summary:\n%s", r.stderr)
	}
	if m[4] != "0" {
		t.Fatalf("the records went round until the host stopped routing them (%s messages): a loop\n%s", m[1], lastLines(r.stderr, 8))
	}
	return r, readDownstream(t, down)
}

func threeLines(t *testing.T) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "three.log")
	lines := "Jun 16 07:37:26 web01 sshd[4409]: Failed password for invalid user admin from 203.0.113.45 port 50122 ssh2\n" +
		"Jun 16 07:37:27 web01 sshd[4409]: Accepted password for bob from 192.0.2.1 port 22 ssh2\n" +
		"Jun 16 07:37:28 web01 sshd[4410]: Invalid user x from 192.0.2.3 port 22\n"
	if err := os.WriteFile(f, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestLoopGuardMatchEverything: with Match * the output also catches the
// records it re-emits. 3 lines give exactly 3 records downstream, each
// enriched once; the ones that came back are dropped, counted, and one
// warning (not one per record or flush) says how to fix the Match.
func TestLoopGuardMatchEverything(t *testing.T) {
	r, down := loopRun(t, "-p", "forward_address=unix://SOCK", "-p", "time_zone=UTC", "-L", "debug", "-M", "*", "-f", threeLines(t))
	if len(down) != 3 {
		t.Fatalf("%d records downstream, want 3", len(down))
	}
	for _, d := range down {
		if d.tag != "enriched.ssh.raw" || path(d.body, "event", "code") == nil || d.meta["sshenrich"] == nil {
			t.Errorf("downstream record %s %v %v", d.tag, d.meta, d.body)
		}
		if _, nested := path(d.body, "sshenrich", "sshenrich").(map[string]any); nested {
			t.Errorf("enriched twice: %v", d.body)
		}
	}
	if n := strings.Count(r.stderr, loopWarning); n != 1 {
		t.Errorf("the loop warning was logged %d times, want once:\n%s", n, r.stderr)
	}
	for _, want := range []string{`under tag "enriched.ssh.raw"`, `tag_prefix "enriched."`, `Match_Regex ^(?!enriched\.).*`, "[output:sshenrich:sshenrich.0]"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the warning lacks %q:\n%s", want, r.stderr)
		}
	}
	// 3 chunks of one record, each re-emitted once and routed back once.
	if r.summary["chunks"] != 6 || r.summary["ok"] != 6 {
		t.Errorf("summary %v: want 3 flushes of the lines and 3 of what came back, all FLB_OK", r.summary)
	}
	if n := strings.Count(r.stderr, "1 records (0 classified, 0 unclassified, 0 passed through, 1 looped back and dropped,"); n != 3 {
		t.Errorf("%d flushes say they dropped a looped record, want 3:\n%s", n, r.stderr)
	}
}

// TestLoopGuardTwoInstances: two outputs that both match everything
// each enrich the input once; what either re-emits is dropped by both
// when it comes back, and each warns once, naming itself.
func TestLoopGuardTwoInstances(t *testing.T) {
	r, down := loopRun(t,
		"-p", "forward_address=unix://SOCK", "-p", "tag_prefix=a.", "-p", "instance_name=first", "-M", "*",
		"-i", "-p", "forward_address=unix://SOCK", "-p", "tag_prefix=b.", "-p", "instance_name=second", "-M", "*",
		"-f", threeLines(t))
	byTag := map[string]int{}
	for _, d := range down {
		byTag[d.tag]++
	}
	if len(down) != 6 || byTag["a.ssh.raw"] != 3 || byTag["b.ssh.raw"] != 3 {
		t.Errorf("downstream by tag %v, want 3 under each instance's tag", byTag)
	}
	for _, name := range []string{"first", "second"} {
		if n := strings.Count(r.stderr, "[output:sshenrich:"+name+"] records this output "+loopWarning); n != 1 {
			t.Errorf("instance %s warned %d times, want once", name, n)
		}
	}
}

// TestLoopGuardFixedTag: with a fixed tag the warning names it and the
// fix excludes it.
func TestLoopGuardFixedTag(t *testing.T) {
	r, down := loopRun(t, "-p", "forward_address=unix://SOCK", "-p", "tag=ssh.enriched", "-M", "ssh.*", "-f", threeLines(t))
	if len(down) != 3 || down[0].tag != "ssh.enriched" {
		t.Fatalf("%d records downstream", len(down))
	}
	if !strings.Contains(r.stderr, `tag "ssh.enriched"`) || !strings.Contains(r.stderr, `Match_Regex ^(?!ssh\.enriched$).*`) {
		t.Errorf("the warning does not name the fixed tag:\n%s", r.stderr)
	}
}

// TestLoopGuardNarrowMatch: a Match that catches only the input never
// sees its own records, and warns of nothing.
func TestLoopGuardNarrowMatch(t *testing.T) {
	r, down := loopRun(t, "-p", "forward_address=unix://SOCK", "-M", "ssh.*", "-f", threeLines(t))
	if len(down) != 3 || strings.Contains(r.stderr, loopWarning) || r.summary["chunks"] != 3 {
		t.Errorf("%d records downstream, summary %v, log:\n%s", len(down), r.summary, r.stderr)
	}
}

// TestLoopGuardForeignRecords: records that only look enriched are not
// dropped. One enriched by another Fluent Bit (another run's mark) goes
// on unchanged, once; one with an event.code of its own and no
// sshenrich fields is enriched, its event map kept. Each reaches
// downstream exactly once although Match catches everything.
func TestLoopGuardForeignRecords(t *testing.T) {
	raw := filepath.Join(t.TempDir(), "foreign.bin")
	elsewhere := map[string]any{"message": "Invalid user x from 192.0.2.1 port 22", "event": map[string]any{"code": "SSHD-0042"},
		"sshenrich": map[string]any{"family": "openssh"}}
	lookalike := map[string]any{"message": "Invalid user y from 192.0.2.2 port 22", "event": map[string]any{"code": "4625", "provider": "winlog"}}
	data := cat(
		v2(eventTime(1718523450, 1), mp(map[string]any{"sshenrich": "0123456789abcdef"}), mp(elsewhere)),
		v2(eventTime(1718523450, 2), mp(map[string]any{}), mp(lookalike)),
	)
	if err := os.WriteFile(raw, data, 0o644); err != nil {
		t.Fatal(err)
	}
	r, down := loopRun(t, "-p", "forward_address=unix://SOCK", "-M", "*", "-T", "aggregated.ssh", "-r", raw)
	if len(down) != 2 {
		t.Fatalf("%d records downstream, want 2", len(down))
	}
	if path(down[0].body, "sshenrich", "family") != "openssh" || len(down[0].body) != len(elsewhere) || path(down[0].body, "event", "code") != "SSHD-0042" {
		t.Errorf("the record enriched elsewhere changed: %v", down[0].body)
	}
	if path(down[1].body, "event", "code") != "4625" || path(down[1].body, "event", "provider") != "winlog" ||
		path(down[1].body, "sshenrich", "event", "code") != "SSHD-0042" || path(down[1].body, "user", "name") != "y" {
		t.Errorf("the look-alike was not enriched with its event kept: %v", down[1].body)
	}
	if strings.Count(r.stderr, loopWarning) != 1 {
		t.Errorf("want one warning when both come back:\n%s", r.stderr)
	}
}
