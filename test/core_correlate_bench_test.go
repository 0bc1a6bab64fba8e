package test

import (
	"testing"
	"time"

	"github.com/sshenrich/sshenrich/correlate"
	"github.com/sshenrich/sshenrich/parser"
	"github.com/sshenrich/sshenrich/rules"
)

// corrChunk is how many lines share a transaction, as a chunk's
// records do in the plugin's flush.
const corrChunk = 1000

// coreCorrelate is the core path with correlation on: envelope parsing,
// catalog matching, the fact built from the match and observed by the
// engine, a transaction per corrChunk lines, committed.
type coreCorrelate struct {
	p   *parser.Parser
	m   *rules.Matcher
	eng *correlate.Engine
	b   *correlate.Builder
	env parser.Envelope
	r   rules.Result
	f   correlate.Fact
	out correlate.Output
}

func newCoreCorrelate(tb testing.TB, cfg correlate.Config) *coreCorrelate {
	tb.Helper()
	cat := builtin(tb)
	eng, err := correlate.New(cat, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return &coreCorrelate{p: parser.New(time.UTC, time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)), m: cat.NewMatcher(),
		eng: eng, b: correlate.NewBuilder(cat)}
}

// lines runs lines through the core path; tx is the open transaction.
func (c *coreCorrelate) lines(tx correlate.Tx, lines [][]byte) {
	for _, l := range lines {
		c.p.Parse(l, &c.env)
		c.m.MatchIn(c.env.Message, rules.Input{Families: c.m.Families(c.env.Program), Severity: c.env.Severity}, &c.r)
		c.b.Build(&c.f, &c.env, &c.r)
		tx.Observe(&c.f, &c.out)
	}
}

// BenchmarkCoreCorrelate is BenchmarkCore with correlation on (the
// plugin's default) and the engine's default bounds: what a line costs
// from its text to the engine's answer, before the record is written.
func BenchmarkCoreCorrelate(b *testing.B) {
	c := newCoreCorrelate(b, correlate.DefaultConfig())
	b.ReportAllocs()
	b.ResetTimer()
	done := 0
	for done < b.N {
		j := done % len(benchLines)
		n := min(corrChunk, b.N-done, len(benchLines)-j)
		tx := c.eng.Begin()
		c.lines(tx, benchLines[j:j+n])
		tx.Commit()
		done += n
	}
	reportLines(b)
}

// TestCoreCorrelateDoesNotAllocate: once its tables have grown to their
// bounds, the engine adds no allocation to the core path.
func TestCoreCorrelateDoesNotAllocate(t *testing.T) {
	cfg := correlate.DefaultConfig()
	cfg.MaxSessions, cfg.MaxCounters, cfg.MaxDistinct, cfg.MaxDedupLines = 1024, 1024, 1024, 1024
	c := newCoreCorrelate(t, cfg)
	lines := benchLines[:corrChunk]
	for range 30 { // warm up: the tables reach their bounds
		tx := c.eng.Begin()
		c.lines(tx, lines)
		tx.Commit()
	}
	allocs := testing.AllocsPerRun(5, func() {
		tx := c.eng.Begin()
		c.lines(tx, lines)
		tx.Commit()
	})
	if allocs != 0 {
		t.Errorf("parse, match and correlate of %d mixed lines allocate %v times", len(lines), allocs)
	}
	if s := c.eng.Stats(); s.Facts == 0 || s.Sessions == 0 {
		t.Errorf("the engine saw nothing: %+v", s)
	}
}
