package correlate

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// TestCounterSumFollowsSlots: whatever order failures come in (ahead,
// in the same slot, a slot or a window behind, after a quiet spell),
// a counter's kept sum is its slots' sum.
func TestCounterSumFollowsSlots(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	h := newHarness(t, DefaultConfig())
	base := time.Date(2025, 6, 16, 3, 0, 0, 0, time.UTC)
	at := base
	for i := range 3000 {
		switch d := rng.IntN(10); {
		case d < 6:
			at = at.Add(time.Duration(rng.IntN(20)) * time.Second) // ahead, often within a slot
		case d < 8:
			at = at.Add(-time.Duration(rng.IntN(200)) * time.Second) // behind, up to past the window
		default:
			at = at.Add(time.Duration(rng.IntN(900)) * time.Second) // a quiet spell
		}
		src := rng.IntN(4)
		h.observe(fmt.Sprintf("%s bastion sshd[%d]: Failed password for root from 198.51.100.%d port %d ssh2",
			at.Format(time.Stamp), 1000+i, src, 40000+i))
		for r := range h.e.counters.recs {
			c := &h.e.counters.recs[r]
			if int(c.n) != c.total() {
				t.Fatalf("line %d: counter %d keeps a sum of %d, its slots hold %d (%v)", i, r, c.n, c.total(), c.slots)
			}
		}
	}
	if s := h.e.Stats(); s.Alerts == 0 || s.LateEvents == 0 {
		t.Errorf("the log raised %d alerts and had %d late events: it does not exercise the counters", s.Alerts, s.LateEvents)
	}
}
