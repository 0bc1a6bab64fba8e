package correlate

import (
	"encoding/binary"
	"fmt"
	"testing"
)

// refKey builds the key of values the slow way: each value as its
// length word, then its bytes padded with zeros to whole words.
func refKey(k keyer, kind byte, values ...[]byte) hkey {
	k.start(kind)
	for _, v := range values {
		k.word(uint64(len(v)) | lenMark)
		padded := make([]byte, (len(v)+7)/8*8)
		copy(padded, v)
		for i := 0; i < len(padded); i += 8 {
			k.word(binary.LittleEndian.Uint64(padded[i:]))
		}
	}
	return k.key()
}

// TestKeyerReadsEveryLength: the fast reads of a value's last partial
// word (whole-word loads, shifted or overlapping) give the padded word,
// for every length and offset.
func TestKeyerReadsEveryLength(t *testing.T) {
	k := newKeyer()
	buf := make([]byte, 64)
	for i := range buf {
		buf[i] = byte(i*37 + 11)
	}
	for off := range 8 {
		for n := 0; off+n <= len(buf); n++ {
			v := buf[off : off+n]
			got := k.start(kindSeen).bytes(v).key()
			if want := refKey(k, kindSeen, v); got != want {
				t.Fatalf("a value of %d bytes at offset %d: key %x, want %x", n, off, got, want)
			}
		}
	}
}

// TestKeyerSeparatesValues: keys of values that run together alike, of
// other kinds, or under other seeds differ.
func TestKeyerSeparatesValues(t *testing.T) {
	k := newKeyer()
	key := func(kind byte, vals ...string) hkey {
		k.start(kind)
		for _, v := range vals {
			k.bytes([]byte(v))
		}
		return k.key()
	}
	for _, tc := range []struct {
		name string
		a, b hkey
	}{
		{"ab+c and a+bc", key(kindSeen, "ab", "c"), key(kindSeen, "a", "bc")},
		{"a value and the same with a zero byte", key(kindSeen, "abc"), key(kindSeen, "abc\x00")},
		{"eight bytes and seven plus one", key(kindSeen, "abcdefgh", ""), key(kindSeen, "abcdefg", "h")},
		{"an empty value and none", key(kindSeen, ""), key(kindSeen)},
		{"two kinds", key(kindSSHPid, "web01"), key(kindSSHAddr, "web01")},
		{"ten bytes and one more", key(kindSeen, "0123456789"), key(kindSeen, "0123456789a")},
	} {
		if tc.a == tc.b {
			t.Errorf("%s: one key %x", tc.name, tc.a)
		}
	}
	other := newKeyer()
	if a, b := k.start(kindSeen).bytes([]byte("root")).key(), other.start(kindSeen).bytes([]byte("root")).key(); a == b {
		t.Errorf("two seeds, one key %x", a)
	}
}

// TestKeyerSpreadsKeys: a million keys of addresses and ports, as a
// flood of sources makes them, share no 96-bit index key and fill an
// index's home slots evenly.
func TestKeyerSpreadsKeys(t *testing.T) {
	k := newKeyer()
	const n, buckets = 1 << 20, 1 << 12
	seen := make(map[[12]byte]bool, n)
	var fill [buckets]int
	for i := range n {
		ip := fmt.Appendf(nil, "10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		h := k.start(kindSSHAddr).bytes([]byte("web01")).int(0).bytes(ip).int(int64(i % 60000)).key()
		var s [12]byte
		binary.LittleEndian.PutUint64(s[:], h.a)
		binary.LittleEndian.PutUint32(s[8:], uint32(h.b))
		if seen[s] {
			t.Fatalf("key %d (%s) repeats an earlier one", i, ip)
		}
		seen[s] = true
		fill[h.a&(buckets-1)]++
	}
	lo, hi := n, 0
	for _, c := range fill {
		lo, hi = min(lo, c), max(hi, c)
	}
	// 256 keys a bucket on average; a binomial spread stays well within
	// ±35% (about 5.6 standard deviations).
	if lo < 166 || hi > 346 {
		t.Errorf("home slots filled from %d to %d keys (mean 256)", lo, hi)
	}
}

func TestAppendHex(t *testing.T) {
	for _, v := range []uint64{0, 1, 9, 10, 15, 16, 0x0123456789abcdef, 0xfedcba9876543210, 0xffffffffffffffff, 0xa0b0c0d0e0f09080} {
		var got [16]byte
		appendHex(&got, v)
		if want := fmt.Sprintf("%016x", v); string(got[:]) != want {
			t.Errorf("appendHex(%#x) = %s, want %s", v, got[:], want)
		}
	}
}

// TestKeyerStartHost: the lanes kept for the last host give the keys a
// fresh start does, host after host, kind after kind, long host names
// and new seeds included.
func TestKeyerStartHost(t *testing.T) {
	k := newKeyer()
	long := string(make([]byte, maxCachedHost+1))
	hosts := []string{"web01", "web01", "web02", "", "web01", long, long, "web0", "web01"}
	for round := range 2 {
		for i, h := range hosts {
			for _, kind := range []byte{kindSSHPid, kindSSHAddr} {
				got := k.startHost(kind, []byte(h)).int(int64(i)).key()
				fresh := newKeyer()
				fresh.reseed(k.s1, k.s2)
				if want := fresh.start(kind).bytes([]byte(h)).int(int64(i)).key(); got != want {
					t.Fatalf("round %d, host %d (%.10q), kind %d: key %x, want %x", round, i, h, kind, got, want)
				}
			}
		}
		k.reseed(k.s1+1, k.s2+1) // as a state file's seeds replace them
	}
}
