package correlate

import (
	"math/rand/v2"
	"testing"
)

// TestIndexMatchesMap drives the index with random sets and deletes of
// keys that crowd a few home slots (long runs that wrap around the end
// of the table, where backward-shift deletion is easiest to get wrong)
// and checks every key against a map after each change.
func TestIndexMatchesMap(t *testing.T) {
	for _, tc := range []struct {
		name  string
		homes uint64 // distinct home slots the keys hash to
		keys  int
	}{
		{"spread", 1 << 20, 300},
		{"crowded", 4, 40},
		{"one home", 1, 25},
		{"wrapping", 3, 60},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(tc.keys)))
			ix := newIndex(8)
			want := map[hkey]int32{}
			keys := make([]hkey, tc.keys)
			for i := range keys {
				// Homes at the top of the table, so that runs wrap.
				keys[i] = hkey{a: ^uint64(0) - rng.Uint64N(tc.homes), b: uint64(i + 1)}
			}
			for step := range 20000 {
				k := keys[rng.IntN(len(keys))]
				if rng.IntN(3) == 0 {
					got, exp := ix.del(k), int32(-1)
					if v, ok := want[k]; ok {
						exp = v
					}
					delete(want, k)
					if got != exp {
						t.Fatalf("step %d: del returned %d, want %d", step, got, exp)
					}
				} else {
					r := int32(rng.IntN(1000))
					got, exp := ix.set(k, r), int32(-1)
					if v, ok := want[k]; ok {
						exp = v
					}
					want[k] = r
					if got != exp {
						t.Fatalf("step %d: set returned %d, want %d", step, got, exp)
					}
				}
				if ix.live != len(want) {
					t.Fatalf("step %d: %d live keys, want %d", step, ix.live, len(want))
				}
				for _, k := range keys {
					v, ok := want[k]
					if !ok {
						v = -1
					}
					if got := ix.get(k); got != v {
						t.Fatalf("step %d: key %x leads to %d, want %d", step, k.b, got, v)
					}
				}
			}
			if n := len(ix.slots); ix.live*2 > n {
				t.Errorf("%d keys in %d slots: more than half full", ix.live, n)
			}
		})
	}
}

// TestStoreAbortRestores: whatever a transaction does to a store
// (inserts that reuse or evict records, links past a record's room,
// changes), Abort gives back the same records, times and key mappings.
func TestStoreAbortRestores(t *testing.T) {
	type rec struct{ n int64 }
	rng := rand.New(rand.NewPCG(3, 3))
	s := newStore[rec](64, 8, 2)
	keys := make([]hkey, 200)
	for i := range keys {
		keys[i] = hkey{a: rng.Uint64() % 512, b: uint64(i + 1)} // crowded homes
	}
	now := int64(1000)
	apply := func(n int) {
		for range n {
			now += int64(rng.IntN(3))
			k := keys[rng.IntN(len(keys))]
			switch rng.IntN(4) {
			case 0, 1:
				r := s.insert(k, now, now+int64(rng.IntN(50)), rng.IntN(4) == 0)
				s.mut(r).n = rng.Int64()
			case 2: // another key for a record, past its room at times
				if n := len(s.recs); n > 0 {
					s.link(k, int32(rng.IntN(n)))
				}
			case 3:
				if r := s.lookup(k, now); r >= 0 {
					s.mut(r).n++
					s.setExp(r, s.exp(r)+5)
				}
			}
		}
	}
	type state struct {
		recs  []rec
		meta  []meta
		keys  []hkey
		found map[hkey]int32
		hand  uint64
		rng   uint64
	}
	snapshot := func() state {
		st := state{recs: append([]rec(nil), s.recs...), meta: append([]meta(nil), s.meta...), keys: append([]hkey(nil), s.keys...), found: map[hkey]int32{}, hand: s.hand, rng: s.rng}
		for i := range st.meta {
			st.meta[i].txn = 0 // bookkeeping, not state
		}
		for _, k := range keys {
			st.found[k] = s.ix.get(k)
		}
		return st
	}
	apply(300) // outside a transaction: a store in use
	for round := range 50 {
		before := snapshot()
		s.begin()
		apply(1 + rng.IntN(80))
		s.abort()
		after := snapshot()
		if len(after.recs) != len(before.recs) || after.hand != before.hand || after.rng != before.rng {
			t.Fatalf("round %d: %d records after abort, %d before", round, len(after.recs), len(before.recs))
		}
		for i := range before.recs {
			if after.recs[i] != before.recs[i] || after.meta[i] != before.meta[i] {
				t.Fatalf("round %d: record %d is %+v %+v after abort, %+v %+v before", round, i, after.recs[i], after.meta[i], before.recs[i], before.meta[i])
			}
		}
		for i := range before.keys {
			if after.keys[i] != before.keys[i] {
				t.Fatalf("round %d: key slot %d is %x after abort, %x before", round, i, after.keys[i].b, before.keys[i].b)
			}
		}
		for k, v := range before.found {
			if after.found[k] != v {
				t.Fatalf("round %d: key %x leads to %d after abort, %d before", round, k.b, after.found[k], v)
			}
		}
		s.begin()
		apply(1 + rng.IntN(80))
		s.commit()
	}
}

// TestGrowingStoreReusesDead: while a store grows, a new key takes a
// dead record when most are dead, so the store stays within a small
// multiple of its live records (a session-shaped load: most records die
// soon, a third live long; two random samples settle near 10), far
// below its bound (a hand that looks at adjacent records while the
// store grows fills it).
func TestGrowingStoreReusesDead(t *testing.T) {
	s := newStore[seenValue](1<<16, 64, 1)
	live := 0
	for i := range 200000 {
		now := int64(i)
		ttl := int64(50)
		if i%3 == 0 {
			ttl = 2000
		}
		s.insert(hkey{a: uint64(i)*0x9E3779B97F4A7C15 | 1, b: uint64(i)}, now, now+ttl, true)
		if i == 199999 {
			for r := range s.meta {
				if s.meta[r].exp > now {
					live++
				}
			}
		}
	}
	if n := s.len(); n > 16*live {
		t.Errorf("%d records for %d live ones: the store grows instead of reusing dead records", n, live)
	}
}

// TestGrowingStoreKeepsDeadForBackfill: while it grows, a store reuses
// a dead record only once it has been dead for keep (Config.Backfill),
// so that a line that far behind the clock still finds it; a full store
// reuses the first to die whatever keep says.
func TestGrowingStoreKeepsDeadForBackfill(t *testing.T) {
	tests := []struct {
		name      string
		max       int
		keep, now int64
		reused    bool
	}{
		{"no keep: dead is reused", 1024, 0, 101, true},
		{"dead for less than keep: kept", 1024, 500, 400, false},
		{"dead for keep: reused", 1024, 500, 600, true},
		{"full: reused whatever keep says", 1, 500, 101, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore[seenValue](tt.max, 1, 1)
			s.keep = tt.keep
			old := s.insert(hkey{a: 1, b: 1}, 0, 100, true) // dies at 100
			r := s.insert(hkey{a: 2, b: 2}, tt.now, tt.now+100, true)
			if (r == old) != tt.reused {
				t.Errorf("new key took record %d, the dead one is %d: reused %v, want %v", r, old, r == old, tt.reused)
			}
			if got := s.lookup(hkey{a: 1, b: 1}, 50) >= 0; got == tt.reused {
				t.Errorf("a line at 50 finds the dead record: %v, want %v", got, !tt.reused)
			}
		})
	}
}
