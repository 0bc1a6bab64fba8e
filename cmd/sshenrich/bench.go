package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/sshenrich/sshenrich/test/loggen"
)

// benchCmd measures the core (parse and classify) and the whole
// enrichment to JSON on one goroutine, on FILE or on a generated log.
func benchCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench", stderr)
	n := fs.Int("lines", 200000, "lines to generate when no FILE is given")
	dur := fs.Duration("time", 2*time.Second, "how long to run each measurement")
	var o enrichOptions
	fs.StringVar(&o.style, "style", "ecs", "output style: ecs or flat")
	fs.StringVar(&o.lang, "lang", "en", "language: en, ja or both")
	o.detailFlags(fs)
	fs.StringVar(&o.tz, "tz", "UTC", "time zone of timestamps that carry none")
	fs.Var(&o.rules, "rules", "user rule file (repeatable)")
	if err := fs.Parse(args); err != nil {
		return exitError(2)
	}
	if fs.NArg() > 1 {
		return operandError(stderr, "bench", "takes at most one FILE, got %d", fs.NArg())
	}
	var lines [][]byte
	source := fmt.Sprintf("%d generated mixed lines", *n)
	if fs.NArg() == 1 {
		data, err := os.ReadFile(fs.Arg(0))
		if err != nil {
			return err
		}
		for l := range bytes.Lines(data) {
			lines = append(lines, trimEOL(l))
		}
		source = fmt.Sprintf("%s (%d lines)", fs.Arg(0), len(lines))
	} else {
		lines = loggen.Lines(*n, 1, false)
	}
	if len(lines) == 0 {
		return fmt.Errorf("no lines to measure")
	}
	x, err := o.enricher()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "input: %s\n", source)
	classified := 0
	for _, l := range lines {
		if x.Classify(l).Classified() {
			classified++
		}
	}
	fmt.Fprintf(stdout, "classified: %d of %d (%.1f%%)\n", classified, len(lines), 100*float64(classified)/float64(len(lines)))
	rate := measure(*dur, lines, func(l []byte) { x.Classify(l) })
	fmt.Fprintf(stdout, "parse+classify: %.2f M lines/s\n", rate/1e6)
	e := &lineEnricher{x: x, out: bufio.NewWriter(io.Discard)}
	rate = measure(*dur, lines, e.write)
	fmt.Fprintf(stdout, "enrich to JSON: %.2f M lines/s\n", rate/1e6)
	return nil
}

func measure(d time.Duration, lines [][]byte, f func([]byte)) float64 {
	start := time.Now()
	n := 0
	for time.Since(start) < d {
		for _, l := range lines {
			f(l)
		}
		n += len(lines)
	}
	return float64(n) / time.Since(start).Seconds()
}
