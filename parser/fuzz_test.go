package parser

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzParse feeds arbitrary lines to the envelope parser: it must not
// panic, and every field it returns must be part of the line (or one of
// its constants).
func FuzzParse(f *testing.F) {
	samples, _ := filepath.Glob("../conf/samples/*.log")
	for _, s := range samples {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		for _, l := range strings.Split(string(data), "\n") {
			f.Add([]byte(l))
		}
	}
	for _, l := range []string{"<999>", "<38>1 - - - - - [x", "Date 2024/06/16 08:00:00 UTC", "Switch 3:", "message repeated 5 times: [ x", "debug3: x", "[ 1.5] kernel: IN= SRC=1 DST=2", "user/1.2.3.4:99 x"} {
		f.Add([]byte(l))
	}
	p := New(time.UTC, time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC))
	f.Fuzz(func(t *testing.T, line []byte) {
		var e Envelope
		p.Parse(line, &e)
		for name, field := range map[string][]byte{
			"host": e.Host, "message": e.Message, "tunnel": e.Tunnel, "vpnuser": e.VPNUser,
			"client": e.ClientAddr, "cport": e.ClientPort, "src": e.Net.Src, "dst": e.Net.Dst,
		} {
			if field != nil && !within(line, field) {
				t.Fatalf("%s %q is not part of the line %q", name, field, line)
			}
		}
		if e.Program != nil && !within(line, e.Program) && string(e.Program) != "ssh" && string(e.Program) != "kernel" {
			t.Fatalf("program %q is not part of the line", e.Program)
		}
		if e.Time.Valid && e.Time.Nsec >= 1e9 {
			t.Fatalf("nanoseconds out of range: %d", e.Time.Nsec)
		}
	})
}

// within reports whether sub is a sub-slice of b's memory.
func within(b, sub []byte) bool {
	if len(sub) == 0 {
		return true
	}
	if len(b) == 0 {
		return false
	}
	start := &b[0]
	return ptr(sub) >= ptr(b) && ptr(sub)+uintptr(len(sub)) <= ptr(b)+uintptr(len(b)) && start != nil
}
