package correlate

import (
	"bytes"
	"crypto/sha256"
	"strings"
	"testing"
)

// FuzzObserve runs arbitrary lines, as chunks that are committed or
// aborted, through the parser, the matcher and the engine: no panic,
// tables within their bounds, inferred fields only when named.
func FuzzObserve(f *testing.F) {
	f.Add(attempt(0, 6000, "root", "203.0.113.50", 40000) + "\n" + poll)
	f.Add("Jun 16 09:00:01 gw01 ovpn-server[812]: 198.51.100.20:51000 TLS: Initial packet from [AF_INET]198.51.100.20:51000, sid=1 2\n" +
		"Jun 16 09:00:02 gw01 ovpn-server[812]: MULTI: primary virtual IP for user01/198.51.100.20:51000: 10.8.0.6\n" +
		"Jun 16 09:30:00 gw01 ovpn-server[812]: user01/198.51.100.20:51000 SIGTERM[soft,remote-exit] received, client-instance exiting")
	f.Add("Jun 16 07:37:22 web02 sshd[4409]: Connection from ::ffff:198.51.100.23 port 40222 on 192.0.2.11 port 22\n\x00\xff\n2024/06/16 07:37:22 sshd[1] x")
	cfg := DefaultConfig()
	cfg.MaxSessions, cfg.MaxCounters, cfg.MaxDistinct, cfg.MaxDedupLines = minTable, minTable, minTable, minTable
	h := newHarness(f, cfg)
	f.Fuzz(func(t *testing.T, chunk string) {
		lines := strings.Split(chunk, "\n")
		for round := range 2 {
			tx := h.e.Begin()
			for _, l := range lines {
				fact := h.classify(l)
				tx.Observe(fact, &h.out)
				o := &h.out
				check := func(name string, v []byte, bit FieldSet) {
					if (v != nil) != o.Inferred.Has(bit) {
						t.Fatalf("%q: %s %q but inferred %v", l, name, v, o.Inferred.Names(nil))
					}
				}
				check("source.ip", o.SourceIP, InferredSourceIP)
				check("user.name", o.User, InferredUser)
				check("common name", o.CommonName, InferredCommonName)
				check("pool", o.PoolIP, InferredPoolIP)
				if o.HasDuration && o.Duration < 0 {
					t.Fatalf("%q: negative duration %v", l, o.Duration)
				}
				for i := range o.Alerts {
					if o.Alerts[i].Count < o.Alerts[i].Rule.Count {
						t.Fatalf("%q: alert below its threshold", l)
					}
				}
			}
			if round == 0 {
				tx.Abort()
			} else {
				tx.Commit()
			}
		}
		s := h.e.Stats()
		if s.Sessions > minTable || s.Counters > minTable || s.Distinct > minTable || s.DedupLines > minTable {
			t.Fatalf("tables over their bounds: %+v", s)
		}
	})
}

// FuzzReadState reads arbitrary state files, their checksum made right
// so that the checks behind it are reached: a file is refused or taken
// without a panic, and an engine that took one runs a log without one.
func FuzzReadState(f *testing.F) {
	cfg, h, body := smallState(f)
	_, after := stateLog()
	f.Add(body)
	f.Add([]byte(stateMagic))
	f.Fuzz(func(t *testing.T, body []byte) {
		sum := sha256.Sum256(body)
		e, err := New(h.cat, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.ReadState(bytes.NewReader(append(body[:len(body):len(body)], sum[:]...))); err == nil {
			h.e = e // the harness classifies; the engine is the one that took the file
			h.t = t
			h.run(after)
		}
	})
}
