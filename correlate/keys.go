package correlate

import (
	"encoding/binary"
	"hash/maphash"
	"math/bits"
)

// Key kinds: the first byte of every key, so that keys of different
// tables and meanings never meet.
const (
	kindSSHPid byte = iota + 1
	kindSSHAddr
	kindVPNReal
	kindVPNName
	kindVPNPool
	kindCounter
	kindSeen
	kindDedup
	kindPollHost
	kindPollSwitch
)

// longValue is the length from which a value enters a key as its hash
// (under seeds of its own, derived from the keyer's).
const (
	longValue = 96
	longSalt  = 0xA0761D6478BD642F
)

// keyer builds keys from field values into a fixed buffer and hashes
// them, in one pass, into two 64-bit halves: each a multiply-rotate
// hash (xxHash64's round) with its own random seed and constants, so
// that the keys cannot be predicted from outside and crafted user names
// cannot flood one index chain, and two independent halves keep
// collisions out of reach (two keys of a million collide with odds of
// about 1 in 10^26). The runtime's hash (hash/maphash) is as strong but
// costs a call per key, which a line pays five times or more.
type keyer struct {
	s1, s2 uint64
	buf    [1024]byte
	n      int
}

func newKeyer() keyer {
	seed := func() uint64 { return maphash.Bytes(maphash.MakeSeed(), []byte("sshenrich")) }
	return keyer{s1: seed(), s2: seed()}
}

func (k *keyer) start(kind byte) *keyer {
	k.buf[0], k.n = kind, 1
	return k
}

// bytes adds a value, its length first so that "ab"+"c" and "a"+"bc"
// differ.
func (k *keyer) bytes(v []byte) *keyer {
	if len(v) >= longValue || k.n+len(v)+2 > len(k.buf) {
		k.buf[k.n] = 0xff
		k.n++
		return k.uint(hash128(k.s1^longSalt, k.s2^longSalt, v).a)
	}
	k.buf[k.n] = byte(len(v))
	k.n++
	k.n += copy(k.buf[k.n:], v)
	return k
}

func (k *keyer) uint(v uint64) *keyer {
	if k.n+8 > len(k.buf) {
		return k
	}
	binary.LittleEndian.PutUint64(k.buf[k.n:], v)
	k.n += 8
	return k
}

func (k *keyer) int(v int64) *keyer { return k.uint(uint64(v)) }

// key hashes what was added. A zero key is made non-zero.
func (k *keyer) key() hkey {
	h := hash128(k.s1, k.s2, k.buf[:k.n])
	if h == (hkey{}) {
		h.a = 1
	}
	return h
}

// hash128 hashes b eight bytes at a time into two lanes, each with
// xxHash64's round (multiply, rotate, multiply) and its own primes, and
// ends each with MurmurHash3's finaliser.
func hash128(s1, s2 uint64, b []byte) hkey {
	const p1, p2, p3, p4 = 0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93
	n := uint64(len(b))
	a, c := s1^n*p1, s2^n*p3
	for len(b) >= 8 {
		w := binary.LittleEndian.Uint64(b)
		a ^= bits.RotateLeft64(w*p2, 31) * p1
		a = bits.RotateLeft64(a, 27)*p1 + 0x85EBCA77C2B2AE63
		c ^= bits.RotateLeft64(w*p4, 29) * p3
		c = bits.RotateLeft64(c, 23)*p3 + 0x27D4EB2F165667C5
		b = b[8:]
	}
	var tail uint64
	for i, x := range b {
		tail |= uint64(x) << (8 * i)
	}
	return hkey{fmix(a ^ tail*p2), fmix(c ^ tail*p4)}
}

func fmix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// sub is a key derived from another and a number (a counter's key from
// its group's key and its rule): each half mixed on its own.
func sub(kind byte, parent hkey, extra uint64) hkey {
	x := uint64(kind)<<56 ^ extra
	h := hkey{fmix(parent.a ^ fmix(x^0x9E3779B97F4A7C15)), fmix(parent.b + fmix(x^0xD6E8FEB86659FD93))}
	if h == (hkey{}) {
		h.a = 1
	}
	return h
}

// FNV-1a, for session ids: unlike the table keys, an id must be the
// same in every process that sees the session's first line, so that a
// replay or a second sshenrich gives the same id.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvBytes(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return h ^ 0xff // a separator, so that fields do not run together
}

func fnvUint(h, v uint64) uint64 {
	for range 8 {
		h ^= v & 0xff
		h *= fnvPrime
		v >>= 8
	}
	return h
}

const hexDigits = "0123456789abcdef"

// appendHex writes v as 16 lower-case hex digits.
func appendHex(dst *[16]byte, v uint64) {
	for i := 15; i >= 0; i-- {
		dst[i] = hexDigits[v&0xf]
		v >>= 4
	}
}
