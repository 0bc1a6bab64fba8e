package test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sshenrich/sshenrich/test/fwdserver"
	"github.com/sshenrich/sshenrich/test/loggen"
)

var passthrough struct {
	once sync.Once
	path string
	err  error
}

func buildPassthrough(b *testing.B) string {
	b.Helper()
	build(b)
	passthrough.once.Do(func() {
		passthrough.path = filepath.Join(artifacts.dir, "out_passthrough.so")
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", passthrough.path, "./test/passthrough")
		cmd.Dir = artifacts.rootDir
		if out, err := cmd.CombinedOutput(); err != nil {
			passthrough.err = fmt.Errorf("building the pass-through plugin: %w\n%s", err, out)
		}
	})
	if passthrough.err != nil {
		b.Fatal(passthrough.err)
	}
	return passthrough.path
}

var rateRE = regexp.MustCompile(`records_per_second=(\d+)`)

// BenchmarkHostForward runs the host program end to end: chunks of the
// mixed log, flushed by 1 or 2 threads, re-emitted over Forward with acks
// to a local server. "passthrough" replaces sshenrich with a plugin that
// only decodes and re-encodes, so the difference is the enrichment.
func BenchmarkHostForward(b *testing.B) {
	log := filepath.Join(b.TempDir(), "mixed.log")
	f, err := os.Create(log)
	if err != nil {
		b.Fatal(err)
	}
	if err := loggen.Write(f, 100000, 1, false); err != nil {
		b.Fatal(err)
	}
	f.Close()
	for _, plugin := range []string{"sshenrich", "passthrough"} {
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/workers=%d", plugin, workers), func(b *testing.B) {
				build(b)
				so, name := artifacts.plugin, "sshenrich"
				if plugin == "passthrough" {
					so, name = buildPassthrough(b), "passthrough"
				}
				var rates []float64
				for i := 0; i < b.N; i++ {
					// Alert records (correlation is on by default) come
					// beside the 100000 lines: counted apart.
					var lines, alerts atomic.Int64
					count := func(body []byte) {
						if bytes.Contains(body, []byte("\xa4kind\xa5alert")) {
							alerts.Add(1)
						} else {
							lines.Add(1)
						}
					}
					s, err := fwdserver.Start(fwdserver.Options{Network: "unix", Address: filepath.Join(b.TempDir(), "sink.sock"), OnRecord: count})
					if err != nil {
						b.Fatal(err)
					}
					cmd := exec.Command(artifacts.host, "-s", so, "-N", name, "-p", "forward_address="+s.URL(),
						"-p", "time_zone=UTC", "-f", log, "-n", "1000", "-w", strconv.Itoa(workers), "-q")
					out, err := cmd.CombinedOutput()
					s.Close()
					if err != nil {
						b.Fatalf("host: %v\n%s", err, out)
					}
					m := rateRE.FindSubmatch(out)
					if m == nil {
						b.Fatalf("no rate in host output:\n%s", out)
					}
					r, _ := strconv.ParseFloat(string(m[1]), 64)
					rates = append(rates, r)
					if lines.Load() != 100000 {
						b.Fatalf("server received %d of 100000 lines (and %d alerts)", lines.Load(), alerts.Load())
					}
				}
				best := 0.0
				for _, r := range rates {
					best = max(best, r)
				}
				b.ReportMetric(best, "records/s")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}
