package main

import (
	"bufio"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fluent/fluent-bit-go/output"

	"github.com/sshenrich/sshenrich/plugin/config"
	"github.com/sshenrich/sshenrich/test/fwdserver"
)

// scrapeMetrics GETs /metrics and returns the samples by series name.
func scrapeMetrics(t *testing.T, addr string) map[string]float64 {
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
	series := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample %q", line)
		}
		series[line[:i]] = v
	}
	return series
}

// TestFlushMetrics drives an instance's flush through delivery, an ack
// timeout and a malformed chunk, and reads the metrics after each.
func TestFlushMetrics(t *testing.T) {
	s, err := fwdserver.Start(fwdserver.Options{Network: "tcp", Address: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	in := newTestInstance(t, map[string]string{"forward_address": s.URL(), "time_zone": "UTC",
		"ack_timeout": "500ms", "metrics_listen": "127.0.0.1:0", "instance_name": "m"})
	if in.metrics == nil {
		t.Fatal("metrics_listen set, but no metrics")
	}
	addr := in.metrics.Addr()

	const failed = "<38>Jun 16 07:37:26 web01 sshd[4409]: Failed password for invalid user admin from 203.0.113.45 port 50122 ssh2"
	var chunk []byte
	for range 3 {
		chunk = append(chunk, event(t, map[string]any{"log": failed}, nil)...)
	}
	for range 2 {
		chunk = append(chunk, event(t, map[string]any{"log": "Jun 16 07:37:28 web01 myapp[77]: hello"}, nil)...)
	}
	chunk = append(chunk, event(t, []any{"not", "a", "map"}, nil)...)       // passed through
	chunk = append(chunk, event(t, map[string]any{"other": "key"}, nil)...) // no message
	good := event(t, map[string]any{"log": failed}, nil)
	malformed := append(append([]byte{}, good...), good[:len(good)-3]...) // cut inside the second event

	const (
		sshd   = `sshenrich_records_total{output="m",code="SSHD-0032",family="openssh"}`
		uncl   = `sshenrich_records_total{output="m",code="UNCLASSIFIED",family="none"}`
		myapp  = `sshenrich_unclassified_total{output="m",program="myapp"}`
		noProg = `sshenrich_unclassified_total{output="m",program="none"}`
		passed = `sshenrich_records_passed_total{output="m"}`
		ok     = `sshenrich_flushes_total{output="m",result="ok"}`
		retry  = `sshenrich_flushes_total{output="m",result="retry"}`
		errs   = `sshenrich_flushes_total{output="m",result="error"}`
		ackTO  = `sshenrich_ack_timeouts_total{output="m"}`
		resent = `sshenrich_emit_retries_total{output="m"}`
		emitE  = `sshenrich_emit_errors_total{output="m"}`
		count  = `sshenrich_flush_duration_seconds_count{output="m"}`
		fast   = `sshenrich_emit_failed_fast_total{output="m"}`
		open   = `sshenrich_forward_breaker_open{output="m"}`
		opened = `sshenrich_forward_breaker_opened_total{output="m"}`
	)
	steps := []struct {
		name     string
		data     []byte
		withhold bool
		wait     time.Duration // before the flush
		ret      int
		want     map[string]float64 // totals after the step
	}{
		{"delivered", chunk, false, 0, output.FLB_OK, map[string]float64{
			sshd: 3, uncl: 3, myapp: 2, noProg: 1, passed: 1, ok: 1, retry: 0, errs: 0, ackTO: 0, resent: 0, emitE: 0, count: 1, fast: 0, open: 0, opened: 0}},
		// The ack times out: the chunk is retried, its records are not
		// counted, and the breaker opens. A timeout is not resent on a
		// new connection (that would double the wait).
		{"no ack", chunk, true, 0, output.FLB_RETRY, map[string]float64{
			sshd: 3, uncl: 3, myapp: 2, noProg: 1, passed: 1, ok: 1, retry: 1, errs: 0, ackTO: 1, resent: 0, emitE: 1, count: 2, fast: 0, open: 1, opened: 1}},
		// Before the next probe is due, the flush fails without waiting.
		{"failed fast", chunk, false, 0, output.FLB_RETRY, map[string]float64{
			sshd: 3, ok: 1, retry: 2, ackTO: 1, emitE: 2, count: 3, fast: 1, open: 1, opened: 1}},
		// The probe (one ack_timeout later) is acknowledged: closed.
		{"probe delivered", chunk, false, 600 * time.Millisecond, output.FLB_OK, map[string]float64{
			sshd: 6, uncl: 6, myapp: 4, noProg: 2, passed: 2, ok: 2, retry: 2, errs: 0, ackTO: 1, resent: 0, emitE: 2, count: 4, fast: 1, open: 0, opened: 1}},
		// The event before the cut is delivered and counted.
		{"malformed", malformed, false, 0, output.FLB_ERROR, map[string]float64{
			sshd: 7, uncl: 6, ok: 2, retry: 2, errs: 1, count: 5}},
	}
	for _, st := range steps {
		s.WithholdAcks(st.withhold)
		time.Sleep(st.wait)
		if ret := in.flush(st.data, "ssh.raw"); ret != st.ret {
			t.Fatalf("%s: flush returned %d, want %d", st.name, ret, st.ret)
		}
		got := scrapeMetrics(t, addr)
		for name, want := range st.want {
			if got[name] != want {
				t.Errorf("%s: %s = %v, want %v", st.name, name, got[name], want)
			}
		}
		if inf := got[`sshenrich_flush_duration_seconds_bucket{output="m",le="+Inf"}`]; inf != got[count] {
			t.Errorf("%s: +Inf bucket %v, count %v", st.name, inf, got[count])
		}
	}
	m := in.metrics
	in.close()
	if in.metrics != nil || in.cat != nil || in.emitter != nil {
		t.Errorf("a closed instance still holds its metrics, catalog or emitter")
	}
	m.Close() // a second close (FLBPluginExit after ExitCtx) is harmless
	if _, err := http.Get("http://" + addr + "/metrics"); err == nil {
		t.Errorf("the endpoint still answers after the instance closed")
	}
}

// TestMetricsStartErrors: a second instance naming another address fails
// to start, and the first keeps serving.
func TestMetricsStartErrors(t *testing.T) {
	a := newTestInstance(t, map[string]string{"emit": "stdout", "metrics_listen": "127.0.0.1:0", "instance_name": "a"})
	cfgB := map[string]string{"emit": "stdout", "metrics_listen": "localhost:0", "instance_name": "b"}
	b := &instance{log: quietLog, initThread: -1}
	var err error
	if b.cfg, err = config.Parse(config.MapGetter(cfgB), 1); err != nil {
		t.Fatal(err)
	}
	err = b.start()
	if err == nil || !strings.Contains(err.Error(), "metrics_listen: localhost:0 differs from 127.0.0.1:0") {
		t.Fatalf("error %v", err)
	}
	if b.metrics != nil {
		t.Errorf("the failed instance holds metrics")
	}
	if got := scrapeMetrics(t, a.metrics.Addr()); got[`sshenrich_catalog_entries{output="a"}`] == 0 {
		t.Errorf("the first instance stopped serving: %v", got)
	}
}

// panicOnSecond panics when called the second time: after a record was
// counted.
func panicOnSecond() func() {
	calls := 0
	return func() {
		if calls++; calls == 2 {
			panic("test")
		}
	}
}

// TestFlushMetricsOnPanic: a panic while enriching re-emits the chunk
// unchanged, so nothing counts by code; a panic after enriching ends in
// FLB_RETRY (recoverTo in FLBPluginFlushCtx), and counts as a retry.
// Either way the next flush of the same worker counts only its own records.
func TestFlushMetricsOnPanic(t *testing.T) {
	s, err := fwdserver.Start(fwdserver.Options{Network: "tcp", Address: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const failed = "<38>Jun 16 07:37:26 web01 sshd[4409]: Failed password for invalid user admin from 203.0.113.45 port 50122 ssh2"
	data := append(event(t, map[string]any{"log": failed}, nil), event(t, map[string]any{"log": failed}, nil)...)
	const (
		sshd   = `sshenrich_records_total{output="p",code="SSHD-0032",family="openssh"}`
		passed = `sshenrich_records_passed_total{output="p"}`
		ok     = `sshenrich_flushes_total{output="p",result="ok"}`
		retry  = `sshenrich_flushes_total{output="p",result="retry"}`
	)
	tests := []struct {
		name        string
		panicHook   func()
		flushHook   func()
		panics      bool
		afterPanic  map[string]float64
		afterNormal map[string]float64
	}{
		{"while enriching the second record", panicOnSecond(), nil, false,
			map[string]float64{sshd: 0, passed: 2, ok: 1, retry: 0},
			map[string]float64{sshd: 2, passed: 2, ok: 2, retry: 0}},
		{"after enriching", nil, func() { panic("test") }, true,
			map[string]float64{sshd: 0, passed: 0, ok: 0, retry: 1},
			map[string]float64{sshd: 2, passed: 0, ok: 1, retry: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := newTestInstance(t, map[string]string{"forward_address": s.URL(), "metrics_listen": "127.0.0.1:0", "instance_name": "p"})
			w := in.workers.Get().(*worker) // one worker, so both flushes share its Tally
			in.workers.Put(w)
			in.workers.New = func() any { return w }
			panicHook, flushHook = tt.panicHook, tt.flushHook
			panicked := func() (p bool) {
				defer func() { p = recover() != nil }()
				in.flush(data, "ssh.raw")
				return false
			}()
			panicHook, flushHook = nil, nil
			if panicked != tt.panics {
				t.Fatalf("flush panicked: %v, want %v", panicked, tt.panics)
			}
			for name, want := range tt.afterPanic {
				if got := scrapeMetrics(t, in.metrics.Addr())[name]; got != want {
					t.Errorf("after the panic: %s = %v, want %v", name, got, want)
				}
			}
			if ret := in.flush(data, "ssh.raw"); ret != output.FLB_OK {
				t.Fatalf("flush returned %d", ret)
			}
			for name, want := range tt.afterNormal {
				if got := scrapeMetrics(t, in.metrics.Addr())[name]; got != want {
					t.Errorf("after the next flush: %s = %v, want %v", name, got, want)
				}
			}
		})
	}
}

// TestExitAllUnbinds: FLBPluginExit (closeAll) closes every instance;
// the endpoint they shared is unbound with the last, and the next
// configuration's instances are numbered from 0 again.
func TestExitAllUnbinds(t *testing.T) {
	var addr string
	for _, name := range []string{"x", "y"} {
		// The same text: the second shares the port the first was given.
		in := newTestInstance(t, map[string]string{"emit": "stdout", "metrics_listen": "127.0.0.1:0", "instance_name": name})
		if addr == "" {
			addr = in.metrics.Addr()
		}
		instancesMu.Lock()
		instances = append(instances, in)
		instancesMu.Unlock()
	}
	initCount.Store(2)
	got := scrapeMetrics(t, addr)
	if got[`sshenrich_catalog_entries{output="x"}`] == 0 || got[`sshenrich_catalog_entries{output="y"}`] == 0 {
		t.Fatalf("both outputs should serve on %s: %v", addr, got)
	}
	closeAll()
	if _, err := http.Get("http://" + addr + "/metrics"); err == nil {
		t.Errorf("%s still answers after every instance exited", addr)
	}
	if n := initCount.Load(); n != 0 {
		t.Errorf("instance numbering left at %d, want 0", n)
	}
}
