package record

import (
	"encoding/binary"
	"math"
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// Encoder receives a record's added fields: what to write, separate from
// how, in the manner of log/slog's Handler. JSON serves the CLI and the
// stdout emitter, Msgpack the Fluent Bit emitters. Both append to a
// caller-owned buffer and do not allocate once it has grown.
//
// String and Key take text the program controls (catalog text, field
// names); Bytes takes text from a log line, which may be invalid UTF-8.
type Encoder interface {
	Key(k string)
	KeyBytes(k []byte)
	String(s string)
	Bytes(s []byte)
	Int(v int64)
	Bool(v bool)
	BeginMap()
	EndMap()
	BeginArray()
	EndArray()
	// Raw appends members that an encoder of the same kind wrote after a
	// Reset: members is how many keys they hold.
	Raw(b []byte, members int)
	// RawValue appends one value already encoded in the encoder's format.
	RawValue(b []byte)
}

// JSON appends JSON text to Buf. Invalid UTF-8 becomes U+FFFD.
type JSON struct {
	Buf []byte
	// first[i] is true while the container at depth i has no member yet.
	first [16]bool
	depth int
	key   bool // a key was just written; the value needs no comma
}

// Reset empties the buffer and starts a new top-level member list: the
// caller writes the enclosing braces.
func (j *JSON) Reset() {
	j.Buf = j.Buf[:0]
	j.depth = 0
	j.first[0] = true
	j.key = false
}

// Continue starts a member list after members the caller already wrote.
func (j *JSON) Continue() {
	j.depth = 0
	j.first[0] = false
	j.key = false
}

func (j *JSON) sep() {
	if j.key {
		j.key = false
		return
	}
	if !j.first[j.depth] {
		j.Buf = append(j.Buf, ',')
	}
	j.first[j.depth] = false
}

// Key writes a member name.
func (j *JSON) Key(k string) {
	j.sep()
	j.Buf = appendJSONString(j.Buf, k)
	j.Buf = append(j.Buf, ':')
	j.key = true
}

// KeyBytes writes a member name.
func (j *JSON) KeyBytes(k []byte) {
	j.sep()
	j.Buf = appendJSONString(j.Buf, view(k))
	j.Buf = append(j.Buf, ':')
	j.key = true
}

// String writes a string value.
func (j *JSON) String(s string) { j.sep(); j.Buf = appendJSONString(j.Buf, s) }

// Bytes writes a string value.
func (j *JSON) Bytes(s []byte) { j.sep(); j.Buf = appendJSONString(j.Buf, view(s)) }

// Int writes a number.
func (j *JSON) Int(v int64) { j.sep(); j.Buf = strconv.AppendInt(j.Buf, v, 10) }

// Bool writes true or false.
func (j *JSON) Bool(v bool) { j.sep(); j.Buf = strconv.AppendBool(j.Buf, v) }

// Raw appends members another JSON wrote from a Reset.
func (j *JSON) Raw(b []byte, members int) {
	if members == 0 {
		return
	}
	j.sep()
	j.Buf = append(j.Buf, b...)
}

// RawValue appends one JSON value.
func (j *JSON) RawValue(b []byte) { j.sep(); j.Buf = append(j.Buf, b...) }

// BeginMap opens an object.
func (j *JSON) BeginMap() { j.open('{') }

// EndMap closes an object.
func (j *JSON) EndMap() { j.close('}') }

// BeginArray opens an array.
func (j *JSON) BeginArray() { j.open('[') }

// EndArray closes an array.
func (j *JSON) EndArray() { j.close(']') }

func (j *JSON) open(c byte) {
	j.sep()
	j.Buf = append(j.Buf, c)
	if j.depth < len(j.first)-1 {
		j.depth++
	}
	j.first[j.depth] = true
}

func (j *JSON) close(c byte) {
	j.Buf = append(j.Buf, c)
	if j.depth > 0 {
		j.depth--
	}
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, "\ufffd"...)
			i++
			start = i
			continue
		}
		// U+2028 and U+2029 break JavaScript parsers; escape them as
		// encoding/json does.
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// view returns b as a string without copying. The string must not
// outlive b or be kept while b changes.
func view(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// Msgpack appends MessagePack to Buf. Maps and arrays are written with
// 16-bit counts that EndMap and EndArray patch in, so the writer need
// not know sizes in advance. Strings that are not valid UTF-8 are
// written with U+FFFD in place of the bad bytes, so that downstream JSON
// encoders see text.
type Msgpack struct {
	Buf   []byte
	stack [16]struct {
		at, n int
		array bool
	}
	depth int
}

// Reset empties the buffer.
func (m *Msgpack) Reset() { m.Start(m.Buf[:0]) }

// Start appends to buf from now on, counting top-level members from zero.
func (m *Msgpack) Start(buf []byte) {
	m.Buf, m.depth = buf, 0
	m.stack[0].n, m.stack[0].array = 0, false
}

// Count is the number of members written at the top level.
func (m *Msgpack) Count() int { return m.stack[0].n }

func (m *Msgpack) member() { m.stack[m.depth].n++ }

// Key writes a map key; it counts as one member of the map.
func (m *Msgpack) Key(k string) { m.member(); m.Buf = appendStr(m.Buf, k) }

// KeyBytes writes a map key.
func (m *Msgpack) KeyBytes(k []byte) { m.member(); m.Buf = appendStr(m.Buf, view(k)) }

// String writes a string value the program controls.
func (m *Msgpack) String(s string) { m.arrayItem(); m.Buf = appendStr(m.Buf, s) }

// Raw appends members another Msgpack wrote from a Reset.
func (m *Msgpack) Raw(b []byte, members int) {
	m.Buf = append(m.Buf, b...)
	m.stack[m.depth].n += members
}

// RawValue appends one msgpack value.
func (m *Msgpack) RawValue(b []byte) { m.arrayItem(); m.Buf = append(m.Buf, b...) }

// Bytes writes a string value.
func (m *Msgpack) Bytes(s []byte) { m.arrayItem(); m.Buf = appendMsgpackStr(m.Buf, view(s)) }

// Int writes an integer.
func (m *Msgpack) Int(v int64) { m.arrayItem(); m.Buf = AppendInt(m.Buf, v) }

// Bool writes a boolean.
func (m *Msgpack) Bool(v bool) {
	m.arrayItem()
	if v {
		m.Buf = append(m.Buf, 0xc3)
	} else {
		m.Buf = append(m.Buf, 0xc2)
	}
}

// BeginMap opens a map.
func (m *Msgpack) BeginMap() { m.open(0xde) }

// EndMap closes a map.
func (m *Msgpack) EndMap() { m.close() }

// BeginArray opens an array.
func (m *Msgpack) BeginArray() { m.open(0xdc) }

// EndArray closes an array.
func (m *Msgpack) EndArray() { m.close() }

// arrays count their items; maps count keys (in Key).
func (m *Msgpack) arrayItem() {
	if m.stack[m.depth].array {
		m.stack[m.depth].n++
	}
}

func (m *Msgpack) open(code byte) {
	m.arrayItem()
	at := len(m.Buf)
	m.Buf = append(m.Buf, code, 0, 0)
	if m.depth < len(m.stack)-1 {
		m.depth++
	}
	m.stack[m.depth].at, m.stack[m.depth].n, m.stack[m.depth].array = at, 0, code == 0xdc
}

func (m *Msgpack) close() {
	s := m.stack[m.depth]
	n := min(s.n, math.MaxUint16)
	binary.BigEndian.PutUint16(m.Buf[s.at+1:], uint16(n))
	if m.depth > 0 {
		m.depth--
	}
}

// AppendMapHeader appends a msgpack map header for n members.
func AppendMapHeader(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x80|byte(n))
	case n <= math.MaxUint16:
		return append(b, 0xde, byte(n>>8), byte(n))
	}
	return append(b, 0xdf, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// AppendInt appends a msgpack integer in its smallest form.
func AppendInt(b []byte, v int64) []byte {
	switch {
	case v >= 0 && v < 128:
		return append(b, byte(v))
	case v < 0 && v >= -32:
		return append(b, byte(v))
	case v >= math.MinInt8 && v <= math.MaxInt8:
		return append(b, 0xd0, byte(v))
	case v >= math.MinInt16 && v <= math.MaxInt16:
		return append(b, 0xd1, byte(v>>8), byte(v))
	case v >= math.MinInt32 && v <= math.MaxInt32:
		return append(b, 0xd2, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	return append(b, 0xd3, byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32), byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

func appendStr(b []byte, s string) []byte {
	b = AppendStrHeader(b, len(s))
	return append(b, s...)
}

// appendMsgpackStr appends s as a msgpack str, repairing invalid UTF-8.
func appendMsgpackStr(b []byte, s string) []byte {
	if utf8.ValidString(s) {
		b = AppendStrHeader(b, len(s))
		return append(b, s...)
	}
	n := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			n += len("\ufffd")
		} else {
			n += size
		}
		i += size
	}
	b = AppendStrHeader(b, n)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, "\ufffd"...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return b
}

// AppendStrHeader appends a msgpack str header for n bytes.
func AppendStrHeader(b []byte, n int) []byte {
	switch {
	case n < 32:
		return append(b, 0xa0|byte(n))
	case n < 256:
		return append(b, 0xd9, byte(n))
	case n <= math.MaxUint16:
		return append(b, 0xda, byte(n>>8), byte(n))
	}
	return append(b, 0xdb, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}
