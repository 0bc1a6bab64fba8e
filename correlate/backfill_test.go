package correlate

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// backfill is a node's backlog as an aggregator receives it after the
// node was cut off for a while: a brute force and a login, dated some
// time before the lines the aggregator has already seen from others.
func backfill(behind int) string {
	var b strings.Builder
	start := time.Date(2025, 6, 16, 8, 0, 0, 0, time.UTC).Add(-time.Duration(behind) * time.Minute)
	at := func(min, sec int) string {
		return start.Add(time.Duration(min)*time.Minute + time.Duration(sec)*time.Second).Format(time.RFC3339)
	}
	for i := range 8 {
		fmt.Fprintf(&b, "%s db01 sshd[%d]: Failed password for root from 198.51.100.9 port %d ssh2\n", at(0, i*5), 300+i, 42000+i)
	}
	fmt.Fprintf(&b, "%s db01 sshd[400]: Connection from 198.51.100.9 port 43000 on 192.0.2.30 port 22\n", at(1, 0))
	fmt.Fprintf(&b, "%s db01 sshd[400]: Accepted password for dba from 198.51.100.9 port 43000 ssh2\n", at(1, 2))
	fmt.Fprintf(&b, "%s db01 sshd[400]: pam_unix(sshd:session): session opened for user dba(uid=1001) by (uid=0)\n", at(1, 2))
	fmt.Fprintf(&b, "%s db01 sshd[400]: pam_unix(sshd:session): session closed for user dba\n", at(9, 2))
	return b.String()
}

// TestBackfill: lines older than the engine's clock (a node's backlog
// after an outage, an older file read after a newer one) correlate as
// they happened, as long as they are within correlation_backfill of
// the clock: sessions join and alerts are raised at their own times,
// while the live lines around them keep theirs.
func TestBackfill(t *testing.T) {
	for _, behind := range []int{0, 30, 60, 180} { // minutes before 08:00; the clock is at 08:10
		t.Run(fmt.Sprintf("%dm behind", behind), func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Backfill = 4 * time.Hour
			h := newHarness(t, cfg)
			// The clock: a live line from another host at 08:10.
			h.observe("2025-06-16T08:10:00Z web01 sshd[77]: Connection from 203.0.113.7 port 50000 on 192.0.2.11 port 22")
			rs := h.run(backfill(behind))
			if got := alertCodes(rs); !slices.Equal(got, []string{"CORR-0001", "CORR-0002"}) {
				t.Errorf("alerts %v, want CORR-0001 then CORR-0002", got)
			}
			login := rs[len(rs)-3:]
			for i, r := range login {
				if r.Session == "" || r.Session != login[0].Session {
					t.Errorf("login line %d: session %q, want one session", i, r.Session)
				}
			}
			if r := rs[len(rs)-1]; !r.HasDur || r.Duration != 8*time.Minute+2*time.Second || r.IP != "198.51.100.9" {
				t.Errorf("close: duration %v (%v), address %q: want 8m2s and the inferred address", r.Duration, r.HasDur, r.IP)
			}
			// The live session still joins at the clock's time.
			live := h.observe("2025-06-16T08:10:01Z web01 sshd[77]: Failed password for root from 203.0.113.7 port 50000 ssh2")
			if live.Session == "" {
				t.Error("the live session was lost")
			}
		})
	}
}
