package metrics

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sshenrich/sshenrich/plugin/record"
	"github.com/sshenrich/sshenrich/rules"
)

func catalog(t testing.TB) *rules.Catalog {
	t.Helper()
	cat, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func register(t testing.TB, listen, output string) *Output {
	t.Helper()
	o, err := Register(Options{Listen: listen, Output: output, Catalog: catalog(t), Loaded: time.Unix(1718523450, 0), Version: "v9.9.9-test"})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// noServer fails the test when an endpoint is still bound: every test
// must leave the process as it found it.
func noServer(t testing.TB) {
	t.Helper()
	serverMu.Lock()
	defer serverMu.Unlock()
	if current != nil {
		t.Errorf("an endpoint is still bound on %s for %d outputs", current.addr, len(current.outputs))
	}
}

// scrape GETs /metrics and returns its series by name, and the body.
func scrape(t testing.TB, addr string) (map[string]float64, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("GET /metrics: %s, Content-Type %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	return ParseText(t, string(body)), string(body)
}

// ParseText reads the text format's sample lines: name{labels} value.
func ParseText(t testing.TB, body string) map[string]float64 {
	t.Helper()
	series := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			t.Fatalf("not a sample line: %q", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad value in %q: %v", line, err)
		}
		if _, dup := series[line[:i]]; dup {
			t.Fatalf("series %s appears twice", line[:i])
		}
		series[line[:i]] = v
	}
	return series
}

// TestRegister: outputs that name one address share it; another address,
// a second output of the same name, an address in use and a bad address
// are start-up errors that name the key and the values.
func TestRegister(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	free := freePort(t)
	type step struct {
		listen, output, wantErr string
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"one output", []step{{free, "a", ""}}},
		{"two outputs share one address", []step{{free, "a", ""}, {free, "b", ""}}},
		{"another address", []step{{free, "a", ""}, {"127.0.0.1:0", "b",
			"metrics_listen: 127.0.0.1:0 differs from " + free + ", on which output a already serves this process's metrics"}}},
		{"same output name twice", []step{{free, "a", ""}, {free, "a", "instance_name: two outputs named a serve metrics on " + free}}},
		{"address in use", []step{{busy.Addr().String(), "a", "metrics_listen: cannot listen on " + busy.Addr().String() + ": "}}},
		{"bad host", []step{{"256.0.0.1:2021", "a", "metrics_listen: cannot listen on 256.0.0.1:2021: "}}},
		{"failure leaves no endpoint", []step{{busy.Addr().String(), "a", "address already in use"}, {free, "b", ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var outs []*Output
			for _, s := range tt.steps {
				o, err := Register(Options{Listen: s.listen, Output: s.output, Catalog: catalog(t)})
				switch {
				case s.wantErr == "" && err != nil:
					t.Errorf("%s on %s: %v", s.output, s.listen, err)
				case s.wantErr != "" && (err == nil || !strings.Contains(err.Error(), s.wantErr)):
					t.Errorf("%s on %s: error %v, want %q", s.output, s.listen, err, s.wantErr)
				case err != nil && strings.Contains(err.Error(), "\n"):
					t.Errorf("error is not one line: %q", err)
				}
				if err == nil {
					outs = append(outs, o)
				}
			}
			if len(outs) > 0 {
				series, _ := scrape(t, outs[0].Addr())
				for _, o := range outs {
					if _, ok := series[`sshenrich_flushes_total{output="`+o.name+`",result="ok"}`]; !ok {
						t.Errorf("no ok flush series for %s", o.name)
					}
					if _, ok := series[`sshenrich_build_info{output="`+o.name+`",version="",goversion="`+goVersion()+`"}`]; !ok {
						t.Errorf("no build info for %s", o.name)
					}
				}
			}
			for _, o := range outs {
				o.Close()
				o.Close() // a second Close does nothing
			}
			noServer(t)
		})
	}
}

// freePort returns a loopback address that was free a moment ago.
func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestHotReload: init, exit, init again on the same address, as Fluent
// Bit does on a hot reload in the same process; the series start afresh
// and the last output's exit unbinds the port.
func TestHotReload(t *testing.T) {
	addr := freePort(t)
	for round := range 3 {
		a := register(t, addr, "sshenrich.0")
		b := register(t, addr, "sshenrich.1")
		a.Flushed(nil, 2, OK, time.Millisecond)
		series, _ := scrape(t, addr)
		if got := series[`sshenrich_flushes_total{output="sshenrich.0",result="ok"}`]; got != 1 {
			t.Errorf("round %d: %v ok flushes, want 1 (a fresh count)", round, got)
		}
		if got := series[`sshenrich_records_passed_total{output="sshenrich.0"}`]; got != 2 {
			t.Errorf("round %d: %v records passed, want 2", round, got)
		}
		a.Close()
		series, _ = scrape(t, addr) // b still serves
		if _, ok := series[`sshenrich_flushes_total{output="sshenrich.0",result="ok"}`]; ok {
			t.Errorf("round %d: the closed output's series are still served", round)
		}
		b.Close()
		noServer(t)
		if _, err := http.Get("http://" + addr + "/metrics"); err == nil {
			t.Errorf("round %d: %s still answers after the last output exited", round, addr)
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("round %d: the port is not free after the last exit: %v", round, err)
		}
		ln.Close()
	}
}

// flush is one flush in TestExposition.
type flush struct {
	lines  []string
	passed int
	result Result
	took   time.Duration
	alerts []string // codes of the correlation rules whose alerts the flush wrote
}

// TestExposition runs flushes through a Tally and reads back every
// kind of series.
func TestExposition(t *testing.T) {
	const (
		failed   = "Jun 16 07:37:26 web01 sshd[4409]: Failed password for invalid user admin from 203.0.113.45 port 50122 ssh2"
		accepted = "Jun 16 07:37:27 web01 sshd[4410]: Accepted publickey for alice from 198.51.100.7 port 40022 ssh2: ED25519 SHA256:abc"
		noise    = "Jun 16 07:37:28 web01 myapp[77]: nothing sshenrich knows"
		sshdOdd  = "Jun 16 07:37:29 web01 sshd[4411]: a wording no catalog entry has"
		bare     = "a line without any envelope"
	)
	cat := catalog(t)
	x := record.New(cat, record.DefaultOptions())
	codeOf := func(line string) (string, string) {
		e := x.Classify([]byte(line))
		fam := e.Family
		if fam == "" {
			fam = NoFamily
		}
		return e.Code(), fam
	}
	failedCode, failedFam := codeOf(failed)
	acceptedCode, _ := codeOf(accepted)
	_, noiseFam := codeOf(noise)
	_, sshdOddFam := codeOf(sshdOdd)
	if failedCode == rules.Unclassified || acceptedCode == rules.Unclassified || sshdOddFam != "openssh" || noiseFam != NoFamily {
		t.Fatalf("the test lines do not classify as expected: %s %s %s %s", failedCode, acceptedCode, sshdOddFam, noiseFam)
	}

	tests := []struct {
		name    string
		flushes []flush
		want    map[string]float64 // series without the output label's prefix
		absent  []string
	}{
		{
			name: "delivered flushes count their records",
			flushes: []flush{
				{[]string{failed, failed, accepted, noise, sshdOdd, bare}, 3, OK, 300 * time.Microsecond, []string{"CORR-0001"}},
				{[]string{failed}, 0, OK, 20 * time.Millisecond, []string{"CORR-0001", "CORR-0002"}},
			},
			want: map[string]float64{
				`sshenrich_records_total{output="o",code="` + failedCode + `",family="` + failedFam + `"}`: 3,
				`sshenrich_records_total{output="o",code="` + acceptedCode + `",family="openssh"}`:         1,
				`sshenrich_records_total{output="o",code="UNCLASSIFIED",family="openssh"}`:                 1,
				`sshenrich_records_total{output="o",code="UNCLASSIFIED",family="none"}`:                    2, // noise and bare
				`sshenrich_unclassified_total{output="o",program="myapp"}`:                                 1,
				`sshenrich_unclassified_total{output="o",program="sshd"}`:                                  1,
				`sshenrich_unclassified_total{output="o",program="none"}`:                                  1,
				`sshenrich_records_passed_total{output="o"}`:                                               3,
				`sshenrich_alerts_total{output="o",code="CORR-0001",name="ssh-brute-force"}`:               2,
				`sshenrich_alerts_total{output="o",code="CORR-0002",name="ssh-login-after-failures"}`:      1,
				`sshenrich_flushes_total{output="o",result="ok"}`:                                          2,
				`sshenrich_flushes_total{output="o",result="retry"}`:                                       0,
				`sshenrich_flush_duration_seconds_count{output="o"}`:                                       2,
				`sshenrich_flush_duration_seconds_bucket{output="o",le="0.0001"}`:                          0,
				`sshenrich_flush_duration_seconds_bucket{output="o",le="0.0005"}`:                          1,
				`sshenrich_flush_duration_seconds_bucket{output="o",le="0.01"}`:                            1,
				`sshenrich_flush_duration_seconds_bucket{output="o",le="0.025"}`:                           2,
				`sshenrich_flush_duration_seconds_bucket{output="o",le="60"}`:                              2,
				`sshenrich_flush_duration_seconds_bucket{output="o",le="+Inf"}`:                            2,
				`sshenrich_flush_duration_seconds_sum{output="o"}`:                                         0.0203,
				`sshenrich_catalog_entries{output="o"}`:                                                    float64(len(cat.Entries())),
				`sshenrich_catalog_loaded_timestamp_seconds{output="o"}`:                                   1718523450,
				`sshenrich_build_info{output="o",version="v9.9.9-test",goversion="` + goVersion() + `"}`:   1,
			},
		},
		{
			name: "a retried flush counts when it is delivered",
			flushes: []flush{
				{[]string{failed, noise}, 1, Retry, time.Second, []string{"CORR-0003"}},
				{[]string{failed, noise}, 1, OK, 2 * time.Millisecond, []string{"CORR-0003"}},
			},
			want: map[string]float64{
				`sshenrich_records_total{output="o",code="` + failedCode + `",family="` + failedFam + `"}`: 1,
				`sshenrich_unclassified_total{output="o",program="myapp"}`:                                 1,
				`sshenrich_records_passed_total{output="o"}`:                                               1,
				`sshenrich_alerts_total{output="o",code="CORR-0003",name="ssh-user-enumeration"}`:          1,
				`sshenrich_flushes_total{output="o",result="ok"}`:                                          1,
				`sshenrich_flushes_total{output="o",result="retry"}`:                                       1,
				`sshenrich_flush_duration_seconds_count{output="o"}`:                                       2,
				`sshenrich_flush_duration_seconds_bucket{output="o",le="1"}`:                               2,
				`sshenrich_flush_duration_seconds_bucket{output="o",le="0.5"}`:                             1,
			},
		},
		{
			name: "a malformed chunk's delivered events count",
			flushes: []flush{
				{[]string{accepted}, 0, Error, 50 * time.Microsecond, nil},
			},
			want: map[string]float64{
				`sshenrich_records_total{output="o",code="` + acceptedCode + `",family="openssh"}`: 1,
				`sshenrich_flushes_total{output="o",result="error"}`:                               1,
				`sshenrich_flush_duration_seconds_bucket{output="o",le="0.0001"}`:                  1,
			},
			absent: []string{`sshenrich_records_total{output="o",code="` + failedCode + `",family="` + failedFam + `"}`,
				`sshenrich_alerts_total{output="o",code="CORR-0001",name="ssh-brute-force"}`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := register(t, "127.0.0.1:0", "o")
			defer noServer(t)
			defer o.Close()
			tally := o.NewTally()
			for _, f := range tt.flushes {
				for _, l := range f.lines {
					tally.Count(x.Classify([]byte(l)))
				}
				for _, code := range f.alerts {
					r, ok := cat.Correlation(code)
					if !ok {
						t.Fatalf("no rule %s", code)
					}
					tally.CountAlert(r)
				}
				o.Flushed(tally, f.passed, f.result, f.took)
			}
			series, body := scrape(t, o.Addr())
			for name, want := range tt.want {
				got, ok := series[name]
				if !ok {
					t.Errorf("%s missing", name)
					continue
				}
				if diff := got - want; diff > 1e-9 || diff < -1e-9 {
					t.Errorf("%s = %v, want %v", name, got, want)
				}
			}
			for _, name := range tt.absent {
				if _, ok := series[name]; ok {
					t.Errorf("%s present", name)
				}
			}
			for _, typ := range []string{
				"# TYPE sshenrich_flush_duration_seconds histogram", "# TYPE sshenrich_flushes_total counter",
				"# TYPE sshenrich_catalog_entries gauge",
			} {
				if strings.Count(body, typ+"\n") != 1 {
					t.Errorf("%q not exactly once", typ)
				}
			}
			for _, line := range strings.Split(body, "\n") {
				if rest, ok := strings.CutPrefix(line, "# HELP "); ok && !strings.Contains(rest, " ") {
					t.Errorf("no HELP text: %q", line)
				}
			}
			corr := 0 // the correlation engine's families: none without an engine
			for name := range help {
				if strings.HasPrefix(name, "sshenrich_correlation_") {
					corr++
				}
			}
			if n, m := strings.Count(body, "# HELP "), strings.Count(body, "# TYPE "); n != m || n < len(help)-2-corr {
				t.Errorf("%d HELP lines and %d TYPE lines", n, m)
			}
			checkHistogram(t, series, "o")
			checkGrouped(t, body)
		})
	}
}

func goVersion() string { return runtime.Version() }

// checkHistogram: one bucket per bound plus +Inf, counts cumulative, and
// the +Inf bucket equal to _count.
func checkHistogram(t *testing.T, series map[string]float64, output string) {
	t.Helper()
	prev := -1.0
	for _, b := range FlushBuckets {
		name := fmt.Sprintf(`sshenrich_flush_duration_seconds_bucket{output="%s",le="%v"}`, output, b)
		v, ok := series[name]
		if !ok {
			t.Errorf("%s missing", name)
			continue
		}
		if v < prev {
			t.Errorf("%s = %v is below the bucket before it (%v)", name, v, prev)
		}
		prev = v
	}
	inf := series[`sshenrich_flush_duration_seconds_bucket{output="`+output+`",le="+Inf"}`]
	if count := series[`sshenrich_flush_duration_seconds_count{output="`+output+`"}`]; inf != count || inf < prev {
		t.Errorf("+Inf bucket %v, count %v, last bucket %v", inf, count, prev)
	}
}

// checkGrouped: the text format wants each metric family in one block.
func checkGrouped(t *testing.T, body string) {
	t.Helper()
	seen := map[string]bool{}
	last := ""
	for _, line := range strings.Split(body, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fam := line[:strings.IndexAny(line, "{ ")]
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if f, ok := strings.CutSuffix(fam, suffix); ok && strings.Contains(body, "# TYPE "+f+" histogram") {
				fam = f
			}
		}
		if fam != last && seen[fam] {
			t.Errorf("family %s is split into several blocks", fam)
		}
		seen[fam], last = true, fam
	}
}

// TestProgramLabels: hostile program names cannot break the exposition,
// and past MaxPrograms distinct programs the rest count as other.
func TestProgramLabels(t *testing.T) {
	o := register(t, "127.0.0.1:0", "o")
	defer noServer(t)
	defer o.Close()
	cat := catalog(t)
	x := record.New(cat, record.DefaultOptions())
	tally := o.NewTally()
	count := func(program string, n int) {
		for range n {
			// The structured-field path: a record's ident may hold anything.
			f := record.NoFields
			f.Program = []byte(program)
			tally.Count(x.ClassifyFields([]byte("a line no entry matches"), &f))
		}
	}
	long := strings.Repeat("p", 100)
	hostile := []struct {
		program string
		label   string
	}{
		{`q"uote`, `q\"uote`},
		{`back\slash`, `back\\slash`},
		{"new\nline", `new\nline`},
		{"bad\xffutf8", "bad\uFFFDutf8"},
		{"tab\there", "tab\uFFFDhere"},
		{long, long[:maxProgramLabel]},
		{long + "x", long[:maxProgramLabel]}, // shares the truncated label
	}
	for _, h := range hostile {
		count(h.program, 1)
	}
	// The bound is on distinct programs: the 7 hostile ones (6 labels,
	// the long pair sharing one), then prog007 to prog063 fill the 64;
	// prog064 to prog073 count as other.
	for i := len(hostile); i < MaxPrograms+10; i++ {
		count(fmt.Sprintf("prog%03d", i), 2)
	}
	o.Flushed(tally, 0, OK, time.Millisecond)
	series, body := scrape(t, o.Addr())
	for i, h := range hostile {
		want := 1.0
		if i >= len(hostile)-2 {
			want = 2 // the two long names
		}
		if got := series[`sshenrich_unclassified_total{output="o",program="`+h.label+`"}`]; got != want {
			t.Errorf("program %q: label %q counts %v, want %v", h.program, h.label, got, want)
		}
	}
	labels := 0
	for name := range series {
		if strings.HasPrefix(name, "sshenrich_unclassified_total{") {
			labels++
		}
	}
	if labels != 6+57+1 {
		t.Errorf("%d program series, want 63 and other", labels)
	}
	if series[`sshenrich_unclassified_total{output="o",program="prog063"}`] != 2 || series[`sshenrich_unclassified_total{output="o",program="prog064"}`] != 0 {
		t.Errorf("the 64th program has no series of its own, or the 65th has one")
	}
	if got := series[`sshenrich_unclassified_total{output="o",program="other"}`]; got != 2*10 {
		t.Errorf("other counts %v, want 20", got)
	}
	if strings.Contains(body, "new\nline") {
		t.Errorf("a raw newline reached the exposition")
	}
}

// TestTallyDoesNotAllocate: counting a record costs no allocation once
// its program has a slot.
func TestTallyDoesNotAllocate(t *testing.T) {
	o := register(t, "127.0.0.1:0", "o")
	defer noServer(t)
	defer o.Close()
	x := record.New(catalog(t), record.DefaultOptions())
	tally := o.NewTally()
	lines := [][]byte{
		[]byte("Jun 16 07:37:26 web01 sshd[4409]: Failed password for invalid user admin from 203.0.113.45 port 50122 ssh2"),
		[]byte("Jun 16 07:37:28 web01 myapp[77]: nothing sshenrich knows"),
		[]byte("bare line"),
	}
	for _, l := range lines {
		tally.Count(x.Classify(l))
	}
	for _, l := range lines {
		e := x.Classify(l)
		if n := testing.AllocsPerRun(100, func() { tally.Count(e) }); n != 0 {
			t.Errorf("%q: %v allocations per record", l, n)
		}
	}
	var none *Tally
	none.Count(x.Classify(lines[0])) // metrics off: nothing, no panic
	none.Reset()
	var off *Output
	off.Flushed(nil, 1, OK, time.Second)
	off.EmitFailed()
	off.Resent()
	off.AckTimedOut()
	off.Close()
	if off.NewTally() != nil {
		t.Errorf("a nil Output gave a Tally")
	}
}

// TestConcurrentFlushes: workers flush at once while the endpoint is
// scraped; under -race this checks the merge and the program table.
func TestConcurrentFlushes(t *testing.T) {
	o := register(t, "127.0.0.1:0", "o")
	defer noServer(t)
	defer o.Close()
	cat := catalog(t)
	const workers, flushes = 4, 50
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := record.New(cat, record.DefaultOptions())
			tally := o.NewTally()
			for i := range flushes {
				tally.Count(x.Classify([]byte(fmt.Sprintf("Jun 16 07:37:28 web01 app%d[1]: unknown %d", (w*flushes+i)%80, i))))
				tally.Count(x.Classify([]byte("Jun 16 07:37:26 web01 sshd[4409]: Failed password for root from 203.0.113.45 port 50122 ssh2")))
				o.Resent()
				o.Flushed(tally, 1, OK, time.Millisecond)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 10 {
			scrape(t, o.Addr())
		}
	}()
	wg.Wait()
	series, _ := scrape(t, o.Addr())
	var unclassified, sshd float64
	for name, v := range series {
		switch {
		case strings.HasPrefix(name, "sshenrich_unclassified_total{"):
			unclassified += v
		case strings.HasPrefix(name, "sshenrich_records_total{") && !strings.Contains(name, "UNCLASSIFIED"):
			sshd += v
		}
	}
	const n = workers * flushes
	if unclassified != n || sshd != n || series[`sshenrich_flushes_total{output="o",result="ok"}`] != n ||
		series[`sshenrich_emit_retries_total{output="o"}`] != n || series[`sshenrich_records_passed_total{output="o"}`] != n {
		t.Errorf("after %d flushes: unclassified %v, classified %v, series %v", n, unclassified, sshd, series)
	}
}

// TestOnlyGET: other methods and paths are refused.
func TestOnlyGET(t *testing.T) {
	o := register(t, "127.0.0.1:0", "o")
	defer noServer(t)
	defer o.Close()
	for _, tt := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/metrics", 200}, {"HEAD", "/metrics", 200}, {"POST", "/metrics", 405}, {"DELETE", "/metrics", 405},
		{"GET", "/", 404}, {"GET", "/debug/pprof/", 404},
	} {
		req, _ := http.NewRequest(tt.method, "http://"+o.Addr()+tt.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("%s %s: %d, want %d", tt.method, tt.path, resp.StatusCode, tt.status)
		}
	}
}

// BenchmarkTally is the per-record cost of counting, classified and
// unclassified, and of merging a worker's Tally once per flush.
func BenchmarkTally(b *testing.B) {
	o := register(b, "127.0.0.1:0", "o")
	defer o.Close()
	x := record.New(catalog(b), record.DefaultOptions())
	tally := o.NewTally()
	for _, bc := range []struct{ name, line string }{
		{"classified", "Jun 16 07:37:26 web01 sshd[4409]: Failed password for invalid user admin from 203.0.113.45 port 50122 ssh2"},
		{"unclassified", "Jun 16 07:37:28 web01 myapp[77]: nothing sshenrich knows"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e := x.Classify([]byte(bc.line))
			tally.Count(e)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				tally.Count(e)
			}
		})
	}
	b.Run("merge", func(b *testing.B) {
		e := x.Classify([]byte("Jun 16 07:37:28 web01 myapp[77]: x"))
		b.ReportAllocs()
		for range b.N {
			tally.Count(e)
			o.Flushed(tally, 0, OK, time.Millisecond)
		}
	})
}

// TestLooped: records dropped by the loop guard are counted, on their
// own series, whatever the flush's result.
func TestLooped(t *testing.T) {
	o := register(t, "127.0.0.1:0", "o")
	defer noServer(t)
	defer o.Close()
	const name = `sshenrich_records_looped_total{output="o"}`
	series, _ := scrape(t, o.Addr())
	if v, ok := series[name]; !ok || v != 0 {
		t.Fatalf("before any loop: %s = %v (present %v), want 0", name, v, ok)
	}
	o.Looped(3)
	o.Looped(0)
	o.Looped(2)
	series, _ = scrape(t, o.Addr())
	if got := series[name]; got != 5 {
		t.Errorf("%s = %v, want 5", name, got)
	}
	if got := series[`sshenrich_records_passed_total{output="o"}`]; got != 0 {
		t.Errorf("looped records counted as passed: %v", got)
	}
	var nilOutput *Output
	nilOutput.Looped(1) // metrics_listen off: no output, no panic
}
