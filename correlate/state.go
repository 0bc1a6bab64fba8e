package correlate

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
	"unsafe"
)

// The engine's state can be written out when an instance stops (a
// restart, a hot reload) and read back by the next one, so that
// sessions, counters and the suppression of alerts carry over: without
// it a restart forgets the failures counted so far, and raises again an
// alert it had just raised. Records hold no pointers, so the tables are
// written as they are in memory, with their indexes and the keyer's
// seeds (the keys are seeded hashes). The file ends with a SHA-256 of
// what precedes it; reading checks it, then checks every index entry,
// key count and text span against its table's bounds, so that a file
// from another build, a damaged one or a crafted one is refused whole
// and can never make the engine read out of bounds.
//
// The file holds the tables' text unmasked (addresses, user names, as
// the lines had them), as Fluent Bit's filesystem buffer holds the
// lines: it is written with mode 0600.

const (
	stateMagic   = "sshenrich state\n"
	stateVersion = 2 // 2: keys hashed as their values are added (keyer)
	// maxStateFile bounds what is read: far more than the largest
	// bounds' tables.
	maxStateFile = 4 << 30
)

// ErrBusy is WriteState's error when a transaction stayed open for the
// whole wait.
var ErrBusy = errors.New("a transaction is still open")

// LoadReport says what ReadState took from a file.
type LoadReport struct {
	Sessions, Counters, Distinct, DedupLines int
	// Dropped names the tables left empty, and why: the correlation
	// rules changed (counters, distinct values), or a table holds more
	// records than its bound now allows.
	Dropped []string
}

func (r LoadReport) String() string {
	s := fmt.Sprintf("%d sessions, %d counters, %d distinct values, %d polled lines", r.Sessions, r.Counters, r.Distinct, r.DedupLines)
	for _, d := range r.Dropped {
		s += "; " + d
	}
	return s
}

// layout is what must be the same in the writing and the reading build
// for the tables' bytes to mean the same.
func layout() [8]uint32 {
	return [8]uint32{uint32(unsafe.Sizeof(session{})), uint32(unsafe.Sizeof(counter{})), uint32(unsafe.Sizeof(seenValue{})),
		uint32(unsafe.Sizeof(dedupLine{})), uint32(unsafe.Sizeof(pollState{})), uint32(unsafe.Sizeof(meta{})),
		uint32(unsafe.Sizeof(islot{})), maxKeysPerRecord}
}

// rulesPrint is a hash of what a counter's key and slots depend on: each
// rule's place, code, group, distinct field and window. Counters and
// distinct values are kept only under the same rules.
func (e *Engine) rulesPrint() [32]byte {
	h := sha256.New()
	for _, r := range e.rules {
		fmt.Fprintf(h, "%d|%s|%v|%d|%d\n", r.Index, r.Code(), r.GroupBy, r.Distinct, r.Window)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// stateWriter writes little-endian values and hashes what it writes.
type stateWriter struct {
	w   io.Writer
	err error
}

func (s *stateWriter) bytes(b []byte) {
	if s.err == nil {
		_, s.err = s.w.Write(b)
	}
}

func (s *stateWriter) u64(v uint64) { s.bytes(binary.LittleEndian.AppendUint64(nil, v)) }

// slab writes a slice of pointer-free values as its bytes.
func slab[T any](s *stateWriter, v []T) {
	s.u64(uint64(len(v)))
	if len(v) > 0 {
		s.bytes(unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), len(v)*int(unsafe.Sizeof(v[0]))))
	}
}

// WriteState writes the engine's state to w. It waits up to wait for a
// transaction in progress to end, and returns ErrBusy if none did.
func (e *Engine) WriteState(w io.Writer, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for !e.mu.TryLock() {
		if time.Now().After(deadline) {
			return ErrBusy
		}
		time.Sleep(5 * time.Millisecond)
	}
	defer e.mu.Unlock()
	h := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(w, h), 1<<20)
	s := &stateWriter{w: bw}
	s.bytes([]byte(stateMagic))
	s.u64(stateVersion)
	for _, v := range layout() {
		s.u64(uint64(v))
	}
	p := e.rulesPrint()
	s.bytes(p[:])
	s.u64(e.keyer.s1)
	s.u64(e.keyer.s2)
	s.u64(uint64(e.clock.now))
	s.u64(uint64(e.clock.ahead))
	t := &e.tally
	for _, v := range []uint64{t.facts, t.alerts, t.suppressed, t.repeats, t.late, t.future, t.jumps} {
		s.u64(v)
	}
	writeStore(s, e.sessions)
	writeStore(s, e.counters)
	writeStore(s, e.seen)
	writeStore(s, e.dedup)
	writeStore(s, e.polls)
	if s.err == nil {
		s.err = bw.Flush()
	}
	if s.err == nil {
		_, s.err = w.Write(h.Sum(nil))
	}
	return s.err
}

func writeStore[R any](s *stateWriter, st *store[R]) {
	s.u64(uint64(st.stride))
	s.u64(st.hand)
	s.u64(st.rng)
	s.u64(st.counts.evicted)
	s.u64(st.counts.expired)
	slab(s, st.recs)
	slab(s, st.meta)
	slab(s, st.keys)
	s.u64(uint64(st.ix.live))
	slab(s, st.ix.slots)
}

// stateReader reads what stateWriter wrote from a buffer that was
// checked whole.
type stateReader struct {
	b   []byte
	err error
}

func (r *stateReader) fail(format string, a ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, a...)
	}
}

func (r *stateReader) next(n int) []byte {
	if r.err != nil || n < 0 || n > len(r.b) {
		r.fail("the file ends early")
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *stateReader) u64() uint64 {
	if b := r.next(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

// readSlab reads a slice written by slab, of at most limit values.
func readSlab[T any](r *stateReader, limit int) []T {
	n := r.u64()
	if r.err != nil {
		return nil
	}
	if n > uint64(limit) {
		r.fail("a table holds %d records, more than %d", n, limit)
		return nil
	}
	var zero T
	size := int(unsafe.Sizeof(zero))
	b := r.next(int(n) * size)
	if b == nil {
		return nil
	}
	v := make([]T, n)
	if n > 0 {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), len(b)), b)
	}
	return v
}

// loaded is a table read from a file, checked, not yet in use.
type loaded[R any] struct {
	recs   []R
	meta   []meta
	keys   []hkey
	live   int
	slots  []islot
	hand   uint64
	rng    uint64
	counts evictionCounts
}

// readStore reads one table and checks it against st's record type and
// valid, which checks a record's own spans.
func readStore[R any](r *stateReader, st *store[R], valid func(*R) bool) *loaded[R] {
	stride := r.u64()
	l := &loaded[R]{hand: r.u64(), rng: r.u64(), counts: evictionCounts{r.u64(), r.u64()}}
	const most = 1 << 26 // records or slots; the bound of every table is far below
	l.recs = readSlab[R](r, most)
	l.meta = readSlab[meta](r, most)
	l.keys = readSlab[hkey](r, most*maxKeysPerRecord)
	live := r.u64()
	l.slots = readSlab[islot](r, most)
	if r.err != nil {
		return nil
	}
	n := len(l.recs)
	switch {
	case stride != uint64(st.stride):
		r.fail("a table has %d keys per record, not %d", stride, st.stride)
	case len(l.meta) != n || len(l.keys) != n*st.stride:
		r.fail("a table's parts disagree on its size")
	case len(l.slots) < 16 || len(l.slots)&(len(l.slots)-1) != 0:
		r.fail("an index of %d slots", len(l.slots))
	}
	if r.err != nil {
		return nil
	}
	for i := range l.recs {
		if int(l.meta[i].nkeys) > st.stride || !valid(&l.recs[i]) {
			r.fail("record %d of a table is out of its bounds", i)
			return nil
		}
	}
	used := 0
	for _, s := range l.slots {
		if s.v < 0 || int(s.v) > n {
			r.fail("an index entry leads outside its table")
			return nil
		}
		if s.v > 0 {
			used++
		}
	}
	if uint64(used) != live || used*2 > len(l.slots) {
		r.fail("an index holds %d keys in %d slots, and says %d", used, len(l.slots), live)
		return nil
	}
	l.live = used
	return l
}

// install puts l in place of st's contents, unless it has more records
// than st's bound, which it reports.
func install[R any](st *store[R], l *loaded[R], name string, rep *LoadReport) int {
	if l == nil {
		return 0
	}
	if len(l.recs) > st.max {
		rep.Dropped = append(rep.Dropped, fmt.Sprintf("%s dropped: %d records, more than its bound of %d", name, len(l.recs), st.max))
		return 0
	}
	st.recs, st.meta, st.keys = l.recs, l.meta, l.keys
	st.ix = index{slots: l.slots, live: l.live}
	st.hand, st.rng, st.counts = l.hand, l.rng, l.counts
	return len(l.recs)
}

// ReadState replaces the engine's state (which must be fresh: no
// transaction since New) by the one read from r. On an error the engine
// is unchanged.
func (e *Engine) ReadState(r io.Reader) (LoadReport, error) {
	var rep LoadReport
	data, err := io.ReadAll(io.LimitReader(r, maxStateFile+1))
	switch {
	case err != nil:
		return rep, err
	case len(data) > maxStateFile:
		return rep, fmt.Errorf("larger than %d bytes", maxStateFile)
	case len(data) < len(stateMagic)+sha256.Size || !bytes.HasPrefix(data, []byte(stateMagic)):
		return rep, errors.New("not a state file")
	}
	body, sum := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	if got := sha256.Sum256(body); !bytes.Equal(got[:], sum) {
		return rep, errors.New("damaged: its checksum does not match")
	}
	in := &stateReader{b: body[len(stateMagic):]}
	if v := in.u64(); v != stateVersion {
		return rep, fmt.Errorf("format version %d; this build reads %d", v, stateVersion)
	}
	for _, want := range layout() {
		if in.u64() != uint64(want) {
			return rep, errors.New("written by a build whose records differ from this one's")
		}
	}
	rulesSum := in.next(32)
	s1, s2 := in.u64(), in.u64()
	clk := clock{now: int64(in.u64()), ahead: int(in.u64()), maxJump: e.clock.maxJump}
	var t tally
	for _, p := range []*uint64{&t.facts, &t.alerts, &t.suppressed, &t.repeats, &t.late, &t.future, &t.jumps} {
		*p = in.u64()
	}
	sessions := readStore(in, e.sessions, (*session).valid)
	counters := readStore(in, e.counters, (*counter).valid)
	seen := readStore(in, e.seen, func(*seenValue) bool { return true })
	dedup := readStore(in, e.dedup, func(*dedupLine) bool { return true })
	polls := readStore(in, e.polls, func(*pollState) bool { return true })
	if in.err == nil && len(in.b) != 0 {
		in.fail("%d bytes after the last table", len(in.b))
	}
	if in.err != nil {
		return rep, in.err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.gen != 0 {
		return rep, errors.New("the engine has observed lines already")
	}
	e.keyer.reseed(s1, s2)
	e.clock, e.tally = clk, t
	rep.Sessions = install(e.sessions, sessions, "sessions", &rep)
	if p := e.rulesPrint(); bytes.Equal(p[:], rulesSum) {
		rep.Counters = install(e.counters, counters, "counters", &rep)
		rep.Distinct = install(e.seen, seen, "distinct values", &rep)
	} else if len(counters.recs)+len(seen.recs) > 0 {
		rep.Dropped = append(rep.Dropped, "counters and distinct values dropped: the correlation rules changed")
	}
	// Polled lines are numbered by their switch's poll: without the
	// polls they mean nothing.
	n := len(rep.Dropped)
	install(e.polls, polls, "polls", &rep)
	if len(rep.Dropped) == n {
		rep.DedupLines = install(e.dedup, dedup, "polled lines", &rep)
	}
	e.publish()
	return rep, nil
}

// valid reports whether a session's text spans lie in its arena.
func (s *session) valid() bool {
	if int(s.used) > len(s.arena) || s.flags >= sessNewestFirst<<1 {
		return false
	}
	for _, t := range [...]text{s.ip, s.user, s.cn, s.pool, s.rdomain} {
		if int(t.off)+int(t.n) > int(s.used) {
			return false
		}
	}
	return true
}

// valid reports whether a counter's spans lie in its arena and its sum
// is its slots'.
func (c *counter) valid() bool {
	if int(c.used) > len(c.arena) || int(c.nkeys) > len(c.keys) || int(c.nsamp) > len(c.samp) || int(c.n) != c.total() {
		return false
	}
	for _, s := range append(c.keys[:c.nkeys:c.nkeys], c.samp[:c.nsamp]...) {
		if int(s.off)+int(s.n) > int(c.used) {
			return false
		}
	}
	return true
}

// SaveStateFile writes the engine's state to path, through a file
// beside it renamed over path once complete and synced, so that path
// holds a whole state or none. Mode 0600: the state holds addresses
// and user names.
func (e *Engine) SaveStateFile(path string, wait time.Duration) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	// Removed unless renamed; closed once whatever happens.
	defer func() { _ = os.Remove(tmp.Name()) }()
	err = tmp.Chmod(0o600)
	if err == nil {
		err = e.WriteState(tmp, wait)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync() // the rename survives a power loss
		_ = d.Close()
	}
	return nil
}

// LoadStateFile reads the state at path into the engine. A missing
// file is no error: found is false. The file stays: after a crash
// (which writes none) the next start takes up this one again, the state
// of the last clean exit. That adds no count twice: the lines after that
// exit are not in it, and those Fluent Bit replays after the crash were
// never acknowledged, so never counted in it either.
func (e *Engine) LoadStateFile(path string) (rep LoadReport, found bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return rep, false, nil
	}
	if err != nil {
		return rep, false, err
	}
	rep, err = e.ReadState(f)
	_ = f.Close() // read-only
	return rep, true, err
}
