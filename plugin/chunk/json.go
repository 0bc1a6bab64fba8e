package chunk

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends the msgpack value v as JSON. Strings that are not
// valid UTF-8 get U+FFFD; bin values become base64 strings; map keys
// that are not strings are written as their JSON text; ext values other
// than EventTime become null. It returns the offset past the value.
func AppendJSON(dst, v []byte) ([]byte, int, error) {
	return appendJSON(dst, v, 0, 0)
}

func appendJSON(dst, b []byte, i, depth int) ([]byte, int, error) {
	if depth > MaxDepth {
		return dst, 0, ErrTooDeep
	}
	end, err := skip(b, i, depth)
	if err != nil {
		return dst, 0, err
	}
	v := b[i:end]
	c := v[0]
	switch {
	case c == 0xc0:
		return append(dst, "null"...), end, nil
	case c == 0xc2:
		return append(dst, "false"...), end, nil
	case c == 0xc3:
		return append(dst, "true"...), end, nil
	case c == 0xca:
		return appendFloat(dst, float64(math.Float32frombits(binary.BigEndian.Uint32(v[1:])))), end, nil
	case c == 0xcb:
		return appendFloat(dst, math.Float64frombits(binary.BigEndian.Uint64(v[1:]))), end, nil
	case c == 0xcf:
		return strconv.AppendUint(dst, binary.BigEndian.Uint64(v[1:]), 10), end, nil
	case c >= 0xc4 && c <= 0xc6:
		s, _ := Str(v)
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, s)
		return append(dst, '"'), end, nil
	}
	if s, ok := Str(v); ok {
		return appendString(dst, s), end, nil
	}
	if n, ok := Int(v); ok {
		return strconv.AppendInt(dst, n, 10), end, nil
	}
	if n, first, ok := MapHeader(v); ok {
		dst = append(dst, '{')
		j := i + first
		for k := 0; k < n; k++ {
			if k > 0 {
				dst = append(dst, ',')
			}
			kEnd, err := skip(b, j, depth+1)
			if err != nil {
				return dst, 0, err
			}
			if s, ok := Str(b[j:kEnd]); ok {
				dst = appendString(dst, s)
			} else {
				// A non-string key becomes the string of its JSON text.
				var tmp []byte
				if tmp, _, err = appendJSON(nil, b, j, depth+1); err != nil {
					return dst, 0, err
				}
				dst = appendString(dst, tmp)
			}
			dst = append(dst, ':')
			if dst, j, err = appendJSON(dst, b, kEnd, depth+1); err != nil {
				return dst, 0, err
			}
		}
		return append(dst, '}'), end, nil
	}
	if n, j, err := arrayHeader(b, i); err == nil {
		dst = append(dst, '[')
		for k := 0; k < n; k++ {
			if k > 0 {
				dst = append(dst, ',')
			}
			if dst, j, err = appendJSON(dst, b, j, depth+1); err != nil {
				return dst, 0, err
			}
		}
		return append(dst, ']'), end, nil
	}
	// Ext values: an EventTime becomes its seconds with fraction.
	if c == 0xd7 && v[1] == 0 {
		sec, nsec := binary.BigEndian.Uint32(v[2:]), binary.BigEndian.Uint32(v[6:])
		return appendFloat(dst, float64(sec)+float64(nsec)/1e9), end, nil
	}
	return append(dst, "null"...), end, nil
}

func appendFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, 64)
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string, repairing invalid UTF-8.
func AppendJSONString(dst, s []byte) []byte { return appendString(dst, s) }

func appendString(dst, s []byte) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, "\ufffd"...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
