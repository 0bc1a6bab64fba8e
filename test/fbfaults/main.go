// Command fbfaults replays faults on sshenrich inside a real Fluent Bit
// and counts what was lost and duplicated. It is run by make
// faults-fluentbit and needs only Go and a fluent-bit binary (skipped
// without one).
//
// Each experiment runs in a fresh temporary directory, with the shipped
// pipeline (conf/fluent-bit.conf):
//
//	tail (filesystem storage, DB) -> sshenrich (Workers 1, Retry_Limit
//	no_limits) -> in_forward (unix socket, filesystem storage) -> http
//
// The http output posts to a sink in this program, which counts every
// record by its content (the numbered line) and by event.id when records
// carry one. A writer appends numbered sshd lines to the tailed file at
// a steady rate, so that flushes are in flight when a fault lands, and
// faults are set off when the sink has seen a given share of the lines:
// kill -9 (then a restart on the same storage and DB), SIGTERM, a hot
// reload (SIGHUP), a forward input that stops acknowledging (the
// enriched records go to a second Fluent Bit, which is stopped with
// SIGSTOP for a while) and a slow sink. After the faults the run waits
// for every line at the sink (or for progress to stall) and stops
// Fluent Bit.
//
// The table: records in (lines written), out (records at the sink),
// unique by content and by event.id, lost (in - unique), duplicates
// (out - unique), the longest SIGTERM stop (with chunks pending; the
// target is at most Grace + ack_timeout + 2 s) and each reload's time
// (SIGHUP to "reload done"; a reload that does not end within the
// watchdog is reported as such).
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"text/template"
	"time"

	"github.com/sshenrich/sshenrich/test/fbrun"
)

type options struct {
	fluentBit, plugin string
	lines, rate       int
	ackTimeout        time.Duration
	grace             int
	stall             time.Duration
	keep              bool
	state             bool
	only              *regexp.Regexp
}

// fault is one thing done to Fluent Bit when the sink has seen the share
// at of the lines.
type fault struct {
	at   float64
	kind string // kill, term, reload, pause (SIGSTOP of the downstream Fluent Bit)
}

type experiment struct {
	name   string
	faults []fault
	// split: sshenrich delivers to a second Fluent Bit (in_forward ->
	// http) instead of its own forward input, so that its target can be
	// paused on its own.
	split bool
	// fbDefaults: hot reload as Fluent Bit ships it
	// (Hot_Reload.Ensure_Thread_Safety on, which waits for every chunk),
	// with the watchdog as the only way out.
	fbDefaults bool
	sinkDelay  time.Duration
	// burst: ten times the lines, written at once: a backlog that keeps
	// many chunks pending for sshenrich.
	burst bool
}

func main() {
	var o options
	var only string
	flag.StringVar(&o.fluentBit, "fluent-bit", "", "fluent-bit binary (default: $FLUENT_BIT, else fluent-bit on the PATH)")
	flag.StringVar(&o.plugin, "plugin", "build/out_sshenrich.so", "sshenrich plugin")
	flag.IntVar(&o.lines, "n", 20000, "lines written in each experiment")
	flag.IntVar(&o.rate, "rate", 4000, "lines written per second")
	flag.DurationVar(&o.ackTimeout, "ack-timeout", 10*time.Second, "sshenrich's ack_timeout (the shipped value)")
	flag.IntVar(&o.grace, "grace", 5, "Fluent Bit's Grace, seconds (the shipped value)")
	flag.DurationVar(&o.stall, "stall", 40*time.Second, "how long the sink may see no new record before a run is called done")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (configs, logs)")
	flag.BoolVar(&o.state, "state", true, "set correlation_state_file, as the shipped Kubernetes configurations do, so that the correlation state carries over stops and reloads")
	flag.StringVar(&only, "only", "", "run only the experiments whose name matches this regexp")
	flag.Parse()
	if o.fluentBit = fbrun.Find("faults-fluentbit", o.fluentBit); o.fluentBit == "" {
		return
	}
	if only != "" {
		o.only = regexp.MustCompile(only)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "fbfaults:", err)
		os.Exit(1)
	}
}

func experiments() []experiment {
	return []experiment{
		{name: "no fault"},
		{name: "kill -9 at 30% and 60%", faults: []fault{{0.3, "kill"}, {0.6, "kill"}}},
		{name: "SIGTERM at 50%", faults: []fault{{0.5, "term"}}},
		{name: "SIGTERM at 30% of a backlog", faults: []fault{{0.3, "term"}}, burst: true},
		{name: "reload at 30%", faults: []fault{{0.3, "reload"}}},
		{name: "reload at 50%", faults: []fault{{0.5, "reload"}}},
		{name: "reload at 70%", faults: []fault{{0.7, "reload"}}},
		{name: "reload at 30% of a backlog", faults: []fault{{0.3, "reload"}}, burst: true},
		{name: "reload at 50%, FB defaults", faults: []fault{{0.5, "reload"}}, fbDefaults: true},
		{name: "forward input paused 15s at 40%", faults: []fault{{0.4, "pause"}}, split: true},
		{name: "slow sink (300ms per request)", sinkDelay: 300 * time.Millisecond},
	}
}

func run(o options) error {
	if o.lines < 100 || o.rate < 1 {
		return errors.New("-n must be at least 100 and -rate at least 1")
	}
	abs, err := filepath.Abs(o.plugin)
	if err != nil {
		return err
	}
	if _, err := os.Stat(abs); err != nil {
		return fmt.Errorf("%w (make plugin builds it)", err)
	}
	o.plugin = abs
	root, err := os.MkdirTemp("", "fbfaults")
	if err != nil {
		return err
	}
	failed := false
	defer func() {
		if o.keep || failed {
			fmt.Println("kept", root)
		} else if err := os.RemoveAll(root); err != nil {
			fmt.Fprintln(os.Stderr, "fbfaults:", err)
		}
	}()
	fmt.Printf("fluent-bit %s (%s): %d lines per experiment at %d lines/s, Grace %d, ack_timeout %s, correlation_state_file %v\n",
		fbrun.Version(o.fluentBit), o.fluentBit, o.lines, o.rate, o.grace, o.ackTimeout, o.state)
	var results []result
	for i, e := range experiments() {
		if o.only != nil && !o.only.MatchString(e.name) {
			continue
		}
		dir := filepath.Join(root, fmt.Sprintf("%02d", i))
		res, err := runExperiment(o, e, dir)
		res.name = e.name
		if err != nil {
			failed = true
			res.note = append(res.note, "FAILED: "+err.Error())
			fmt.Printf("FAIL %s: %v\n    (config and logs in %s)\n", e.name, err, dir)
		}
		if res.lost() > 0 {
			failed = true
		}
		fmt.Printf("%-34s in %d, unique %d, lost %d, duplicates %d %s\n", e.name, res.in, res.unique, res.lost(), res.dups(), strings.Join(res.note, "; "))
		results = append(results, res)
	}
	report(os.Stdout, o, results)
	if failed {
		return errors.New("some experiments lost records or failed (see above)")
	}
	return nil
}

type result struct {
	name                 string
	in, out, unique, ids int
	withIDs              bool
	stops                []time.Duration // SIGTERM stops with chunks pending
	finalStop            time.Duration
	reloads              []string // each reload's time, or what became of it
	note                 []string
}

func (r result) lost() int { return r.in - r.unique }
func (r result) dups() int { return r.out - r.unique }

// sink is the http output's target: it counts records by content and by
// event.id.
type sink struct {
	delay time.Duration

	mu      sync.Mutex
	out     int
	byLine  map[string]int
	byID    map[string]int
	bad     int
	alerts  int // sshenrich's correlation alert records: counted apart from the lines
	lastNew time.Time
}

func newSink(delay time.Duration) *sink {
	return &sink{delay: delay, byLine: map[string]int{}, byID: map[string]int{}, lastNew: time.Now()}
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	time.Sleep(s.delay)
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			s.bad++
			continue
		}
		if isAlert(rec) {
			s.alerts++
			continue
		}
		s.out++
		line, _ := rec["message"].(string)
		if s.byLine[line] == 0 {
			s.lastNew = time.Now()
		}
		s.byLine[line]++
		if id := eventID(rec); id != "" {
			s.byID[id]++
		}
	}
	w.WriteHeader(http.StatusOK)
}

// isAlert reports whether rec is a correlation alert record (the
// numbered lines raise user-enumeration alerts).
func isAlert(rec map[string]any) bool {
	if k, ok := rec["event.kind"].(string); ok {
		return k == "alert"
	}
	ev, _ := rec["event"].(map[string]any)
	return ev != nil && ev["kind"] == "alert"
}

// eventID reads event.id, flat or nested (ECS).
func eventID(rec map[string]any) string {
	if id, ok := rec["event.id"].(string); ok {
		return id
	}
	if ev, ok := rec["event"].(map[string]any); ok {
		if id, ok := ev["id"].(string); ok {
			return id
		}
	}
	return ""
}

// touch restarts the stall clock: a fault's own time (a long stop, a
// restart) is no stall.
func (s *sink) touch() {
	s.mu.Lock()
	s.lastNew = time.Now()
	s.mu.Unlock()
}

func (s *sink) unique() (n int, idle time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byLine), time.Since(s.lastNew)
}

var lineRE = regexp.MustCompile(`Invalid user u(\d+) `)

// count fills the result's figures from what the sink saw.
func (s *sink) count(res *result, lines int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	res.out = s.out
	for line := range s.byLine {
		if m := lineRE.FindStringSubmatch(line); m != nil {
			res.unique++
		}
	}
	res.ids = len(s.byID)
	res.withIDs = len(s.byID) > 0
	if s.bad > 0 {
		res.note = append(res.note, fmt.Sprintf("%d lines the sink could not read", s.bad))
	}
	if s.alerts > 0 {
		res.note = append(res.note, fmt.Sprintf("%d correlation alert records besides", s.alerts))
	}
	if res.unique > lines {
		res.note = append(res.note, fmt.Sprintf("%d unique records for %d lines", res.unique, lines))
	}
}

// writer appends numbered sshd lines at a steady rate.
func writeLines(path string, n, rate int, stop <-chan struct{}) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }() // each batch is written whole before the next
	const tick = 50 * time.Millisecond
	per := max(1, rate*int(tick)/int(time.Second))
	t := time.NewTicker(tick)
	defer t.Stop()
	var b bytes.Buffer
	for i := 0; i < n; {
		b.Reset()
		for k := 0; k < per && i < n; k, i = k+1, i+1 {
			fmt.Fprintf(&b, "Jun 16 07:37:30 web01 sshd[%d]: Invalid user u%d from 192.0.2.%d port %d\n", 1000+i%50000, i, 1+i%250, 1024+i%60000)
		}
		if _, err := f.Write(b.Bytes()); err != nil {
			return err
		}
		select {
		case <-stop:
			return nil
		case <-t.C:
		}
	}
	return nil
}

var confTemplate = template.Must(template.New("conf").Parse(`[SERVICE]
    Flush                     1
    Grace                     {{.Grace}}
    Log_Level                 info
    storage.path              {{.Dir}}/storage{{.Which}}
    storage.sync              normal
    storage.backlog.mem_limit 16M
    Hot_Reload                On
    Hot_Reload.Ensure_Thread_Safety {{.ThreadSafety}}
    Hot_Reload.Timeout        {{.ReloadTimeout}}
{{if .Tail}}
[INPUT]
    Name              tail
    Path              {{.Dir}}/in/*.log
    Tag               ssh.raw
    Key               message
    DB                {{.Dir}}/tail.db
    storage.type      filesystem
    Read_from_Head    On
    Refresh_Interval  1

[OUTPUT]
    Name              sshenrich
    Match             ssh.*
    Workers           1
    Retry_Limit       no_limits
    message_key       message
    time_zone         UTC
    forward_address   unix://{{.Socket}}
    tag_prefix        enriched.
    ack_timeout       {{.AckTimeout}}
{{if .State}}    correlation_state_file {{.Dir}}/sshenrich{{.Which}}.state
{{end}}{{end}}{{if .Forward}}
[INPUT]
    Name              forward
    Unix_Path         {{.Socket}}
    storage.type      filesystem

[OUTPUT]
    Name              http
    Match             enriched.*
    Host              127.0.0.1
    Port              {{.SinkPort}}
    URI               /ingest
    Format            json_lines
    Retry_Limit       no_limits
{{end}}`))

// fluentBit is one Fluent Bit process, restarted on the same
// configuration, storage and DB after a kill.
type fluentBit struct {
	o      options
	name   string
	conf   string
	log    string
	cmd    *exec.Cmd
	exited chan error
}

func (fb *fluentBit) start() error {
	logf, err := os.OpenFile(fb.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	from, _ := logf.Seek(0, io.SeekEnd)
	args := []string{"-c", fb.conf}
	if fb.name == "fb" {
		args = append([]string{"-e", fb.o.plugin}, args...)
	}
	fb.cmd = exec.Command(fb.o.fluentBit, args...)
	fb.cmd.Stdout, fb.cmd.Stderr = logf, logf
	if err := fb.cmd.Start(); err != nil {
		_ = logf.Close()
		return err
	}
	fb.exited = make(chan error, 1)
	go func() {
		err := fb.cmd.Wait()
		_ = logf.Close() // Fluent Bit wrote what it had
		fb.exited <- err
	}()
	return fb.waitLog(from, readyRE, 30*time.Second, "to start")
}

var (
	readyRE    = regexp.MustCompile(`stream processor started|Shutdown Grace Period`)
	reloadedRE = regexp.MustCompile(`\[reload\] successful reload done`)
)

// waitLog waits for re in the log after offset from.
func (fb *fluentBit) waitLog(from int64, re *regexp.Regexp, timeout time.Duration, what string) error {
	deadline := time.Now().Add(timeout)
	for {
		if b, _ := os.ReadFile(fb.log); int64(len(b)) > from && re.Match(b[from:]) {
			return nil
		}
		if err := fbrun.CheckRunning(fb.exited, deadline, what); err != nil {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (fb *fluentBit) logSize() int64 {
	st, err := os.Stat(fb.log)
	if err != nil {
		return 0
	}
	return st.Size()
}

func (fb *fluentBit) signal(sig syscall.Signal) { _ = fb.cmd.Process.Signal(sig) }

// stop sends SIGTERM and returns how long the process took to exit; a
// process still there after limit is killed.
func (fb *fluentBit) stop(limit time.Duration) (time.Duration, error) {
	start := time.Now()
	fb.signal(syscall.SIGTERM)
	select {
	case werr := <-fb.exited:
		_ = werr // the time is what is measured; lost records show at the sink
		return time.Since(start), nil
	case <-time.After(limit):
		fb.kill()
		return time.Since(start), fmt.Errorf("still running %s after SIGTERM: killed", limit)
	}
}

func (fb *fluentBit) kill() {
	fb.signal(syscall.SIGKILL)
	werr := <-fb.exited
	_ = werr // killed: its exit status says only that
}

func runExperiment(o options, e experiment, dir string) (res result, err error) {
	rate := o.rate
	if e.burst {
		o.lines *= 10
		rate = o.lines * 20 // all in the first tick
	}
	res.in = o.lines
	if err := os.MkdirAll(filepath.Join(dir, "in"), 0o755); err != nil {
		return res, err
	}
	snk := newSink(e.sinkDelay)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	srv := &http.Server{Handler: snk, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() { _ = srv.Close() }()

	threadSafety, reloadTimeout := "Off", o.grace+int(o.ackTimeout/time.Second)+15
	if e.fbDefaults {
		threadSafety, reloadTimeout = "On", 30
	}
	conf := func(name string, tail, forward bool, which string) (*fluentBit, error) {
		var b bytes.Buffer
		if err := confTemplate.Execute(&b, map[string]any{
			"Dir": dir, "Which": which, "Grace": o.grace, "ThreadSafety": threadSafety, "ReloadTimeout": reloadTimeout,
			"Tail": tail, "Forward": forward, "Socket": filepath.Join(dir, "enriched.sock"),
			"AckTimeout": o.ackTimeout.String(), "SinkPort": ln.Addr().(*net.TCPAddr).Port, "State": o.state,
		}); err != nil {
			return nil, err
		}
		path := filepath.Join(dir, name+".conf")
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			return nil, err
		}
		return &fluentBit{o: o, name: name, conf: path, log: filepath.Join(dir, name+".log")}, nil
	}
	var fb, down *fluentBit
	if e.split {
		if down, err = conf("downstream", false, true, "-down"); err != nil {
			return res, err
		}
		if err := down.start(); err != nil {
			return res, err
		}
		defer func() {
			if _, serr := down.stop(30 * time.Second); serr != nil && err == nil {
				err = fmt.Errorf("downstream: %w", serr)
			}
		}()
	}
	if fb, err = conf("fb", true, !e.split, ""); err != nil {
		return res, err
	}
	if err := fb.start(); err != nil {
		return res, err
	}
	running := true
	defer func() {
		if running {
			fb.kill()
		}
		snk.count(&res, o.lines)
		if err != nil {
			err = fmt.Errorf("%w\n    (last lines of %s:)\n%s", err, fb.log, fbrun.Tail(fb.log, 12))
		}
	}()

	stopWriter := make(chan struct{})
	wrote := make(chan error, 1)
	go func() { wrote <- writeLines(filepath.Join(dir, "in", "ssh.log"), o.lines, rate, stopWriter) }()
	defer close(stopWriter)

	for _, f := range e.faults {
		for {
			n, idle := snk.unique()
			if float64(n) >= f.at*float64(o.lines) {
				break
			}
			if idle > o.stall {
				return res, fmt.Errorf("no progress for %s before the %s at %.0f%% (%d records at the sink)", o.stall, f.kind, f.at*100, n)
			}
			if err := fbrun.CheckRunning(fb.exited, time.Now().Add(time.Hour), "the faults"); err != nil {
				running = false
				return res, err
			}
			time.Sleep(10 * time.Millisecond)
		}
		switch f.kind {
		case "kill":
			fb.kill()
			if err := fb.start(); err != nil {
				return res, fmt.Errorf("restart after kill -9: %w", err)
			}
		case "term":
			took, err := fb.stop(5 * time.Minute)
			res.stops = append(res.stops, took)
			if err != nil {
				res.note = append(res.note, "SIGTERM: "+err.Error())
			}
			if err := fb.start(); err != nil {
				return res, fmt.Errorf("restart after SIGTERM: %w", err)
			}
		case "reload":
			res.reloads = append(res.reloads, reload(fb, time.Duration(reloadTimeout+15)*time.Second))
		case "pause":
			down.signal(syscall.SIGSTOP)
			time.Sleep(15 * time.Second)
			down.signal(syscall.SIGCONT)
		}
		snk.touch()
	}

	// Every line written, then every record at the sink (or a stall).
	if err := <-wrote; err != nil {
		return res, err
	}
	for {
		n, idle := snk.unique()
		if n >= o.lines || idle > o.stall {
			break
		}
		if err := fbrun.CheckRunning(fb.exited, time.Now().Add(time.Hour), "to deliver every record"); err != nil {
			running = false
			return res, err
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // late duplicates
	running = false
	took, err := fb.stop(5 * time.Minute)
	res.finalStop = took
	return res, err
}

// reload sends SIGHUP and waits for the reload to be done. A reload that
// hangs until the watchdog aborts Fluent Bit, or past limit, ends in a
// restart (as a supervisor would), so that the run can go on.
func reload(fb *fluentBit, limit time.Duration) string {
	from := fb.logSize()
	start := time.Now()
	fb.signal(syscall.SIGHUP)
	err := fb.waitLog(from, reloadedRE, limit, "to reload")
	took := time.Since(start)
	if err == nil {
		return fmt.Sprintf("%.1fs", took.Seconds())
	}
	what := fmt.Sprintf("hung %.0fs, killed", took.Seconds())
	select {
	case werr := <-fb.exited:
		what = fmt.Sprintf("exited after %.0fs (%v)", took.Seconds(), werr)
	default:
		fb.kill()
	}
	if b, _ := os.ReadFile(fb.log); int64(len(b)) > from && bytes.Contains(b[from:], []byte("Hot reload timeout exceeded")) {
		what = fmt.Sprintf("watchdog abort after %.0fs", took.Seconds())
	}
	if err := fb.start(); err != nil {
		return what + ", restart failed: " + err.Error()
	}
	return what + ", restarted"
}

func report(w io.Writer, o options, results []result) {
	fmt.Fprintf(w, "\n%d lines per experiment; targets: 0 lost, a SIGTERM stop within Grace %ds + ack_timeout %s + 2s = %.0fs, no reload that hangs\n\n",
		o.lines, o.grace, o.ackTimeout, float64(o.grace)+o.ackTimeout.Seconds()+2)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "experiment\tin\tout\tunique\tunique event.id\tlost\tduplicates\tSIGTERM stop\tfinal stop\treload\t\n")
	for _, r := range results {
		ids := "-"
		if r.withIDs {
			ids = fmt.Sprint(r.ids)
		}
		stops := "-"
		if len(r.stops) > 0 {
			var s []string
			for _, d := range r.stops {
				s = append(s, fmt.Sprintf("%.1fs", d.Seconds()))
			}
			stops = strings.Join(s, ",")
		}
		reloads := "-"
		if len(r.reloads) > 0 {
			reloads = strings.Join(r.reloads, ",")
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%d\t%d\t%s\t%.1fs\t%s\t\n", r.name, r.in, r.out, r.unique, ids, r.lost(), r.dups(), stops, r.finalStop.Seconds(), reloads)
	}
	if err := tw.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "fbfaults:", err)
	}
	for _, r := range results {
		if len(r.note) > 0 {
			fmt.Fprintf(w, "%s: %s\n", r.name, strings.Join(slices.Compact(r.note), "; "))
		}
	}
}
