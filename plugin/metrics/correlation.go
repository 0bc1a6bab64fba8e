package metrics

import (
	"sync"

	vm "github.com/VictoriaMetrics/metrics"

	"github.com/sshenrich/sshenrich/correlate"
)

// The correlation engine's counters (correlate.Stats) are read when
// /metrics is scraped, not on the flush path.

func init() {
	for name, h := range map[string]string{
		"sshenrich_correlation_facts_total":             "Lines (and records enriched elsewhere) the correlation engine observed.",
		"sshenrich_correlation_alerts_total":            "Alert records raised by correlation rules.",
		"sshenrich_correlation_suppressed_total":        "Correlation thresholds reached again within a rule's suppression period: no alert.",
		"sshenrich_correlation_repeats_total":           "Polled AX trace lines recognised as repeats of an earlier poll.",
		"sshenrich_correlation_late_events_total":       "Events older than their counter's window, not counted.",
		"sshenrich_correlation_future_lines_total":      "Lines too far ahead of the engine's clock to move it at once.",
		"sshenrich_correlation_clock_jumps_total":       "Jumps of the engine's clock that lines in a row confirmed.",
		"sshenrich_correlation_aborts_total":            "Chunk transactions undone (the chunk was retried, or re-emitted unchanged after an internal error).",
		"sshenrich_correlation_records":                 "Records each correlation table holds: live ones, and dead ones not yet reused.",
		"sshenrich_correlation_evictions_total":         "Live records dropped from a full correlation table to make room.",
		"sshenrich_correlation_expiries_total":          "Records past their time to live that were reused.",
		"sshenrich_correlation_clock_timestamp_seconds": "The correlation engine's clock: the newest line time it accepted, in Unix seconds.",
	} {
		help[name] = h
	}
}

// correlationSeries are the engine's series of one output.
type correlationSeries struct {
	mu    sync.Mutex
	stats func() correlate.Stats
	// Counters are set from the engine's figures. A figure may go back
	// when a transaction is undone; a counter never does, and catches up
	// when the retried chunk is observed again.
	counters []*vm.Counter
	get      []func(*correlate.Stats) uint64
}

// Correlation adds the series of the instance's correlation engine,
// read from stats at each scrape. Call it once, after Register.
func (o *Output) Correlation(stats func() correlate.Stats) {
	if o == nil {
		return
	}
	serverMu.Lock()
	defer serverMu.Unlock()
	c := &correlationSeries{stats: stats}
	counter := func(family, labels string, get func(*correlate.Stats) uint64) {
		c.counters = append(c.counters, o.counter(family, labels))
		c.get = append(c.get, get)
	}
	counter("sshenrich_correlation_facts_total", "", func(s *correlate.Stats) uint64 { return s.Facts })
	counter("sshenrich_correlation_alerts_total", "", func(s *correlate.Stats) uint64 { return s.Alerts })
	counter("sshenrich_correlation_suppressed_total", "", func(s *correlate.Stats) uint64 { return s.Suppressed })
	counter("sshenrich_correlation_repeats_total", "", func(s *correlate.Stats) uint64 { return s.Repeats })
	counter("sshenrich_correlation_late_events_total", "", func(s *correlate.Stats) uint64 { return s.LateEvents })
	counter("sshenrich_correlation_future_lines_total", "", func(s *correlate.Stats) uint64 { return s.FutureLines })
	counter("sshenrich_correlation_clock_jumps_total", "", func(s *correlate.Stats) uint64 { return s.ClockJumps })
	counter("sshenrich_correlation_aborts_total", "", func(s *correlate.Stats) uint64 { return s.TransactionsAbort })
	tables := []struct {
		name             string
		records          func(*correlate.Stats) int
		evicted, expired func(*correlate.Stats) uint64
	}{
		{"sessions", func(s *correlate.Stats) int { return s.Sessions },
			func(s *correlate.Stats) uint64 { return s.SessionsEvicted }, func(s *correlate.Stats) uint64 { return s.SessionsExpired }},
		{"counters", func(s *correlate.Stats) int { return s.Counters },
			func(s *correlate.Stats) uint64 { return s.CountersEvicted }, func(s *correlate.Stats) uint64 { return s.CountersExpired }},
		{"distinct", func(s *correlate.Stats) int { return s.Distinct },
			func(s *correlate.Stats) uint64 { return s.DistinctEvicted }, func(s *correlate.Stats) uint64 { return s.DistinctExpired }},
		{"dedup", func(s *correlate.Stats) int { return s.DedupLines },
			func(s *correlate.Stats) uint64 { return s.DedupEvicted }, func(s *correlate.Stats) uint64 { return s.DedupExpired }},
	}
	for _, t := range tables {
		label := `table="` + t.name + `"`
		counter("sshenrich_correlation_evictions_total", label, t.evicted)
		counter("sshenrich_correlation_expiries_total", label, t.expired)
		records := t.records
		o.callbackGauge("sshenrich_correlation_records", label, func() float64 {
			s := stats()
			return float64(records(&s))
		})
	}
	o.callbackGauge("sshenrich_correlation_clock_timestamp_seconds", "", func() float64 {
		return float64(stats().ClockUnixNano) / 1e9
	})
	o.corr = c
}

func (o *Output) callbackGauge(family, labels string, f func() float64) {
	name := o.series(family, labels)
	o.names = append(o.names, name)
	o.srv.set.NewGauge(name, f)
}

// refresh sets the engine's counters before a scrape.
func (c *correlationSeries) refresh() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats()
	for i, ctr := range c.counters {
		if v := c.get[i](&s); v > ctr.Get() {
			ctr.Set(v)
		}
	}
}
