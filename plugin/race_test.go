package main

import (
	"sync"
	"testing"
	"time"

	"github.com/sshenrich/sshenrich/plugin/config"
	"github.com/sshenrich/sshenrich/test/fwdserver"
)

// newTestInstance builds an instance as Init would, without Fluent Bit.
func newTestInstance(t *testing.T, kv map[string]string) *instance {
	t.Helper()
	cfg, err := config.Parse(config.MapGetter(kv), 0)
	if err != nil {
		t.Fatal(err)
	}
	in := &instance{cfg: cfg, log: quietLog, initThread: -1}
	if err := in.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(in.close)
	return in
}

// TestConcurrentFlushes flushes from many goroutines at once into two
// instances that share one Forward server, as Workers N does; run with
// -race it also checks the flush path for data races.
func TestConcurrentFlushes(t *testing.T) {
	s, err := fwdserver.Start(fwdserver.Options{Network: "tcp", Address: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a := newTestInstance(t, map[string]string{"forward_address": s.URL(), "time_zone": "UTC"})
	b := newTestInstance(t, map[string]string{"forward_address": s.URL(), "output_style": "flat", "language": "ja", "time_zone": "UTC"})
	data := mixedChunk(t, 200)
	const goroutines, flushes = 8, 10
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := a
			if g%2 == 1 {
				in = b
			}
			for range flushes {
				if ret := in.flush(data, "ssh.raw"); ret != 1 {
					t.Errorf("flush returned %d", ret)
					return
				}
			}
		}()
	}
	wg.Wait()
	want := int64(goroutines * flushes * 200)
	if !s.WaitCount(want, 5*time.Second) {
		t.Errorf("%d records arrived, want %d", s.Count(), want)
	}
}
