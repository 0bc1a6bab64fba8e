//go:build !race

// The race detector finds nothing to check in a million hashes on one
// goroutine and makes them six times slower; make test runs this file
// in its run without -race.

package enrich

import (
	"bytes"
	"slices"
	"testing"

	"github.com/sshenrich/sshenrich/plugin/chunk"
	"github.com/sshenrich/sshenrich/plugin/record"
	"github.com/sshenrich/sshenrich/test/loggen"
)

// TestEventIDMillion: the distinct records of a million generated lines
// get distinct ids. All share one time and one tag, so only the record's
// bytes tell them apart.
func TestEventIDMillion(t *testing.T) {
	const n = 1_000_000
	lines := loggen.Lines(n, 11, false)
	distinct := len(slices.CompactFunc(slices.SortedFunc(slices.Values(slices.Clone(lines)), bytes.Compare), bytes.Equal))
	var x ids
	tag := []byte("ssh.raw")
	got := make([][IDLen]byte, 0, n)
	var ev []byte
	var d chunk.Decoder
	for _, l := range lines {
		ev = chunk.AppendEventTime(append(ev[:0], 0x92, 0x92), 1718523450, 0)
		ev = append(ev, 0x80, 0x81, 0xa3, 'l', 'o', 'g')
		ev = append(record.AppendStrHeader(ev, len(l)), l...)
		d.Reset(ev)
		if !d.Next() {
			t.Fatal(d.Err())
		}
		x.hashEvent(tag, d.Event())
		got = append(got, [IDLen]byte(x.line(0)))
	}
	slices.SortFunc(got, func(a, b [IDLen]byte) int { return bytes.Compare(a[:], b[:]) })
	if ids := len(slices.Compact(got)); ids != distinct {
		t.Errorf("%d distinct ids for %d distinct records", ids, distinct)
	}
	if distinct < n*99/100 {
		t.Errorf("only %d of %d generated lines are distinct: the test proves little", distinct, n)
	}
	t.Logf("%d lines, %d distinct, as many ids", n, distinct)
}
