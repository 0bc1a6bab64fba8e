package rules

import (
	"math/rand/v2"
	"testing"
)

// TestShapeCacheOnOtherNumbers matches each sample line, then lines of
// its shape with other numbers, and holds the cached answer (the
// winner's captures placed by the shape, or the winner run again) to the
// search's: the same entry, rank, captures and prefixes.
func TestShapeCacheOnOtherNumbers(t *testing.T) {
	c, partial := coverageCatalog(t)
	if partial {
		t.Skip("checks the whole catalog")
	}
	lines := sampleLines(t, c, true)
	cached, uncached := c.NewMatcher(), c.NewMatcher()
	uncached.shapes = nil
	rng := rand.New(rand.NewPCG(7, 11))
	var r1, r2 Result
	var variants, placed int
	for _, prog := range append(onePerFamily(c), "") {
		in := Input{Families: c.FamiliesOf([]byte(prog)), Severity: -1}
		for _, line := range lines {
			var s shapeCache
			if s.shapeOf([]byte(line)); !s.ok || s.nRuns == 0 {
				continue
			}
			for range 2 {
				v := otherNumbers(rng, line, &s)
				cached.MatchIn([]byte(line), in, &r1)
				cached.MatchIn(v, in, &r1)
				uncached.MatchIn(v, in, &r2)
				if r2.Entry != nil {
					variants++
				}
				if sc := cached.shapes; sc.ok && r2.Entry != nil {
					if i := sc.lookup(in.Families, r1.Level); i >= 0 && sc.placed[i].ok {
						placed++
					}
				}
				if diff := resultDiff(&r1, &r2); diff != "" {
					t.Fatalf("%s: %q after %q: cached and searched differ: %s", prog, v, line, diff)
				}
			}
		}
	}
	t.Logf("%d classified lines with other numbers, %d placed by their shape", variants, placed)
	if placed < variants/2 {
		t.Errorf("only %d of %d lines were placed by their shape", placed, variants)
	}
}

// otherNumbers returns line with each number of its shape (in s)
// replaced by another of the same kind: digits, or digits and hex
// letters.
func otherNumbers(rng *rand.Rand, line string, s *shapeCache) []byte {
	var out []byte
	from := 0
	for k := range s.nRuns {
		start, end := int(s.runStart[k]), int(s.runEnd[k])
		out = append(out, line[from:start]...)
		hex := false
		for i := start; i < end; i++ {
			hex = hex || isHexLetter(line[i])
		}
		n := 1 + rng.IntN(6)
		if hex {
			n = max(n, 2)
			out = append(out, "0123456789"[rng.IntN(10)], "abcdefABCDEF"[rng.IntN(12)])
			n -= 2
			for range n {
				out = append(out, "0123456789abcdef"[rng.IntN(16)])
			}
		} else {
			for range n {
				out = append(out, byte('0'+rng.IntN(10)))
			}
		}
		from = end
	}
	return append(out, line[from:]...)
}

// resultDiff describes how two results differ, or returns "".
func resultDiff(a, b *Result) string {
	switch {
	case a.Code() != b.Code() || a.Template != b.Template:
		return a.Code() + " / " + b.Code()
	case a.rank != b.rank:
		return "rank"
	case a.Level != b.Level || a.Function != b.Function || a.ErrorText != b.ErrorText:
		return "level or prefixes"
	case a.ncaps != b.ncaps:
		return "number of captures"
	}
	for i := range a.ncaps {
		if a.caps[i] != b.caps[i] {
			return "capture " + a.caps[i].name()
		}
	}
	return ""
}

func (c Capture) name() string {
	if c.Var != nil {
		return c.Var.Name
	}
	return "group"
}

// TestShapeCacheCaptureBesideNumber: a capture that a digit may follow
// can end inside a number, at a place that depends on the number's
// length; such a winner is run again on each line, never placed.
func TestShapeCacheCaptureBesideNumber(t *testing.T) {
	c := testCatalog(t, entry("T-NEXT", "pid <code><user> done"))
	cached, uncached := c.NewMatcher(), c.NewMatcher()
	uncached.shapes = nil
	var r1, r2 Result
	for _, msg := range []string{"pid 7 done", "pid 78 done", "pid 789x done", "pid 5 done"} {
		cached.MatchIn([]byte(msg), AnyInput, &r1)
		uncached.MatchIn([]byte(msg), AnyInput, &r2)
		if diff := resultDiff(&r1, &r2); diff != "" {
			t.Errorf("%q: cached and searched differ: %s", msg, diff)
		}
	}
	if tp := c.Entries()[0].Templates[0]; tp.mappable {
		t.Errorf("%q is placed by the shape", tp.Text)
	}
}
