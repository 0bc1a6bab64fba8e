package enrich

import (
	"fmt"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/sshenrich/sshenrich/correlate"
	"github.com/sshenrich/sshenrich/plugin/chunk"
	"github.com/sshenrich/sshenrich/plugin/record"
	"github.com/sshenrich/sshenrich/rules"
)

// nodeRecord is a failed password as a node's sshenrich wrote it, in
// either style; change edits it before it is encoded.
func nodeRecord(i int, flat bool, change func(m map[string]any)) map[string]any {
	m := map[string]any{
		"message":   fmt.Sprintf("Failed password for u%d from 203.0.113.9 port %d ssh2", i, 40000+i),
		"event":     map[string]any{"kind": "event", "code": "SSHD-0032", "outcome": "failure", "severity": 4},
		"source":    map[string]any{"ip": "203.0.113.9", "port": 40000 + i},
		"user":      map[string]any{"name": fmt.Sprintf("u%d", i)},
		"host":      map[string]any{"hostname": fmt.Sprintf("web%d", i%3)},
		"process":   map[string]any{"name": "sshd", "pid": 100 + i},
		"sshenrich": map[string]any{"family": "openssh", "auth_method": "password"},
	}
	if change != nil {
		change(m)
	}
	if !flat {
		return m
	}
	out := map[string]any{"message": m["message"]}
	for g, v := range m {
		if sub, ok := v.(map[string]any); ok {
			for k, x := range sub {
				out[g+"_"+k] = x
			}
		}
	}
	return out
}

func aggregator(t testing.TB, cfg correlate.Config) *Enricher {
	t.Helper()
	cat, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	eng, err := correlate.New(cat, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return newEnricher(t, Options{Correlate: eng, Mark: true})
}

// TestAggregator: records another Fluent Bit's sshenrich enriched are
// not classified again: they pass on unchanged, the engine reads the
// fact from their fields, and only the alert records are added.
// Alert records and repeats are not counted; a field that changes the
// rule's selection (a publickey failure) is read.
func TestAggregator(t *testing.T) {
	other := map[string]any{MarkKey: "0123456789abcdef"} // another process's mark
	sessionsOff := correlate.DefaultConfig()
	sessionsOff.Sessions = false
	off := correlate.DefaultConfig()
	off.Enabled = false
	tests := []struct {
		name   string
		cfg    correlate.Config
		flat   bool
		change func(m map[string]any)
		alerts int
	}{
		{"ecs", sessionsOff, false, nil, 1},
		{"flat", sessionsOff, true, nil, 1},
		{"sessions on too", correlate.DefaultConfig(), false, nil, 1},
		{"correlation off", off, false, nil, 0},
		{"publickey failures are not guesses", sessionsOff, false, func(m map[string]any) {
			m["sshenrich"].(map[string]any)["auth_method"] = "publickey"
		}, 0},
		{"repeats are not counted", sessionsOff, false, func(m map[string]any) {
			m["sshenrich"].(map[string]any)["repeat"] = true
		}, 0},
		{"alert records are not counted", sessionsOff, false, func(m map[string]any) {
			m["event"].(map[string]any)["kind"] = "alert"
		}, 0},
		{"a code of another catalog", sessionsOff, false, func(m map[string]any) {
			m["event"].(map[string]any)["code"] = "SITE-9999"
		}, 0},
		{"no outcome", sessionsOff, false, func(m map[string]any) {
			delete(m["event"].(map[string]any), "outcome")
		}, 0},
		{"fields of the wrong type, the group-by field sound", sessionsOff, false, func(m map[string]any) {
			m["host"] = 7
			m["process"] = map[string]any{"pid": "x", "name": 3}
			m["user"] = []any{"a"}
		}, 1},
		{"no source address to group by", sessionsOff, false, func(m map[string]any) {
			m["source"] = "203.0.113.9"
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := aggregator(t, tt.cfg)
			var in []byte
			var bodies []map[string]any
			for i := range 8 {
				b := nodeRecord(i, tt.flat, tt.change)
				bodies = append(bodies, b)
				in = append(in, v2(t, b, other)...)
			}
			recs, c := run(t, e, in)
			if c.Passed != 8 || c.Classified != 0 || c.Alerts != tt.alerts || len(recs) != 8+tt.alerts {
				t.Fatalf("counts %+v, %d events out, want 8 passed and %d alerts", c, len(recs), tt.alerts)
			}
			for i := range 8 {
				if fmt.Sprint(recs[i]) != fmt.Sprint(normalise(t, bodies[i])) {
					t.Errorf("record %d changed:\n got %v\nwant %v", i, recs[i], bodies[i])
				}
			}
			if tt.alerts == 1 {
				a := recs[8]
				code := a["event_code"]
				if ev, ok := a["event"].(map[string]any); ok {
					code = ev["code"]
				}
				if code != "CORR-0001" {
					t.Errorf("alert %v", a)
				}
			}
		})
	}
}

// TestAggregatorAlertNamesTheNodeSession: an aggregator's alert names
// the session id and host of the record that raised it, as the node
// wrote them, in either style.
func TestAggregatorAlertNamesTheNodeSession(t *testing.T) {
	sessionsOff := correlate.DefaultConfig()
	sessionsOff.Sessions = false
	for _, flat := range []bool{false, true} {
		t.Run(fmt.Sprint("flat=", flat), func(t *testing.T) {
			e := aggregator(t, sessionsOff)
			var in []byte
			for i := range 8 {
				in = append(in, v2(t, nodeRecord(i, flat, func(m map[string]any) {
					id := fmt.Sprintf("%016x", 0xabc0+i)
					if flat {
						m["sshenrich"].(map[string]any)["session_id"] = id // sshenrich_session_id
					} else {
						m["sshenrich"].(map[string]any)["session"] = map[string]any{"id": id}
					}
				}), nil)...)
			}
			recs, c := run(t, e, in)
			if c.Alerts != 1 || len(recs) != 9 {
				t.Fatalf("counts %+v, %d events out", c, len(recs))
			}
			a := recs[8]
			sid, host := a["sshenrich_session_id"], a["host_hostname"]
			if ns, ok := a["sshenrich"].(map[string]any); ok {
				sid = ns["session"].(map[string]any)["id"]
				host = a["host"].(map[string]any)["hostname"]
			}
			if sid != fmt.Sprintf("%016x", 0xabc0+7) || host != "web1" {
				t.Errorf("alert names session %v on %v, want the 8th record's (%016x on web1): %v", sid, host, 0xabc0+7, a)
			}
		})
	}
}

// normalise round-trips a body through msgpack, as run decodes it.
func normalise(t *testing.T, m map[string]any) map[string]any {
	b, err := msgpack.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := msgpack.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	return back
}

// TestAggregatorDoesNotAllocate: observing enriched records adds no
// allocation once the engine's tables have grown.
func TestAggregatorDoesNotAllocate(t *testing.T) {
	cfg := correlate.DefaultConfig()
	cfg.Sessions = false
	e := aggregator(t, cfg)
	other := map[string]any{MarkKey: "0123456789abcdef"}
	var in []byte
	for i := range 50 {
		in = append(in, v2(t, nodeRecord(i, i%2 == 1, nil), other)...)
	}
	var out []byte
	var c Counts
	var d chunk.Decoder
	pass := func() {
		e.Begin()
		out = out[:0]
		d.Reset(in)
		for d.Next() {
			out, _ = e.Append(out, d.Event(), &c)
		}
		e.Commit()
	}
	for range 5 {
		pass()
	}
	if n := testing.AllocsPerRun(10, pass); n != 0 {
		t.Errorf("50 enriched records allocate %v times", n)
	}
}

// alertCounter is an Observer that keeps the codes of the alerts it is
// shown.
type alertCounter struct{ codes []string }

func (a *alertCounter) Count(*record.Event)             {}
func (a *alertCounter) CountAlert(r *rules.Correlation) { a.codes = append(a.codes, r.Code()) }

// TestObserverCountsAlerts: the Observer (the plugin's metrics) is shown
// every alert record written, by its rule, for lines the Enricher
// classifies and for records enriched elsewhere alike.
func TestObserverCountsAlerts(t *testing.T) {
	for _, enriched := range []bool{false, true} {
		e := aggregator(t, correlate.DefaultConfig())
		var obs alertCounter
		e.Observe(&obs)
		var in []byte
		for i := range 8 {
			var body any = map[string]any{"log": fmt.Sprintf("Jun 16 07:00:%02d web02 sshd[%d]: Failed password for root from 203.0.113.9 port %d ssh2", i, 100+i, 40000+i)}
			if enriched {
				body = nodeRecord(i, false, nil)
			}
			in = append(in, timedEvent(t, 1718521200+uint32(i), 0, nil, body)...)
		}
		var out []byte
		var c Counts
		e.SetTag("ssh.raw")
		d := chunk.NewDecoder(in)
		for d.Next() {
			out, _ = e.Append(out, d.Event(), &c)
		}
		if c.Alerts != 1 || len(obs.codes) != 1 || obs.codes[0] != "CORR-0001" {
			t.Errorf("enriched elsewhere %v: %d alert records, observer shown %v", enriched, c.Alerts, obs.codes)
		}
	}
}
