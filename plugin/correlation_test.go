package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fluent/fluent-bit-go/output"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/sshenrich/sshenrich/plugin/chunk"
	"github.com/sshenrich/sshenrich/test/fwdserver"
)

// bruteChunk is a chunk of n failed passwords from one source, 5s apart
// (CORR-0001 is raised at the eighth).
func bruteChunk(t testing.TB, n int, source string) []byte {
	var data []byte
	for i := range n {
		line := fmt.Sprintf("2025-06-16T07:00:%02dZ web01 sshd[%d]: Failed password for user%d from %s port %d ssh2", i*5, 100+i, i, source, 40000+i)
		data = append(data, event(t, map[string]any{"log": line}, nil)...)
	}
	return data
}

// alertCodes returns the codes of the alert records among recs.
func alertCodes(recs []map[string]any) []string {
	var codes []string
	for _, r := range recs {
		if dig(r, "event", "kind") == "alert" {
			codes = append(codes, fmt.Sprint(dig(r, "event", "code")))
		}
	}
	return codes
}

// TestRetriedChunkAlertsOnce: a chunk whose delivery fails (no server:
// FLB_RETRY) is observed again when Fluent Bit retries it, as if for the
// first time: the alert reaches the server once, the engine counts it
// once, and the same chunk again later is suppressed.
func TestRetriedChunkAlertsOnce(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "fwd.sock")
	in := newTestInstance(t, map[string]string{"forward_address": "unix://" + sock, "time_zone": "UTC",
		"connect_timeout": "200ms", "ack_timeout": "2s", "metrics_listen": "127.0.0.1:0", "instance_name": "corr"})
	data := bruteChunk(t, 8, "203.0.113.50")

	if ret := in.flush(data, "ssh.raw"); ret != output.FLB_RETRY {
		t.Fatalf("no server: flush returned %d, want FLB_RETRY", ret)
	}
	if s := in.engine.Stats(); s.Alerts != 0 || s.Facts != 0 || s.Sessions != 0 || s.TransactionsAbort != 1 {
		t.Fatalf("after FLB_RETRY the engine kept the chunk: %+v", s)
	}

	srv, err := fwdserver.Start(fwdserver.Options{Network: "unix", Address: sock, Decode: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if ret := in.flush(data, "ssh.raw"); ret != output.FLB_OK {
		t.Fatalf("retry: flush returned %d, want FLB_OK", ret)
	}
	var recs []map[string]any
	var tags []string
	for _, ev := range srv.Events() {
		recs = append(recs, ev.Body)
		tags = append(tags, ev.Tag)
	}
	if got := alertCodes(recs); len(recs) != 9 || strings.Join(got, ",") != "CORR-0001" {
		t.Fatalf("%d records downstream, alerts %v; want 8 lines and CORR-0001 once", len(recs), got)
	}
	for _, tag := range tags {
		if tag != "enriched.ssh.raw" {
			t.Errorf("an event under tag %q", tag)
		}
	}
	alert := recs[len(recs)-1]
	if dig(alert, "source", "ip") != "203.0.113.50" || dig(alert, "sshenrich", "count") != int8(8) || dig(alert, "sshenrich", "trigger") != "SSHD-0032" {
		t.Errorf("alert record %v", alert)
	}
	// Its event.id derives from the line that raised it: another than
	// the line's, the same on every replay of the chunk.
	id, _ := dig(alert, "event", "id").(string)
	if len(id) != 22 || id == dig(recs[len(recs)-2], "event", "id") {
		t.Errorf("alert event.id %q, the line's %v", id, dig(recs[len(recs)-2], "event", "id"))
	}
	w := testWorker(t, nil)
	w.e.Begin()
	w.enrichChunk(data, "ssh.raw", quietLog)
	w.e.Abort()
	w.e.Begin()
	w.enrichChunk(data, "ssh.raw", quietLog)
	w.e.Commit()
	replayed := decodeOut(t, w.out)
	if got := dig(replayed[len(replayed)-1], "event", "id"); got != id {
		t.Errorf("the replayed alert's event.id %v, the delivered one's %q", got, id)
	}
	if s := in.engine.Stats(); s.Alerts != 1 || s.Facts != 8 {
		t.Errorf("after delivery: %+v", s)
	}

	// Another chunk of the same attempts within the suppression period:
	// counted, no second alert.
	if ret := in.flush(data, "ssh.raw"); ret != output.FLB_OK {
		t.Fatalf("third flush returned %d", ret)
	}
	if n := len(alertCodes(bodies(srv))); n != 1 {
		t.Errorf("%d alerts downstream after a repeat within the suppression period, want 1", n)
	}
	if s := in.engine.Stats(); s.Alerts != 1 || s.Suppressed == 0 {
		t.Errorf("after the repeat: %+v", s)
	}

	m := scrapeMetrics(t, in.metrics.Addr())
	for name, want := range map[string]float64{
		`sshenrich_correlation_alerts_total{output="corr"}`:                     1,
		`sshenrich_correlation_facts_total{output="corr"}`:                      16,
		`sshenrich_correlation_aborts_total{output="corr"}`:                     1,
		`sshenrich_correlation_records{output="corr",table="counters"}`:         float64(in.engine.Stats().Counters),
		`sshenrich_correlation_evictions_total{output="corr",table="sessions"}`: 0,
	} {
		if got, ok := m[name]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, want)
		}
	}
	if m[`sshenrich_correlation_suppressed_total{output="corr"}`] == 0 || m[`sshenrich_correlation_clock_timestamp_seconds{output="corr"}`] < 1.75e9 {
		t.Errorf("suppressed %v, clock %v", m[`sshenrich_correlation_suppressed_total{output="corr"}`], m[`sshenrich_correlation_clock_timestamp_seconds{output="corr"}`])
	}
}

// decodeAny is decodeOut for outputs that hold bodies other than maps
// (as nil maps).
func decodeAny(t *testing.T, out []byte) []map[string]any {
	t.Helper()
	var recs []map[string]any
	d := chunk.NewDecoder(out)
	for d.Next() {
		var v any
		if err := msgpack.Unmarshal(d.Event().Body, &v); err != nil {
			t.Fatalf("output body: %v", err)
		}
		m, _ := v.(map[string]any)
		recs = append(recs, m)
	}
	if d.Err() != nil {
		t.Fatal(d.Err())
	}
	return recs
}

func bodies(s *fwdserver.Server) []map[string]any {
	var out []map[string]any
	for _, ev := range s.Events() {
		out = append(out, ev.Body)
	}
	return out
}

// TestPanicAbortsCorrelation: a panic while enriching re-emits the chunk
// unchanged and the engine forgets what it had observed of it; the next
// attempt raises the alert.
func TestPanicAbortsCorrelation(t *testing.T) {
	srv, err := fwdserver.Start(fwdserver.Options{Network: "tcp", Address: "127.0.0.1:0", Decode: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	in := newTestInstance(t, map[string]string{"forward_address": srv.URL(), "time_zone": "UTC"})
	data := bruteChunk(t, 8, "203.0.113.51")
	n := 0
	panicHook = func() {
		if n++; n == 8 { // after seven lines were observed
			panic("test")
		}
	}
	ret := in.flush(data, "ssh.raw")
	panicHook = nil
	if ret != output.FLB_OK {
		t.Fatalf("flush after a panic returned %d", ret)
	}
	if s := in.engine.Stats(); s.Facts != 0 || s.TransactionsAbort != 1 {
		t.Errorf("the engine kept a panicked chunk: %+v", s)
	}
	if got := alertCodes(bodies(srv)); len(got) != 0 {
		t.Errorf("alerts from a chunk re-emitted unchanged: %v", got)
	}
	if ret := in.flush(data, "ssh.raw"); ret != output.FLB_OK {
		t.Fatalf("second flush returned %d", ret)
	}
	if got := alertCodes(bodies(srv)); strings.Join(got, ",") != "CORR-0001" {
		t.Errorf("alerts %v, want CORR-0001 once", got)
	}
}

// TestWorkerCorrelation: records through the flush path with correlation
// on and off, bad input among them, in both styles.
func TestWorkerCorrelation(t *testing.T) {
	login := []string{
		"2025-06-16T07:37:22Z web01 sshd[4409]: Connection from 198.51.100.23 port 40222 on 192.0.2.11 port 22",
		"2025-06-16T07:37:23Z web01 sshd[4409]: Accepted password for bob from 198.51.100.23 port 40222 ssh2",
		"2025-06-16T07:37:23Z web01 sshd[4409]: pam_unix(sshd:session): session opened for user bob(uid=1000) by (uid=0)",
		// Within correlation_ended_ttl (2m) of its last line: the disconnect
		// below, with no time of its own, ended the session at the clock.
		"2025-06-16T07:38:53Z web01 sshd[4409]: pam_unix(sshd:session): session closed for user bob",
	}
	var data []byte
	data = append(data, event(t, map[string]any{"log": login[0]}, nil)...)
	data = append(data, event(t, []any{"not", "a", "map"}, nil)...)              // passed through
	data = append(data, event(t, map[string]any{"other": "no message"}, nil)...) // no message: unclassified
	data = append(data, event(t, map[string]any{"log": 42}, nil)...)             // not a string
	// No time in the line: the engine takes it at its clock.
	data = append(data, event(t, map[string]any{"log": "web01 sshd[4409]: Received disconnect from 198.51.100.23 port 40222:11: bye"}, nil)...)
	for _, l := range login[1:] {
		data = append(data, event(t, map[string]any{"log": l}, nil)...)
	}
	tests := []struct {
		name string
		kv   map[string]string
		ecs  bool
		on   bool
	}{
		{"ecs", nil, true, true},
		{"flat", map[string]string{"output_style": "flat"}, false, true},
		{"correlation off", map[string]string{"correlation": "off"}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := testWorker(t, tt.kv)
			w.e.Begin()
			res := w.enrichChunk(data, "ssh.raw", quietLog)
			w.e.Commit()
			recs := decodeAny(t, w.out)
			if len(recs) != 8 || res.records != 8 || res.passed != 1 || res.alerts != 0 {
				t.Fatalf("%v, %d out", res, len(recs))
			}
			get := func(r map[string]any, path ...string) any {
				if tt.ecs {
					return dig(r, path...)
				}
				return r[strings.Join(path, "_")]
			}
			ids := map[any]int{}
			for i, r := range recs {
				if i == 1 {
					continue // the non-map body
				}
				id := get(r, "sshenrich", "session", "id")
				if !tt.on {
					if id != nil || get(r, "sshenrich", "inferred") != nil {
						t.Errorf("record %d has correlation fields with correlation off: %v", i, r)
					}
					continue
				}
				if i == 2 || i == 3 {
					if id != nil {
						t.Errorf("record %d without a line has a session: %v", i, id)
					}
					continue
				}
				ids[id]++
			}
			if !tt.on {
				return
			}
			if len(ids) != 1 || ids[nil] != 0 {
				t.Errorf("the login's lines have session ids %v, want one", ids)
			}
			last := recs[len(recs)-1]
			if get(last, "source", "ip") != "198.51.100.23" || get(last, "event", "duration") == nil {
				t.Errorf("closing line: %v", last)
			}
			if d, ok := get(last, "event", "duration").(int64); !ok || time.Duration(d) != 91*time.Second {
				t.Errorf("duration %v (%T)", get(last, "event", "duration"), get(last, "event", "duration"))
			}
		})
	}
}

// TestWorkerDedup: an AX poll seen twice in one record (show ssh
// logging run twice); mark marks the second poll's lines, drop leaves
// them out, off keeps them.
func TestWorkerDedup(t *testing.T) {
	poll := "Date 2025/06/16 08:00:00 UTC\n" +
		"2025/06/16 07:37:30 sshd[4409] Accepted password for staff from 192.0.2.77 port 4226\n" +
		"2025/06/16 07:37:26 sshd[4409] Failed none for staff from 192.0.2.77 port 4226\n"
	second := strings.Replace(poll, "08:00:00", "08:05:00", 1)
	data := append(event(t, map[string]any{"log": "> show ssh logging\n" + poll}, nil),
		event(t, map[string]any{"log": "> show ssh logging\n" + second}, nil)...)
	tests := []struct {
		dedup                  string
		events, marked, repeat int
	}{
		{"mark", 8, 2, 0},
		{"drop", 6, 0, 2},
		{"off", 8, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.dedup, func(t *testing.T) {
			w := testWorker(t, map[string]string{"dedup": tt.dedup})
			res := w.enrichChunk(data, "ssh.raw", quietLog)
			recs := decodeOut(t, w.out)
			marked := 0
			for _, r := range recs {
				if dig(r, "sshenrich", "repeat") == true {
					marked++
				}
			}
			if len(recs) != tt.events || marked != tt.marked || res.repeats != tt.repeat {
				t.Errorf("%d events, %d marked, %v; want %d, %d, %d dropped", len(recs), marked, res, tt.events, tt.marked, tt.repeat)
			}
			n := 0
			for _, b := range w.batches {
				n += b.count
			}
			if n != len(recs) {
				t.Errorf("batches count %d events, out holds %d", n, len(recs))
			}
		})
	}
}
