package rules

import (
	"strings"
	"testing"
)

// TestIndexFindsTheBest compares the indexed matcher with one that tries
// every template, on every sample line of the catalog as each family's
// programs would write it: the index may only save work, never change
// the answer.
func TestIndexFindsTheBest(t *testing.T) {
	c, partial := coverageCatalog(t)
	if partial {
		t.Skip("checks the whole catalog")
	}
	lines := sampleLines(t, c, true)
	indexed, every, uncached := c.NewMatcher(), c.NewMatcher(), c.NewMatcher()
	every.everyTemplate, every.shapes, uncached.shapes = true, nil, nil
	var r1, r2, r3 Result
	for _, prog := range append(onePerFamily(c), "") {
		in := Input{Families: c.FamiliesOf([]byte(prog)), Severity: -1}
		for _, line := range lines {
			every.MatchIn([]byte(line), in, &r2)
			// The uncached index, and the cached one twice: the second
			// time the line's shape is known.
			uncached.MatchIn([]byte(line), in, &r3)
			for pass := range 2 {
				indexed.MatchIn([]byte(line), in, &r1)
				if r1.rank != r2.rank || r1.Function != r2.Function || r1.ErrorText != r2.ErrorText || r1.ncaps != r2.ncaps {
					t.Errorf("%s: %q (pass %d): index gives %s (rank %d), every template gives %s (rank %d)", prog, line, pass, r1.Code(), r1.rank, r2.Code(), r2.rank)
				}
			}
			if r3.rank != r2.rank {
				t.Errorf("%s: %q: uncached index gives %s (rank %d), every template gives %s (rank %d)", prog, line, r3.Code(), r3.rank, r2.Code(), r2.rank)
			}
		}
	}
}

// onePerFamily names one program of each family.
func onePerFamily(c *Catalog) []string {
	var out []string
	for _, f := range c.Families() {
		if p := f.Programs[0]; p != "*" {
			out = append(out, strings.TrimSuffix(p, "*")+"x")
		}
	}
	return out
}
