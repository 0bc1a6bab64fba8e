package enrich

import (
	"testing"

	"github.com/sshenrich/sshenrich/plugin/chunk"
	"github.com/sshenrich/sshenrich/test/loggen"
)

// BenchmarkEventID is the cost of event.id: decoding a chunk of 1,000
// records of the mixed log (about 45 µs of the figure) and hashing each.
func BenchmarkEventID(b *testing.B) {
	var in []byte
	for _, l := range loggen.Lines(1000, 1, false) {
		in = append(in, timedEvent(b, 1718523450, 0, nil, map[string]any{"log": string(l)})...)
	}
	var x ids
	tag := []byte("ssh.raw")
	var d chunk.Decoder
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d.Reset(in)
		for d.Next() {
			x.hashEvent(tag, d.Event())
			x.line(0)
		}
	}
}
