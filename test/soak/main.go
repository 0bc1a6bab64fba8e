// Command soak pushes many records through the plugin in the host
// program, re-emitting to a local acking Forward server, and samples the
// host's RSS and the plugin's Go heap every second. It prints the start,
// peak and end of both and whether they stayed flat (within 10%) after
// warm-up. make soak runs it with 10 million records and the test-hooks
// build of the plugin (SSHENRICH_TEST_GC_STATS: a GC before each sample).
//
//	soak -plugin build/out_sshenrich_testhooks.so -host build/fbhost [-records 10000000]
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/sshenrich/sshenrich/test/fwdserver"
	"github.com/sshenrich/sshenrich/test/loggen"
)

var (
	rssRE  = regexp.MustCompile(`fbhost: rss_kb=(\d+)`)
	heapRE = regexp.MustCompile(`stats: records=(\d+) .* go_heap_kb=(\d+) go_heap_live_kb=(\d+) go_sys_kb=(\d+)`)
)

func main() {
	plugin := flag.String("plugin", "build/out_sshenrich.so", "the plugin")
	host := flag.String("host", "build/fbhost", "the host program")
	records := flag.Int("records", 10_000_000, "records to send")
	workers := flag.Int("workers", 2, "flushing threads")
	flag.Parse()
	if err := run(*plugin, *host, *records, *workers); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

func run(plugin, host string, records, workers int) error {
	dir, err := os.MkdirTemp("", "sshenrich-soak-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	const lines = 100_000
	logFile := filepath.Join(dir, "mixed.log")
	f, err := os.Create(logFile)
	if err != nil {
		return err
	}
	if err := loggen.Write(f, lines, 1, false); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	sink, err := fwdserver.Start(fwdserver.Options{Network: "unix", Address: filepath.Join(dir, "sink.sock")})
	if err != nil {
		return err
	}
	defer sink.Close()

	repeat := (records + lines - 1) / lines
	cmd := exec.Command(host, "-s", plugin, "-p", "forward_address="+sink.URL(), "-p", "stats_interval=1s",
		"-p", "time_zone=UTC", "-f", logFile, "-n", "1000", "-x", strconv.Itoa(repeat), "-w", strconv.Itoa(workers), "-q", "-S")
	// The test-hooks build runs a GC before each stats sample, so the heap
	// figure is what the plugin retains, not garbage awaiting the next GC.
	cmd.Env = append(os.Environ(), "SSHENRICH_TEST_GC_STATS=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	began := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	var rss, heap []int
	var last string
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		line := sc.Text()
		if m := rssRE.FindStringSubmatch(line); m != nil {
			v, _ := strconv.Atoi(m[1])
			rss = append(rss, v)
		} else if m := heapRE.FindStringSubmatch(line); m != nil {
			v, _ := strconv.Atoi(m[2])
			heap = append(heap, v)
		} else {
			last = line
		}
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("host: %w (%s)", err, last)
	}
	elapsed := time.Since(began)
	fmt.Printf("soak: %d records in %s (%.0f records/s), %d received by the sink\n", repeat*lines, elapsed.Round(time.Second),
		float64(repeat*lines)/elapsed.Seconds(), sink.Count())
	report("host RSS", rss)
	report("Go heap after GC", heap)
	return nil
}

// report prints start, peak and end, and whether every sample after
// the first quarter (warm-up) stays within 10% of their mean.
func report(what string, s []int) {
	if len(s) < 4 {
		fmt.Printf("soak: %s: too few samples (%d)\n", what, len(s))
		return
	}
	peak := 0
	for _, v := range s {
		peak = max(peak, v)
	}
	warm := s[len(s)/4:]
	lo, hi, sum := warm[0], warm[0], 0
	for _, v := range warm {
		lo, hi, sum = min(lo, v), max(hi, v), sum+v
	}
	mean := float64(sum) / float64(len(warm))
	dev := max(float64(hi)-mean, mean-float64(lo)) / mean
	fmt.Printf("soak: %s: start %d KB, peak %d KB, end %d KB; after warm-up %d..%d KB (mean %.0f, ±%.1f%%): flat within 10%%: %v\n",
		what, s[0], peak, s[len(s)-1], lo, hi, mean, 100*dev, dev <= 0.1)
}
