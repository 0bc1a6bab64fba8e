package main

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/fluent/fluent-bit-go/output"

	"github.com/sshenrich/sshenrich/plugin/emit"
)

// handle is what Fluent Bit's context points to. fluent-bit-go keeps
// every context given to FLBPluginSetContext in a map it never prunes,
// so a hot reload would keep each old instance (its catalog, worker
// buffers, emitter and metrics) alive for the life of the process. The
// map keeps this handle instead, a few bytes, and exit empties it.
type handle struct{ in atomic.Pointer[instance] }

func setContext(plugin unsafe.Pointer, in *instance) {
	h := &handle{}
	h.in.Store(in)
	output.FLBPluginSetContext(plugin, h)
}

// instanceOf returns the live instance of a context, nil after its exit.
func instanceOf(ctx unsafe.Pointer) *instance {
	h, _ := output.FLBPluginGetContext(ctx).(*handle)
	if h == nil {
		return nil
	}
	return h.in.Load()
}

// forget empties the handle of an instance that exited.
func forget(ctx unsafe.Pointer) {
	if h, _ := output.FLBPluginGetContext(ctx).(*handle); h != nil {
		h.in.Store(nil)
	}
}

// release drops what the instance holds once it is closed, so that
// whatever still points at it (a goroutine finishing, a stale
// reference) keeps only the instance struct.
func (in *instance) release() {
	in.cat = nil
	in.emitter = nil
	in.metrics = nil
	in.workers = sync.Pool{} // the pooled workers go at the next GC
}

// logBreaker writes one line when the Forward target stops
// acknowledging and one when it acknowledges again.
func (in *instance) logBreaker(ev emit.BreakerEvent) {
	target := in.cfg.Forward.Address
	if in.cfg.Forward.Network == "unix" {
		target = "unix://" + target
	}
	if ev.Open {
		in.log.warnf("forward target %s stopped acknowledging (%v): deliveries now fail fast with a retry, the chunks staying in Fluent Bit; "+
			"one probe every %s until one is acknowledged (a stopping or reloading Fluent Bit pauses its forward input; see docs/troubleshooting.md)",
			target, ev.Cause, ev.Probe)
		return
	}
	in.log.infof("forward target %s acknowledges again after %s; %d deliveries failed fast meanwhile and are retried by Fluent Bit",
		target, ev.Down.Round(time.Millisecond), ev.FailedFast)
}

// failedFast reports an Emit error of an open breaker, which the
// breaker's warning already explained.
func failedFast(err error) bool { return errors.Is(err, emit.ErrFailedFast) }
