//go:build sshenrich_testhooks

package main

import (
	"os"
	"runtime"
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
