package correlate

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// stateLog is a log whose correlation spans a restart: a brute force
// (CORR-0001 at its eighth failure, then suppressed), a login whose
// session closes, an OpenVPN session, and an AX switch polled twice.
func stateLog() (before, after string) {
	var a, b []string
	for i, u := range bruteUsers[:6] {
		a = append(a, attempt(time.Duration(i)*10*time.Second, 6000+i, u, "203.0.113.50", 40000+i))
	}
	a = append(a,
		"Jun 16 07:02:00 web02 sshd[4409]: Connection from 198.51.100.23 port 40222 on 192.0.2.11 port 22",
		"Jun 16 07:02:01 web02 sshd[4409]: Accepted password for bob from 198.51.100.23 port 40222 ssh2",
		"Jun 16 07:02:05 vpn01 openvpn[811]: 198.51.100.9:5000 [alice] Peer Connection Initiated with [AF_INET]198.51.100.9:5000",
		poll)
	for i, u := range bruteUsers[6:] {
		b = append(b, attempt(time.Duration(70+i*5)*time.Second, 6100+i, u, "203.0.113.50", 41000+i))
	}
	b = append(b,
		"Jun 16 07:03:00 web02 sshd[4409]: pam_unix(sshd:session): session closed for user bob",
		"Jun 16 07:03:10 vpn01 openvpn[811]: alice/198.51.100.9:5000 SIGTERM[soft,remote-exit] received, client-instance exiting",
		newer)
	return strings.Join(a, "\n"), strings.Join(b, "\n")
}

// TestStateCarriesOver: an engine that reads the state another wrote
// after the first half of a log gives the second half the very results
// one engine gives the whole log: the same session ids, inferred
// fields, durations, repeats, and the brute force raised once (at the
// eighth failure, in the second half) and then suppressed.
func TestStateCarriesOver(t *testing.T) {
	before, after := stateLog()
	whole := newHarness(t, DefaultConfig())
	whole.run(before)
	want := whole.run(after)

	first := newHarness(t, DefaultConfig())
	first.run(before)
	var buf bytes.Buffer
	if err := first.e.WriteState(&buf, time.Second); err != nil {
		t.Fatal(err)
	}
	second := newHarness(t, DefaultConfig())
	rep, err := second.e.ReadState(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sessions == 0 || rep.Counters == 0 || rep.Distinct == 0 || rep.DedupLines == 0 || len(rep.Dropped) != 0 {
		t.Errorf("report: %s", rep)
	}
	got := second.run(after)
	if !reflect.DeepEqual(got, want) {
		for i := range want {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Errorf("line %d: after a restart %+v\nin one run %+v", i, got[i], want[i])
			}
		}
	}
	if codes := alertCodes(got); len(codes) != 1 || codes[0] != "CORR-0001" {
		t.Errorf("alerts after the restart: %v, want CORR-0001 once", codes)
	}
	if s := second.e.Stats(); s.Facts != whole.e.Stats().Facts || s.Alerts != 1 {
		t.Errorf("stats %+v, want those of one run %+v", s, whole.e.Stats())
	}
}

// TestStateFile: SaveStateFile writes a whole file of mode 0600 (no
// temporary left beside it); LoadStateFile reads it and leaves it, for a
// start after a crash; a missing file is no error.
func TestStateFile(t *testing.T) {
	before, _ := stateLog()
	dir := t.TempDir()
	path := filepath.Join(dir, "corr.state")
	h := newHarness(t, DefaultConfig())
	h.run(before)
	if err := h.e.SaveStateFile(path, time.Second); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v %v", fi, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("files beside the state: %v", ents)
	}
	next := newHarness(t, DefaultConfig())
	rep, found, err := next.e.LoadStateFile(path)
	if err != nil || !found || rep.Sessions == 0 {
		t.Fatalf("load: %s %v %v", rep, found, err)
	}
	if again, found, err := newHarness(t, DefaultConfig()).e.LoadStateFile(path); !found || err != nil || again.String() != rep.String() {
		t.Errorf("loading the file again: %s, %v, %v; want %s", again, found, err, rep)
	}
	if _, found, err := newHarness(t, DefaultConfig()).e.LoadStateFile(filepath.Join(dir, "none")); found || err != nil {
		t.Errorf("missing file: found %v, %v", found, err)
	}
	if err := h.e.SaveStateFile(filepath.Join(dir, "no", "such", "dir"), time.Second); err == nil {
		t.Errorf("saving into a missing directory succeeded")
	}
}

// TestStateWaitsForTransaction: a transaction in progress holds the
// state back; WriteState waits for it, and gives up with ErrBusy.
func TestStateWaitsForTransaction(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	tx := h.e.Begin()
	if err := h.e.WriteState(&bytes.Buffer{}, 20*time.Millisecond); !errors.Is(err, ErrBusy) {
		t.Fatalf("with a transaction open: %v, want ErrBusy", err)
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		tx.Commit()
	}()
	if err := h.e.WriteState(&bytes.Buffer{}, 5*time.Second); err != nil {
		t.Fatalf("after the commit: %v", err)
	}
}

// TestStateDropped: counters and distinct values are dropped when the
// correlation rules changed, a table is dropped when it holds more
// records than its new bound; the sessions carry over regardless.
func TestStateDropped(t *testing.T) {
	before, _ := stateLog()
	h := newHarness(t, DefaultConfig())
	h.run(before)
	var buf bytes.Buffer
	if err := h.e.WriteState(&buf, time.Second); err != nil {
		t.Fatal(err)
	}
	tuned := newHarness(t, DefaultConfig(), "correlation: CORR-0001\nwindow: 5m\n")
	rep, err := tuned.e.ReadState(bytes.NewReader(buf.Bytes()))
	if err != nil || rep.Sessions == 0 || rep.Counters != 0 || rep.Distinct != 0 || len(rep.Dropped) != 1 || !strings.Contains(rep.Dropped[0], "rules changed") {
		t.Errorf("rules changed: %s, %v", rep, err)
	}
	// Tuning a count or a suppression keeps them: the counters mean the same.
	counted := newHarness(t, DefaultConfig(), "correlation: CORR-0001\ncount: 12\n")
	if rep, err := counted.e.ReadState(bytes.NewReader(buf.Bytes())); err != nil || rep.Counters == 0 || len(rep.Dropped) != 0 {
		t.Errorf("count tuned: %s, %v", rep, err)
	}

	// More sessions than a smaller bound allows.
	cfg := DefaultConfig()
	cfg.MaxSessions = minTable
	big := newHarness(t, DefaultConfig())
	for i := range minTable + 10 {
		big.run(attempt(time.Duration(i)*time.Millisecond, 10000+i, "root", "198.51.100.1", 1024+i))
	}
	buf.Reset()
	if err := big.e.WriteState(&buf, time.Second); err != nil {
		t.Fatal(err)
	}
	small := newHarness(t, cfg)
	rep, err = small.e.ReadState(bytes.NewReader(buf.Bytes()))
	if err != nil || rep.Sessions != 0 || rep.Counters == 0 || len(rep.Dropped) != 1 || !strings.Contains(rep.Dropped[0], "sessions dropped") {
		t.Errorf("smaller bound: %s, %v", rep, err)
	}
	small.run(before) // and the engine works
}

// TestStateRefused: a file that is not a whole state of this build is
// refused, the engine left as it was and usable; a used engine refuses
// any state.
func TestStateRefused(t *testing.T) {
	before, after := stateLog()
	h := newHarness(t, DefaultConfig())
	h.run(before)
	var buf bytes.Buffer
	if err := h.e.WriteState(&buf, time.Second); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	resum := func(b []byte) []byte {
		body := b[:len(b)-sha256.Size]
		sum := sha256.Sum256(body)
		return append(body[:len(body):len(body)], sum[:]...)
	}
	versioned := bytes.Clone(good)
	versioned[len(stateMagic)]++
	layoutChanged := bytes.Clone(good)
	layoutChanged[len(stateMagic)+8]++
	flipped := bytes.Clone(good)
	flipped[len(good)/2] ^= 1
	for _, tt := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "not a state file"},
		{"other file", []byte("Jun 16 07:02:00 web02 sshd[4409]: Connection from 198.51.100.23 port 40222\n"), "not a state file"},
		{"truncated", good[:len(good)-100], "checksum"},
		{"a bit flipped", flipped, "checksum"},
		{"other version", resum(versioned), "format version"},
		{"other build", resum(layoutChanged), "records differ"},
		{"cut short, checksum redone", resum(good[:len(good)/2]), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newHarness(t, DefaultConfig())
			_, err := e.e.ReadState(bytes.NewReader(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if s := e.e.Stats(); s.Sessions != 0 || s.Counters != 0 || s.Facts != 0 {
				t.Errorf("a refused state changed the engine: %+v", s)
			}
			e.run(before + "\n" + after)
		})
	}
	if _, err := h.e.ReadState(bytes.NewReader(good)); err == nil {
		t.Errorf("an engine that observed lines took a state")
	}
}

// smallState is the state of engine h, with the smallest tables, after
// the first half of stateLog: its bytes before the checksum.
func smallState(tb testing.TB) (cfg Config, h *harness, body []byte) {
	tb.Helper()
	cfg = DefaultConfig()
	cfg.MaxSessions, cfg.MaxCounters, cfg.MaxDistinct, cfg.MaxDedupLines = minTable, minTable, minTable, minTable
	before, _ := stateLog()
	h = newHarness(tb, cfg)
	h.run(before)
	var buf bytes.Buffer
	if err := h.e.WriteState(&buf, time.Second); err != nil {
		tb.Fatal(err)
	}
	return cfg, h, buf.Bytes()[:buf.Len()-sha256.Size]
}

// TestStateCrafted: whatever a file with a valid checksum holds (each
// byte of a real state overwritten in turn, the checksum redone), it is
// refused or taken without a panic, and the engine then runs a log
// without one: indexes, key counts and text spans are checked.
func TestStateCrafted(t *testing.T) {
	cfg, h, body := smallState(t)
	_, after := stateLog()
	// Every byte of the header and of the first session and counter
	// records (their text spans and lengths), about 800 others.
	const header = 208 + 48 // the engine's header, then the sessions table's
	ss := h.e.sessions
	sessionBytes := len(ss.recs)*int(unsafe.Sizeof(session{})) + 8 + len(ss.meta)*int(unsafe.Sizeof(meta{})) + 8 +
		len(ss.keys)*int(unsafe.Sizeof(hkey{})) + 16 + len(ss.ix.slots)*int(unsafe.Sizeof(islot{}))
	firstCounter := header + sessionBytes + 48
	if binary.LittleEndian.Uint64(body[header-8:]) != uint64(len(ss.recs)) || binary.LittleEndian.Uint64(body[firstCounter-8:]) != uint64(len(h.e.counters.recs)) {
		t.Fatalf("the records are not where the test looks for them: the format changed")
	}
	whole := func(i int) bool {
		return i < header+int(unsafe.Sizeof(session{})) || i >= firstCounter && i < firstCounter+int(unsafe.Sizeof(counter{}))
	}
	taken := 0
	step := max(1, len(body)/800)
	for i := len(stateMagic); i < len(body); i++ {
		if !whole(i) && i%step != 0 {
			continue
		}
		for _, v := range []byte{0xff, 0x01} {
			b := bytes.Clone(body)
			b[i] = v
			sum := sha256.Sum256(b)
			b = append(b, sum[:]...)
			e := newHarness(t, cfg)
			if _, err := e.e.ReadState(bytes.NewReader(b)); err == nil {
				taken++
				e.run(after)
			}
		}
	}
	if taken == 0 {
		t.Errorf("no changed file was taken: the test exercises nothing past the checks")
	}
	t.Logf("%d of the changed files taken", taken)
}
