package record

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sshenrich/sshenrich/rules"
)

func builtinEnricher(t testing.TB, opts Options) *Enricher {
	t.Helper()
	cat, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	return New(cat, opts)
}

// writeBoth writes the event through both encoders and checks that the
// JSON parses.
func writeBoth(t *testing.T, x *Enricher, line []byte) {
	t.Helper()
	ev := x.Classify(line)
	var j JSON
	j.Reset()
	j.Buf = append(j.Buf, '{')
	x.Write(&j, ev, nil)
	j.Buf = append(j.Buf, '}')
	if !jsonValid(j.Buf) {
		t.Fatalf("invalid JSON for %q: %s", line, j.Buf)
	}
	var m Msgpack
	if n := x.Write(&m, ev, nil); n < 2 {
		t.Fatalf("%d top-level keys for %q", n, line)
	}
}

// TestBadInputNeverPanics feeds lines no log should hold, and every
// seed sample line cut at every byte.
func TestBadInputNeverPanics(t *testing.T) {
	for _, style := range []Style{StyleECS, StyleFlat} {
		x := builtinEnricher(t, Options{Style: style, Lang: LangBoth})
		bad := [][]byte{
			nil, []byte(""), []byte("   \t "), []byte("\x00"), bytes.Repeat([]byte{0}, 1000),
			[]byte("Accepted password for \x00root from 192.0.2.1 port 22"),
			[]byte("Failed password for \xc3\x28 from \xff port 22 ssh2"),
			bytes.Repeat([]byte("x"), 1<<20),
			bytes.Repeat([]byte("Failed password for invalid user "), 40000),
			[]byte("<999>"), []byte("<1>1 "), []byte("[ 1.0] "), []byte("message repeated 99999999999 times: ["),
			[]byte("2024/06/16 07:37:30 sshd[99999999999999999999] x"),
			[]byte("SENT CONTROL [u]: 'PUSH_REPLY,,,, ,route,ifconfig,ping x' (status=1)"),
		}
		for _, l := range bad {
			writeBoth(t, x, l)
		}
		samples, _ := filepath.Glob("../../conf/samples/*.log")
		if len(samples) == 0 {
			t.Fatal("no sample logs")
		}
		for _, s := range samples {
			data, err := os.ReadFile(s)
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range strings.Split(string(data), "\n") {
				for i := 0; i <= len(line); i++ {
					writeBoth(t, x, []byte(line[:i]))
				}
			}
		}
	}
}

func jsonValid(b []byte) bool { return json.Valid(b) }
