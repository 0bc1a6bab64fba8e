package main

import (
	"os"
	"runtime/pprof"
	"sync"
)

// The plugin's CPU can be profiled inside a real Fluent Bit, where `go
// test` cannot reach it: with SSHENRICH_CPUPROFILE=/path/cpu.out in
// Fluent Bit's environment, the first instance starts Go's CPU profiler
// and the profile is written when Fluent Bit stops the plugin. Read it
// with `go tool pprof build/out_sshenrich.so /path/cpu.out`.
var profile struct {
	once sync.Once
	mu   sync.Mutex
	file *os.File
}

// startProfile starts the CPU profiler once, when asked to.
func startProfile(log *logger) {
	profile.once.Do(func() {
		path := os.Getenv("SSHENRICH_CPUPROFILE")
		if path == "" {
			return
		}
		f, err := os.Create(path)
		if err != nil {
			log.errorf("SSHENRICH_CPUPROFILE: %v", err)
			return
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.errorf("SSHENRICH_CPUPROFILE: %v", err)
			_ = f.Close()
			return
		}
		profile.mu.Lock()
		profile.file = f
		profile.mu.Unlock()
		log.infof("CPU profile to %s until the plugin stops", path)
	})
}

// stopProfile writes the CPU profile, if one is running.
func stopProfile() {
	profile.mu.Lock()
	defer profile.mu.Unlock()
	if profile.file == nil {
		return
	}
	pprof.StopCPUProfile()
	_ = profile.file.Close()
	profile.file = nil
}
