package emit

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"
)

// ErrFailedFast is the error of an Emit that did not try the network
// because the Forward target stopped acknowledging (the breaker is
// open). The flush returns FLB_RETRY: the chunk stays in Fluent Bit.
var ErrFailedFast = errors.New("failing fast")

// BreakerEvent tells that the breaker opened or closed, for one log line.
type BreakerEvent struct {
	Open       bool
	Cause      error         // opened: the timeout that opened it
	Down       time.Duration // closed: how long it was open
	FailedFast int64         // closed: Emits failed fast meanwhile
	Probe      time.Duration // opened: the wait between probes
}

// breaker is a circuit breaker in front of the Forward target. Waiting
// is what costs: a target that stopped reading (an in_forward paused by
// a stopping or reloading Fluent Bit, or by its mem_buf_limit) makes
// every Emit wait a whole ack_timeout, and Fluent Bit's shutdown waits
// for each flush queued on a worker in turn. So once an Emit times out,
// the breaker opens and Emits fail at once with ErrFailedFast, except
// one probe every probeEvery, which goes to the network; the first
// probe that is acknowledged closes the breaker. A stop then waits for
// at most the one Emit or probe in flight: one ack_timeout.
//
// Only timeouts open it: a refused or reset connection fails at once
// anyway, and the next Emit dials again.
type breaker struct {
	probeEvery time.Duration
	now        func() time.Time

	mu         sync.Mutex
	open       bool
	probing    bool      // a probe is in flight
	openedAt   time.Time // when it opened
	nextProbe  time.Time // no probe before this
	cause      error     // what opened it
	failedFast int64     // Emits failed fast since it opened
}

func newBreaker(probeEvery time.Duration) *breaker {
	return &breaker{probeEvery: max(probeEvery, 100*time.Millisecond), now: time.Now}
}

// admit says whether an Emit may go to the network, and whether it is
// the probe. An Emit that may not returns the error to fail with.
func (b *breaker) admit() (probe bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.open {
		return false, nil
	}
	now := b.now()
	if !b.probing && !now.Before(b.nextProbe) {
		b.probing = true
		return true, nil
	}
	b.failedFast++
	wait := "a probe is in flight"
	if !b.probing {
		wait = "next probe in " + b.nextProbe.Sub(now).Round(time.Second).String()
	}
	// The cause is quoted, not wrapped: a fast failure is no timeout.
	return false, fmt.Errorf("%w: no ack since %s (%s); %s", ErrFailedFast, b.openedAt.Format(time.RFC3339), b.cause.Error(), wait)
}

// done records how an admitted Emit ended. It returns the event to log
// when the breaker opened or closed, else nil.
func (b *breaker) done(probe bool, err error) *BreakerEvent {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if probe {
		b.probing = false
	}
	switch {
	case err == nil && b.open:
		// Acknowledged: the target reads again. (A success that is not
		// the probe's was admitted before the breaker opened.)
		ev := &BreakerEvent{Open: false, Down: now.Sub(b.openedAt), FailedFast: b.failedFast}
		b.open, b.probing, b.cause, b.failedFast = false, false, nil, 0
		return ev
	case err == nil:
		return nil
	case b.open:
		if probe {
			b.nextProbe = now.Add(b.probeEvery)
		}
		return nil
	case isTimeout(err):
		b.open, b.openedAt, b.cause, b.failedFast = true, now, err, 0
		b.nextProbe = now.Add(b.probeEvery)
		return &BreakerEvent{Open: true, Cause: err, Probe: b.probeEvery}
	}
	return nil
}

// isOpen reports the state, for metrics and tests.
func (b *breaker) isOpen() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.open
}

// isTimeout reports whether err is a deadline that ran out: a connect,
// write or ack wait that the target let pass.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
