package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/sshenrich/sshenrich/plugin/chunk"
	"github.com/sshenrich/sshenrich/plugin/config"
	pmetrics "github.com/sshenrich/sshenrich/plugin/metrics"
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
	w := newWorker(cat, cfg)
	w.x.SetNow(time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC))
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
				if dig(r[0], "event", "code") != "SSHD-0032" || r[0]["stream"] != "stdout" || r[0]["log"] == nil {
					t.Errorf("%v", r[0])
				}
				// "log" is taken by the original line: the syslog group moves.
				if dig(r[0], "sshenrich", "log", "syslog", "facility", "name") != "auth" || dig(r[0], "sshenrich", "moved") == nil {
					t.Errorf("log group not moved under sshenrich: %v", r[0]["sshenrich"])
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
				// "host" is the original's: the ECS host group moves.
				if r[0]["host"] != "h2" || dig(r[0], "sshenrich", "host", "hostname") != "h2" || dig(r[0], "process", "pid") != int8(12) {
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
				if dig(r[0], "sshenrich", "unclassified_reason") != "not_string" || r[0]["log"] != int8(42) {
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
				if r[2]["log"] != "2024/06/16 07:37:30 sshd[4409] Accepted password for staff from 10.0.0.1 port 4226" ||
					dig(r[2], "event", "code") != "SSHD-0003" || r[2]["host"] != "sw1" || dig(r[1], "event", "code") != "AX-0003" {
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
			res := w.enrichChunk(in, quietLog)
			if res.err != nil || res.passed != tt.passed {
				t.Fatalf("result %v, err %v", res, res.err)
			}
			if tt.passed > 0 && !bytes.Equal(w.out, in) {
				t.Errorf("passed-through record changed")
			}
			if tt.passed == 0 {
				recs := decodeOut(t, w.out)
				if len(recs) == 0 {
					t.Fatal("no output")
				}
				tt.check(t, recs)
			}
			// Time and metadata are kept as they were.
			d := chunk.NewDecoder(w.out)
			for d.Next() {
				ev := d.Event()
				if ev.Sec != 1718523450 || !ev.V2 || !bytes.Contains(ev.Meta, []byte("k")) {
					t.Errorf("time or metadata changed: %d %v %x", ev.Sec, ev.V2, ev.Meta)
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
	res := w.enrichChunk(in, quietLog)
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
	if total != want || prev != len(w.out) {
		t.Errorf("%d events in batches, out %d/%d", total, prev, len(w.out))
	}
}

func TestWorkerMalformedChunk(t *testing.T) {
	w := testWorker(t, nil)
	good := event(t, map[string]any{"log": "Invalid user x from 192.0.2.1 port 22"}, nil)
	in := append(append([]byte(nil), good...), good[:len(good)-3]...)
	res := w.enrichChunk(in, quietLog)
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
	res := w.enrichChunk(in, quietLog)
	if res.passed != 2 || !bytes.Equal(w.out, in) {
		t.Errorf("after a panic: %v, out equal %v", res, bytes.Equal(w.out, in))
	}
}

func TestWorkerDoesNotAllocate(t *testing.T) {
	for _, withMetrics := range []bool{false, true} {
		w := testWorker(t, nil)
		flushed := func() {}
		if withMetrics {
			m := testMetrics(t, w)
			flushed = func() { m.Flushed(w.tally, 0, pmetrics.OK, time.Millisecond) }
		}
		in := mixedChunk(t, 500)
		w.enrichChunk(in, quietLog)
		flushed()
		allocs := testing.AllocsPerRun(5, func() { w.enrichChunk(in, quietLog); flushed() })
		if allocs > 0 {
			t.Errorf("a 500-record chunk allocates %v times (metrics %v)", allocs, withMetrics)
		}
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
	w.tally = m.NewTally()
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
// chunk of the mixed log, on one goroutine; ecs+metrics also counts the
// records for metrics_listen and merges the counts once per chunk.
func BenchmarkFlushPath(b *testing.B) {
	for _, style := range []string{"ecs", "flat", "ecs+metrics"} {
		b.Run(style, func(b *testing.B) {
			w := testWorker(b, map[string]string{"output_style": strings.TrimSuffix(style, "+metrics")})
			var m *pmetrics.Output // nil: off
			if strings.HasSuffix(style, "+metrics") {
				m = testMetrics(b, w)
			}
			in := mixedChunk(b, 1000)
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				w.enrichChunk(in, quietLog)
				m.Flushed(w.tally, 0, pmetrics.OK, time.Millisecond)
			}
			b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(testing.AllocsPerRun(1, func() { w.enrichChunk(in, quietLog) }))/1000, "allocs/record")
		})
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
			res := w.enrichChunk(event(t, map[string]any{"log": line, "stream": "stdout"}, nil), quietLog)
			recs := decodeOut(t, w.out)
			if res.records != 1 || len(recs) != 1 {
				t.Fatalf("%v, %d records", res, len(recs))
			}
			r := recs[0]
			got, _ := r["log"].(string)
			if !strings.HasPrefix(got, tt.wantLine) || r["stream"] != "stdout" {
				t.Errorf("log %q, stream %v; want log to start with %q", got, r["stream"], tt.wantLine)
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
