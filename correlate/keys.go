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

// keyer hashes the field values of a key as it is built, with no
// buffer: each value enters as its length, then its bytes eight at a
// time, its last partial word padded with zeros, so that "ab"+"c" and
// "a"+"bc" differ. Two lanes of 64 bits each take every word through
// xxHash64's round (multiply, rotate, multiply) with their own random
// seed and constants, and end in MurmurHash3's finaliser: the keys
// cannot be predicted from outside, so crafted user names cannot flood
// one index chain, and two independent halves keep collisions out of
// reach (two keys of a million collide with odds of about 1 in 10^26).
// The runtime's hash (hash/maphash) is as strong but costs a call per
// key, which a line pays five times or more; copying the values into a
// buffer before hashing them cost a call per value.
type keyer struct {
	s1, s2 uint64 // the seeds
	a, c   uint64 // the lanes of the key being built
	// The lanes after a kind and a host, for the last host of each
	// kind: a node's lines name one host, and every SSH line's key
	// starts with it.
	hosts [4]hostLanes
}

type hostLanes struct {
	kind byte
	n    uint8
	host [maxCachedHost]byte
	a, c uint64
}

const maxCachedHost = 62

func newKeyer() keyer {
	seed := func() uint64 { return maphash.Bytes(maphash.MakeSeed(), []byte("sshenrich")) }
	return keyer{s1: seed(), s2: seed()}
}

const (
	prime1, prime2, prime3, prime4 = 0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93
	lenMark                        = 0xB5 << 56 // marks a length word
)

// reseed sets the seeds (a state file's).
func (k *keyer) reseed(s1, s2 uint64) {
	*k = keyer{s1: s1, s2: s2}
}

// startHost is start(kind).bytes(host), from the lanes kept for the
// last host of the kind when it is the same.
func (k *keyer) startHost(kind byte, host []byte) *keyer {
	h := &k.hosts[kind%byte(len(k.hosts))]
	if h.kind == kind && int(h.n) == len(host) && string(h.host[:h.n]) == string(host) {
		k.a, k.c = h.a, h.c
		return k
	}
	k.start(kind).bytes(host)
	if len(host) <= maxCachedHost {
		h.kind, h.n, h.a, h.c = kind, uint8(copy(h.host[:], host)), k.a, k.c
	}
	return k
}

func (k *keyer) start(kind byte) *keyer {
	k.a, k.c = k.s1, k.s2
	k.word(uint64(kind))
	return k
}

// word mixes one 64-bit word into both lanes.
func (k *keyer) word(w uint64) {
	k.a ^= bits.RotateLeft64(w*prime2, 31) * prime1
	k.a = bits.RotateLeft64(k.a, 27)*prime1 + 0x85EBCA77C2B2AE63
	k.c ^= bits.RotateLeft64(w*prime4, 29) * prime3
	k.c = bits.RotateLeft64(k.c, 23)*prime3 + 0x27D4EB2F165667C5
}

// bytes adds a value: its length, then its words.
func (k *keyer) bytes(v []byte) *keyer {
	n, whole := len(v), v
	k.word(uint64(n) | lenMark)
	for len(v) >= 8 {
		k.word(binary.LittleEndian.Uint64(v))
		v = v[8:]
	}
	switch {
	case len(v) == 0:
	case n >= 8:
		// The last word of a longer value, read whole and shifted: one
		// load instead of a byte at a time.
		k.word(binary.LittleEndian.Uint64(whole[n-8:]) >> (8 * (8 - len(v))))
	default:
		k.word(tailWord(v))
	}
	return k
}

// tailWord reads fewer than eight bytes as a little-endian word.
func tailWord(b []byte) uint64 {
	if len(b) >= 4 {
		return uint64(binary.LittleEndian.Uint32(b)) | uint64(binary.LittleEndian.Uint32(b[len(b)-4:]))<<(8*(len(b)-4))
	}
	var w uint64
	for i, x := range b {
		w |= uint64(x) << (8 * i)
	}
	return w
}

func (k *keyer) uint(v uint64) *keyer {
	k.word(v)
	return k
}

func (k *keyer) int(v int64) *keyer { return k.uint(uint64(v)) }

// key finishes the key. A zero key is made non-zero.
func (k *keyer) key() hkey {
	h := hkey{fmix(k.a), fmix(k.c)}
	if h == (hkey{}) {
		h.a = 1
	}
	return h
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

// appendHex writes v as 16 lower-case hex digits, eight at a time: the
// nibbles of each half are spread one to a byte, and each byte becomes
// '0'+n, or 'a'+n-10 where n > 9 (where n+6 carries into bit 4).
func appendHex(dst *[16]byte, v uint64) {
	binary.BigEndian.PutUint64(dst[:8], hexWord(uint32(v>>32)))
	binary.BigEndian.PutUint64(dst[8:], hexWord(uint32(v)))
}

func hexWord(x uint32) uint64 {
	w := uint64(x)
	w = (w | w<<16) & 0x0000FFFF0000FFFF
	w = (w | w<<8) & 0x00FF00FF00FF00FF
	w = (w | w<<4) & 0x0F0F0F0F0F0F0F0F
	letters := (w + 0x0606060606060606) >> 4 & 0x0101010101010101
	return w + 0x3030303030303030 + letters*('a'-'0'-10)
}
