package emit

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// stallingServer is a Forward server that acknowledges until told to
// stall: then it still reads every message (as a full socket buffer
// would let the client write) but acknowledges none, like an in_forward
// that Fluent Bit paused.
type stallingServer struct {
	*ackServer
	stalled atomic.Bool
}

func newStallingServer(t *testing.T) *stallingServer {
	t.Helper()
	s := &stallingServer{}
	s.ackServer = newAckServer(t, listen(t), func(id string) any {
		if s.stalled.Load() {
			return nil
		}
		return map[string]string{"ack": id}
	})
	return s
}

// received counts the messages that reached the server so far.
func (s *stallingServer) received() int {
	n := 0
	for {
		select {
		case <-s.frames:
			n++
		case <-time.After(50 * time.Millisecond):
			return n
		}
	}
}

type breakerLog struct {
	mu     sync.Mutex
	events []BreakerEvent
}

func (l *breakerLog) add(ev BreakerEvent) {
	l.mu.Lock()
	l.events = append(l.events, ev)
	l.mu.Unlock()
}

func (l *breakerLog) all() []BreakerEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]BreakerEvent(nil), l.events...)
}

const ackWait = 200 * time.Millisecond

func stallingForward(t *testing.T) (*stallingServer, *Forward, *countingObserver, *breakerLog) {
	t.Helper()
	s := newStallingServer(t)
	cfg := forwardTo(s.ln.Addr().String())
	cfg.AckTimeout = ackWait
	f, err := NewForward(cfg, 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	obs, log := &countingObserver{}, &breakerLog{}
	f.Observe(obs)
	f.OnBreaker(log.add)
	return s, f, obs, log
}

// TestBreakerLifecycle: a target that stops acknowledging costs one
// ack_timeout; the Emits after it fail at once without touching the
// network; once the target acknowledges again, the probe closes the
// breaker and Emits are delivered.
func TestBreakerLifecycle(t *testing.T) {
	s, f, obs, log := stallingForward(t)
	payload := events(t, 2)
	if err := f.Emit("t", payload, 2); err != nil {
		t.Fatal(err)
	}
	s.received()

	s.stalled.Store(true)
	start := time.Now()
	err := f.Emit("t", payload, 2)
	if err == nil || errors.Is(err, ErrFailedFast) || !isTimeout(err) {
		t.Fatalf("first Emit to a stalled target: %v, want an ack timeout", err)
	}
	if took := time.Since(start); took < ackWait || took > 2*ackWait {
		t.Errorf("the first Emit took %s, want one ack_timeout (%s): a timeout is not resent", took, ackWait)
	}
	if !f.BreakerOpen() || obs.opened.Load() != 1 {
		t.Fatalf("breaker open %v, opened %d times; want open once", f.BreakerOpen(), obs.opened.Load())
	}
	if ev := log.all(); len(ev) != 1 || !ev[0].Open || !isTimeout(ev[0].Cause) || ev[0].Probe != ackWait {
		t.Errorf("events %+v, want one open event caused by the timeout, probing every %s", ev, ackWait)
	}
	s.received()

	// Many pending chunks: all fail at once.
	start = time.Now()
	const pending = 50
	for i := range pending {
		err := f.Emit("t", payload, 2)
		if !errors.Is(err, ErrFailedFast) || !strings.Contains(err.Error(), "no ack since") {
			t.Fatalf("Emit %d with the breaker open: %v, want ErrFailedFast", i, err)
		}
	}
	if took := time.Since(start); took > ackWait/2 {
		t.Errorf("%d Emits with the breaker open took %s, want no waiting", pending, took)
	}
	if n := s.received(); n != 0 {
		t.Errorf("%d messages reached the target while failing fast, want 0", n)
	}
	if obs.failedFast.Load() != pending {
		t.Errorf("observer heard %d fast failures, want %d", obs.failedFast.Load(), pending)
	}

	// A probe that times out keeps it open.
	time.Sleep(ackWait)
	if err := f.Emit("t", payload, 2); !isTimeout(err) || !f.BreakerOpen() {
		t.Fatalf("probe to a still stalled target: %v (open %v), want a timeout and the breaker open", err, f.BreakerOpen())
	}
	if err := f.Emit("t", payload, 2); !errors.Is(err, ErrFailedFast) {
		t.Fatalf("right after a failed probe: %v, want ErrFailedFast", err)
	}

	// The target reads again: the next probe closes the breaker.
	s.stalled.Store(false)
	time.Sleep(ackWait)
	if err := f.Emit("t", payload, 2); err != nil {
		t.Fatalf("probe to the recovered target: %v", err)
	}
	if f.BreakerOpen() || obs.closed.Load() != 1 {
		t.Fatalf("breaker open %v after an acknowledged probe, closed %d times", f.BreakerOpen(), obs.closed.Load())
	}
	ev := log.all()
	if len(ev) != 2 || ev[1].Open || ev[1].FailedFast != pending+1 || ev[1].Down < 2*ackWait {
		t.Errorf("events %+v, want a close event after >= %s with %d fast failures", ev, 2*ackWait, pending+1)
	}
	for i := range 3 {
		if err := f.Emit("t", payload, 2); err != nil {
			t.Fatalf("Emit %d after the breaker closed: %v", i, err)
		}
	}
}

// TestBreakerOneProbe: concurrent Emits while the breaker is open and a
// probe is due: exactly one goes to the target, the others fail fast.
func TestBreakerOneProbe(t *testing.T) {
	s, f, _, _ := stallingForward(t)
	s.stalled.Store(true)
	payload := events(t, 1)
	if err := f.Emit("t", payload, 1); !isTimeout(err) {
		t.Fatalf("%v, want a timeout", err)
	}
	s.received()
	time.Sleep(ackWait)
	const n = 8
	var wg sync.WaitGroup
	var fast, timedOut atomic.Int64
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch err := f.Emit("t", payload, 1); {
			case errors.Is(err, ErrFailedFast):
				fast.Add(1)
			case isTimeout(err):
				timedOut.Add(1)
			default:
				t.Errorf("unexpected result %v", err)
			}
		}()
	}
	wg.Wait()
	if timedOut.Load() != 1 || fast.Load() != n-1 {
		t.Errorf("%d probes and %d fast failures, want 1 and %d", timedOut.Load(), fast.Load(), n-1)
	}
	if got := s.received(); got != 1 {
		t.Errorf("%d messages reached the target, want the probe's only", got)
	}
}

// TestBreakerStaysClosed: failures that cost no wait (refused, reset,
// a wrong ack) do not open the breaker; only timeouts do.
func TestBreakerStaysClosed(t *testing.T) {
	ln := listen(t)
	addr := ln.Addr().String()
	ln.Close()
	cfg := forwardTo(addr)
	cfg.AckTimeout = ackWait
	f, _ := NewForward(cfg, 1)
	defer f.Close()
	for range 3 {
		if err := f.Emit("t", events(t, 1), 1); err == nil || isTimeout(err) {
			t.Fatalf("%v, want connection refused", err)
		}
	}
	if f.BreakerOpen() {
		t.Error("a refused connection opened the breaker")
	}
	s := newAckServer(t, listen(t), func(string) any { return map[string]string{"ack": "other"} })
	cfg.Address = s.ln.Addr().String()
	f2, _ := NewForward(cfg, 1)
	defer f2.Close()
	if err := f2.Emit("t", events(t, 1), 1); err == nil || !strings.Contains(err.Error(), "names chunk") {
		t.Fatalf("%v, want a wrong ack", err)
	}
	if f2.BreakerOpen() {
		t.Error("a wrong ack opened the breaker")
	}
}
