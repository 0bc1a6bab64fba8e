// Command fbbench measures what sshenrich costs inside a real Fluent Bit,
// beside what a user would run instead. It is run by make bench-fluentbit
// and needs only Go and a fluent-bit binary.
//
// It writes one sshd log (test/loggen, -sshd) and runs each pipeline on
// it, every run in a fresh fluent-bit process with its own temporary
// directory, unix socket and generated configuration:
//
//	baseline     tail -> file
//	regex        tail -> parser filter (RFC 3164 header) -> parser filter
//	             (the sshd regexes of conf/bench/parsers-sshd-regex.conf) -> file
//	passthrough  tail -> test/passthrough (decode, re-emit unchanged) -> in_forward -> file
//	sshenrich    tail -> sshenrich (detail brief, full, codes) -> in_forward -> file
//
// Fluent Bit is started with nothing to read; once it is up, the log is
// linked into the tail input's directory and the run lasts until the
// output file holds every record. CPU time is read from /proc for every
// thread of the process (utime+stime) right after start-up and again just
// before the process is stopped; the table shows the difference, the CPU
// spent on the records, so plugin start-up (the catalog compile) is not
// in it but in the "startup s" column.
//
// Reading the table: "CPU s" is the whole process; "+CPU s" is what the
// pipeline adds over the baseline. The per-thread columns group threads
// by name: in_tail and in_forward (both inputs are threaded), engine
// (flb-pipeline: routing, and the filters, so the regex parsers are
// there), worker (flb-out-sshenrich or flb-out-passthrough: the Go
// output's flush thread), go runtime (the Go plugin's own threads: GC,
// scheduler; a thread keeps the name of the thread that started it, so
// Go threads started from the worker count as worker), out_file, and
// other (main thread, logger, threads that exited, rounding). B/rec is
// the output file's size per record. "worker µs/rec" is the worker
// column per record, the figure to set beside BenchmarkFlushPath. Each
// row is the run with the median CPU of its pipeline; the last lines
// divide each Go pipeline's added CPU by the regex pipeline's.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"text/template"
	"time"

	"github.com/sshenrich/sshenrich/test/fbrun"
	"github.com/sshenrich/sshenrich/test/loggen"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc: 100 on
// every Linux architecture Fluent Bit runs on (sysconf needs cgo).
const clockTicks = 100

type pipeline struct {
	name   string
	kind   string // baseline, regex, forward
	plugin string // Go output: its .so and registered name
	so     string
	detail string
}

type options struct {
	fluentBit, sshenrich, passthrough, parsers string
	records, runs                              int
	timeout                                    time.Duration
	threaded, keep, verbose                    bool
	only                                       *regexp.Regexp
}

func main() {
	var o options
	var only string
	flag.StringVar(&o.fluentBit, "fluent-bit", "", "fluent-bit binary (default: $FLUENT_BIT, else fluent-bit on the PATH)")
	flag.StringVar(&o.sshenrich, "plugin", "build/out_sshenrich.so", "sshenrich plugin")
	flag.StringVar(&o.passthrough, "passthrough", "build/out_passthrough.so", "pass-through plugin (test/passthrough)")
	flag.StringVar(&o.parsers, "parsers", "conf/bench/parsers-sshd-regex.conf", "parsers file of the regex pipeline")
	flag.IntVar(&o.records, "n", 200000, "sshd lines to send through each pipeline")
	flag.IntVar(&o.runs, "runs", 3, "runs of each pipeline; the median is shown")
	flag.DurationVar(&o.timeout, "timeout", 3*time.Minute, "longest a run may take before it fails")
	flag.BoolVar(&o.threaded, "threaded", true, "run the tail and forward inputs in their own threads (threaded on)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (configs, logs, outputs)")
	flag.BoolVar(&o.verbose, "v", false, "print every thread's CPU of every run")
	flag.StringVar(&only, "only", "", "run only the pipelines whose name matches this regexp")
	flag.Parse()

	if o.fluentBit = fbrun.Find("bench-fluentbit", o.fluentBit); o.fluentBit == "" {
		return
	}
	if only != "" {
		o.only = regexp.MustCompile(only)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "fbbench:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if o.runs < 1 || o.records < 1 {
		return errors.New("-runs and -n must be at least 1")
	}
	for _, p := range []*string{&o.fluentBit, &o.sshenrich, &o.passthrough, &o.parsers} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		if _, err := os.Stat(abs); err != nil {
			return fmt.Errorf("%w (make plugin builds the plugins)", err)
		}
		*p = abs
	}
	pipelines := []pipeline{
		{name: "a baseline", kind: "baseline"},
		{name: "b regex", kind: "regex"},
		{name: "c passthrough", kind: "forward", plugin: "passthrough", so: o.passthrough},
		{name: "d sshenrich brief", kind: "forward", plugin: "sshenrich", so: o.sshenrich, detail: "brief"},
		{name: "d sshenrich full", kind: "forward", plugin: "sshenrich", so: o.sshenrich, detail: "full"},
		{name: "d sshenrich codes", kind: "forward", plugin: "sshenrich", so: o.sshenrich, detail: "codes"},
	}
	if o.only != nil {
		pipelines = slices.DeleteFunc(pipelines, func(p pipeline) bool { return !o.only.MatchString(p.name) })
	}

	root, err := os.MkdirTemp("", "fbbench")
	if err != nil {
		return err
	}
	failed := false
	defer func() {
		if o.keep || failed {
			fmt.Println("kept", root)
		} else if err := os.RemoveAll(root); err != nil {
			fmt.Fprintln(os.Stderr, "fbbench:", err)
		}
	}()
	logPath := filepath.Join(root, "sshd.log")
	if err := writeLog(logPath, o.records); err != nil {
		return err
	}
	st, _ := os.Stat(logPath)
	fmt.Printf("fluent-bit %s (%s), %d sshd lines (%.1f MB), %d runs of each pipeline, inputs threaded %v\n",
		fbrun.Version(o.fluentBit), o.fluentBit, o.records, float64(st.Size())/1e6, o.runs, o.threaded)

	// Rounds rather than one pipeline after the other, so that a busy
	// spell on the shared machine does not land on one pipeline only.
	results := make([][]result, len(pipelines))
	started := map[string]bool{}
	for r := 1; r <= o.runs; r++ {
		for i, p := range pipelines {
			dir := filepath.Join(root, fmt.Sprintf("%s-%d", strings.ReplaceAll(p.name, " ", "-"), r))
			res, err := runOnce(o, p, dir, logPath)
			if err != nil {
				failed = true
				fmt.Printf("FAIL %s, run %d: %v\n", p.name, r, err)
				continue
			}
			fmt.Printf("run %d/%d %-18s %d records (%d of them alerts) in %5.1fs, CPU %5.2fs\n", r, o.runs, p.name, res.records, res.alerts, res.wall.Seconds(), res.total)
			if p.plugin == "sshenrich" && !started[p.detail] && res.startLine != "" {
				started[p.detail] = true
				fmt.Printf("    detail %s: %s\n", p.detail, res.startLine)
			}
			if o.verbose {
				fmt.Print(res.threads)
			}
			results[i] = append(results[i], res)
		}
	}
	report(os.Stdout, o, pipelines, results)
	if failed {
		return errors.New("some runs failed (see FAIL above)")
	}
	return nil
}

func writeLog(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	err = loggen.Write(w, n, 1, true)
	if err == nil {
		err = w.Flush()
	}
	return errors.Join(err, f.Close())
}

// confTemplate is the whole configuration of one run, classic format.
// The tail input has no DB, so every run reads the file from its start.
var confTemplate = template.Must(template.New("conf").Parse(`[SERVICE]
    Flush        1
    Grace        1
    Log_Level    info
{{- if eq .Kind "regex"}}
    Parsers_File {{.Parsers}}
{{- end}}

[INPUT]
    Name             tail
    Path             {{.InDir}}/*.log
    Tag              ssh.raw
    Key              message
    Read_from_Head   On
    Refresh_Interval 1
    Threaded         {{.Threaded}}
{{if eq .Kind "regex"}}
[FILTER]
    Name         parser
    Match        ssh.*
    Key_Name     message
    Parser       sshd-rfc3164
    Preserve_Key On
    Reserve_Data On

[FILTER]
    Name         parser
    Match        ssh.*
    Key_Name     msg
    Parser       sshd-accepted
    Parser       sshd-failed
    Parser       sshd-invalid-user
    Parser       sshd-connection-closed
    Parser       sshd-received-disconnect
    Parser       sshd-max-auth-attempts
    Parser       sshd-pam-auth-failure
    Preserve_Key On
    Reserve_Data On
{{end}}
{{- if eq .Kind "forward"}}
[OUTPUT]
    Name            {{.Plugin}}
    Match           ssh.*
    Workers         1
    Retry_Limit     no_limits
    message_key     message
    time_zone       UTC
    forward_address unix://{{.Socket}}
    tag_prefix      enriched.
{{- if .Detail}}
    detail          {{.Detail}}
{{- end}}

[INPUT]
    Name      forward
    Unix_Path {{.Socket}}
    Threaded  {{.Threaded}}
{{end}}
[OUTPUT]
    Name   file
    Match  {{if eq .Kind "forward"}}enriched.*{{else}}ssh.*{{end}}
    Path   {{.OutDir}}
    File   out.log
    Format plain
`))

type result struct {
	records   int
	alerts    int // of records: sshenrich's correlation alerts
	bytes     int64
	wall      time.Duration
	startup   float64            // CPU seconds until the log was handed over
	total     float64            // CPU seconds on the records, whole process
	groups    map[string]float64 // the same by thread group
	startLine string             // sshenrich's "started:" log line
	threads   string             // every thread's CPU, for -v
}

var readyRE = regexp.MustCompile(`stream processor started|Shutdown Grace Period`)

func runOnce(o options, p pipeline, dir, logPath string) (res result, err error) {
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	for _, d := range []string{in, out} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return res, err
		}
	}
	var conf bytes.Buffer
	threaded := "Off"
	if o.threaded {
		threaded = "On"
	}
	if err := confTemplate.Execute(&conf, map[string]string{
		"Kind": p.kind, "Plugin": p.plugin, "Detail": p.detail, "Parsers": o.parsers, "Threaded": threaded,
		"InDir": in, "OutDir": out, "Socket": filepath.Join(dir, "fwd.sock"),
	}); err != nil {
		return res, err
	}
	confPath := filepath.Join(dir, "fluent-bit.conf")
	if err := os.WriteFile(confPath, conf.Bytes(), 0o644); err != nil {
		return res, err
	}
	fbLog := filepath.Join(dir, "fluent-bit.log")
	logFile, err := os.Create(fbLog)
	if err != nil {
		return res, err
	}
	defer func() { _ = logFile.Close() }() // written by Fluent Bit; errors show in its content
	args := []string{"-c", confPath}
	if p.so != "" {
		args = append([]string{"-e", p.so}, args...)
	}
	cmd := exec.Command(o.fluentBit, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return res, err
	}
	pid := cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		var waitErr error
		select {
		case waitErr = <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			waitErr = <-exited
		}
		_ = waitErr // how it exited is of no interest once told to stop
	}
	defer func() {
		stop()
		if err != nil {
			err = fmt.Errorf("%w\n    (config, log and output in %s; last lines of fluent-bit.log:)\n%s", err, dir, fbrun.Tail(fbLog, 15))
		}
	}()

	// Up: every plugin initialised, the engine running.
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(fbLog)
		if readyRE.Match(b) {
			break
		}
		if err := fbrun.CheckRunning(exited, deadline, "to start"); err != nil {
			return res, err
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	before, err := readCPU(pid)
	if err != nil {
		return res, err
	}
	res.startup = before.process

	// Hand the log over (a hard link: nothing is copied) and wait for
	// every record in the output file.
	begin := time.Now()
	if err := os.Link(logPath, filepath.Join(in, "sshd.log")); err != nil {
		return res, err
	}
	outPath := filepath.Join(out, "out.log")
	var counter fbrun.LineCounter
	deadline = begin.Add(o.timeout)
	for {
		n, err := counter.Count(outPath)
		if err != nil {
			return res, err
		}
		if n-counter.Alerts >= o.records {
			break
		}
		if err := fbrun.CheckRunning(exited, deadline, fmt.Sprintf("to write %d records (%d so far)", o.records, n-counter.Alerts)); err != nil {
			return res, err
		}
		time.Sleep(100 * time.Millisecond)
	}
	after, err := readCPU(pid)
	if err != nil {
		return res, err
	}
	res.wall = time.Since(begin)
	stop()

	n, err := counter.Count(outPath)
	if err != nil {
		return res, err
	}
	// sshenrich's correlation adds alert records beside the lines.
	if n-counter.Alerts != o.records {
		return res, fmt.Errorf("%d records written (and %d alerts), want %d (duplicates?)", n-counter.Alerts, counter.Alerts, o.records)
	}
	res.alerts = counter.Alerts
	st, err := os.Stat(outPath)
	if err != nil {
		return res, err
	}
	res.records, res.bytes = n, st.Size()
	res.total = after.process - before.process
	res.groups = map[string]float64{}
	sum := 0.0
	var sb strings.Builder
	for _, tid := range slices.Sorted(maps.Keys(after.threads)) {
		t := after.threads[tid]
		d := t.cpu - before.threads[tid].cpu
		g := group(t.comm, tid == pid)
		res.groups[g] += d
		sum += d
		fmt.Fprintf(&sb, "    %7d %-15s %-10s %6.2f s\n", tid, t.comm, g, d)
	}
	res.threads = sb.String()
	if rest := res.total - sum; rest > 0 {
		res.groups["other"] += rest // threads that exited
	}
	if b, _ := os.ReadFile(fbLog); len(b) > 0 {
		if m := regexp.MustCompile(`\] started: .*`).Find(b); m != nil {
			res.startLine = string(m[len("] "):])
		}
	}
	return res, nil
}

type thread struct {
	comm string
	cpu  float64
}

type cpuSnapshot struct {
	process float64 // /proc/<pid>/stat: every thread, exited ones included
	threads map[int]thread
}

func readCPU(pid int) (cpuSnapshot, error) {
	s := cpuSnapshot{threads: map[int]thread{}}
	_, cpu, err := readStat(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	s.process = cpu
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return s, err
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		dir := fmt.Sprintf("/proc/%d/task/%d/", pid, tid)
		_, cpu, err := readStat(dir + "stat")
		if err != nil {
			continue // the thread exited meanwhile
		}
		comm, err := os.ReadFile(dir + "comm")
		if err != nil {
			continue
		}
		s.threads[tid] = thread{comm: strings.TrimSpace(string(comm)), cpu: cpu}
	}
	return s, nil
}

// readStat returns the comm and utime+stime, in seconds, of a stat file.
func readStat(path string) (string, float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", 0, err
	}
	// pid (comm) state ppid ...: comm may hold spaces and parentheses.
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return "", 0, fmt.Errorf("%s: unexpected format", path)
	}
	f := strings.Fields(string(b[end+1:]))
	if len(f) < 13 {
		return "", 0, fmt.Errorf("%s: unexpected format", path)
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseUint(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return "", 0, fmt.Errorf("%s: unexpected format", path)
	}
	return string(b[open+1 : end]), float64(utime+stime) / clockTicks, nil
}

// groups lists the thread groups in the order of the table.
var groups = []string{"in_tail", "engine", "worker", "go runtime", "in_forward", "out_file", "other"}

// group names a thread by its comm. Fluent Bit names its threads
// flb-pipeline, flb-in-<input>-w<n> and flb-out-<output>-w<n> (cut to 15
// bytes); a thread that does not rename itself keeps the name of the
// thread that created it, which for the Go runtime's threads is mostly
// the main thread's, fluent-bit.
func group(comm string, main bool) string {
	switch {
	case main:
		return "other"
	case comm == "flb-pipeline":
		return "engine"
	case strings.HasPrefix(comm, "flb-in-tail"):
		return "in_tail"
	case strings.HasPrefix(comm, "flb-in-forward"):
		return "in_forward"
	case strings.HasPrefix(comm, "flb-out-file"):
		return "out_file"
	case strings.HasPrefix(comm, "flb-out-sshenri"), strings.HasPrefix(comm, "flb-out-passthr"):
		return "worker"
	case comm == "fluent-bit":
		return "go runtime"
	}
	return "other"
}

// median returns the run with the median CPU (the lower one of an even
// count).
func median(runs []result) result {
	s := slices.Clone(runs)
	slices.SortFunc(s, func(a, b result) int {
		switch {
		case a.total < b.total:
			return -1
		case a.total > b.total:
			return 1
		}
		return 0
	})
	return s[(len(s)-1)/2]
}

func report(w io.Writer, o options, pipelines []pipeline, results [][]result) {
	fmt.Fprintf(w, "\nCPU seconds on %d records, the run with the median CPU of %d (min-max of the runs in brackets):\n\n", o.records, o.runs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "pipeline\tCPU s\t(min-max)\t+CPU s\t")
	for _, g := range groups {
		fmt.Fprintf(tw, "%s\t", g)
	}
	fmt.Fprint(tw, "B/rec\tworker µs/rec\tstartup s\t\n")
	var base *result
	added := map[string]float64{}
	for i, p := range pipelines {
		if len(results[i]) == 0 {
			fmt.Fprintf(tw, "%s\tFAILED\t\n", p.name)
			continue
		}
		m := median(results[i])
		lo, hi := m.total, m.total
		for _, r := range results[i] {
			lo, hi = min(lo, r.total), max(hi, r.total)
		}
		plus := "-"
		if p.kind == "baseline" {
			base = &m
		} else if base != nil {
			added[p.name] = m.total - base.total
			plus = fmt.Sprintf("%.2f", added[p.name])
		}
		fmt.Fprintf(tw, "%s\t%.2f\t(%.2f-%.2f)\t%s\t", p.name, m.total, lo, hi, plus)
		for _, g := range groups {
			if v, ok := m.groups[g]; ok && v != 0 {
				fmt.Fprintf(tw, "%.2f\t", v)
			} else {
				fmt.Fprint(tw, "-\t")
			}
		}
		us := "-"
		if p.plugin != "" {
			us = fmt.Sprintf("%.2f", m.groups["worker"]/float64(m.records)*1e6)
		}
		fmt.Fprintf(tw, "%.0f\t%s\t%.2f\t\n", float64(m.bytes)/float64(m.records), us, m.startup)
	}
	if err := tw.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "fbbench:", err)
	}

	regex, ok := added["b regex"]
	if !ok || regex <= 0 {
		return
	}
	fmt.Fprintf(w, "\nAdded CPU over the baseline, against the regex pipeline's %.2f s:\n", regex)
	for _, p := range pipelines {
		if a, ok := added[p.name]; ok && p.kind == "forward" {
			fmt.Fprintf(w, "  %-18s %5.2f s = %.2f x regex\n", p.name, a, a/regex)
		}
	}
	sizes := map[int64]bool{}
	for i, p := range pipelines {
		if p.detail != "" && len(results[i]) > 0 {
			sizes[results[i][0].bytes] = true
		}
	}
	if len(sizes) == 1 && o.only == nil {
		fmt.Fprintln(w, "Note: every detail level wrote an output of the same size: this plugin build seems to ignore the detail key.")
	}
}
