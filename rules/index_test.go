package rules

import "testing"

// TestIndexFindsTheBest compares the indexed matcher with one that tries
// every template, on every sample line of the catalog as each family's
// programs would write it: the index may only save work, never change
// the answer.
func TestIndexFindsTheBest(t *testing.T) {
	c, partial := coverageCatalog(t)
	if partial {
		t.Skip("checks the whole catalog")
	}
	var lines []string
	for _, e := range c.Entries() {
		for _, tp := range e.Templates {
			for _, l := range tp.Instances() {
				lines = append(lines, l, "error: "+l, "fatal: some_func: "+l, l+" [preauth]")
			}
		}
	}
	for _, row := range readTSV(t, "testdata/examples/*.tsv") {
		lines = append(lines, row.cols[1])
	}
	indexed, every := c.NewMatcher(), c.NewMatcher()
	every.everyTemplate = true
	var r1, r2 Result
	for _, prog := range append(listedPrograms(c), "") {
		in := Input{Families: c.FamiliesOf([]byte(prog)), Severity: -1}
		for _, line := range lines {
			indexed.MatchIn([]byte(line), in, &r1)
			every.MatchIn([]byte(line), in, &r2)
			if r1.rank != r2.rank || r1.Function != r2.Function || r1.ErrorText != r2.ErrorText {
				t.Errorf("%s: %q: index gives %s (rank %d), every template gives %s (rank %d)", prog, line, r1.Code(), r1.rank, r2.Code(), r2.rank)
			}
		}
	}
}
