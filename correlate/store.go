package correlate

// A store is a bounded table of fixed-size records of type R, found by
// 128-bit key hashes through an open-addressing index. A record may be
// reached by several keys (a session by its pid and by its address).
//
// Records never move: they live in a slab that grows by appending up to
// the store's maximum. While it grows, a new key takes a dead record
// found among two sampled at random, or a new one. Once it is full, a
// new key takes the place of the record that expires first among the
// next eight under a hand that sweeps the slab (a clock, as page caches
// have it), so that memory is bounded and a flood of new keys costs a
// cache line or two each: the records a hand looks at are adjacent,
// where eight random samples cost a miss each. (While the slab grows,
// adjacent records were made at about the same time and live or die
// together: two of them find a dead record less often than two at
// random, and the slab would grow to its bound.)
//
// Inside a transaction every change is logged (the record's image
// before its first change, each index change, each appended record),
// so that Abort restores the store exactly; outside one nothing is
// logged. Records hold no pointers, so the collector never scans them.

// hkey is a 128-bit key hash. The zero key is never used.
type hkey struct{ a, b uint64 }

// maxKeysPerRecord bounds the keys one record can be found by; each
// store has its own bound (a counter has one key, a session several).
const maxKeysPerRecord = 4

// meta is what the store keeps beside each record.
type meta struct {
	exp   int64  // line time (ns) from which the record is dead
	txn   uint32 // the transaction that last logged this record's image
	nkeys uint8
}

// Index slots hold a record number plus one; 0 is an empty slot.
// Deletion shifts the slots after a deleted one back (linear probing
// without tombstones), so that a table whose keys come and go, as
// sessions do, never fills with dead slots that every probe passes and
// a periodic rebuild clears.
//
// A slot holds the key's first half and 32 bits of its second: 96 bits,
// which two keys of a million share with odds of about 1 in 10^17, in
// 16 bytes instead of 24. A store's lookup compares all 128 bits with
// the keys its record lists.
type islot struct {
	a uint64
	b uint32
	v int32
}

func (s *islot) is(k hkey) bool { return s.a == k.a && s.b == uint32(k.b) }

type index struct {
	slots []islot
	live  int
}

func newIndex(n int) index {
	size := 16
	for size < n*2 {
		size <<= 1
	}
	return index{slots: make([]islot, size)}
}

func (ix *index) find(k hkey) int {
	mask := len(ix.slots) - 1
	for i := int(k.a) & mask; ; i = (i + 1) & mask {
		s := &ix.slots[i]
		if s.v == 0 {
			return -1
		}
		if s.is(k) {
			return i
		}
	}
}

// get returns the record of k, or -1.
func (ix *index) get(k hkey) int32 {
	if i := ix.find(k); i >= 0 {
		return ix.slots[i].v - 1
	}
	return -1
}

// set maps k to record r and returns its previous record, or -1.
func (ix *index) set(k hkey, r int32) int32 {
	if i := ix.find(k); i >= 0 {
		prev := ix.slots[i].v - 1
		ix.slots[i].v = r + 1
		return prev
	}
	if (ix.live+1)*2 > len(ix.slots) {
		ix.resize(len(ix.slots) * 2)
	}
	mask := len(ix.slots) - 1
	i := int(k.a) & mask
	for ix.slots[i].v != 0 {
		i = (i + 1) & mask
	}
	ix.slots[i] = islot{a: k.a, b: uint32(k.b), v: r + 1}
	ix.live++
	return -1
}

// del removes k and returns its record, or -1.
func (ix *index) del(k hkey) int32 {
	i := ix.find(k)
	if i < 0 {
		return -1
	}
	return ix.delAt(i)
}

// delIf removes k if it leads to record r, in one probe, and reports
// whether it did.
func (ix *index) delIf(k hkey, r int32) bool {
	i := ix.find(k)
	if i < 0 || ix.slots[i].v != r+1 {
		return false
	}
	ix.delAt(i)
	return true
}

// delAt empties slot i and returns its record. The slots that follow
// in its run move back over the gap when the gap lies between their
// home slot and where they are.
func (ix *index) delAt(i int) int32 {
	prev := ix.slots[i].v - 1
	mask := len(ix.slots) - 1
	for j := (i + 1) & mask; ix.slots[j].v != 0; j = (j + 1) & mask {
		home := int(ix.slots[j].a) & mask
		// The slot at j may fill the gap at i unless its home lies
		// cyclically in (i, j].
		if (j-home)&mask >= (j-i)&mask {
			ix.slots[i] = ix.slots[j]
			i = j
		}
	}
	ix.slots[i] = islot{}
	ix.live--
	return prev
}

// resize rebuilds the index with size slots. An index is at most half
// full, so that a probe for an absent key, the common case under a
// flood of new sources, stays short with linear probing.
func (ix *index) resize(size int) {
	old := ix.slots
	ix.slots = make([]islot, size)
	mask := size - 1
	for _, s := range old {
		if s.v == 0 {
			continue
		}
		i := int(s.a) & mask
		for ix.slots[i].v != 0 {
			i = (i + 1) & mask
		}
		ix.slots[i] = s
	}
}

// Undo log operations.
const (
	opImage  = iota // rec's record and meta before its first change: images[img]
	opIndex         // key k mapped to prev (or nothing when prev < 0) before
	opAppend        // rec was appended
)

type undoOp struct {
	op   uint8
	rec  int32
	prev int32
	img  int32
	k    hkey
}

// evictionCounts are a store's counters, read for metrics.
type evictionCounts struct {
	evicted uint64 // live records dropped to make room
	expired uint64 // dead records reused
}

type store[R any] struct {
	ix     index
	recs   []R
	meta   []meta
	keys   []hkey // stride keys per record
	stride int
	max    int
	keep   int64 // while growing, a dead record is reused this long after it died (Config.Backfill)

	// Transaction state.
	inTxn    bool
	txn      uint32
	log      []undoOp
	images   []R
	imeta    []meta
	ikeys    []hkey
	hand     uint64 // the next record the sweep of a full store looks at
	rng      uint64 // the random samples of a growing store
	saveHand uint64
	saveRng  uint64
	counts   evictionCounts
	saved    evictionCounts
}

func newStore[R any](max, initial, stride int) *store[R] {
	initial = min(initial, max)
	return &store[R]{ix: newIndex(initial), recs: make([]R, 0, initial), meta: make([]meta, 0, initial),
		keys: make([]hkey, 0, initial*stride), stride: stride, max: max, rng: 0x9E3779B97F4A7C15}
}

// keysOf returns record r's key slots.
func (s *store[R]) keysOf(r int32) []hkey {
	return s.keys[int(r)*s.stride : int(r+1)*s.stride]
}

// len is the number of records in use or waiting to be reused.
func (s *store[R]) len() int { return len(s.recs) }

// begin starts logging changes.
func (s *store[R]) begin() {
	s.inTxn = true
	s.txn++
	s.saveHand, s.saveRng, s.saved = s.hand, s.rng, s.counts
}

// commit forgets the log.
func (s *store[R]) commit() {
	s.inTxn = false
	s.log, s.images, s.imeta, s.ikeys = s.log[:0], s.images[:0], s.imeta[:0], s.ikeys[:0]
}

// abort undoes every logged change, newest first.
func (s *store[R]) abort() {
	for i := len(s.log) - 1; i >= 0; i-- {
		u := &s.log[i]
		switch u.op {
		case opImage:
			s.recs[u.rec], s.meta[u.rec] = s.images[u.img], s.imeta[u.img]
			copy(s.keysOf(u.rec), s.ikeys[int(u.img)*s.stride:])
		case opIndex:
			if u.prev < 0 {
				s.ix.del(u.k)
			} else {
				s.ix.set(u.k, u.prev)
			}
		case opAppend:
			s.recs, s.meta, s.keys = s.recs[:u.rec], s.meta[:u.rec], s.keys[:int(u.rec)*s.stride]
		}
	}
	s.hand, s.rng, s.counts = s.saveHand, s.saveRng, s.saved
	s.commit()
}

// lookup returns the live record of k at time now, or -1. A record
// that is dead, or that no longer lists k (its slot was reused), is
// not found.
func (s *store[R]) lookup(k hkey, now int64) int32 {
	r := s.ix.get(k)
	if r < 0 || s.meta[r].exp <= now || !s.has(r, k) {
		return -1
	}
	return r
}

func (s *store[R]) has(r int32, k hkey) bool {
	// The first key is the one most lookups find: checked before the
	// record's key slots are sliced.
	first := int(r) * s.stride
	if n := s.meta[r].nkeys; n == 0 || s.keys[first] == k {
		return n > 0
	}
	for _, x := range s.keys[first+1 : first+int(s.meta[r].nkeys)] {
		if x == k {
			return true
		}
	}
	return false
}

// mut returns record r for changing, logging its image first.
func (s *store[R]) mut(r int32) *R {
	if s.inTxn && s.meta[r].txn != s.txn {
		s.log = append(s.log, undoOp{op: opImage, rec: r, img: int32(len(s.images))})
		s.images = append(s.images, s.recs[r])
		s.imeta = append(s.imeta, s.meta[r])
		s.ikeys = append(s.ikeys, s.keysOf(r)...)
		s.meta[r].txn = s.txn
	}
	return &s.recs[r]
}

// setExp sets the time record r dies (r must have been passed to mut).
func (s *store[R]) setExp(r int32, exp int64) { s.meta[r].exp = exp }

func (s *store[R]) exp(r int32) int64 { return s.meta[r].exp }

// setIndex maps k to r in the index, logged.
func (s *store[R]) setIndex(k hkey, r int32) {
	prev := s.ix.set(k, r)
	if s.inTxn && prev != r {
		s.log = append(s.log, undoOp{op: opIndex, k: k, prev: prev})
	}
}

// delIndexIf removes k from the index, logged, if it leads to r.
func (s *store[R]) delIndexIf(k hkey, r int32) {
	if s.ix.delIf(k, r) && s.inTxn {
		s.log = append(s.log, undoOp{op: opIndex, k: k, prev: r})
	}
}

// insert gives k a zero record, dead from exp on, and returns it. The
// record k led to is reused, unless fresh asks for a new one (a new
// session on a reused pid: the old one stays reachable by its other
// keys). now decides which sampled record is dead already.
func (s *store[R]) insert(k hkey, now, exp int64, fresh bool) int32 {
	r := s.ix.get(k)
	if fresh || r < 0 || !s.has(r, k) {
		r = s.slot(now)
	}
	s.mut(r)
	s.unlink(r)
	var zero R
	s.recs[r] = zero
	s.meta[r].exp, s.meta[r].nkeys = exp, 1
	s.keysOf(r)[0] = k
	s.setIndex(k, r)
	return r
}

// link makes r reachable by k as well. A record has room for stride
// keys; past that the last one is replaced.
func (s *store[R]) link(k hkey, r int32) {
	s.mut(r)
	m, keys := &s.meta[r], s.keysOf(r)
	if !s.has(r, k) {
		if int(m.nkeys) == s.stride {
			s.delIndexIf(keys[s.stride-1], r)
			m.nkeys--
		}
		keys[m.nkeys] = k
		m.nkeys++
	}
	s.setIndex(k, r)
}

// unlink removes r's keys from the index (those that still lead to r).
func (s *store[R]) unlink(r int32) {
	for _, k := range s.keysOf(r)[:s.meta[r].nkeys] {
		s.delIndexIf(k, r)
	}
	s.meta[r].nkeys = 0
}

// slot finds a record for a new key: while the store grows, one of two
// sampled at random that died at least keep ago, else a new one; once
// it is full, the one that dies first of the next eight under the hand
// (a dead one, or an eviction).
func (s *store[R]) slot(now int64) int32 {
	n := len(s.recs)
	full := n >= s.max
	look := 2
	if full {
		look = 8
	}
	best := int32(-1)
	for i := 0; i < look && n > 0; i++ {
		var r int32
		if full {
			r = int32(s.hand % uint64(n))
			s.hand++
		} else {
			r = int32(s.next() % uint64(n))
		}
		if best < 0 || s.meta[r].exp < s.meta[best].exp {
			best = r
		}
	}
	if best >= 0 && (s.meta[best].exp <= now && full || s.meta[best].exp <= now-s.keep) {
		s.counts.expired++
		return best
	}
	if n < s.max {
		if n == cap(s.recs) {
			s.grow(min(s.max, 2*n))
		}
		s.recs = s.recs[:n+1]
		s.meta = s.meta[:n+1]
		s.keys = s.keys[:(n+1)*s.stride]
		clear(s.keysOf(int32(n)))
		var zero R
		s.recs[n], s.meta[n] = zero, meta{}
		if s.inTxn {
			s.log = append(s.log, undoOp{op: opAppend, rec: int32(n)})
			s.meta[n].txn = s.txn // a new record needs no image
		}
		return int32(n)
	}
	s.counts.evicted++
	return best
}

// grow gives the slab room for size records: doubling, but never past
// the store's bound, so that a full table holds no spare capacity.
func (s *store[R]) grow(size int) {
	size = max(size, 64)
	recs := make([]R, len(s.recs), size)
	copy(recs, s.recs)
	meta := make([]meta, len(s.meta), size)
	copy(meta, s.meta)
	keys := make([]hkey, len(s.keys), size*s.stride)
	copy(keys, s.keys)
	s.recs, s.meta, s.keys = recs, meta, keys
}

// next is xorshift64*: cheap, and restored on abort so that a replayed
// transaction evicts as the first attempt did.
func (s *store[R]) next() uint64 {
	x := s.rng
	x ^= x >> 12
	x ^= x << 25
	x ^= x >> 27
	s.rng = x
	return x * 2685821657736338717
}
