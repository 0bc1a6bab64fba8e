//go:build sshenrich_testhooks

package main

import "C"

import (
	"os"
	"runtime"
	"runtime/metrics"
)

// A build for the panic-safety tests and the soak run:
// SSHENRICH_TEST_PANIC=enrich makes enrichment panic, =flush makes the
// flush panic after enrichment; SSHENRICH_TEST_GC_STATS=1 runs a GC
// before each stats sample, so that the heap figure is what is retained.
func init() {
	if os.Getenv("SSHENRICH_TEST_GC_STATS") == "1" {
		statsHook = runtime.GC
	}
	switch os.Getenv("SSHENRICH_TEST_PANIC") {
	case "enrich":
		panicHook = func() { panic("test: panic while enriching") }
	case "flush":
		flushHook = func() { panic("test: panic in the flush after enriching") }
	}
}

// SSHEnrichTestHeapLiveKB returns the Go heap that is live after two
// GCs, in KiB: test/host calls it (when the build has it) after each
// round's exit callbacks, so that a test sees whether a hot reload
// leaves the exited instances' memory behind.
//
//export SSHEnrichTestHeapLiveKB
func SSHEnrichTestHeapLiveKB() C.long {
	runtime.GC()
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return -1
	}
	return C.long(s[0].Value.Uint64() >> 10)
}
