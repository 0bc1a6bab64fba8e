package main

import (
	"fmt"
	"testing"

	"github.com/sshenrich/sshenrich/plugin/chunk"
	"github.com/sshenrich/sshenrich/plugin/enrich"
)

// FuzzEnrichChunk runs the whole flush path (decode, enrich, encode) on
// arbitrary bytes and mutated valid chunks. It must not panic (a panic
// would be caught and turned into a pass-through, so the test watches
// for it), and what it writes must decode.
func FuzzEnrichChunk(f *testing.F) {
	f.Add(mixedChunk(f, 5))
	f.Add(event(f, map[string]any{"log": "> show ssh logging\nDate 2024/06/16 08:00:00 UTC\n2024/06/16 07:37:30 sshd[1] Accepted password for a from 10.0.0.1 port 1\n"}, nil))
	f.Add(event(f, map[string]any{"MESSAGE": "Invalid user x from 192.0.2.1 port 22", "_PID": "9", "PRIORITY": 6}, map[string]any{"otlp": map[string]any{}}))
	f.Add(event(f, []any{1, 2}, nil))
	f.Add(event(f, map[string]any{"log": []byte{0xff, 0xfe}}, nil))
	f.Add([]byte{0x92, 0x92})
	f.Add(event(f, map[string]any{"message": "Invalid user x from 192.0.2.1 port 22", "host": "h", "pri": "38", "ident": "sshd", "pid": "9",
		"event": map[string]any{"code": "x"}, "user": 7, "log": "2024-06-16T07:37:30Z h sshd[9]: y"}, map[string]any{"sshenrich": "0123456789abcdef"}))
	f.Add(event(f, map[string]any{"log": "x", "sshenrich": map[string]any{}}, map[string]any{"sshenrich": enrich.RunMark()}))
	// Records enriched elsewhere (the aggregator path), ECS and flat, and
	// a brute force that raises an alert.
	f.Add(event(f, map[string]any{"message": "m", "event": map[string]any{"kind": "event", "code": "SSHD-0032", "outcome": "failure"},
		"source": map[string]any{"ip": "203.0.113.9", "port": 7}, "user": map[string]any{"name": "u"}, "host": map[string]any{"hostname": 3},
		"sshenrich": map[string]any{"auth_method": "password", "invalid_user": true, "repeat": "true"}}, map[string]any{"sshenrich": "0123456789abcdef"}))
	f.Add(event(f, map[string]any{"event_code": "SSHD-0032", "event_kind": "alert", "source_ip": []byte{0xff}, "process_pid": -1,
		"sshenrich_family": "openssh"}, map[string]any{"sshenrich": "0123456789abcdef"}))
	var brute []byte
	for i := range 8 {
		brute = append(brute, event(f, map[string]any{"log": fmt.Sprintf("2025-06-16T07:00:%02dZ h sshd[%d]: Failed password for u%d from 203.0.113.5 port %d ssh2", i, i, i, i)}, nil)...)
	}
	f.Add(brute)
	w := testWorker(f, nil)
	var caught any
	recovered = func(r any) { caught = r }
	defer func() { recovered = nil }()
	f.Fuzz(func(t *testing.T, data []byte) {
		caught = nil
		w.e.Begin()
		res := w.enrichChunk(data, "ssh.raw", quietLog)
		if len(data)%2 == 0 { // delivered, or retried
			w.e.Commit()
		} else {
			w.e.Abort()
		}
		if caught != nil {
			t.Fatalf("panic in the flush path: %v", caught)
		}
		d := chunk.NewDecoder(w.out)
		n := 0
		for d.Next() {
			n++
		}
		if d.Err() != nil {
			t.Fatalf("output does not decode: %v", d.Err())
		}
		in := chunk.NewDecoder(data)
		m := 0
		for in.Next() {
			m++
		}
		if n+res.looped < m {
			t.Fatalf("%d events in, %d out (%v)", m, n, res)
		}
		if (res.err != nil) != (in.Err() != nil) {
			t.Fatalf("decode error %v, result error %v", in.Err(), res.err)
		}
		total := 0
		for _, b := range w.batches {
			total += b.count
		}
		if total != n {
			t.Fatalf("batches hold %d events, output %d", total, n)
		}
	})
}
