package test

import (
	"regexp"
	"testing"
	"time"

	"github.com/sshenrich/sshenrich/parser"
	"github.com/sshenrich/sshenrich/rules"
	"github.com/sshenrich/sshenrich/test/loggen"
)

// benchLines is the mixed log every core benchmark reads.
var benchLines = loggen.Lines(100000, 1, false)

func builtin(b testing.TB) *rules.Catalog {
	b.Helper()
	c, err := rules.Builtin()
	if err != nil {
		b.Fatal(err)
	}
	return c
}

func reportLines(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkCore is the target benchmark: envelope parsing and catalog
// matching of one line, on one goroutine, with the families of the
// line's program in scope as the plugin matches.
func BenchmarkCore(b *testing.B) { benchCore(b, builtin(b).NewMatcher(), false) }

// BenchmarkCoreSearch is BenchmarkCore without the shape cache: every
// line is searched, as a line of a shape never seen before is.
func BenchmarkCoreSearch(b *testing.B) {
	m := builtin(b).NewMatcher()
	m.NoShapeCache()
	benchCore(b, m, false)
}

// BenchmarkCoreAnyProgram matches every line against every family, as
// for bare messages.
func BenchmarkCoreAnyProgram(b *testing.B) { benchCore(b, builtin(b).NewMatcher(), true) }

func benchCore(b *testing.B, m *rules.Matcher, anyProgram bool) {
	p := parser.New(time.UTC, time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC))
	var env parser.Envelope
	var r rules.Result
	b.ReportAllocs()
	b.ResetTimer()
	for i, j := 0, 0; i < b.N; i, j = i+1, j+1 {
		if j == len(benchLines) {
			j = 0 // round again, without a division per line
		}
		p.Parse(benchLines[j], &env)
		in := rules.AnyInput
		if !anyProgram {
			in = rules.Input{Families: m.Families(env.Program), Severity: env.Severity}
		}
		m.MatchIn(env.Message, in, &r)
	}
	reportLines(b)
}

// BenchmarkCoreParseOnly isolates the envelope parser.
func BenchmarkCoreParseOnly(b *testing.B) {
	p := parser.New(time.UTC, time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC))
	var env parser.Envelope
	b.ReportAllocs()
	b.ResetTimer()
	for i, j := 0, 0; i < b.N; i, j = i+1, j+1 {
		if j == len(benchLines) {
			j = 0 // round again, without a division per line
		}
		p.Parse(benchLines[j], &env)
	}
	reportLines(b)
}

// naiveCatalog is the alternative the matcher replaces: every template
// as a Go regexp, tried in turn until one matches.
type naiveCatalog struct {
	res   []*regexp.Regexp
	codes []string
}

func newNaive(c *rules.Catalog) *naiveCatalog {
	n := &naiveCatalog{}
	for _, e := range c.Entries() {
		for _, t := range e.Templates {
			if t.Elided {
				continue
			}
			n.res = append(n.res, regexp.MustCompile(t.RegexpSource()))
			n.codes = append(n.codes, e.Code)
		}
	}
	return n
}

func (n *naiveCatalog) match(msg []byte) string {
	for i, re := range n.res {
		if re.FindSubmatchIndex(msg) != nil {
			return n.codes[i]
		}
	}
	return rules.Unclassified
}

// BenchmarkNaiveRegexp is the same work with one regexp per template.
func BenchmarkNaiveRegexp(b *testing.B) {
	p := parser.New(time.UTC, time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC))
	n := newNaive(builtin(b))
	var env parser.Envelope
	b.ReportAllocs()
	b.ResetTimer()
	for i, j := 0, 0; i < b.N; i, j = i+1, j+1 {
		if j == len(benchLines) {
			j = 0 // round again, without a division per line
		}
		p.Parse(benchLines[j], &env)
		n.match(trimPreauth(env.Message))
	}
	reportLines(b)
}

// TestCoreDoesNotAllocate holds the common path to zero allocations.
func TestCoreDoesNotAllocate(t *testing.T) {
	p := parser.New(time.UTC, time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC))
	m := builtin(t).NewMatcher()
	var env parser.Envelope
	var r rules.Result
	lines := benchLines[:2000]
	for _, l := range lines { // warm the matcher's scratch space
		p.Parse(l, &env)
		m.Match(env.Message, &r)
	}
	allocs := testing.AllocsPerRun(5, func() {
		for _, l := range lines {
			p.Parse(l, &env)
			m.Match(env.Message, &r)
		}
	})
	if allocs != 0 {
		t.Errorf("parse+match of %d mixed lines allocates %v times", len(lines), allocs)
	}
}

// TestNaiveAgreesWithMatcher checks the regexp rendering: on lines where
// only one template matches, both approaches give the same code.
func TestNaiveAgreesWithMatcher(t *testing.T) {
	c := builtin(t)
	n := newNaive(c)
	p := parser.New(time.UTC, time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC))
	m := c.NewMatcher()
	var env parser.Envelope
	var r rules.Result
	agree, total := 0, 0
	for _, l := range benchLines[:3000] {
		p.Parse(l, &env)
		m.Match(env.Message, &r)
		matches := 0
		for _, re := range n.res {
			if re.Match(trimPreauth(env.Message)) {
				matches++
			}
		}
		if matches != 1 {
			continue
		}
		total++
		if n.match(trimPreauth(env.Message)) == r.Code() {
			agree++
		}
	}
	if agree != total {
		t.Errorf("naive regexps and matcher disagree on %d of %d unambiguous lines", total-agree, total)
	}
}

func trimPreauth(b []byte) []byte {
	const s = " [preauth]"
	if len(b) >= len(s) && string(b[len(b)-len(s):]) == s {
		return b[:len(b)-len(s)]
	}
	return b
}
