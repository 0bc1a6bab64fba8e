package main

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/sshenrich/sshenrich/correlate"
	"github.com/sshenrich/sshenrich/plugin/chunk"
	"github.com/sshenrich/sshenrich/plugin/config"
	"github.com/sshenrich/sshenrich/plugin/enrich"
	pmetrics "github.com/sshenrich/sshenrich/plugin/metrics"
	"github.com/sshenrich/sshenrich/plugin/record"
	"github.com/sshenrich/sshenrich/rules"
	"github.com/sshenrich/sshenrich/test/loggen"
)

// quietLog logs nowhere: no Fluent Bit api behind it.
var quietLog = &logger{}

func testWorker(t testing.TB, kv map[string]string) *worker {
	t.Helper()
	if kv == nil {
		kv = map[string]string{}
	}
	if kv["time_zone"] == "" {
		kv["time_zone"] = "UTC"
	}
	cfg, err := config.Parse(config.MapGetter(kv), 0)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	eng, err := correlate.New(cat, cfg.Correlation)
	if err != nil {
		t.Fatal(err)
	}
	w := newWorker(cat, cfg, eng)
	w.e.SetNow(time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC))
	return w
}

func event(t testing.TB, body any, meta map[string]any) []byte {
	t.Helper()
	if meta == nil {
		meta = map[string]any{}
	}
	b, err := msgpack.Marshal([]any{[]any{uint32(1718523450), meta}, body})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodeOut reads the worker's output events back into maps.
func decodeOut(t *testing.T, out []byte) []map[string]any {
	t.Helper()
	var recs []map[string]any
	d := chunk.NewDecoder(out)
	for d.Next() {
		var m map[string]any
		if err := msgpack.Unmarshal(d.Event().Body, &m); err != nil {
			t.Fatalf("output body: %v", err)
		}
		recs = append(recs, m)
	}
	if d.Err() != nil {
		t.Fatal(d.Err())
	}
	return recs
}

// mustBody is the body of the chunk's first event.
func mustBody(t *testing.T, data []byte) []byte {
	t.Helper()
	d := chunk.NewDecoder(data)
	if !d.Next() {
		t.Fatal(d.Err())
	}
	return d.Event().Body
}

func dig(m map[string]any, keys ...string) any {
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

func TestWorkerRecords(t *testing.T) {
	const failed = "Failed password for invalid user admin from 203.0.113.45 port 50122 ssh2"
	tests := []struct {
		name   string
		body   any
		check  func(t *testing.T, recs []map[string]any)
		passed int
	}{
		{"syslog line under log", map[string]any{"log": "<38>Jun 16 07:37:26 web01 sshd[4409]: " + failed, "stream": "stdout"},
			func(t *testing.T, r []map[string]any) {
				// In ECS, log is an object: the line moves to message.
				if dig(r[0], "event", "code") != "SSHD-0032" || r[0]["stream"] != "stdout" || r[0]["message"] != "<38>Jun 16 07:37:26 web01 sshd[4409]: "+failed {
					t.Errorf("%v", r[0])
				}
				if dig(r[0], "log", "syslog", "facility", "name") != "auth" || dig(r[0], "sshenrich", "moved") != nil || dig(r[0], "sshenrich", "original") != nil {
					t.Errorf("log group not at its place: %v", r[0])
				}
			}, 0},
		{"message key fallback", map[string]any{"message": failed},
			func(t *testing.T, r []map[string]any) {
				if dig(r[0], "event", "code") != "SSHD-0032" || dig(r[0], "log", "syslog") != nil {
					t.Errorf("%v", r[0])
				}
			}, 0},
		{"log wins over message", map[string]any{"MESSAGE": "x", "message": "y", "log": failed},
			func(t *testing.T, r []map[string]any) {
				if dig(r[0], "event", "code") != "SSHD-0032" {
					t.Errorf("%v", r[0])
				}
			}, 0},
		{"journald fields", map[string]any{"MESSAGE": failed, "_HOSTNAME": "j1", "SYSLOG_IDENTIFIER": "sshd", "_PID": "77", "PRIORITY": "5", "SYSLOG_FACILITY": "10"},
			func(t *testing.T, r []map[string]any) {
				if dig(r[0], "host", "hostname") != "j1" || dig(r[0], "process", "name") != "sshd" ||
					dig(r[0], "log", "syslog", "severity", "name") != "notice" || dig(r[0], "log", "syslog", "facility", "name") != "authpriv" ||
					dig(r[0], "sshenrich", "envelope") != "structured" {
					t.Errorf("%v", r[0])
				}
				if p := dig(r[0], "process", "pid"); p != int8(77) {
					t.Errorf("pid %v (%T)", p, p)
				}
			}, 0},
		{"systemd input with Strip_Underscores", map[string]any{"MESSAGE": failed, "HOSTNAME": "j2", "SYSLOG_IDENTIFIER": "sshd-session", "PID": "78", "PRIORITY": "6"},
			func(t *testing.T, r []map[string]any) {
				if dig(r[0], "event", "code") != "SSHD-0032" || dig(r[0], "host", "hostname") != "j2" || dig(r[0], "process", "name") != "sshd-session" || dig(r[0], "process", "pid") != int8(78) {
					t.Errorf("%v", r[0])
				}
			}, 0},
		{"systemd input with Lowercase", map[string]any{"message": failed, "_hostname": "j3", "syslog_identifier": "sshd", "_pid": "79", "priority": "6"},
			func(t *testing.T, r []map[string]any) {
				if dig(r[0], "event", "code") != "SSHD-0032" || dig(r[0], "host", "hostname") != "j3" || dig(r[0], "process", "pid") != int8(79) ||
					dig(r[0], "log", "syslog", "severity", "name") != "info" {
					t.Errorf("%v", r[0])
				}
			}, 0},
		{"systemd input with both", map[string]any{"message": failed, "hostname": "j4", "syslog_identifier": "sshd", "pid": "80"},
			func(t *testing.T, r []map[string]any) {
				if dig(r[0], "event", "code") != "SSHD-0032" || dig(r[0], "process", "pid") != int8(80) {
					t.Errorf("%v", r[0])
				}
			}, 0},
		{"executable name when there is no identifier", map[string]any{"MESSAGE": failed, "_COMM": "sshd-session", "_PID": "81"},
			func(t *testing.T, r []map[string]any) {
				if dig(r[0], "process", "name") != "sshd-session" || dig(r[0], "sshenrich", "family") != "openssh" {
					t.Errorf("%v", r[0])
				}
			}, 0},
		{"program scopes the catalog", map[string]any{"MESSAGE": "WARNING: Failed password for root from 192.0.2.9 port 22 ssh2", "SYSLOG_IDENTIFIER": "openvpn"},
			func(t *testing.T, r []map[string]any) {
				// Tectia's "WARNING: <message>" must not claim an OpenVPN line.
				if c := dig(r[0], "event", "code"); c != "UNCLASSIFIED" || dig(r[0], "sshenrich", "family") != "openvpn" {
					t.Errorf("code %v: %v", c, r[0])
				}
			}, 0},
		{"syslog input fields", map[string]any{"message": failed, "host": "h2", "ident": "sshd", "pid": 12, "pri": "86"},
			func(t *testing.T, r []map[string]any) {
				// The envelope keys are in their ECS places, and dropped.
				if dig(r[0], "host", "hostname") != "h2" || dig(r[0], "process", "pid") != int8(12) || dig(r[0], "log", "syslog", "priority") != int8(86) ||
					r[0]["ident"] != nil || r[0]["pid"] != nil || r[0]["pri"] != nil || dig(r[0], "sshenrich", "original") != nil {
					t.Errorf("%v", r[0])
				}
			}, 0},
		{"message missing", map[string]any{"other": "x"},
			func(t *testing.T, r []map[string]any) {
				if dig(r[0], "event", "code") != "UNCLASSIFIED" || dig(r[0], "sshenrich", "unclassified_reason") != "no_message" || r[0]["other"] != "x" {
					t.Errorf("%v", r[0])
				}
			}, 0},
		{"message not a string", map[string]any{"log": 42},
			func(t *testing.T, r []map[string]any) {
				if dig(r[0], "sshenrich", "unclassified_reason") != "not_string" || r[0]["log"] != nil || dig(r[0], "sshenrich", "original", "log") != int8(42) {
					t.Errorf("%v", r[0])
				}
			}, 0},
		{"message is binary", map[string]any{"log": []byte(failed)},
			func(t *testing.T, r []map[string]any) {
				if dig(r[0], "event", "code") != "SSHD-0032" {
					t.Errorf("binary message not read as text: %v", r[0])
				}
			}, 0},
		{"body not a map", []any{"a", "b"},
			func(t *testing.T, r []map[string]any) {}, 1},
		{"already enriched", map[string]any{"log": failed, "sshenrich": map[string]any{"envelope": "bare"}},
			func(t *testing.T, r []map[string]any) {
				if _, ok := r[0]["event"]; ok {
					t.Errorf("enriched twice: %v", r[0])
				}
			}, 1},
		{"multi-line output is one record per line", map[string]any{"log": "> show ssh logging\nDate 2024/06/16 08:00:00 UTC\n2024/06/16 07:37:30 sshd[4409] Accepted password for staff from 10.0.0.1 port 4226\n", "host": "sw1"},
			func(t *testing.T, r []map[string]any) {
				if len(r) != 3 {
					t.Fatalf("%d records", len(r))
				}
				if r[2]["message"] != "2024/06/16 07:37:30 sshd[4409] Accepted password for staff from 10.0.0.1 port 4226" || r[2]["log"] != nil ||
					dig(r[2], "event", "code") != "SSHD-0003" || dig(r[2], "host", "hostname") != "sw1" || dig(r[1], "event", "code") != "AX-0003" {
					t.Errorf("%v", r)
				}
				// The Date header's zone applies to the line after it.
				if dig(r[2], "sshenrich", "timestamp") != "2024-06-16T07:37:30Z" {
					t.Errorf("timestamp %v", dig(r[2], "sshenrich", "timestamp"))
				}
			}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The full record, whose every group these cases look at.
			w := testWorker(t, map[string]string{"detail": "full"})
			in := event(t, tt.body, map[string]any{"k": "v"})
			res := w.enrichChunk(in, "ssh.raw", quietLog)
			if res.err != nil || res.passed != tt.passed {
				t.Fatalf("result %v, err %v", res, res.err)
			}
			if tt.passed > 0 {
				d := chunk.NewDecoder(w.out)
				if !d.Next() || !bytes.Equal(d.Event().Body, mustBody(t, in)) {
					t.Errorf("passed-through record changed")
				}
			}
			if tt.passed == 0 {
				recs := decodeOut(t, w.out)
				if len(recs) == 0 {
					t.Fatal("no output")
				}
				tt.check(t, recs)
			}
			// The metadata is kept, with the re-emission mark added.
			d := chunk.NewDecoder(w.out)
			for d.Next() {
				ev := d.Event()
				var meta map[string]any
				if err := msgpack.Unmarshal(ev.Meta, &meta); err != nil || !ev.V2 || meta["k"] != "v" || meta[enrich.MarkKey] != enrich.RunMark() {
					t.Errorf("metadata %v (%v)", meta, err)
				}
			}
		})
	}
}

// TestWorkerBatches: batches stay near max_payload_size and each one's
// count (the Forward "size" option) is the number of events it holds,
// also when a multi-line message becomes several events.
func TestWorkerBatches(t *testing.T) {
	w := testWorker(t, map[string]string{"max_payload_size": "2K"})
	var in []byte
	for i := range 100 {
		msg := "Failed password for root from 203.0.113.45 port 50122 ssh2"
		if i%10 == 0 {
			msg = "> show ssh logging\nDate 2024/06/16 08:00:00 UTC\n2024/06/16 07:37:30 sshd[1] Accepted password for a from 10.0.0.1 port 1\n"
		}
		in = append(in, event(t, map[string]any{"log": msg}, nil)...)
	}
	const want = 90 + 10*3
	res := w.enrichChunk(in, "ssh.raw", quietLog)
	if res.records != want || len(w.batches) < 10 {
		t.Fatalf("%v in %d batches", res, len(w.batches))
	}
	total, prev := 0, 0
	for _, b := range w.batches {
		if b.start != prev || b.end-b.start > 2048+2048 {
			t.Errorf("batch %+v", b)
		}
		d := chunk.NewDecoder(w.out[b.start:b.end])
		n := 0
		for d.Next() {
			n++
		}
		if n != b.count || d.Err() != nil {
			t.Errorf("batch holds %d events, says %d (%v)", n, b.count, d.Err())
		}
		total += n
		prev = b.end
	}
	// 90 failed passwords from one source raise brute-force alerts:
	// extra events in the batches.
	if res.alerts == 0 || total != want+res.alerts || prev != len(w.out) {
		t.Errorf("%d events in batches (%d alerts), out %d/%d", total, res.alerts, prev, len(w.out))
	}
}

func TestWorkerMalformedChunk(t *testing.T) {
	w := testWorker(t, nil)
	good := event(t, map[string]any{"log": "Invalid user x from 192.0.2.1 port 22"}, nil)
	in := append(append([]byte(nil), good...), good[:len(good)-3]...)
	res := w.enrichChunk(in, "ssh.raw", quietLog)
	if res.records != 1 || res.err == nil || !strings.Contains(res.err.Error(), "event 2") {
		t.Errorf("%v err %v", res, res.err)
	}
	if len(decodeOut(t, w.out)) != 1 {
		t.Errorf("the good record before the bad one was not kept")
	}
}

func TestWorkerPanicPassesThrough(t *testing.T) {
	w := testWorker(t, nil)
	in := append(event(t, map[string]any{"log": "a"}, nil), event(t, map[string]any{"log": "b"}, nil)...)
	panicHook = func() { panic("test") }
	defer func() { panicHook = nil }()
	res := w.enrichChunk(in, "ssh.raw", quietLog)
	if res.passed != 2 || !bytes.Equal(w.out, in) {
		t.Errorf("after a panic: %v, out equal %v", res, bytes.Equal(w.out, in))
	}
}

// TestWorkerDoesNotAllocate: the flush path of a steady stream does not
// allocate, with correlation off and on (a transaction per chunk,
// committed or aborted). The engine's tables grow by doubling up to
// their bounds; small bounds and a warm-up reach the steady state,
// where a new session takes the place of an old one.
func TestWorkerDoesNotAllocate(t *testing.T) {
	small := map[string]string{"correlation_max_sessions": "1024", "correlation_max_counters": "1024",
		"correlation_max_distinct": "1024", "dedup_max_lines": "1024"}
	tests := []struct {
		name    string
		kv      map[string]string
		metrics bool
		end     func(*enrich.Enricher)
	}{
		{"correlation off", map[string]string{"correlation": "off"}, false, nil},
		{"correlation off, metrics", map[string]string{"correlation": "off"}, true, nil},
		{"correlation on, commit", small, false, (*enrich.Enricher).Commit},
		{"correlation on, commit, metrics", small, true, (*enrich.Enricher).Commit},
		{"correlation on, abort", small, false, (*enrich.Enricher).Abort},
		{"correlation on, dedup drop", map[string]string{"correlation_max_sessions": "1024", "correlation_max_counters": "1024",
			"correlation_max_distinct": "1024", "dedup_max_lines": "1024", "dedup": "drop"}, false, (*enrich.Enricher).Commit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := testWorker(t, tt.kv)
			flushed := func() {}
			if tt.metrics {
				m := testMetrics(t, w)
				flushed = func() { m.Flushed(w.tally, 0, pmetrics.OK, time.Millisecond) }
			}
			in := mixedChunk(t, 500)
			flush := func() {
				w.e.Begin()
				w.enrichChunk(in, "ssh.raw", quietLog)
				if tt.end != nil {
					tt.end(w.e)
				}
				flushed()
			}
			for range 50 {
				flush()
			}
			// AllocsPerRun counts the whole process's allocations, and a
			// flush of 500 records is long enough for another goroutine (the
			// metrics server, a timer) to allocate now and then. An allocation
			// of the flush path shows in every measurement, so the least of
			// three is the flush path's own.
			allocs := testing.AllocsPerRun(5, flush)
			for range 2 {
				allocs = min(allocs, testing.AllocsPerRun(5, flush))
			}
			if allocs > 0 {
				t.Errorf("a 500-record chunk allocates %v times", allocs)
			}
		})
	}
}

// testMetrics gives w a Tally of an output served on a loopback port.
func testMetrics(t testing.TB, w *worker) *pmetrics.Output {
	t.Helper()
	cat, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	m, err := pmetrics.Register(pmetrics.Options{Listen: "127.0.0.1:0", Output: "bench", Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	w.setTally(m.NewTally())
	return m
}

func mixedChunk(t testing.TB, n int) []byte {
	var in []byte
	for _, l := range loggen.Lines(n, 1, false) {
		in = append(in, event(t, map[string]any{"log": string(l)}, nil)...)
	}
	return in
}

// BenchmarkFlushPath is the plugin's target: decode, enrich and encode a
// chunk of the mixed log, on one goroutine, a correlation transaction per
// chunk as the flush does; ecs+metrics also counts the records for
// metrics_listen and merges the counts once per chunk, ecs-nocorr has
// correlation off.
func BenchmarkFlushPath(b *testing.B) {
	for _, style := range []string{"ecs", "flat", "ecs+metrics", "ecs-nocorr"} {
		b.Run(style, func(b *testing.B) {
			kv := map[string]string{"output_style": strings.TrimSuffix(strings.TrimSuffix(style, "+metrics"), "-nocorr")}
			if strings.HasSuffix(style, "-nocorr") {
				kv["correlation"] = "off"
			}
			w := testWorker(b, kv)
			var m *pmetrics.Output // nil: off
			if strings.HasSuffix(style, "+metrics") {
				m = testMetrics(b, w)
			}
			in := mixedChunk(b, 1000)
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				w.e.Begin()
				w.enrichChunk(in, "ssh.raw", quietLog)
				w.e.Commit()
				m.Flushed(w.tally, 0, pmetrics.OK, time.Millisecond)
			}
			b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(testing.AllocsPerRun(1, func() { w.e.Begin(); w.enrichChunk(in, "ssh.raw", quietLog); w.e.Commit() }))/1000, "allocs/record")
		})
	}
}

// BenchmarkFlushPathChunkSize is BenchmarkFlushPath/ecs with the chunk
// sizes Fluent Bit flushes: its tail input fills chunks of about 2 MB,
// some 15,000 of these lines, where BenchmarkFlushPath takes 1,000. Each
// line of test/loggen's log is a session of its own (a new pid), so the
// engine's working set grows with the chunk: the per-record cost at
// 15,000 is what the worker thread pays inside Fluent Bit, beyond the
// Forward path (make bench-fluentbit). Without correlation the chunk
// size matters little.
func BenchmarkFlushPathChunkSize(b *testing.B) {
	for _, correlation := range []string{"on", "off"} {
		for _, n := range []int{1000, 15000} {
			b.Run(fmt.Sprintf("correlation=%s/records=%d", correlation, n), func(b *testing.B) {
				w := testWorker(b, map[string]string{"correlation": correlation})
				in := mixedChunk(b, n)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					w.e.Begin()
					w.enrichChunk(in, "ssh.raw", quietLog)
					w.e.Commit()
				}
				b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N*n), "ns/record")
			})
		}
	}
}

// TestWorkerMasks: with masking on, the record's user and address fields
// are masked and, with mask_message, so is the line under the message
// key; the other keys are untouched.
func TestWorkerMasks(t *testing.T) {
	line := "<38>Jun 16 07:37:26 web01 sshd[4409]: Failed password for invalid user hunter2 from 203.0.113.45 port 50122 ssh2"
	tests := []struct {
		name     string
		conf     map[string]string
		wantLine string
		wantUser string
		wantIP   string
	}{
		{"off", nil, line, "hunter2", "203.0.113.45"},
		{"fields only", map[string]string{"mask_ip": "prefix"}, line, "hunter2", "203.0.113.0"},
		{"fields and line", map[string]string{"mask_ip": "prefix", "mask_user": "hmac", "mask_key": "0123456789abcdef", "mask_message": "on"},
			"<38>Jun 16 07:37:26 web01 sshd[4409]: Failed password for invalid user u-", "u-", "203.0.113.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := testWorker(t, tt.conf)
			res := w.enrichChunk(event(t, map[string]any{"log": line, "stream": "stdout"}, nil), "ssh.raw", quietLog)
			recs := decodeOut(t, w.out)
			if res.records != 1 || len(recs) != 1 {
				t.Fatalf("%v, %d records", res, len(recs))
			}
			r := recs[0]
			got, _ := r["message"].(string)
			if !strings.HasPrefix(got, tt.wantLine) || r["stream"] != "stdout" {
				t.Errorf("message %q, stream %v; want it to start with %q", got, r["stream"], tt.wantLine)
			}
			if u, _ := dig(r, "user", "name").(string); !strings.HasPrefix(u, tt.wantUser) {
				t.Errorf("user.name %q, want %q", u, tt.wantUser)
			}
			if ip := dig(r, "source", "ip"); ip != tt.wantIP {
				t.Errorf("source.ip %v, want %s", ip, tt.wantIP)
			}
			if tt.conf["mask_message"] == "on" && (strings.Contains(got, "hunter2") || strings.Contains(got, "203.0.113.45")) {
				t.Errorf("the line still holds the user or address: %q", got)
			}
		})
	}
}

// TestWorkerLoopGuard: an event this process re-emitted (its metadata
// carries this run's mark) is dropped, not re-emitted again; so is an
// enriched v1 event (no metadata) under this output's own tag. Events
// that only look enriched go on: marked by another run, under another
// tag, or with an event.code of their own.
func TestWorkerLoopGuard(t *testing.T) {
	const line = "Failed password for root from 192.0.2.1 port 22 ssh2"
	enriched := map[string]any{"message": line, "event": map[string]any{"code": "SSHD-0032"}, "sshenrich": map[string]any{"family": "openssh"}}
	v1 := func(body any) []byte {
		b, err := msgpack.Marshal([]any{uint32(1718523450), body})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name   string
		conf   map[string]string
		tag    string
		in     []byte
		looped int
		passed int
		out    int
	}{
		{"re-emitted by this run", nil, "enriched.ssh.raw", event(t, enriched, map[string]any{enrich.MarkKey: enrich.RunMark()}), 1, 0, 0},
		{"re-emitted by this run, under any tag", nil, "other", event(t, map[string]any{"log": line}, map[string]any{enrich.MarkKey: enrich.RunMark()}), 1, 0, 0},
		{"a body that is not a map, re-emitted by this run", nil, "enriched.x", event(t, []any{1}, map[string]any{enrich.MarkKey: enrich.RunMark()}), 1, 0, 0},
		{"re-emitted by another run", nil, "enriched.ssh.raw", event(t, enriched, map[string]any{enrich.MarkKey: "0123456789abcdef"}), 0, 1, 1},
		{"enriched v1 under this output's tag", nil, "enriched.ssh.raw", v1(enriched), 1, 0, 0},
		{"enriched v1 under the fixed tag", map[string]string{"tag": "done"}, "done", v1(enriched), 1, 0, 0},
		{"enriched v1 under another tag", map[string]string{"tag": "done"}, "enriched.ssh.raw", v1(enriched), 0, 1, 1},
		{"enriched v2 without a mark under another tag", nil, "aggregated", event(t, enriched, nil), 0, 1, 1},
		{"an event.code of its own, no sshenrich", nil, "enriched.ssh.raw", event(t, map[string]any{"message": line, "event": map[string]any{"code": "4625"}}, nil), 0, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := testWorker(t, tt.conf)
			res := w.enrichChunk(tt.in, tt.tag, quietLog)
			d := chunk.NewDecoder(w.out)
			n := 0
			for d.Next() {
				n++
				ev := d.Event()
				if mark, _ := chunk.MetaString(ev.Meta, enrich.MarkKey); ev.V2 && string(mark) != enrich.RunMark() {
					t.Errorf("re-emitted event not marked by this run: %q", mark)
				}
				if tt.passed > 0 && !bytes.Equal(ev.Body, mustBody(t, tt.in)) {
					t.Errorf("passed-through body changed")
				}
			}
			if res.looped != tt.looped || res.passed != tt.passed || n != tt.out || res.records != 1 {
				t.Errorf("%v, %d events out; want %d looped, %d passed, %d out", res, n, tt.looped, tt.passed, tt.out)
			}
			if tt.out == 0 && len(w.batches) != 0 {
				t.Errorf("%d batches for nothing to send", len(w.batches))
			}
		})
	}
}

// TestWorkerLoopGuardGroups: an OTLP group whose records all came back
// is dropped with its markers; a group with a record to send keeps
// them, and so does a group that had no records to begin with.
func TestWorkerLoopGuardGroups(t *testing.T) {
	w := testWorker(t, nil)
	mark := map[string]any{enrich.MarkKey: enrich.RunMark()}
	start := func() []byte {
		b, _ := msgpack.Marshal([]any{[]any{&msgpack.RawMessage{0xd7, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}, map[string]any{}}, map[string]any{"resource": map[string]any{}}})
		return b
	}
	end := func() []byte {
		b, _ := msgpack.Marshal([]any{[]any{&msgpack.RawMessage{0xd7, 0, 0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 0}, map[string]any{}}, map[string]any{}})
		return b
	}
	looped := event(t, map[string]any{"log": "x"}, mark)
	fresh := event(t, map[string]any{"log": "Invalid user a from 192.0.2.1 port 22"}, nil)
	tests := []struct {
		name string
		in   [][]byte
		out  int
	}{
		{"all looped", [][]byte{start(), looped, looped, end()}, 0},
		{"one fresh", [][]byte{start(), looped, fresh, end()}, 3},
		{"empty group", [][]byte{start(), end()}, 2},
		{"looped group then a fresh one", [][]byte{start(), looped, end(), start(), fresh, end()}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := w.enrichChunk(bytes.Join(tt.in, nil), "enriched.x", quietLog)
			d := chunk.NewDecoder(w.out)
			n := 0
			for d.Next() {
				n++
			}
			total := 0
			for _, b := range w.batches {
				total += b.count
			}
			if n != tt.out || total != n || d.Err() != nil || res.err != nil {
				t.Errorf("%d events out (batches say %d, %v), want %d", n, total, d.Err(), tt.out)
			}
		})
	}
}

// TestWorkerTimeFromLog: the event time is the line's when the line
// writes its year, Fluent Bit's otherwise, and always with time_from_log
// off. Stdout emit writes no mark: nothing it writes can come back.
func TestWorkerTimeFromLog(t *testing.T) {
	const fb = 1718523450 // the time event() gives
	tests := []struct {
		line      string
		on, off   int64
		nsecOn    int64
		stdoutToo bool
	}{
		{"2024-06-17T10:00:00.25+09:00 web1 sshd[1]: Invalid user a from 192.0.2.1 port 22", 1718586000, fb, 250000000, true},
		{"<38>1 2024-06-17T01:00:00Z web1 sshd 1 - - Invalid user a from 192.0.2.1 port 22", 1718586000, fb, 0, false},
		{"Jun 17 01:00:00 web1 sshd[1]: Invalid user a from 192.0.2.1 port 22", fb, fb, 0, false},
		{"Jun 17 01:00:00 2024 web1 sshd[1]: Invalid user a from 192.0.2.1 port 22", 1718586000, fb, 0, false},
		{"Invalid user a from 192.0.2.1 port 22", fb, fb, 0, false},
		{"1970-01-01T00:00:00Z web1 sshd[1]: x", 0, fb, 0, false},
		{"2200-01-01T00:00:00Z web1 sshd[1]: x", fb, fb, 0, false}, // beyond an EventTime's seconds
	}
	for _, tt := range tests {
		for _, conf := range []map[string]string{{}, {"time_from_log": "off"}, {"emit": "stdout"}} {
			w := testWorker(t, conf)
			w.enrichChunk(event(t, map[string]any{"log": tt.line}, nil), "ssh.raw", quietLog)
			d := chunk.NewDecoder(w.out)
			if !d.Next() {
				t.Fatal(d.Err())
			}
			ev := d.Event()
			want, nsec := tt.on, tt.nsecOn
			if conf["time_from_log"] == "off" {
				want, nsec = tt.off, 0
			}
			if ev.Sec != want || ev.Nsec != nsec {
				t.Errorf("%q %v: time %d.%09d, want %d.%09d", tt.line, conf, ev.Sec, ev.Nsec, want, nsec)
			}
			_, marked := chunk.MetaString(ev.Meta, enrich.MarkKey)
			if marked != (conf["emit"] != "stdout") {
				t.Errorf("%v: marked %v", conf, marked)
			}
		}
	}
}

// TestWorkerEventIDAcrossWorkers: a chunk replayed to another worker,
// whole or cut in three, gives every record the id it had the first
// time; a chunk of another tag gives others.
func TestWorkerEventIDAcrossWorkers(t *testing.T) {
	ids := func(w *worker, tag string, chunks ...[]byte) []string {
		var out []string
		for _, c := range chunks {
			res := w.enrichChunk(c, tag, quietLog)
			if res.err != nil {
				t.Fatal(res.err)
			}
			for _, r := range decodeOut(t, w.out) {
				if dig(r, "event", "kind") == "alert" || r["event_kind"] == "alert" {
					continue // the correlation's: their ids are the alerts' own
				}
				id, _ := dig(r, "event", "id").(string)
				if w.cfg.Style != record.StyleECS {
					id, _ = r["event_id"].(string)
				}
				out = append(out, id)
			}
		}
		return out
	}
	var events [][]byte
	for _, l := range loggen.Lines(300, 3, false) {
		events = append(events, event(t, map[string]any{"log": string(l)}, nil))
	}
	whole := bytes.Join(events, nil)
	ref := ids(testWorker(t, nil), "ssh.raw", whole)
	if len(ref) != len(events) || len(ref[0]) != enrich.IDLen {
		t.Fatalf("%d ids for %d records: %v", len(ref), len(events), ref[:1])
	}
	cut := [][]byte{bytes.Join(events[:17], nil), bytes.Join(events[17:200], nil), bytes.Join(events[200:], nil)}
	other := testWorker(t, map[string]string{"output_style": "flat", "max_payload_size": "4096"})
	if got := ids(other, "ssh.raw", cut...); !slices.Equal(got, ref) {
		t.Errorf("another worker, the chunk cut in three: ids differ")
	}
	for i, id := range ids(other, "ssh.other", whole) {
		if id == ref[i] {
			t.Fatalf("record %d has the same id under another tag", i)
		}
	}
}
