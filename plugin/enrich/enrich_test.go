package enrich

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/sshenrich/sshenrich/plugin/chunk"
	"github.com/sshenrich/sshenrich/plugin/record"
	"github.com/sshenrich/sshenrich/rules"
)

const failed = "Failed password for invalid user admin from 203.0.113.45 port 50122 ssh2"

func newEnricher(t testing.TB, opts Options) *Enricher {
	t.Helper()
	cat, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	if opts.Record.Location == nil {
		opts.Record.Location = time.UTC
	}
	e := New(cat, opts)
	e.SetNow(time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC))
	return e
}

// v2 is one v2 event with the given body and metadata.
func v2(t testing.TB, body any, meta map[string]any) []byte {
	t.Helper()
	if meta == nil {
		meta = map[string]any{}
	}
	b, err := msgpack.Marshal([]any{[]any{&msgpack.RawMessage{0xd7, 0, 0x66, 0x6e, 0x96, 0x3a, 0, 0, 0, 0}, meta}, body})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// run appends the events of in and decodes the bodies written.
func run(t *testing.T, e *Enricher, in []byte) ([]map[string]any, Counts) {
	t.Helper()
	var c Counts
	var out []byte
	d := chunk.NewDecoder(in)
	for d.Next() {
		var n int
		out, n = e.Append(out, d.Event(), &c)
		_ = n
	}
	if d.Err() != nil {
		t.Fatal(d.Err())
	}
	var recs []map[string]any
	od := chunk.NewDecoder(out)
	for od.Next() {
		var m map[string]any
		if err := msgpack.Unmarshal(od.Event().Body, &m); err != nil {
			t.Fatalf("output body: %v", err)
		}
		recs = append(recs, m)
	}
	if od.Err() != nil {
		t.Fatalf("output: %v", od.Err())
	}
	return recs, c
}

func dig(m map[string]any, path string) any {
	var v any = m
	for _, k := range strings.Split(path, ".") {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

// ecsObjects are the top-level keys an index with ECS mappings holds as
// objects: a record with a string there is refused.
var ecsObjects = []string{"event", "rule", "source", "destination", "user", "group", "process", "host", "observer", "log", "error", "network", "threat", "related", "ecs"}

func checkECSObjects(t *testing.T, rec map[string]any) {
	t.Helper()
	for _, k := range ecsObjects {
		if v, ok := rec[k]; ok {
			if _, isMap := v.(map[string]any); !isMap {
				t.Errorf("%s is %T (%v), not an object: an ECS index refuses the record", k, v, v)
			}
		}
	}
}

// shapes are the records Fluent Bit's inputs and parsers make of one
// sshd line. env lists their envelope keys; severity keys are placed
// only at detail full, where log.syslog is written.
var shapes = []struct {
	name     string
	body     map[string]any
	env      []string
	severity []string
	other    []string // keys that are kept whatever happens
	host     string
	pid      int
}{
	{"syslog-rfc3164 parser", map[string]any{"pri": "86", "host": "web01", "ident": "sshd", "pid": "4409", "message": failed},
		[]string{"host", "ident", "pid"}, []string{"pri"}, []string{"message"}, "web01", 4409},
	{"syslog-rfc5424 parser", map[string]any{"pri": "86", "host": "web01", "ident": "sshd", "pid": "4409", "msgid": "-", "extradata": "-", "message": failed},
		[]string{"host", "ident", "pid"}, []string{"pri"}, []string{"message", "msgid", "extradata"}, "web01", 4409},
	{"syslog input, rfc3164-local parser", map[string]any{"pri": "86", "ident": "sshd", "pid": "4409", "message": failed},
		[]string{"ident", "pid"}, []string{"pri"}, []string{"message"}, "", 4409},
	{"systemd input", map[string]any{"_HOSTNAME": "web01", "SYSLOG_IDENTIFIER": "sshd", "_PID": "4409", "PRIORITY": "6", "SYSLOG_FACILITY": "10",
		"_COMM": "sshd", "_SYSTEMD_UNIT": "sshd.service", "_BOOT_ID": "b1", "MESSAGE": failed},
		[]string{"_HOSTNAME", "SYSLOG_IDENTIFIER", "_PID", "_COMM"}, []string{"PRIORITY", "SYSLOG_FACILITY"}, []string{"MESSAGE", "_SYSTEMD_UNIT", "_BOOT_ID"}, "web01", 4409},
	{"systemd input, Strip_Underscores", map[string]any{"HOSTNAME": "web01", "SYSLOG_IDENTIFIER": "sshd-session", "PID": "4409", "PRIORITY": "6", "SYSLOG_FACILITY": "10",
		"COMM": "sshd-session", "SYSTEMD_UNIT": "sshd.service", "MESSAGE": failed},
		[]string{"HOSTNAME", "SYSLOG_IDENTIFIER", "PID", "COMM"}, []string{"PRIORITY", "SYSLOG_FACILITY"}, []string{"MESSAGE", "SYSTEMD_UNIT"}, "web01", 4409},
	{"systemd input, Lowercase", map[string]any{"_hostname": "web01", "syslog_identifier": "sshd", "_pid": "4409", "priority": "6", "syslog_facility": "10",
		"_comm": "sshd", "_systemd_unit": "sshd.service", "message": failed},
		[]string{"_hostname", "syslog_identifier", "_pid", "_comm"}, []string{"priority", "syslog_facility"}, []string{"message", "_systemd_unit"}, "web01", 4409},
	{"systemd input, both", map[string]any{"hostname": "web01", "syslog_identifier": "sshd", "pid": "4409", "priority": "6", "syslog_facility": "10",
		"comm": "sshd", "systemd_unit": "sshd.service", "message": failed},
		[]string{"hostname", "syslog_identifier", "pid", "comm"}, []string{"priority", "syslog_facility"}, []string{"message", "systemd_unit"}, "web01", 4409},
	{"tail with Key message", map[string]any{"message": "<86>Jun 16 07:37:26 web01 sshd[4409]: " + failed},
		nil, nil, []string{"message"}, "web01", 4409},
}

// TestShapes: every record shape, in both styles, with
// keep_envelope_keys off and on, at detail brief and full. The line is
// classified with the record's envelope keys; those whose value is in
// host.hostname, process.* or log.syslog.* are dropped unless kept; the
// other keys stay; in ECS style no key an index holds as an object is
// anything else.
func TestShapes(t *testing.T) {
	for _, style := range []record.Style{record.StyleECS, record.StyleFlat} {
		for _, keep := range []bool{false, true} {
			for _, detail := range []record.Detail{record.DetailBrief, record.DetailFull} {
				e := newEnricher(t, Options{Record: record.Options{Style: style, Detail: detail}, KeepEnvelopeKeys: keep})
				for _, sh := range shapes {
					name := sh.name + "/" + map[record.Style]string{record.StyleECS: "ecs", record.StyleFlat: "flat"}[style] + "/keep=" + map[bool]string{false: "off", true: "on"}[keep] + "/" + detail.String()
					t.Run(name, func(t *testing.T) {
						recs, c := run(t, e, v2(t, sh.body, nil))
						if len(recs) != 1 || c.Classified != 1 {
							t.Fatalf("%d records, %+v", len(recs), c)
						}
						r := recs[0]
						sep := "."
						if style == record.StyleFlat {
							sep = "_"
						}
						get := func(path string) any {
							if style == record.StyleFlat {
								return r[strings.ReplaceAll(path, ".", "_")]
							}
							return dig(r, path)
						}
						if get("event.code") != "SSHD-0032" || get("process.name") == nil || get("source.ip") != "203.0.113.45" {
							t.Errorf("not classified with its fields: %v", r)
						}
						if sh.host != "" && get("host.hostname") != sh.host {
							t.Errorf("host%shostname %v, want %s", sep, get("host.hostname"), sh.host)
						}
						if pid := get("process.pid"); pid == nil || reflect.ValueOf(pid).Convert(reflect.TypeOf(0)).Int() != int64(sh.pid) {
							t.Errorf("process%spid %v", sep, pid)
						}
						for _, k := range sh.other {
							if _, ok := r[k]; !ok {
								t.Errorf("%s dropped", k)
							}
						}
						for _, k := range sh.env {
							_, ok := r[k]
							if k == "host" && style == record.StyleECS {
								// In ECS, host is an object: a kept host string
								// moves to sshenrich.original.host.
								ok = dig(r, "sshenrich.original.host") != nil
							}
							if ok != keep {
								t.Errorf("envelope key %s kept %v, want %v", k, ok, keep)
							}
						}
						for _, k := range sh.severity {
							if _, ok := r[k]; ok != (keep || detail == record.DetailBrief) {
								t.Errorf("severity key %s kept %v (its value is placed only at detail full)", k, ok)
							}
						}
						if style == record.StyleECS {
							checkECSObjects(t, r)
							if r["ecs"] == nil {
								t.Errorf("no ecs.version")
							}
						}
					})
				}
			}
		}
	}
}

// TestRawTail: the tail input's {"log": line}. In ECS style log is an
// object, so the line moves to message (unless the record has one); in
// flat style it stays.
func TestRawTail(t *testing.T) {
	line := "<38>Jun 16 07:37:26 web01 sshd[4409]: " + failed
	tests := []struct {
		name  string
		style record.Style
		body  map[string]any
		want  map[string]any
	}{
		{"ecs", record.StyleECS, map[string]any{"log": line, "stream": "stdout"}, map[string]any{
			"message": line, "stream": "stdout", "log.syslog": nil, "event.code": "SSHD-0032", "sshenrich.original": nil, "sshenrich.moved": nil}},
		{"ecs with a message of its own", record.StyleECS, map[string]any{"log": line, "message": "other"}, map[string]any{
			"message": "other", "sshenrich.original.log": line, "event.code": "SSHD-0032"}},
		{"flat", record.StyleFlat, map[string]any{"log": line, "stream": "stdout"}, map[string]any{
			"log": line, "message": nil, "event_code": "SSHD-0032", "sshenrich_moved": nil}},
		{"ecs, the line is a number", record.StyleECS, map[string]any{"log": 42}, map[string]any{
			"sshenrich.original.log": int8(42), "sshenrich.unclassified_reason": "not_string", "message": nil}},
		{"ecs, the line is a map", record.StyleECS, map[string]any{"log": map[string]any{"file": map[string]any{"path": "/var/log/secure"}}}, map[string]any{
			"log.file.path": "/var/log/secure", "sshenrich.unclassified_reason": "not_string"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnricher(t, Options{Record: record.Options{Style: tt.style, Detail: record.DetailBrief}})
			recs, _ := run(t, e, v2(t, tt.body, nil))
			r := recs[0]
			for path, want := range tt.want {
				got := r[path]
				if tt.style == record.StyleECS {
					got = dig(r, path)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s = %#v, want %#v", path, got, want)
				}
			}
			if tt.style == record.StyleECS {
				checkECSObjects(t, r)
			}
		})
	}
}

// TestBadShapes: envelope and group keys with values that do not fit.
// Nothing is lost: a value that is not placed stays, under
// sshenrich.original when its key must be an object.
func TestBadShapes(t *testing.T) {
	tests := []struct {
		name string
		body map[string]any
		want map[string]any
	}{
		{"host as a number", map[string]any{"message": failed, "host": 42}, map[string]any{
			"sshenrich.original.host": int8(42), "host": nil}},
		{"host names another machine than the line", map[string]any{"message": "<38>Jun 16 07:37:26 web1 sshd[1]: " + failed, "host": "relay"}, map[string]any{
			"host.hostname": "web1", "sshenrich.original.host": "relay"}},
		{"host as a map that has hostname", map[string]any{"message": failed, "host": map[string]any{"hostname": "h1", "os": map[string]any{"type": "linux"}}, "_HOSTNAME": "j1"}, map[string]any{
			"host.hostname": "h1", "host.os.type": "linux", "sshenrich.host.hostname": "j1", "sshenrich.moved": []any{"host.hostname"}, "_HOSTNAME": nil}},
		{"event as a string", map[string]any{"message": failed, "event": "ssh"}, map[string]any{
			"event.code": "SSHD-0032", "sshenrich.original.event": "ssh"}},
		{"event as an array", map[string]any{"message": failed, "event": []any{"a"}}, map[string]any{
			"event.code": "SSHD-0032", "sshenrich.original.event": []any{"a"}}},
		{"event map holding code", map[string]any{"message": failed, "event": map[string]any{"code": 4625, "dataset": "x"}}, map[string]any{
			"event.code": uint16(4625), "event.dataset": "x", "event.outcome": "failure", "sshenrich.event.code": "SSHD-0032",
			"sshenrich.event.dataset": "sshenrich.openssh", "sshenrich.moved": []any{"event.code", "event.dataset"}}},
		{"pid as text that is no number", map[string]any{"message": failed, "pid": "12a", "ident": "sshd"}, map[string]any{
			"pid": "12a", "process.pid": nil, "ident": nil, "process.name": "sshd"}},
		{"pri out of range", map[string]any{"message": failed, "pri": 999}, map[string]any{"pri": uint16(999)}},
		{"ident and _COMM differ", map[string]any{"MESSAGE": failed, "SYSLOG_IDENTIFIER": "sshd", "_COMM": "sshd-session"}, map[string]any{
			"process.name": "sshd", "SYSLOG_IDENTIFIER": nil, "_COMM": "sshd-session"}},
	}
	e := newEnricher(t, Options{Record: record.Options{Detail: record.DetailFull}})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, _ := run(t, e, v2(t, tt.body, nil))
			r := recs[0]
			for path, want := range tt.want {
				if got := dig(r, path); !reflect.DeepEqual(got, want) {
					t.Errorf("%s = %#v, want %#v", path, got, want)
				}
			}
			checkECSObjects(t, r)
		})
	}
}

// TestMultilineKeepsEachLine: each line of a captured output gets the
// record's keys back, whatever the line before did with them.
func TestMultilineKeepsEachLine(t *testing.T) {
	e := newEnricher(t, Options{Record: record.Options{Detail: record.DetailBrief}})
	body := map[string]any{
		"log":  "> show ssh logging\nDate 2024/06/16 08:00:00 UTC\n2024/06/16 07:37:30 sshd[4409] Accepted password for staff from 10.0.0.1 port 4226\n",
		"host": "sw1", "event": map[string]any{"module": "ax"},
	}
	recs, c := run(t, e, v2(t, body, nil))
	if len(recs) != 3 || c.Records != 3 {
		t.Fatalf("%d records, %+v", len(recs), c)
	}
	for i, r := range recs {
		if dig(r, "host.hostname") != "sw1" || dig(r, "event.module") != "ax" || dig(r, "event.code") == nil || r["message"] == nil || r["log"] != nil && !isMap(r["log"]) {
			t.Errorf("record %d: %v", i, r)
		}
		checkECSObjects(t, r)
	}
}

func isMap(v any) bool { _, ok := v.(map[string]any); return ok }

// TestOutputIsSelfConsistent: each event written decodes, its map count
// is right (no key twice, none missing), and Append reports as many
// events as it wrote.
func TestOutputIsSelfConsistent(t *testing.T) {
	e := newEnricher(t, Options{Record: record.Options{Detail: record.DetailFull, EventOriginal: true}, Mark: true})
	var in []byte
	for _, sh := range shapes {
		in = append(in, v2(t, sh.body, map[string]any{"k": "v"})...)
	}
	in = append(in, v2(t, map[string]any{"log": "a\nb", "host": 1, "event": "x", "user": map[string]any{"name": "u"}}, nil)...)
	var c Counts
	var out []byte
	total := 0
	d := chunk.NewDecoder(in)
	for d.Next() {
		var n int
		out, n = e.Append(out, d.Event(), &c)
		total += n
	}
	od := chunk.NewDecoder(out)
	got := 0
	for od.Next() {
		got++
		body := od.Event().Body
		var it chunk.MapIter
		it.Reset(body)
		seen := map[string]bool{}
		for it.Next() {
			if seen[string(it.Key())] {
				t.Errorf("key %s twice in %x", it.Key(), body)
			}
			seen[string(it.Key())] = true
		}
		if it.Err() != nil {
			t.Errorf("body: %v", it.Err())
		}
		if end, err := chunk.Skip(body, 0); err != nil || end != len(body) {
			t.Errorf("body of %d bytes, the map takes %d (%v)", len(body), end, err)
		}
	}
	// The last record's two lines are two events.
	if od.Err() != nil || got != total || got != len(shapes)+2 {
		t.Errorf("%d events written, %d reported, %d expected (%v)", got, total, len(shapes)+2, od.Err())
	}
	if !bytes.Contains(out, []byte(runMark)) {
		t.Errorf("no mark written")
	}
}

func TestAppendDoesNotAllocate(t *testing.T) {
	e := newEnricher(t, Options{Record: record.Options{Detail: record.DetailBrief}, Mark: true, TimeFromLog: true})
	var in []byte
	for _, sh := range shapes {
		in = append(in, v2(t, sh.body, nil)...)
	}
	in = append(in, v2(t, map[string]any{"log": "2024-06-16T07:37:30Z web1 sshd[1]: " + failed, "host": "h", "event": map[string]any{"code": 1}}, nil)...)
	out := make([]byte, 0, 1<<16)
	var c Counts
	pass := func() {
		out = out[:0]
		d := chunk.NewDecoder(in)
		for d.Next() {
			out, _ = e.Append(out, d.Event(), &c)
		}
	}
	pass()
	if n := testing.AllocsPerRun(20, pass); n != 0 {
		t.Errorf("%v allocations for %d records", n, len(shapes)+1)
	}
}
