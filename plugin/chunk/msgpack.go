package chunk

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// A minimal zero-copy MessagePack reader. The flush path only needs to
// find value boundaries and read a few strings, and it must not allocate
// per record nor recurse without bound: a chunk of a few megabytes of
// nested arrays would otherwise exhaust the goroutine stack, which is a
// fatal error that no recover can catch.

// MaxDepth bounds how deeply values may nest.
const MaxDepth = 100

// Errors of malformed input.
var (
	ErrTruncated = errors.New("truncated value")
	ErrTooDeep   = fmt.Errorf("values nested deeper than %d", MaxDepth)
	ErrBadCode   = errors.New("invalid msgpack type code")
)

// Skip returns the offset just past the value that starts at b[i].
func Skip(b []byte, i int) (int, error) { return skip(b, i, 0) }

func skip(b []byte, i, depth int) (int, error) {
	if depth > MaxDepth {
		return 0, ErrTooDeep
	}
	if i >= len(b) {
		return 0, ErrTruncated
	}
	c := b[i]
	switch {
	case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		return i + 1, nil
	case c >= 0x80 && c <= 0x8f:
		return skipN(b, i+1, 2*int(c&0x0f), depth)
	case c >= 0x90 && c <= 0x9f:
		return skipN(b, i+1, int(c&0x0f), depth)
	case c >= 0xa0 && c <= 0xbf:
		return span(b, i+1, int(c&0x1f))
	}
	switch c {
	case 0xcc, 0xd0:
		return span(b, i+1, 1)
	case 0xcd, 0xd1:
		return span(b, i+1, 2)
	case 0xce, 0xd2, 0xca:
		return span(b, i+1, 4)
	case 0xcf, 0xd3, 0xcb:
		return span(b, i+1, 8)
	case 0xd4:
		return span(b, i+1, 2)
	case 0xd5:
		return span(b, i+1, 3)
	case 0xd6:
		return span(b, i+1, 5)
	case 0xd7:
		return span(b, i+1, 9)
	case 0xd8:
		return span(b, i+1, 17)
	case 0xc4, 0xd9:
		n, j, err := length(b, i+1, 1)
		if err != nil {
			return 0, err
		}
		return span(b, j, n)
	case 0xc5, 0xda:
		n, j, err := length(b, i+1, 2)
		if err != nil {
			return 0, err
		}
		return span(b, j, n)
	case 0xc6, 0xdb:
		n, j, err := length(b, i+1, 4)
		if err != nil {
			return 0, err
		}
		return span(b, j, n)
	case 0xc7, 0xc8, 0xc9: // ext 8/16/32: length, type, data
		size := 1 << (c - 0xc7)
		n, j, err := length(b, i+1, size)
		if err != nil {
			return 0, err
		}
		return span(b, j, n+1)
	case 0xdc, 0xde:
		n, j, err := length(b, i+1, 2)
		if err != nil {
			return 0, err
		}
		if c == 0xde {
			n *= 2
		}
		return skipN(b, j, n, depth)
	case 0xdd, 0xdf:
		n, j, err := length(b, i+1, 4)
		if err != nil {
			return 0, err
		}
		if c == 0xdf {
			n *= 2
		}
		return skipN(b, j, n, depth)
	}
	return 0, ErrBadCode
}

func skipN(b []byte, i, n, depth int) (int, error) {
	// Every value takes at least one byte: a count beyond the data is
	// truncation, found before walking it.
	if n > len(b)-i {
		return 0, ErrTruncated
	}
	var err error
	for ; n > 0; n-- {
		if i, err = skip(b, i, depth+1); err != nil {
			return 0, err
		}
	}
	return i, nil
}

func span(b []byte, i, n int) (int, error) {
	if n < 0 || n > len(b)-i {
		return 0, ErrTruncated
	}
	return i + n, nil
}

// length reads a big-endian length of size bytes at b[i].
func length(b []byte, i, size int) (int, int, error) {
	if i+size > len(b) {
		return 0, 0, ErrTruncated
	}
	switch size {
	case 1:
		return int(b[i]), i + 1, nil
	case 2:
		return int(binary.BigEndian.Uint16(b[i:])), i + 2, nil
	}
	n := binary.BigEndian.Uint32(b[i:])
	if uint64(n) > uint64(len(b)) {
		return 0, 0, ErrTruncated
	}
	return int(n), i + 4, nil
}

// Str returns the bytes of a str or bin value.
func Str(v []byte) ([]byte, bool) {
	if len(v) == 0 {
		return nil, false
	}
	c := v[0]
	var n, j int
	var err error
	switch {
	case c >= 0xa0 && c <= 0xbf:
		n, j = int(c&0x1f), 1
	case c == 0xd9 || c == 0xc4:
		n, j, err = length(v, 1, 1)
	case c == 0xda || c == 0xc5:
		n, j, err = length(v, 1, 2)
	case c == 0xdb || c == 0xc6:
		n, j, err = length(v, 1, 4)
	default:
		return nil, false
	}
	if err != nil || j+n > len(v) {
		return nil, false
	}
	return v[j : j+n], true
}

// Int returns an integer value.
func Int(v []byte) (int64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	c := v[0]
	switch {
	case c <= 0x7f:
		return int64(c), true
	case c >= 0xe0:
		return int64(int8(c)), true
	}
	if c < 0xcc || c > 0xd3 {
		return 0, false
	}
	need := 1 << ((c - 0xcc) & 3)
	if len(v) < 1+need {
		return 0, false
	}
	p := v[1:]
	switch c {
	case 0xcc:
		return int64(p[0]), true
	case 0xcd:
		return int64(binary.BigEndian.Uint16(p)), true
	case 0xce:
		return int64(binary.BigEndian.Uint32(p)), true
	case 0xcf:
		u := binary.BigEndian.Uint64(p)
		return int64(u), u <= 1<<63-1
	case 0xd0:
		return int64(int8(p[0])), true
	case 0xd1:
		return int64(int16(binary.BigEndian.Uint16(p))), true
	case 0xd2:
		return int64(int32(binary.BigEndian.Uint32(p))), true
	}
	return int64(binary.BigEndian.Uint64(p)), true
}

// MapHeader reads a map header and returns the member count and the
// offset of the first key.
func MapHeader(v []byte) (n, first int, ok bool) {
	if len(v) == 0 {
		return 0, 0, false
	}
	c := v[0]
	switch {
	case c >= 0x80 && c <= 0x8f:
		return int(c & 0x0f), 1, true
	case c == 0xde:
		n, j, err := length(v, 1, 2)
		return n, j, err == nil
	case c == 0xdf:
		n, j, err := length(v, 1, 4)
		return n, j, err == nil
	}
	return 0, 0, false
}

// arrayHeader reads an array header.
func arrayHeader(b []byte, i int) (n, next int, err error) {
	if i >= len(b) {
		return 0, 0, ErrTruncated
	}
	c := b[i]
	switch {
	case c >= 0x90 && c <= 0x9f:
		return int(c & 0x0f), i + 1, nil
	case c == 0xdc:
		return length(b, i+1, 2)
	case c == 0xdd:
		return length(b, i+1, 4)
	}
	return 0, 0, fmt.Errorf("expected an array, found type code 0x%02x", c)
}

// MapIter walks the members of a raw map without decoding them.
type MapIter struct {
	b      []byte
	i, n   int
	start  int // offset of the current member's key
	key    []byte
	val    []byte
	keyRaw []byte
	err    error
}

// Reset starts walking the map m. It reports false when m is not a map.
func (it *MapIter) Reset(m []byte) bool {
	n, first, ok := MapHeader(m)
	*it = MapIter{b: m, i: first, n: n}
	return ok
}

// Next advances to the next member.
func (it *MapIter) Next() bool {
	if it.n == 0 || it.err != nil {
		return false
	}
	it.n--
	k := it.i
	v, err := Skip(it.b, k)
	if err != nil {
		it.err = err
		return false
	}
	end, err := skip(it.b, v, 1)
	if err != nil {
		it.err = err
		return false
	}
	it.keyRaw, it.val, it.start, it.i = it.b[k:v], it.b[v:end], k, end
	it.key, _ = Str(it.keyRaw)
	return true
}

// Key is the member's key when it is a string, else nil.
func (it *MapIter) Key() []byte { return it.key }

// KeyRaw is the member's key as encoded.
func (it *MapIter) KeyRaw() []byte { return it.keyRaw }

// Value is the member's value as encoded.
func (it *MapIter) Value() []byte { return it.val }

// MemberStart is the offset in the map of the current member's key.
func (it *MapIter) MemberStart() int { return it.start }

// MemberEnd is the offset in the map just past the current member's value.
func (it *MapIter) MemberEnd() int { return it.i }

// Err reports a malformed map.
func (it *MapIter) Err() error { return it.err }

// Members returns the encoded members after the map header.
func Members(m []byte) []byte {
	_, first, ok := MapHeader(m)
	if !ok {
		return nil
	}
	return m[first:]
}
