package parser

import (
	"bytes"
	"iter"
)

// Lines yields the non-blank lines of b without their line ends. A
// record may hold a whole multi-line command output, such as an AX
// switch's "show ssh logging"; each of its lines is one event.
func Lines(b []byte) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		for len(b) > 0 {
			line := b
			if i := bytes.IndexByte(b, '\n'); i >= 0 {
				line, b = b[:i], b[i+1:]
			} else {
				b = nil
			}
			line = bytes.TrimRight(line, "\r")
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			if !yield(line) {
				return
			}
		}
	}
}

// IsMultiline reports whether b holds more than one non-blank line.
func IsMultiline(b []byte) bool {
	n := 0
	for range Lines(b) {
		if n++; n > 1 {
			return true
		}
	}
	return false
}
