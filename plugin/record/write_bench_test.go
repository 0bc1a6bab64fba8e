package record

import (
	"testing"
	"time"

	"github.com/sshenrich/sshenrich/test/loggen"
)

// BenchmarkWrite times writing the added fields of classified lines of
// the mixed log, as msgpack (the plugin) and JSON (the CLI).
func BenchmarkWrite(b *testing.B) {
	lines := loggen.Lines(1000, 1, false)
	for _, bc := range []struct {
		name  string
		style Style
		json  bool
	}{{"msgpack-ecs", StyleECS, false}, {"msgpack-flat", StyleFlat, false}, {"json-ecs", StyleECS, true}} {
		b.Run(bc.name, func(b *testing.B) {
			x := builtinEnricher(b, Options{Style: bc.style, Location: time.UTC})
			var mp Msgpack
			var js JSON
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				ev := x.Classify(lines[i%len(lines)])
				if bc.json {
					js.Reset()
					x.Write(&js, ev, nil)
				} else {
					mp.Reset()
					x.Write(&mp, ev, nil)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
