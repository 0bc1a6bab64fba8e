package correlate

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// chunk is a Fluent Bit chunk's worth of lines: a login and a brute
// force that reaches its threshold inside the chunk.
func chunk(from time.Duration, pid0 int) []string {
	var lines []string
	lines = append(lines,
		fmt.Sprintf("%s web02 sshd[%d]: Connection from 198.51.100.23 port 40222 on 192.0.2.11 port 22", stamp(from), pid0),
		fmt.Sprintf("%s web02 sshd[%d]: Accepted password for bob from 198.51.100.23 port 40222 ssh2", stamp(from), pid0))
	for i := range 9 {
		lines = append(lines, strings.Split(attempt(from+time.Duration(i)*time.Second, pid0+1+i, "root", "203.0.113.50", 41000+i), "\n")...)
	}
	lines = append(lines, fmt.Sprintf("%s web02 sshd[%d]: pam_unix(sshd:session): session closed for user bob", stamp(from+time.Minute), pid0))
	return lines
}

// TestRetriedChunk: Fluent Bit retries a chunk whose delivery failed.
// The first attempt is aborted, the second committed: counts and
// alerts are as if the chunk had been seen once, and every line gets
// the same answer both times.
func TestRetriedChunk(t *testing.T) {
	once := newHarness(t, DefaultConfig())
	retried := newHarness(t, DefaultConfig())
	lines := chunk(0, 5000)

	var first, second, want []result
	tx := retried.e.Begin()
	for _, l := range lines {
		first = append(first, retried.observeTx(tx, l))
	}
	tx.Abort()
	if s := retried.e.Stats(); s.Alerts != 0 || s.Facts != 0 || s.Sessions != 0 || s.Counters != 0 || s.TransactionsAbort != 1 {
		t.Errorf("after Abort: %+v", s)
	}
	tx = retried.e.Begin()
	for _, l := range lines {
		second = append(second, retried.observeTx(tx, l))
	}
	tx.Commit()
	tx = once.e.Begin()
	for _, l := range lines {
		want = append(want, once.observeTx(tx, l))
	}
	tx.Commit()

	if !reflect.DeepEqual(first, second) || !reflect.DeepEqual(second, want) {
		for i := range want {
			if !reflect.DeepEqual(first[i], want[i]) || !reflect.DeepEqual(second[i], want[i]) {
				t.Errorf("line %d %q:\nfirst  %+v\nsecond %+v\nonce   %+v", i, lines[i], first[i], second[i], want[i])
			}
		}
	}
	if codes := alertCodes(second); len(codes) != 1 || codes[0] != "CORR-0001" {
		t.Errorf("alerts %v, want CORR-0001 once", codes)
	}
	a, b := retried.e.Stats(), once.e.Stats()
	a.TransactionsAbort = 0
	if a != b {
		t.Errorf("stats after the retry:\n%+v\nafter one pass:\n%+v", a, b)
	}
	// The state is the same: the next chunk gets the same answers.
	next := chunk(90*time.Second, 6000)
	for _, l := range next {
		if x, y := retried.observe(l), once.observe(l); !reflect.DeepEqual(x, y) {
			t.Errorf("next chunk %q:\nretried %+v\nonce    %+v", l, x, y)
		}
	}
}

// TestAbortUndoesEviction: a transaction that evicts under pressure
// and is aborted leaves the tables as they were.
func TestAbortUndoesEviction(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxSessions, cfg.MaxCounters, cfg.MaxDistinct = minTable, minTable, minTable
	h := newHarness(t, cfg)
	// Fill the tables, committed.
	for i := range 1500 {
		h.observe(fmt.Sprintf("%s web02 sshd[%d]: Connection from 198.51.%d.%d port 4%04d on 192.0.2.11 port 22", stamp(time.Duration(i)*time.Millisecond), 10000+i, i/250, i%250, i))
	}
	before := h.e.Stats()
	if before.SessionsEvicted == 0 {
		t.Fatalf("no eviction while filling: %+v", before)
	}
	probe := fmt.Sprintf("%s web02 sshd[%d]: Accepted password for bob from 198.51.5.249 port 41499 ssh2", stamp(2*time.Second), 11499)
	tx := h.e.Begin()
	for i := range 3000 {
		h.observeTx(tx, fmt.Sprintf("%s web02 sshd[%d]: Connection from 203.0.%d.%d port 5%04d on 192.0.2.11 port 22", stamp(time.Second), 20000+i, i/250, i%250, i))
	}
	tx.Abort()
	after := h.e.Stats()
	after.TransactionsAbort = 0
	if before != after {
		t.Errorf("stats changed by an aborted transaction:\n%+v\n%+v", before, after)
	}
	if r := h.observe(probe); r.Session == "" {
		t.Errorf("a session of the committed state was lost by the aborted transaction")
	}
}

// TestTxOnce: Commit and Abort end a transaction once; a later call,
// or Observe on an ended transaction, does nothing.
func TestTxOnce(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	tx := h.e.Begin()
	tx.Commit()
	tx.Abort()
	tx.Commit()
	var out Output
	f := h.classify("Jun 16 07:37:22 web02 sshd[4409]: Connection from 198.51.100.23 port 40222 on 192.0.2.11 port 22")
	tx.Observe(f, &out)
	if out.SessionID != nil {
		t.Error("an ended transaction observed a line")
	}
	done := make(chan struct{})
	go func() {
		h.e.Observe(f, &Output{}) // must not wait: the lock was released once
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the engine is still locked")
	}
}
