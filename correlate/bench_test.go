package correlate

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"
)

// commonFacts are facts of sessions and sources the engine already
// tracks once it has observed the setup facts (their connect lines):
// the common path. Each source has a session and is counted by the
// brute-force rules.
func commonFacts(tb testing.TB, h *harness, sources int) (setup, facts []Fact) {
	for i := range sources {
		src, port, pid := fmt.Sprintf("203.0.%d.%d", i/200, i%200+1), 40000+i, 20000+i
		setup = append(setup, *h.classify(fmt.Sprintf("Jun 16 07:00:00 web02 sshd[%d]: Connection from %s port %d on 192.0.2.11 port 22", pid, src, port)))
		for _, l := range []string{
			fmt.Sprintf("Jun 16 07:00:00 web02 sshd[%d]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=%s  user=root", pid, src),
			fmt.Sprintf("Jun 16 07:00:00 web02 sshd[%d]: Failed password for root from %s port %d ssh2", pid, src, port),
			fmt.Sprintf("Jun 16 07:00:00 web02 sshd[%d]: Failed password for invalid user admin from %s port %d ssh2", pid, src, port),
			fmt.Sprintf("Jun 16 07:00:00 web02 sshd[%d]: Postponed keyboard-interactive for root from %s port %d ssh2 [preauth]", pid, src, port),
		} {
			facts = append(facts, *h.classify(l))
		}
	}
	return setup, facts
}

// warm observes the setup and one pass of the facts at time base.
func warm(h *harness, setup, facts []Fact, base int64) {
	var out Output
	tx := h.e.Begin()
	for _, list := range [][]Fact{setup, facts} {
		for i := range list {
			list[i].Time = base
			tx.Observe(&list[i], &out)
		}
	}
	tx.Commit()
}

// BenchmarkObserve: one line of a chunk (a transaction of 1024 lines)
// on the common path, where the line updates a session and counters
// that exist. The time advances 10 ms a line.
func BenchmarkObserve(b *testing.B) {
	h := newHarness(b, DefaultConfig())
	setup, facts := commonFacts(b, h, 256)
	var out Output
	base := time.Date(2025, 6, 16, 7, 0, 0, 0, time.UTC).UnixNano()
	warm(h, setup, facts, base)
	b.ReportAllocs()
	tx := h.e.Begin()
	for i := 0; b.Loop(); i++ {
		if i&1023 == 1023 {
			tx.Commit()
			tx = h.e.Begin()
		}
		f := &facts[i%len(facts)]
		f.Time = base + int64(i)*int64(10*time.Millisecond)
		tx.Observe(f, &out)
	}
	tx.Commit()
}

// BenchmarkObserveOwnTx is Engine.Observe: one transaction per line.
func BenchmarkObserveOwnTx(b *testing.B) {
	h := newHarness(b, DefaultConfig())
	setup, facts := commonFacts(b, h, 256)
	var out Output
	base := time.Date(2025, 6, 16, 7, 0, 0, 0, time.UTC).UnixNano()
	warm(h, setup, facts, base)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		f := &facts[i%len(facts)]
		f.Time = base + int64(i)*int64(10*time.Millisecond)
		h.e.Observe(f, &out)
	}
}

// BenchmarkObserveNewSources: every line is a failure from a source
// never seen: inserts, and evictions once the tables are full.
func BenchmarkObserveNewSources(b *testing.B) {
	h := newHarness(b, DefaultConfig())
	entry, _ := h.cat.Lookup("SSHD-0032")
	var f Fact
	var out Output
	at := time.Date(2025, 6, 16, 7, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		floodFact(&f, entry, i, at.Add(time.Duration(i)*time.Millisecond))
		h.e.Observe(&f, &out)
	}
}

// TestObserveDoesNotAllocate holds the common path to no allocation.
func TestObserveDoesNotAllocate(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	setup, facts := commonFacts(t, h, 64)
	var out Output
	base := time.Date(2025, 6, 16, 7, 0, 0, 0, time.UTC).UnixNano()
	warm(h, setup, facts, base)
	i := 0
	tx := h.e.Begin()
	defer func() { tx.Commit() }()
	allocs := testing.AllocsPerRun(5000, func() {
		f := &facts[i%len(facts)]
		f.Time = base + int64(i)*int64(time.Millisecond)
		tx.Observe(f, &out)
		i++
	})
	if allocs != 0 {
		t.Errorf("%v allocations per line on the common path", allocs)
	}
	// The builder does not allocate either.
	line := []byte("Jun 16 07:00:00 web02 sshd[4409]: Failed password for root from 203.0.113.9 port 4000 ssh2")
	h.p.Parse(line, &h.env)
	h.m.Match(h.env.Message, &h.res)
	var f Fact
	if a := testing.AllocsPerRun(1000, func() { h.b.Build(&f, &h.env, &h.res) }); a != 0 {
		t.Errorf("Build: %v allocations", a)
	}
}

// floodSources observes n distinct sources, each a connection that
// succeeds and a failed password, a millisecond apart: a session, two
// counters and a distinct value each.
func floodSources(h *harness, n int) {
	failed, _ := h.cat.Lookup("SSHD-0032")
	conn, _ := h.cat.Lookup("SSHD-0008")
	var f Fact
	var out Output
	at := time.Date(2025, 6, 16, 7, 0, 0, 0, time.UTC)
	for i := range n {
		floodFact(&f, conn, i, at.Add(time.Duration(i)*time.Millisecond))
		f.Outcome = "success"
		h.e.Observe(&f, &out)
		floodFact(&f, failed, i, at.Add(time.Duration(i)*time.Millisecond))
		h.e.Observe(&f, &out)
	}
}

// heapAfter runs fn and returns the live heap it added, after a GC.
func heapAfter(fn func()) int64 {
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	fn()
	runtime.GC()
	runtime.ReadMemStats(&m1)
	return int64(m1.HeapAlloc) - int64(m0.HeapAlloc)
}

// BenchmarkMemoryPerSource: the heap one tracked source costs, with
// tables large enough to keep every one: its session (connect line)
// and the counters and distinct values of a failed password (the
// brute-force, slow brute-force and targeted-user rules). Reported as
// B/source, beside the fixed size of each record.
func BenchmarkMemoryPerSource(b *testing.B) {
	const n = 200000
	cfg := DefaultConfig()
	cfg.MaxSessions, cfg.MaxCounters, cfg.MaxDistinct = n, 4*n, n
	for range b.N {
		h := newHarness(b, cfg)
		grown := heapAfter(func() { floodSources(h, n) })
		s := h.e.Stats()
		b.ReportMetric(float64(grown)/n, "B/source")
		b.ReportMetric(float64(s.Counters)/n, "counters/source")
		b.ReportMetric(float64(unsafe.Sizeof(session{})+unsafe.Sizeof(meta{})+maxKeysPerRecord*unsafe.Sizeof(hkey{})), "B/session-record")
		b.ReportMetric(float64(unsafe.Sizeof(counter{})+unsafe.Sizeof(meta{})+unsafe.Sizeof(hkey{})), "B/counter-record")
		b.ReportMetric(float64(unsafe.Sizeof(seenValue{})+unsafe.Sizeof(meta{})+unsafe.Sizeof(hkey{})), "B/distinct-record")
		b.ReportMetric(float64(unsafe.Sizeof(dedupLine{})+unsafe.Sizeof(meta{})+unsafe.Sizeof(hkey{})), "B/dedup-record")
		runtime.KeepAlive(h)
	}
}

// BenchmarkHeapMillionSources: the heap after a million distinct
// sources, each a connection and a failed password, with the default
// bounds: the tables stay at their maximum sizes, whatever the flood.
func BenchmarkHeapMillionSources(b *testing.B) {
	for range b.N {
		h := newHarness(b, DefaultConfig())
		const n = 1000000
		grown := heapAfter(func() { floodSources(h, n) })
		s := h.e.Stats()
		b.ReportMetric(float64(grown)/(1<<20), "MB-heap")
		b.ReportMetric(float64(s.Sessions), "sessions")
		b.ReportMetric(float64(s.Counters), "counters")
		b.ReportMetric(float64(s.SessionsEvicted+s.CountersEvicted+s.DistinctEvicted), "evicted")
		runtime.KeepAlive(h)
	}
}

// TestConcurrentTransactions: flush workers on one engine take turns;
// every line is counted once.
func TestConcurrentTransactions(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	entry, _ := h.cat.Lookup("SSHD-0032")
	at := time.Date(2025, 6, 16, 7, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	const workers, chunks, per = 4, 50, 20
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var f Fact
			var out Output
			for c := range chunks {
				tx := h.e.Begin()
				for i := range per {
					n := (w*chunks+c)*per + i
					floodFact(&f, entry, n, at.Add(time.Duration(n)*time.Millisecond))
					tx.Observe(&f, &out)
				}
				if c%5 == 4 {
					tx.Abort() // retried below
					tx = h.e.Begin()
					for i := range per {
						n := (w*chunks+c)*per + i
						floodFact(&f, entry, n, at.Add(time.Duration(n)*time.Millisecond))
						tx.Observe(&f, &out)
					}
				}
				tx.Commit()
			}
		}()
	}
	wg.Wait()
	s := h.e.Stats()
	if s.Facts != workers*chunks*per || s.TransactionsAbort != workers*chunks/5 {
		t.Errorf("facts %d aborts %d", s.Facts, s.TransactionsAbort)
	}
	if !strings.Contains(h.e.String(), "8 rules") {
		t.Errorf("String: %s", h.e.String())
	}
}

// BenchmarkStateFile: writing the state of full tables (the default
// bounds, after 100,000 distinct sources) to a file and reading it into
// a new engine, as a stopping and a starting plugin do.
func BenchmarkStateFile(b *testing.B) {
	h := newHarness(b, DefaultConfig())
	floodSources(h, 100000)
	path := filepath.Join(b.TempDir(), "corr.state")
	var size int64
	b.ResetTimer()
	for range b.N {
		if err := h.e.SaveStateFile(path, time.Second); err != nil {
			b.Fatal(err)
		}
		if fi, err := os.Stat(path); err == nil {
			size = fi.Size()
		}
		e, err := New(h.cat, DefaultConfig())
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := e.LoadStateFile(path); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(size)/1e6, "MB-file")
}
